//! ES384 (P-384, RFC 7518 §3.4) and ES256K (secp256k1, RFC 8812) as jwt-compact
//! [`Algorithm`]s over the RustCrypto `p384` and `k256` crates, verification only.
//!
//! ES256K: `k256` refuses high-`s` signatures (a Bitcoin rule), but RFC 8812 does not ask
//! signers to normalise, so `s` is normalised before verifying; that accepts exactly the
//! signatures a JOSE signer can produce, and nothing a forger could not already compute
//! from one of them (`(r, n - s)` is valid whenever `(r, s)` is).

use jwt_compact::{Algorithm, AlgorithmSignature};
use std::borrow::Cow;
use std::convert::Infallible;
use std::num::NonZeroUsize;

pub type P384Key = p384::ecdsa::VerifyingKey;
pub type Secp256k1Key = k256::ecdsa::VerifyingKey;

/// A raw `r || s` ECDSA signature of a fixed length, checked at verification.
#[derive(Debug, Clone)]
pub struct RawEcdsaSignature<const N: usize>(Vec<u8>);

impl<const N: usize> crate::verify::signature::FromSignature for RawEcdsaSignature<N> {
    fn from_signature(bytes: &[u8]) -> Option<Self> {
        Some(Self(bytes.to_vec()))
    }
}

impl<const N: usize> AlgorithmSignature for RawEcdsaSignature<N> {
    const LENGTH: Option<NonZeroUsize> = NonZeroUsize::new(N);

    fn try_from_slice(slice: &[u8]) -> anyhow::Result<Self> {
        Ok(Self(slice.to_vec()))
    }

    fn as_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.0)
    }
}

/// `ES384`: ECDSA on P-384 with SHA-384.
#[derive(Debug, Clone, Copy, Default)]
pub struct Es384;

impl Algorithm for Es384 {
    type SigningKey = Infallible;
    type VerifyingKey = P384Key;
    type Signature = RawEcdsaSignature<96>;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("ES384")
    }

    fn sign(&self, signing_key: &Infallible, _message: &[u8]) -> Self::Signature {
        match *signing_key {}
    }

    fn verify_signature(&self, signature: &Self::Signature, key: &P384Key, message: &[u8]) -> bool {
        use p384::ecdsa::signature::Verifier;
        // `Signature::from_slice` refuses r or s of zero or not below the group order.
        p384::ecdsa::Signature::from_slice(&signature.0)
            .is_ok_and(|sig| key.verify(message, &sig).is_ok())
    }
}

/// `ES256K`: ECDSA on secp256k1 with SHA-256.
#[derive(Debug, Clone, Copy, Default)]
pub struct Es256k;

impl Algorithm for Es256k {
    type SigningKey = Infallible;
    type VerifyingKey = Secp256k1Key;
    type Signature = RawEcdsaSignature<64>;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("ES256K")
    }

    fn sign(&self, signing_key: &Infallible, _message: &[u8]) -> Self::Signature {
        match *signing_key {}
    }

    fn verify_signature(
        &self,
        signature: &Self::Signature,
        key: &Secp256k1Key,
        message: &[u8],
    ) -> bool {
        use k256::ecdsa::signature::Verifier;
        let Ok(sig) = k256::ecdsa::Signature::from_slice(&signature.0) else {
            return false;
        };
        let sig = sig.normalize_s().unwrap_or(sig);
        key.verify(message, &sig).is_ok()
    }
}

/// Builds a P-384 key from JWK `x`/`y` (48 bytes each); checks the point is on the curve.
pub fn p384_key(x: &[u8], y: &[u8]) -> Option<P384Key> {
    (x.len() == 48 && y.len() == 48).then_some(())?;
    let mut sec1 = vec![4u8];
    sec1.extend_from_slice(x);
    sec1.extend_from_slice(y);
    P384Key::from_sec1_bytes(&sec1).ok()
}

/// Builds a secp256k1 key from JWK `x`/`y` (32 bytes each); checks the point is on the curve.
pub fn secp256k1_key(x: &[u8], y: &[u8]) -> Option<Secp256k1Key> {
    (x.len() == 32 && y.len() == 32).then_some(())?;
    let mut sec1 = vec![4u8];
    sec1.extend_from_slice(x);
    sec1.extend_from_slice(y);
    Secp256k1Key::from_sec1_bytes(&sec1).ok()
}
