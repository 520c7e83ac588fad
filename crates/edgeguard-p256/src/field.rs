//! Arithmetic modulo p = 2^256 - 2^224 + 2^192 + 2^96 - 1, on eight 32-bit limbs (least
//! significant first), always fully reduced so that equality is limb equality.
//!
//! Products are reduced with the NIST (Solinas) word identities of FIPS 186-4 D.2.3: only
//! additions, no Montgomery form, and every 32x32->64 product is one Wasm `i64.mul`.

/// A field element in [0, p).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Fe(pub(crate) [u32; 8]);

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

impl Fe {
    pub const ZERO: Fe = Fe([0; 8]);
    pub const ONE: Fe = Fe([1, 0, 0, 0, 0, 0, 0, 0]);

    /// From 32 big-endian bytes; `None` unless the value is below p.
    pub fn from_be(bytes: &[u8; 32]) -> Option<Fe> {
        let limbs = limbs_from_be(bytes);
        let (_, borrow) = sub_limbs(&limbs, &P);
        (borrow == 1).then_some(Fe(limbs))
    }

    pub fn to_be(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, limb) in self.0.iter().enumerate() {
            out[28 - 4 * i..32 - 4 * i].copy_from_slice(&limb.to_be_bytes());
        }
        out
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 8]
    }

    pub fn add(&self, rhs: &Fe) -> Fe {
        let mut r = [0u32; 8];
        let mut carry = 0u64;
        for (i, limb) in r.iter_mut().enumerate() {
            let v = self.0[i] as u64 + rhs.0[i] as u64 + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        // The sum is below 2p < 2^257: one subtraction of p at most.
        let (t, borrow) = sub_limbs(&r, &P);
        if carry == 1 || borrow == 0 {
            Fe(t)
        } else {
            Fe(r)
        }
    }

    pub fn sub(&self, rhs: &Fe) -> Fe {
        let (r, borrow) = sub_limbs(&self.0, &rhs.0);
        if borrow == 0 {
            return Fe(r);
        }
        // Negative: add p back (the carry out cancels the borrow).
        let mut out = [0u32; 8];
        let mut carry = 0u64;
        for (i, limb) in out.iter_mut().enumerate() {
            let v = r[i] as u64 + P[i] as u64 + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        Fe(out)
    }

    pub fn double(&self) -> Fe {
        self.add(self)
    }

    pub fn neg(&self) -> Fe {
        Fe::ZERO.sub(self)
    }

    pub fn mul(&self, rhs: &Fe) -> Fe {
        let (a, b) = (&self.0, &rhs.0);
        let mut t = [0u32; 16];
        for i in 0..8 {
            let mut carry = 0u64;
            for j in 0..8 {
                let v = a[i] as u64 * b[j] as u64 + t[i + j] as u64 + carry;
                t[i + j] = v as u32;
                carry = v >> 32;
            }
            t[i + 8] = carry as u32;
        }
        reduce(&t)
    }

    /// `self * self`: each cross product once, doubled (36 products instead of 64).
    pub fn square(&self) -> Fe {
        let a = &self.0;
        let mut t = [0u32; 16];
        for i in 0..8 {
            let mut carry = 0u64;
            for j in i + 1..8 {
                let v = a[i] as u64 * a[j] as u64 + t[i + j] as u64 + carry;
                t[i + j] = v as u32;
                carry = v >> 32;
            }
            t[i + 8] = carry as u32;
        }
        // Double the cross products (their sum is below 2^511, so nothing is shifted out).
        for i in (1..16).rev() {
            t[i] = (t[i] << 1) | (t[i - 1] >> 31);
        }
        t[0] <<= 1;
        let mut carry = 0u64;
        for i in 0..8 {
            let v = a[i] as u64 * a[i] as u64 + t[2 * i] as u64 + carry;
            t[2 * i] = v as u32;
            let v = t[2 * i + 1] as u64 + (v >> 32);
            t[2 * i + 1] = v as u32;
            carry = v >> 32;
        }
        reduce(&t)
    }

    fn square_n(&self, n: usize) -> Fe {
        let mut r = *self;
        for _ in 0..n {
            r = r.square();
        }
        r
    }

    /// `self^(p-2)` (Fermat), the inverse of a non-zero element; zero maps to zero.
    /// p - 2 = ffffffff 00000001 00000000 00000000 00000000 ffffffff ffffffff fffffffd.
    pub fn invert(&self) -> Fe {
        let a = *self;
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

fn limbs_from_be(bytes: &[u8; 32]) -> [u32; 8] {
    core::array::from_fn(|i| {
        let at = 28 - 4 * i;
        u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
    })
}

/// `a - b` and the borrow out (1 when a < b).
fn sub_limbs(a: &[u32; 8], b: &[u32; 8]) -> ([u32; 8], u64) {
    let mut r = [0u32; 8];
    let mut borrow = 0u64;
    for (i, limb) in r.iter_mut().enumerate() {
        let v = (a[i] as u64).wrapping_sub(b[i] as u64 + borrow);
        *limb = v as u32;
        borrow = v >> 63;
    }
    (r, borrow)
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
fn reduce(c: &[u32; 16]) -> Fe {
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
    let (t, borrow) = sub_limbs(&r, &P);
    if borrow == 0 {
        Fe(t)
    } else {
        Fe(r)
    }
}
