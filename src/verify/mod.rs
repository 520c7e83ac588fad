//! Signature verification, inside the Wasm module: one file per key family (`rsa`, `p256`,
//! `eddsa`, `ec` for the optional curves, `hmac`), each a jwt-compact algorithm checked
//! through `signature::check`. [`PublicKey`] is a JWKS key parsed once into its family's
//! ready form; which key and which algorithm a token gets is decided before this
//! (`keys::KeySet::select`, `decide::pipeline`), never by the token alone.

#[cfg(feature = "extra-curves")]
pub mod ec;
pub mod eddsa;
pub mod hmac;
pub mod p256;
pub mod rsa;
pub mod signature;

#[cfg(feature = "extra-curves")]
use self::ec::{Es256k, Es384, Es512, P384Key, P521Key, Secp256k1Key};
use self::eddsa::{Ed25519Key, StrictEd25519};
use self::p256::{FastEs256, P256Key};
use self::rsa::{FastRsa, Hash, Padding, RsaKey};
use self::signature::check;
use crate::alg::{Alg, KeyFamily};

pub use self::hmac::verify_hmac;

/// A public key ready to verify with: decoded and validated once, when the JWKS is parsed.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// Montgomery constants precomputed (see `rsa`).
    Rsa(Box<RsaKey>),
    P256(P256Key),
    #[cfg(feature = "extra-curves")]
    P384(P384Key),
    #[cfg(feature = "extra-curves")]
    P521(P521Key),
    #[cfg(feature = "extra-curves")]
    Secp256k1(Secp256k1Key),
    Ed25519(Ed25519Key),
}

impl PublicKey {
    pub(crate) fn family(&self) -> KeyFamily {
        match self {
            PublicKey::Rsa(_) => KeyFamily::Rsa,
            PublicKey::P256(_) => KeyFamily::P256,
            #[cfg(feature = "extra-curves")]
            PublicKey::P384(_) => KeyFamily::P384,
            #[cfg(feature = "extra-curves")]
            PublicKey::P521(_) => KeyFamily::P521,
            #[cfg(feature = "extra-curves")]
            PublicKey::Secp256k1(_) => KeyFamily::Secp256k1,
            PublicKey::Ed25519(_) => KeyFamily::Ed25519,
        }
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
        (Alg::Es512, PublicKey::P521(k)) => check(&Es512, k, message, signature),
        #[cfg(feature = "extra-curves")]
        (Alg::Es256k, PublicKey::Secp256k1(k)) => check(&Es256k, k, message, signature),
        (Alg::EdDsa, PublicKey::Ed25519(k)) => check(&StrictEd25519, k, message, signature),
        // Selection only offers keys of the algorithm's family; anything else is refused.
        _ => false,
    }
}

#[cfg(test)]
pub(crate) mod tests;
