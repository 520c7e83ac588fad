//! Signature verification, inside the Wasm module, with jwt-compact's algorithms.
//!
//! The algorithm is decided by configuration and key, never by the token alone: the token's
//! `alg` must be one the issuer allows, and the key must fit it (family, its own `alg`, its
//! `use`). HMAC uses only the issuer's configured secret, so an RSA or EC public key can
//! never be turned into an HMAC secret (algorithm confusion).

use crate::alg::{Alg, KeyFamily};
#[cfg(feature = "extra-curves")]
use crate::alg_ec::{Es256k, Es384};
use crate::config::IssuerConfig;
use crate::error::TokenError;
use crate::es256_fast::FastEs256;
use crate::jwks::{KeySet, PublicKey, Selection};
use crate::rsa_fast::{FastRsa, Hash, Padding};
use crate::token::{UntrustedToken, VerifiedToken};
use jwt_compact::alg::{Ed25519, Hs256, Hs256Key, Hs384, Hs384Key, Hs512, Hs512Key};
use jwt_compact::{Algorithm, AlgorithmSignature};

/// Checks `token`'s signature for `issuer` with keys from `keys` (ignored for HMAC).
///
/// Returns `TokenError::UnknownKid` when no key carries the token's `kid`, so the caller can
/// decide whether a refetch of the issuer's JWKS is allowed.
pub fn verify<'a>(
    token: UntrustedToken<'a>,
    issuer: &IssuerConfig,
    keys: Option<&KeySet>,
) -> Result<VerifiedToken<'a>, TokenError> {
    let alg = Alg::from_name(token.alg_name())
        .filter(|alg| issuer.allows(*alg))
        .ok_or(TokenError::AlgorithmNotAllowed)?;

    let verified = if alg.family() == KeyFamily::Hmac {
        let secret = issuer.secret.as_deref().ok_or(TokenError::NoSuitableKey)?;
        verify_hmac(alg, secret, token.signed_data(), token.signature())
    } else {
        let keys = keys.ok_or(TokenError::NoSuitableKey)?;
        match keys.select(alg, token.kid()) {
            Selection::Candidates(candidates) => candidates
                .into_iter()
                .any(|key| verify_public(alg, key, token.signed_data(), token.signature())),
            Selection::UnknownKid => return Err(TokenError::UnknownKid),
            Selection::NoSuitableKey => return Err(TokenError::NoSuitableKey),
            Selection::Ambiguous => return Err(TokenError::AmbiguousKey),
        }
    };
    if verified {
        Ok(token.into_verified(alg))
    } else {
        Err(TokenError::BadSignature)
    }
}

/// True when the token names a key the set does not have, or (without a `kid`) no key fits
/// its algorithm: the issuer may have rotated keys, so fetching the JWKS again may help.
pub fn needs_refetch(token: &UntrustedToken<'_>, keys: &KeySet) -> bool {
    match Alg::from_name(token.alg_name()) {
        Some(alg) if alg.family() != KeyFamily::Hmac => match keys.select(alg, token.kid()) {
            Selection::UnknownKid => true,
            Selection::NoSuitableKey => token.kid().is_none(),
            Selection::Candidates(_) | Selection::Ambiguous => false,
        },
        _ => false,
    }
}

/// Verifies with one jwt-compact algorithm. The length check comes first because some
/// signature types (Ed25519) assume a correct length in `try_from_slice`.
fn check<A: Algorithm>(alg: &A, key: &A::VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
    if let Some(len) = A::Signature::LENGTH {
        if signature.len() != len.get() {
            return false;
        }
    }
    match A::Signature::try_from_slice(signature) {
        Ok(sig) => alg.verify_signature(&sig, key, message),
        Err(_) => false,
    }
}

const RS256: FastRsa = FastRsa {
    padding: Padding::Pkcs1v15,
    hash: Hash::Sha256,
    name: "RS256",
};
const RS384: FastRsa = FastRsa {
    padding: Padding::Pkcs1v15,
    hash: Hash::Sha384,
    name: "RS384",
};
const RS512: FastRsa = FastRsa {
    padding: Padding::Pkcs1v15,
    hash: Hash::Sha512,
    name: "RS512",
};
const PS256: FastRsa = FastRsa {
    padding: Padding::Pss,
    hash: Hash::Sha256,
    name: "PS256",
};
const PS384: FastRsa = FastRsa {
    padding: Padding::Pss,
    hash: Hash::Sha384,
    name: "PS384",
};
const PS512: FastRsa = FastRsa {
    padding: Padding::Pss,
    hash: Hash::Sha512,
    name: "PS512",
};

/// Checks one signature with one public key (exposed for the Wycheproof vectors).
pub fn verify_public(alg: Alg, key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    match (alg, key) {
        (Alg::Rs256, PublicKey::Rsa(k)) => check(&RS256, k, message, signature),
        (Alg::Rs384, PublicKey::Rsa(k)) => check(&RS384, k, message, signature),
        (Alg::Rs512, PublicKey::Rsa(k)) => check(&RS512, k, message, signature),
        (Alg::Ps256, PublicKey::Rsa(k)) => check(&PS256, k, message, signature),
        (Alg::Ps384, PublicKey::Rsa(k)) => check(&PS384, k, message, signature),
        (Alg::Ps512, PublicKey::Rsa(k)) => check(&PS512, k, message, signature),
        (Alg::Es256, PublicKey::P256(k)) => check(&FastEs256, k, message, signature),
        #[cfg(feature = "extra-curves")]
        (Alg::Es384, PublicKey::P384(k)) => check(&Es384, k, message, signature),
        #[cfg(feature = "extra-curves")]
        (Alg::Es256k, PublicKey::Secp256k1(k)) => check(&Es256k, k, message, signature),
        (Alg::EdDsa, PublicKey::Ed25519(k)) => check(&Ed25519, k, message, signature),
        // Selection only offers keys of the algorithm's family; anything else is refused.
        _ => false,
    }
}

/// Checks one HMAC with the configured secret (exposed for the Wycheproof vectors).
pub fn verify_hmac(alg: Alg, secret: &[u8], message: &[u8], signature: &[u8]) -> bool {
    match alg {
        Alg::Hs256 => check(&Hs256, &Hs256Key::new(secret), message, signature),
        Alg::Hs384 => check(&Hs384, &Hs384Key::new(secret), message, signature),
        Alg::Hs512 => check(&Hs512, &Hs512Key::new(secret), message, signature),
        _ => false,
    }
}
