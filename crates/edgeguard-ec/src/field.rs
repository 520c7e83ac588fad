//! Field elements on eight u32 limbs (least significant first), always fully reduced so
//! that equality is limb equality: what both fields share. Each modulus brings its prime,
//! its reduction of a 512-bit product and its inversion (p256::field, ed25519::field).

use core::marker::PhantomData;

use crate::wide::{add_mod, product, square, sub_limbs, sub_mod};

/// A prime modulus below 2^256.
pub(crate) trait Modulus: Copy + Eq + core::fmt::Debug + Default {
    const P: [u32; 8];
    /// A 512-bit product (16 limbs) to [0, P).
    fn reduce(t: &[u32; 16]) -> [u32; 8];
    /// The inverse of a non-zero element (zero maps to zero).
    fn invert(a: &Fe<Self>) -> Fe<Self>;
}

/// An element of [0, P).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Fe<M>(pub(crate) [u32; 8], PhantomData<M>);

impl<M: Modulus> Fe<M> {
    pub const ZERO: Self = Fe::new([0; 8]);
    pub const ONE: Self = Fe::new([1, 0, 0, 0, 0, 0, 0, 0]);

    /// From limbs already below P (constants; decoders check with `from_limbs`).
    pub(crate) const fn new(limbs: [u32; 8]) -> Self {
        Fe(limbs, PhantomData)
    }

    /// `None` unless the value is below P.
    pub(crate) fn from_limbs(limbs: [u32; 8]) -> Option<Self> {
        let (_, borrow) = sub_limbs(&limbs, &M::P);
        (borrow == 1).then_some(Fe::new(limbs))
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 8]
    }

    pub fn add(&self, rhs: &Self) -> Self {
        Fe::new(add_mod(&self.0, &rhs.0, &M::P))
    }

    pub fn sub(&self, rhs: &Self) -> Self {
        Fe::new(sub_mod(&self.0, &rhs.0, &M::P))
    }

    pub fn double(&self) -> Self {
        self.add(self)
    }

    pub fn neg(&self) -> Self {
        Self::ZERO.sub(self)
    }

    pub fn mul(&self, rhs: &Self) -> Self {
        Fe::new(M::reduce(&product(&self.0, &rhs.0)))
    }

    pub fn square(&self) -> Self {
        Fe::new(M::reduce(&square(&self.0)))
    }

    /// Not inlined: the inversion chains call it a dozen times each, and one copy of the
    /// loop is ~7 KB less Wasm (1.2 KiB gzip) than a copy per call, for one call per run.
    #[inline(never)]
    pub(crate) fn square_n(&self, n: usize) -> Self {
        let mut r = *self;
        for _ in 0..n {
            r = r.square();
        }
        r
    }

    pub fn invert(&self) -> Self {
        M::invert(self)
    }

    /// P - k (for small k): an edge value for tests.
    #[cfg(test)]
    pub(crate) fn p_minus(k: u32) -> Self {
        let mut limbs = M::P;
        limbs[0] -= k;
        Fe::new(limbs)
    }
}

impl<M: Modulus> crate::table::Field for Fe<M> {
    const ONE: Self = Fe::ONE;

    fn mul(&self, other: &Self) -> Self {
        Fe::mul(self, other)
    }

    fn invert(&self) -> Self {
        Fe::invert(self)
    }
}

/// a * b by double-and-add over b's bits: only `add`, so it checks `mul`'s reduction.
#[cfg(test)]
pub(crate) fn mul_by_addition<M: Modulus>(a: &Fe<M>, b: &Fe<M>) -> Fe<M> {
    let mut acc = Fe::ZERO;
    for i in (0..256).rev() {
        acc = acc.double();
        if (b.0[i / 32] >> (i % 32)) & 1 == 1 {
            acc = acc.add(a);
        }
    }
    acc
}
