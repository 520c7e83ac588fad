//! EdDSA (Ed25519, RFC 8032 §5.1.7) as a jwt-compact [`Algorithm`] with strict checks, for
//! access tokens and DPoP proofs alike (both reach it through `verify::verify_public`).
//!
//! Plain cofactorless verification accepts, for a small-order public key, signatures that
//! verify many or all messages (the identity key with R = identity, S = 0 verifies every
//! one), and a non-canonical encoding gives one key a second spelling (another RFC 7638
//! thumbprint, another hashed `A`). So a key is refused when its JWK is parsed if it is of
//! small order or not canonically encoded, and a signature is checked with
//! ed25519-dalek's `verify_strict` (R canonical and not of small order, S canonical).

use ed25519_dalek::{Signature, VerifyingKey};
use jwt_compact::Algorithm;
use std::borrow::Cow;
use std::convert::Infallible;

pub type Ed25519Key = VerifyingKey;

/// `EdDSA` with Ed25519, verification only.
#[derive(Debug, Clone, Copy, Default)]
pub struct StrictEd25519;

impl Algorithm for StrictEd25519 {
    type SigningKey = Infallible;
    type VerifyingKey = Ed25519Key;
    type Signature = Signature;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("EdDSA")
    }

    fn sign(&self, signing_key: &Infallible, _message: &[u8]) -> Signature {
        match *signing_key {}
    }

    fn verify_signature(&self, signature: &Signature, key: &Ed25519Key, message: &[u8]) -> bool {
        key.verify_strict(message, signature).is_ok()
    }
}

impl crate::verify::FromSignature for Signature {
    fn from_signature(bytes: &[u8]) -> Option<Self> {
        Signature::from_slice(bytes).ok()
    }
}

/// Builds an Ed25519 key from a JWK's `x` (32 bytes); refuses encodings that do not decode,
/// are not canonical (y ≥ p, or x = 0 with the sign bit set), or name a point of small order.
pub fn ed25519_key(x: &[u8]) -> Option<Ed25519Key> {
    let bytes: &[u8; 32] = x.try_into().ok()?;
    let key = Ed25519Key::from_bytes(bytes).ok()?;
    let canonical = key.to_edwards().compress().to_bytes() == *bytes;
    (canonical && !key.is_weak()).then_some(key)
}
