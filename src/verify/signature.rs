//! The one way a signature is checked with a jwt-compact algorithm: length first, then our
//! own parse of the signature bytes, then the algorithm's verification.

use jwt_compact::{Algorithm, AlgorithmSignature};

/// Reads the signature of an algorithm `check` verifies with, or `None` if malformed. Not
/// jwt-compact's `AlgorithmSignature::try_from_slice`: its `anyhow::Error`, which `check`
/// would only drop, links anyhow's error and formatting code into the Wasm (3.8 KiB gzip).
pub(crate) trait FromSignature: Sized {
    fn from_signature(bytes: &[u8]) -> Option<Self>;
}

/// Verifies with one jwt-compact algorithm. The length check comes first because some
/// signature types (Ed25519) assume a correct length when parsed.
pub(crate) fn check<A>(alg: &A, key: &A::VerifyingKey, message: &[u8], signature: &[u8]) -> bool
where
    A: Algorithm,
    A::Signature: FromSignature,
{
    if let Some(len) = A::Signature::LENGTH {
        if signature.len() != len.get() {
            return false;
        }
    }
    match A::Signature::from_signature(signature) {
        Some(sig) => alg.verify_signature(&sig, key, message),
        None => false,
    }
}
