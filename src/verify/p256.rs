//! ES256 verification plugged in through jwt-compact's Algorithm trait (as rsa_fast is
//! for RSA): signature parsing and the scalars mod n with RustCrypto's p256 0.14, the group
//! arithmetic (u1 G + u2 Q and the x check) with our crates/edgeguard-ec, which is ~3x
//! faster in Wasm than p256's generic Montgomery field code (see that crate's docs).

use core::convert::Infallible;
use core::num::NonZeroUsize;
use std::borrow::Cow;

use jwt_compact::{Algorithm, AlgorithmSignature};

use edgeguard_ec::p256::VerifyingKey;
use p256_14::ecdsa::Signature;
use p256_14::elliptic_curve::ff::PrimeField;
use p256_14::elliptic_curve::ops::{Invert, Reduce};
use p256_14::{FieldBytes, Scalar};
use sha2::{Digest, Sha256};

/// A P-256 public key (a validated point on the curve). Its fixed-base table is built by
/// edgeguard-ec on the key's second use, so a DPoP proof's one-off key never pays for it.
#[derive(Debug, Clone)]
pub struct P256Key(VerifyingKey);

impl P256Key {
    /// From the JWK's `x` and `y` (32 bytes each, big-endian); refuses points off the curve.
    pub fn from_xy(x: &[u8], y: &[u8]) -> Option<Self> {
        let (x, y) = (
            <&[u8; 32]>::try_from(x).ok()?,
            <&[u8; 32]>::try_from(y).ok()?,
        );
        VerifyingKey::from_xy(x, y).map(P256Key)
    }
}

#[derive(Debug, Clone)]
pub struct FastEs256Signature(Signature);

impl crate::verify::signature::FromSignature for FastEs256Signature {
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
        let u1 = (z * s_inv).to_repr();
        let u2 = (*r * s_inv).to_repr();
        key.0.check(&u1.into(), &u2.into(), &r.to_repr().into())
    }
}
