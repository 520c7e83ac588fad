//! ES256 verification with p256 0.14's field and group arithmetic, plugged in through
//! jwt-compact's Algorithm trait (as rsa_fast is for RSA).
//!
//! p256 0.13 (what jwt-compact 0.8 uses) does its "32-bit" field arithmetic with u64/u128,
//! which on wasm32 becomes calls to `__multi3`. Here both points of `u1*G + u2*Q` have a
//! fixed-base radix-16 table (the generator's built once, each key's built when the JWKS is
//! parsed, ~25 KB per key), so a verification is ~130 point additions and 4 doublings
//! instead of ~256 doublings and ~100 additions. Variable time: every input is public.

use core::convert::Infallible;
use core::num::NonZeroUsize;
use std::borrow::Cow;

use jwt_compact::{Algorithm, AlgorithmSignature};
use std::sync::OnceLock;

use p256_14::ecdsa::{Signature, VerifyingKey};
use p256_14::elliptic_curve::group::Group;
use p256_14::elliptic_curve::ops::{Invert, Reduce};
use p256_14::elliptic_curve::point::AffineCoordinates;
use p256_14::{FieldBytes, NistP256, ProjectivePoint, Scalar};
use primeorder::{LookupTable, Radix16Decomposition, Radix16Digits};
use sha2::{Digest, Sha256};

/// 1 + 32 windows of two radix-16 digits each (as primeorder's basepoint table).
const WINDOWS: usize = 33;
/// `t[i]` holds [1..8] * 256^i * P: a fixed-base table, so a scalar multiplication is
/// 66 additions and 4 doublings instead of 256 doublings.
type Table = [LookupTable<ProjectivePoint>; WINDOWS];

fn table(p: ProjectivePoint) -> Box<Table> {
    let mut base = p;
    let mut t = Box::new([LookupTable::<ProjectivePoint>::default(); WINDOWS]);
    for entry in t.iter_mut() {
        *entry = LookupTable::new(base);
        for _ in 0..8 {
            base = base.double();
        }
    }
    t
}

fn generator_table() -> &'static Table {
    static G: OnceLock<Box<Table>> = OnceLock::new();
    G.get_or_init(|| table(ProjectivePoint::GENERATOR))
}

/// `a * G + b * Q` in variable time (public inputs only), with both tables.
fn lincomb(gt: &Table, a: &Scalar, qt: &Table, b: &Scalar) -> ProjectivePoint {
    let da = Radix16Decomposition::<Radix16Digits<NistP256>>::new(a);
    let db = Radix16Decomposition::<Radix16Digits<NistP256>>::new(b);
    let len = WINDOWS - 1;
    let mut acc = ProjectivePoint::IDENTITY;
    let mut acc2 = ProjectivePoint::IDENTITY;
    let add = |acc: &mut ProjectivePoint, t: &LookupTable<ProjectivePoint>, d: i8| {
        if d != 0 {
            *acc += t.select_vartime(d);
        }
    };
    add(&mut acc, &gt[len], da[len * 2]);
    add(&mut acc, &qt[len], db[len * 2]);
    for i in (0..len).rev() {
        add(&mut acc2, &gt[i], da[i * 2 + 1]);
        add(&mut acc2, &qt[i], db[i * 2 + 1]);
        add(&mut acc, &gt[i], da[i * 2]);
        add(&mut acc, &qt[i], db[i * 2]);
    }
    for _ in 0..4 {
        acc2 = acc2.double();
    }
    acc + acc2
}

/// A P-256 public key (validated point on the curve) with its fixed-base table, built once
/// when the JWKS is parsed.
#[derive(Debug, Clone)]
pub struct P256Key(Box<Table>);

impl P256Key {
    /// From the JWK's `x` and `y` (32 bytes each, big-endian); refuses points off the curve.
    pub fn from_xy(x: &[u8], y: &[u8]) -> Option<Self> {
        if x.len() != 32 || y.len() != 32 {
            return None;
        }
        let mut sec1 = [0u8; 65];
        sec1[0] = 4;
        sec1[1..33].copy_from_slice(x);
        sec1[33..].copy_from_slice(y);
        let key = VerifyingKey::from_sec1_bytes(&sec1).ok()?;
        Some(P256Key(table(ProjectivePoint::from(*key.as_affine()))))
    }
}

#[derive(Debug, Clone)]
pub struct FastEs256Signature(Signature);

impl crate::verify::FromSignature for FastEs256Signature {
    fn from_signature(bytes: &[u8]) -> Option<Self> {
        Signature::from_slice(bytes).ok().map(FastEs256Signature)
    }
}

impl AlgorithmSignature for FastEs256Signature {
    const LENGTH: Option<NonZeroUsize> = NonZeroUsize::new(64);

    fn try_from_slice(slice: &[u8]) -> anyhow::Result<Self> {
        Signature::from_slice(slice)
            .map(FastEs256Signature)
            .map_err(|_| anyhow::anyhow!("malformed ES256 signature"))
    }

    fn as_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Owned(self.0.to_bytes().to_vec())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FastEs256;

impl Algorithm for FastEs256 {
    type SigningKey = Infallible;
    type VerifyingKey = P256Key;
    type Signature = FastEs256Signature;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("ES256")
    }

    fn sign(&self, signing_key: &Infallible, _message: &[u8]) -> FastEs256Signature {
        match *signing_key {}
    }

    fn verify_signature(
        &self,
        signature: &FastEs256Signature,
        key: &P256Key,
        message: &[u8],
    ) -> bool {
        // ECDSA verification (SEC 1 4.1.4), as ecdsa::hazmat::verify_prehashed.
        let (r, s) = signature.0.split_scalars();
        let mut z = FieldBytes::default();
        z.copy_from_slice(&Sha256::digest(message));
        let z = <Scalar as Reduce<FieldBytes>>::reduce(&z);
        let s_inv = *s.invert_vartime();
        let u1 = z * s_inv;
        let u2 = *r * s_inv;
        let x = lincomb(generator_table(), &u1, &key.0, &u2).to_affine().x();
        *r == <Scalar as Reduce<FieldBytes>>::reduce(&x)
    }
}
