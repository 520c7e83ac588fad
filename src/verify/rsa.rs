//! The six RSA JWS algorithms (RS256/384/512, PS256/384/512) as a jwt-compact
//! [`Algorithm`], over the verifier in `crates/edgeguard-rsa`: plain variable-time
//! Montgomery arithmetic over 32-bit limbs with per-key constants computed when the JWKS is
//! parsed (why not the `rsa` crate, and the padding rules: see that crate's docs). Signing
//! is not supported (a gateway never signs).

pub use edgeguard_rsa::{Hash, KeyError, Padding, RsaKey};
use jwt_compact::{Algorithm, AlgorithmSignature};
use std::borrow::Cow;
use std::convert::Infallible;
use std::num::NonZeroUsize;

/// A signature for [`FastRsa`]: its length is checked against the key at verification.
#[derive(Debug, Clone)]
pub struct FastRsaSignature(Vec<u8>);

impl crate::verify::signature::FromSignature for FastRsaSignature {
    fn from_signature(bytes: &[u8]) -> Option<Self> {
        Some(FastRsaSignature(bytes.to_vec()))
    }
}

impl AlgorithmSignature for FastRsaSignature {
    const LENGTH: Option<NonZeroUsize> = None;

    fn try_from_slice(slice: &[u8]) -> anyhow::Result<Self> {
        Ok(FastRsaSignature(slice.to_vec()))
    }

    fn as_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.0)
    }
}

/// The six RSA JWS algorithms as a jwt-compact [`Algorithm`], verification only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastRsa {
    pub padding: Padding,
    pub hash: Hash,
    pub name: &'static str,
}

impl Algorithm for FastRsa {
    /// Signing is not supported: there is no value of this type.
    type SigningKey = Infallible;
    type VerifyingKey = RsaKey;
    type Signature = FastRsaSignature;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(self.name)
    }

    fn sign(&self, signing_key: &Infallible, _message: &[u8]) -> FastRsaSignature {
        match *signing_key {}
    }

    fn verify_signature(&self, signature: &FastRsaSignature, key: &RsaKey, message: &[u8]) -> bool {
        key.verify(self.padding, self.hash, message, &signature.0)
    }
}
