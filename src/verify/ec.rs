//! ES384 and ES512 (P-384 and P-521, RFC 7518 §3.4) and ES256K (secp256k1, RFC 8812) as
//! jwt-compact [`Algorithm`]s over the RustCrypto `p384`, `p521` and `k256` crates,
//! verification only.
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

/// A P-521 public key; its own type because `p521`'s key implements no `Debug`.
#[derive(Clone)]
pub struct P521Key(p521::ecdsa::VerifyingKey);

impl std::fmt::Debug for P521Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("P521Key")
    }
}
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

/// `ES512`: ECDSA on P-521 with SHA-512; `r` and `s` are 66 bytes each (RFC 7518 §3.4).
#[derive(Debug, Clone, Copy, Default)]
pub struct Es512;

impl Algorithm for Es512 {
    type SigningKey = Infallible;
    type VerifyingKey = P521Key;
    type Signature = RawEcdsaSignature<132>;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("ES512")
    }

    fn sign(&self, signing_key: &Infallible, _message: &[u8]) -> Self::Signature {
        match *signing_key {}
    }

    fn verify_signature(&self, signature: &Self::Signature, key: &P521Key, message: &[u8]) -> bool {
        use p521::ecdsa::signature::Verifier;
        // As for P-384: `from_slice` refuses r or s of zero or not below the group order.
        p521::ecdsa::Signature::from_slice(&signature.0)
            .is_ok_and(|sig| key.0.verify(message, &sig).is_ok())
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

/// JWK `x`/`y` as an uncompressed SEC1 point, when each is exactly `len` bytes (RFC 7518
/// §6.2.1.2: the full coordinate size, leading zeros kept).
fn sec1_point(x: &[u8], y: &[u8], len: usize) -> Option<Vec<u8>> {
    (x.len() == len && y.len() == len).then_some(())?;
    let mut sec1 = Vec::with_capacity(1 + 2 * len);
    sec1.push(4u8);
    sec1.extend_from_slice(x);
    sec1.extend_from_slice(y);
    Some(sec1)
}

/// Builds a P-384 key from JWK `x`/`y` (48 bytes each); checks the point is on the curve.
pub fn p384_key(x: &[u8], y: &[u8]) -> Option<P384Key> {
    P384Key::from_sec1_bytes(&sec1_point(x, y, 48)?).ok()
}

/// Builds a P-521 key from JWK `x`/`y` (66 bytes each); checks the point is on the curve.
pub fn p521_key(x: &[u8], y: &[u8]) -> Option<P521Key> {
    p521::ecdsa::VerifyingKey::from_sec1_bytes(&sec1_point(x, y, 66)?)
        .ok()
        .map(P521Key)
}

/// Builds a secp256k1 key from JWK `x`/`y` (32 bytes each); checks the point is on the curve.
pub fn secp256k1_key(x: &[u8], y: &[u8]) -> Option<Secp256k1Key> {
    Secp256k1Key::from_sec1_bytes(&sec1_point(x, y, 32)?).ok()
}
