//! HS256/384/512 with the issuer's configured secret (never a JWKS key: an RSA or EC public
//! key can never become an HMAC secret).

use super::signature::{check, FromSignature};
use crate::alg::Alg;
use jwt_compact::alg::{
    Hs256, Hs256Key, Hs256Signature, Hs384, Hs384Key, Hs384Signature, Hs512, Hs512Key,
    Hs512Signature,
};
use jwt_compact::AlgorithmSignature;

/// HMAC tags: jwt-compact's `try_from_slice` never fails for them (`check` has already
/// checked the length), so no `anyhow::Error` is ever made.
macro_rules! hmac_from_signature {
    ($($signature:ty),*) => {$(
        impl FromSignature for $signature {
            fn from_signature(bytes: &[u8]) -> Option<Self> {
                Self::try_from_slice(bytes).ok()
            }
        }
    )*};
}
hmac_from_signature!(Hs256Signature, Hs384Signature, Hs512Signature);

/// Checks one HMAC with the configured secret (exposed for the Wycheproof vectors).
pub fn verify_hmac(alg: Alg, secret: &[u8], message: &[u8], signature: &[u8]) -> bool {
    match alg {
        Alg::Hs256 => check(&Hs256, &Hs256Key::new(secret), message, signature),
        Alg::Hs384 => check(&Hs384, &Hs384Key::new(secret), message, signature),
        Alg::Hs512 => check(&Hs512, &Hs512Key::new(secret), message, signature),
        _ => false,
    }
}
