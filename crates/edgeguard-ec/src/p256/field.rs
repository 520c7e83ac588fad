//! Arithmetic modulo p = 2^256 - 2^224 + 2^192 + 2^96 - 1 (crate::field).
//!
//! Products (crate::wide) are reduced with the NIST (Solinas) word identities of FIPS 186-4
//! D.2.3: only additions, no Montgomery form.

use crate::field::Modulus;
use crate::wide::{limbs_from_be, limbs_to_be, reduce_once};

pub(crate) const P: [u32; 8] = [
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
    0,
    0,
    0,
    1,
    0xffff_ffff,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct P256Prime;

pub type Fe = crate::field::Fe<P256Prime>;

impl Modulus for P256Prime {
    const P: [u32; 8] = P;

    fn reduce(t: &[u32; 16]) -> [u32; 8] {
        solinas(t)
    }

    /// `a^(p-2)` (Fermat), the inverse of a non-zero element; zero maps to zero.
    /// p - 2 = ffffffff 00000001 00000000 00000000 00000000 ffffffff ffffffff fffffffd.
    fn invert(a: &Fe) -> Fe {
        let a = *a;
        // x_k = a^(2^k - 1)
        let x2 = a.square().mul(&a);
        let x3 = x2.square().mul(&a);
        let x6 = x3.square_n(3).mul(&x3);
        let x12 = x6.square_n(6).mul(&x6);
        let x15 = x12.square_n(3).mul(&x3);
        let x30 = x15.square_n(15).mul(&x15);
        let x32 = x30.square_n(2).mul(&x2);
        let t = x32.square_n(32).mul(&a); // ffffffff 00000001
        let t = t.square_n(96); //            three zero words
        let t = t.square_n(32).mul(&x32); //  ffffffff
        let t = t.square_n(32).mul(&x32); //  ffffffff
        let t = t.square_n(30).mul(&x30); //  30 ones,
        t.square_n(2).mul(&a) //              then 01: fffffffd
    }
}

impl Fe {
    /// From 32 big-endian bytes; `None` unless the value is below p.
    pub fn from_be(bytes: &[u8; 32]) -> Option<Fe> {
        Fe::from_limbs(limbs_from_be(bytes))
    }

    pub fn to_be(self) -> [u8; 32] {
        limbs_to_be(&self.0)
    }
}

/// Signed word sums to eight 32-bit words plus the (signed) carry out of the top.
fn propagate(w: [i64; 8]) -> ([i64; 8], i64) {
    let mut out = [0i64; 8];
    let mut carry = 0i64;
    for (o, v) in out.iter_mut().zip(w) {
        let v = v + carry;
        *o = v & 0xffff_ffff;
        carry = v >> 32;
    }
    (out, carry)
}

/// Adds `k * 2^256`, which is `k * (2^224 - 2^192 - 2^96 + 1)` mod p.
fn fold(mut w: [i64; 8], k: i64) -> [i64; 8] {
    w[0] += k;
    w[3] -= k;
    w[6] -= k;
    w[7] += k;
    w
}

/// A 512-bit product (16 words) to [0, p).
fn solinas(c: &[u32; 16]) -> [u32; 8] {
    let c: [i64; 16] = core::array::from_fn(|i| c[i] as i64);
    // s1 + 2 s2 + 2 s3 + s4 + s5 - d1 - d2 - d3 - d4, word by word (FIPS 186-4 D.2.3).
    let w = [
        c[0] + c[8] + c[9] - c[11] - c[12] - c[13] - c[14],
        c[1] + c[9] + c[10] - c[12] - c[13] - c[14] - c[15],
        c[2] + c[10] + c[11] - c[13] - c[14] - c[15],
        c[3] + 2 * c[11] + 2 * c[12] + c[13] - c[15] - c[8] - c[9],
        c[4] + 2 * c[12] + 2 * c[13] + c[14] - c[9] - c[10],
        c[5] + 2 * c[13] + 2 * c[14] + c[15] - c[10] - c[11],
        c[6] + c[13] + 3 * c[14] + 2 * c[15] - c[8] - c[9],
        c[7] + c[8] + 3 * c[15] - c[10] - c[11] - c[12] - c[13],
    ];
    // The sum lies in (-4 * 2^256, 7 * 2^256), so its carry k is in [-4, 6]. Folding k in
    // leaves a value within 2^227 of [0, 2^256), whose carry is -1, 0 or 1; folding that
    // leaves [0, 2^256) (carry 0), below 2p, so one conditional subtraction of p ends it.
    let (w, k) = propagate(w);
    let (w, k) = propagate(fold(w, k));
    let (w, k) = propagate(fold(w, k));
    debug_assert_eq!(k, 0);
    let r: [u32; 8] = core::array::from_fn(|i| w[i] as u32);
    reduce_once(&r, &P)
}
