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
use crate::ed25519::StrictEd25519;
use crate::error::TokenError;
use crate::es256_fast::FastEs256;
use crate::jwks::{KeySet, PublicKey, Selection};
use crate::rsa_fast::{FastRsa, Hash, Padding};
use crate::token::{UntrustedToken, VerifiedToken};
use jwt_compact::alg::{
    Hs256, Hs256Key, Hs256Signature, Hs384, Hs384Key, Hs384Signature, Hs512, Hs512Key,
    Hs512Signature,
};
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

/// Reads the signature of an algorithm `check` verifies with, or `None` if malformed. Not
/// jwt-compact's `AlgorithmSignature::try_from_slice`: its `anyhow::Error`, which `check`
/// would only drop, links anyhow's error and formatting code into the Wasm (3.8 KiB gzip).
pub(crate) trait FromSignature: Sized {
    fn from_signature(bytes: &[u8]) -> Option<Self>;
}

/// Verifies with one jwt-compact algorithm. The length check comes first because some
/// signature types (Ed25519) assume a correct length when parsed.
fn check<A>(alg: &A, key: &A::VerifyingKey, message: &[u8], signature: &[u8]) -> bool
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
        (Alg::EdDsa, PublicKey::Ed25519(k)) => check(&StrictEd25519, k, message, signature),
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::jwks::{parse_entry, Ed25519Key};
    use serde_json::Value;

    const MESSAGES: [&[u8]; 3] = [b"", b"eyJhbGciOiJFZERTQSJ9.e30", b"any other message"];

    fn key(jwk: Value) -> PublicKey {
        parse_entry(&jwk).expect("usable key").key
    }

    /// The Ed25519 identity point (y = 1): small order, so `[k]A` is the identity for every
    /// message hash `k`.
    const IDENTITY: [u8; 32] = {
        let mut b = [0u8; 32];
        b[0] = 1;
        b
    };

    #[test]
    fn the_identity_key_verifies_no_message() {
        // R = identity, S = 0 satisfies cofactorless [S]B = R + [k]A for A = identity, for
        // every message; strict verification refuses the small-order key and R.
        let key = PublicKey::Ed25519(Ed25519Key::from_bytes(&IDENTITY).unwrap());
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(&IDENTITY);
        for message in MESSAGES {
            assert!(!verify_public(Alg::EdDsa, &key, message, &signature));
        }
    }

    /// `n - s` for a raw `r || s` signature over a group of order `n` (big-endian).
    pub(crate) fn negate_s(signature: &[u8], n: &[u8]) -> Vec<u8> {
        let half = signature.len() / 2;
        let (r, s) = signature.split_at(half);
        let mut out = r.to_vec();
        let mut negated = vec![0u8; half];
        let mut borrow = 0i16;
        for i in (0..half).rev() {
            let d = n[i] as i16 - s[i] as i16 - borrow;
            borrow = i16::from(d < 0);
            negated[i] = d.rem_euclid(256) as u8;
        }
        assert_eq!(borrow, 0, "s < n");
        out.extend_from_slice(&negated);
        out
    }

    /// A valid signature and its `(r, n - s)` twin both verify (the JOSE rule: no low-S
    /// requirement), and exactly one of the two is high-S; a tampered one still fails.
    fn high_and_low_s_both_verify(alg: Alg, key: &PublicKey, message: &[u8], sig: &[u8], n: &[u8]) {
        let twin = negate_s(sig, n);
        let half = sig.len() / 2;
        assert_ne!(sig[half..], twin[half..]);
        assert!(verify_public(alg, key, message, sig), "{alg:?} original");
        assert!(verify_public(alg, key, message, &twin), "{alg:?} n - s");
        let mut tampered = twin.clone();
        tampered[half + 3] ^= 1;
        assert!(
            !verify_public(alg, key, message, &tampered),
            "{alg:?} tampered"
        );
        assert!(
            !verify_public(alg, key, b"another message", &twin),
            "{alg:?} other msg"
        );
    }

    pub(crate) const P256_N: &str =
        "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
    #[cfg(feature = "extra-curves")]
    const P384_N: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";
    #[cfg(feature = "extra-curves")]
    const SECP256K1_N: &str = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[cfg(feature = "extra-curves")]
    fn ec_jwk(crv: &str, sec1_uncompressed: &[u8]) -> Value {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        use serde_json::json;
        let half = (sec1_uncompressed.len() - 1) / 2;
        json!({
            "kty": "EC", "crv": crv,
            "x": URL_SAFE_NO_PAD.encode(&sec1_uncompressed[1..1 + half]),
            "y": URL_SAFE_NO_PAD.encode(&sec1_uncompressed[1 + half..]),
        })
    }

    #[test]
    fn es256_accepts_high_s() {
        use jwt_compact::alg::Es256;
        use jwt_compact::jwk::JsonWebKey;
        use serde::Deserialize;
        let private: Value =
            serde_json::from_str(include_str!("../fixtures/keys/p256-a.private.jwk.json")).unwrap();
        let signer =
            <Es256 as Algorithm>::SigningKey::try_from(&JsonWebKey::deserialize(&private).unwrap())
                .unwrap();
        let mut public = private.clone();
        public.as_object_mut().unwrap().remove("d");
        let key = key(public);
        for message in MESSAGES {
            let sig = Es256.sign(&signer, message).as_bytes().to_vec();
            high_and_low_s_both_verify(Alg::Es256, &key, message, &sig, &hex(P256_N));
        }
    }

    #[cfg(feature = "extra-curves")]
    #[test]
    fn es384_and_es256k_accept_high_s() {
        use p384::ecdsa::signature::Signer;
        let p384 = p384::ecdsa::SigningKey::from_slice(&[7u8; 48]).unwrap();
        // k256 signs low-S; the twin is the high-S one its own verifier refuses.
        let k256 = k256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        type Sign<'a> = &'a dyn Fn(&[u8]) -> Vec<u8>;
        let cases: [(Alg, &str, Vec<u8>, Sign, &str); 2] = [
            (
                Alg::Es384,
                "P-384",
                p384.verifying_key()
                    .to_encoded_point(false)
                    .as_bytes()
                    .to_vec(),
                &|m| Signer::<p384::ecdsa::Signature>::sign(&p384, m).to_vec(),
                P384_N,
            ),
            (
                Alg::Es256k,
                "secp256k1",
                k256.verifying_key()
                    .to_encoded_point(false)
                    .as_bytes()
                    .to_vec(),
                &|m| Signer::<k256::ecdsa::Signature>::sign(&k256, m).to_vec(),
                SECP256K1_N,
            ),
        ];
        for (alg, crv, point, sign, n) in cases {
            let key = key(ec_jwk(crv, &point));
            for message in MESSAGES {
                high_and_low_s_both_verify(alg, &key, message, &sign(message), &hex(n));
            }
        }
    }
}
