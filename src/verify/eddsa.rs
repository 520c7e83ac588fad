//! EdDSA (Ed25519, RFC 8032 §5.1.7) as a jwt-compact [`Algorithm`] with strict checks, for
//! access tokens and DPoP proofs alike (both reach it through `verify::verify_public`).
//!
//! Plain cofactorless verification accepts, for a small-order public key, signatures that
//! verify many or all messages (the identity key with R = identity, S = 0 verifies every
//! one), and a non-canonical encoding gives one key a second spelling (another RFC 7638
//! thumbprint, another hashed `A`). So a key is refused when its JWK is parsed if it is of
//! small order or not canonically encoded, and a signature is checked with
//! ed25519-dalek's `verify_strict` (R canonical and not of small order, S canonical).

//!
//! The checks are ed25519-dalek's `verify_strict`; the scalars (S canonical, k reduced mod L)
//! are curve25519-dalek's and the group arithmetic is our crates/edgeguard-ec, which gives a
//! reused key a fixed-base table (see its `ed25519` module).

use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::Signature;
use edgeguard_ec::ed25519::VerifyingKey;
use jwt_compact::Algorithm;
use sha2::{Digest, Sha512};
use std::borrow::Cow;
use std::convert::Infallible;

/// An Ed25519 public key (a decoded point; see [`ed25519_key`] for what may be loaded).
#[derive(Debug, Clone)]
pub struct Ed25519Key(VerifyingKey);

impl Ed25519Key {
    /// Any canonical encoding of a point, of small order or not: [`ed25519_key`] holds the
    /// rule for what may be loaded.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<Ed25519Key> {
        VerifyingKey::from_bytes(bytes).map(Ed25519Key)
    }

    /// RFC 8032 §5.1.7 with `verify_strict`'s extra refusals: S canonical, R not of small
    /// order (and a canonical encoding), A not of small order.
    fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        let (r, s) = (signature.r_bytes(), signature.s_bytes());
        if Option::<Scalar>::from(Scalar::from_canonical_bytes(*s)).is_none() {
            return false;
        }
        let hash = Sha512::new()
            .chain_update(r)
            .chain_update(self.0.encoded())
            .chain_update(message)
            .finalize();
        let k = Scalar::from_bytes_mod_order_wide(&hash.into());
        self.0.check(s, &k.to_bytes(), r)
    }
}

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
        key.verify(message, signature)
    }
}

impl crate::verify::signature::FromSignature for Signature {
    fn from_signature(bytes: &[u8]) -> Option<Self> {
        Signature::from_slice(bytes).ok()
    }
}

/// Builds an Ed25519 key from a JWK's `x` (32 bytes); refuses encodings that do not decode,
/// are not canonical (y ≥ p, or x = 0 with the sign bit set), or name a point of small order.
pub fn ed25519_key(x: &[u8]) -> Option<Ed25519Key> {
    // Decoding refuses non-canonical encodings.
    let key = Ed25519Key::from_bytes(x.try_into().ok()?)?;
    (!key.0.is_small_order()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    /// The group order L, little-endian (RFC 8032 §5.1).
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];

    /// S + L: the same residue, not canonical (strict verification refuses it).
    fn s_plus_l(sig: &[u8; 64]) -> [u8; 64] {
        let mut out = *sig;
        let mut carry = 0u16;
        for i in 0..32 {
            let v = sig[32 + i] as u16 + L[i] as u16 + carry;
            out[32 + i] = v as u8;
            carry = v >> 8;
        }
        out
    }

    #[test]
    fn answers_as_verify_strict_does() {
        let signer = SigningKey::from_bytes(&[7; 32]);
        let reference = signer.verifying_key();
        let key = ed25519_key(reference.as_bytes()).expect("a valid key");
        let mut accepted = 0;
        for i in 0..6 {
            let message = format!("message {i}");
            let good = signer.sign(message.as_bytes()).to_bytes();
            let mut cases = vec![good, s_plus_l(&good)];
            for bit in [0, 77, 255, 256, 300, 511] {
                let mut c = good;
                c[bit / 8] ^= 1 << (bit % 8);
                cases.push(c);
            }
            for case in cases {
                let sig = Signature::from_bytes(&case);
                let want = reference.verify_strict(message.as_bytes(), &sig).is_ok();
                assert_eq!(
                    key.verify(message.as_bytes(), &sig),
                    want,
                    "{message} {case:?}"
                );
                accepted += usize::from(want);
            }
            // Another message never verifies.
            let sig = Signature::from_bytes(&good);
            assert!(!key.verify(b"another message", &sig));
        }
        assert_eq!(accepted, 6, "only the unmodified signatures");
    }
}
