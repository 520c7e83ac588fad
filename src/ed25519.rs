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
//! The checks are ed25519-dalek's `verify_strict`, done here over curve25519-dalek so that a
//! key used more than once gets a fixed-base table: R' = [s]B + [k](-A) with both points'
//! radix-16 tables (about 130 additions) instead of ~253 doublings with NAF additions.

use core::cell::{Cell, OnceCell};
use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsBasepointTable, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::BasepointTable;
use ed25519_dalek::Signature;
use jwt_compact::Algorithm;
use sha2::{Digest, Sha512};
use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::OnceLock;

/// B's radix-16 table, built once per isolate on first use: curve25519-dalek's static copy
/// (`ED25519_BASEPOINT_TABLE`) would add 27 KiB gzip to the module.
fn basepoint_table() -> &'static EdwardsBasepointTable {
    static B: OnceLock<EdwardsBasepointTable> = OnceLock::new();
    B.get_or_init(|| EdwardsBasepointTable::create(&ED25519_BASEPOINT_POINT))
}

/// An Ed25519 public key: its encoding (hashed into every challenge), -A, and the table of
/// -A once the key has been used twice (a JWKS key verifies many tokens; a DPoP proof's
/// key, one).
#[derive(Clone)]
pub struct Ed25519Key {
    encoded: [u8; 32],
    minus_a: EdwardsPoint,
    small_order: bool,
    used: Cell<bool>,
    table: OnceCell<Box<EdwardsBasepointTable>>,
}

impl core::fmt::Debug for Ed25519Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Ed25519Key").field(&self.encoded).finish()
    }
}

impl Ed25519Key {
    /// Any encoding that decodes to a point, canonical or not, of small order or not:
    /// [`ed25519_key`] holds the rule for what may be loaded.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<Ed25519Key> {
        let a = CompressedEdwardsY(*bytes).decompress()?;
        Some(Ed25519Key {
            encoded: *bytes,
            minus_a: -a,
            small_order: a.is_small_order(),
            used: Cell::new(false),
            table: OnceCell::new(),
        })
    }

    /// RFC 8032 §5.1.7 with `verify_strict`'s extra refusals: S canonical, R decodable and
    /// not of small order, A not of small order; then [s]B - [k]A must encode to R's bytes.
    fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        let (r_bytes, s_bytes) = (signature.r_bytes(), signature.s_bytes());
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(*s_bytes)) else {
            return false;
        };
        let Some(r) = CompressedEdwardsY(*r_bytes).decompress() else {
            return false;
        };
        if r.is_small_order() || self.small_order {
            return false;
        }
        let hash = Sha512::new()
            .chain_update(r_bytes)
            .chain_update(self.encoded)
            .chain_update(message)
            .finalize();
        let k = Scalar::from_bytes_mod_order_wide(&hash.into());
        let expected = match self.table.get() {
            Some(table) => basepoint_table() * &s + &**table * &k,
            None if self.used.replace(true) => {
                let table = self
                    .table
                    .get_or_init(|| Box::new(EdwardsBasepointTable::create(&self.minus_a)));
                basepoint_table() * &s + &**table * &k
            }
            None => EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &self.minus_a, &s),
        };
        expected.compress().as_bytes() == r_bytes
    }

    fn is_weak(&self) -> bool {
        self.small_order
    }

    fn is_canonical(&self) -> bool {
        (-self.minus_a).compress().to_bytes() == self.encoded
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

impl crate::verify::FromSignature for Signature {
    fn from_signature(bytes: &[u8]) -> Option<Self> {
        Signature::from_slice(bytes).ok()
    }
}

/// Builds an Ed25519 key from a JWK's `x` (32 bytes); refuses encodings that do not decode,
/// are not canonical (y ≥ p, or x = 0 with the sign bit set), or name a point of small order.
pub fn ed25519_key(x: &[u8]) -> Option<Ed25519Key> {
    let key = Ed25519Key::from_bytes(x.try_into().ok()?)?;
    (key.is_canonical() && !key.is_weak()).then_some(key)
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
    fn answers_as_verify_strict_does_with_and_without_the_table() {
        let signer = SigningKey::from_bytes(&[7; 32]);
        let reference = signer.verifying_key();
        let key = ed25519_key(reference.as_bytes()).expect("a valid key");
        assert!(key.table.get().is_none());
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
        assert!(key.table.get().is_some(), "a reused key gets its table");
    }
}
