//! Arithmetic modulo p = 2^255 - 19 (crate::field). A 512-bit product folds its top half
//! in times 38 (2^256 = 38 mod p), then bit 255 and up times 19.

use crate::field::Modulus;
use crate::wide::reduce_once;

pub(crate) const P: [u32; 8] = [
    0xffff_ffed,
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
    0x7fff_ffff,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Curve25519Prime;

pub type Fe = crate::field::Fe<Curve25519Prime>;

impl Modulus for Curve25519Prime {
    const P: [u32; 8] = P;

    fn reduce(t: &[u32; 16]) -> [u32; 8] {
        fold(t)
    }

    /// `a^(p-2)` = a^(2^255 - 21) (Fermat): the inverse; zero maps to zero.
    fn invert(a: &Fe) -> Fe {
        let (x250, a11) = a.pow_2_250_minus_1();
        x250.square_n(5).mul(&a11)
    }
}

impl Fe {
    /// From 32 little-endian bytes; `None` unless the value is below p.
    pub fn from_le(bytes: &[u8; 32]) -> Option<Fe> {
        Fe::from_limbs(core::array::from_fn(|i| {
            u32::from_le_bytes([
                bytes[4 * i],
                bytes[4 * i + 1],
                bytes[4 * i + 2],
                bytes[4 * i + 3],
            ])
        }))
    }

    pub fn to_le(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, limb) in self.0.iter().enumerate() {
            out[4 * i..4 * i + 4].copy_from_slice(&limb.to_le_bytes());
        }
        out
    }

    /// RFC 8032's sign of x: its least significant bit.
    pub fn is_odd(&self) -> bool {
        self.0[0] & 1 == 1
    }

    /// (self^(2^250 - 1), self^11): the common head of both exponentiations below.
    fn pow_2_250_minus_1(&self) -> (Fe, Fe) {
        let a = *self;
        let a2 = a.square();
        let a9 = a2.square_n(2).mul(&a);
        let a11 = a9.mul(&a2);
        let x5 = a11.square().mul(&a9); // 2^5 - 1 (a^31)
        let x10 = x5.square_n(5).mul(&x5);
        let x20 = x10.square_n(10).mul(&x10);
        let x40 = x20.square_n(20).mul(&x20);
        let x50 = x40.square_n(10).mul(&x10);
        let x100 = x50.square_n(50).mul(&x50);
        let x200 = x100.square_n(100).mul(&x100);
        let x250 = x200.square_n(50).mul(&x50);
        (x250, a11)
    }

    /// `self^((p-5)/8)` = self^(2^252 - 3), for square roots (RFC 8032 5.1.3).
    pub fn pow_p58(&self) -> Fe {
        let (x250, _) = self.pow_2_250_minus_1();
        x250.square_n(2).mul(self)
    }
}

/// A 512-bit product to [0, p).
fn fold(t: &[u32; 16]) -> [u32; 8] {
    // lo + 38 hi: each step's sum is below 2^38, so the carry out is at most 38.
    let mut r = [0u32; 8];
    let mut carry = 0u64;
    for (i, limb) in r.iter_mut().enumerate() {
        let v = t[i] as u64 + 38 * t[i + 8] as u64 + carry;
        *limb = v as u32;
        carry = v >> 32;
    }
    // r + carry 2^256 = (r mod 2^255) + 2^255 h, with h = 2 carry + bit 255 (at most 77),
    // and 2^255 = 19 mod p. Adding 19 h < 2^11 to a value below 2^255 cannot carry out of
    // 256 bits and leaves it below 2p.
    let h = (carry << 1) | u64::from(r[7] >> 31);
    r[7] &= 0x7fff_ffff;
    let mut c = 19 * h;
    for limb in r.iter_mut() {
        let v = *limb as u64 + c;
        *limb = v as u32;
        c = v >> 32;
    }
    debug_assert_eq!(c, 0);
    reduce_once(&r, &P)
}
