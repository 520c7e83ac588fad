//! Key sets: parsing a JWKS once into ready verifying keys and choosing a key for a token
//! (when to fetch again: `freshness`; where keys come from: `source`). Pure; the network and KV live in
//! `edge::fetcher`.

pub mod freshness;
pub mod source;

use crate::alg::Alg;
use crate::error::JwksError;
use crate::json::parse_strict;
#[cfg(feature = "extra-curves")]
use crate::verify::ec::{p384_key, p521_key, secp256k1_key};
use crate::verify::eddsa::ed25519_key;
use crate::verify::p256::P256Key;
use crate::verify::rsa::RsaKey;
use crate::verify::PublicKey;
use serde_json::{Map, Value};

/// One usable JWKS entry.
#[derive(Debug, Clone)]
pub struct Jwk {
    pub kid: Option<String>,
    /// The key's own `alg`, when it pins one.
    pub alg: Option<String>,
    pub key: PublicKey,
}

impl Jwk {
    /// May this key verify a token or DPoP proof signed with `alg`? (RFC 7517 §4.4: a key
    /// that names an `alg` is for that algorithm only.)
    pub fn fits(&self, alg: Alg) -> bool {
        self.key.family() == alg.family() && self.alg.as_deref().is_none_or(|a| a == alg.name())
    }
}

/// The usable keys of one issuer.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    pub keys: Vec<Jwk>,
    /// Entries that were present but not usable (other `kty`, `use: enc`, weak RSA, ...).
    pub skipped: usize,
}

/// The key (or keys) a token may be checked with.
#[derive(Debug)]
pub enum Selection<'a> {
    /// Try these, in order; the token is valid if one verifies it.
    Candidates(Vec<&'a PublicKey>),
    /// No key has the token's `kid`: the issuer may have rotated, so a refetch can help.
    UnknownKid,
    /// Keys exist for this `kid` (or for this algorithm) but none may verify it.
    NoSuitableKey,
    /// No `kid` and several keys fit the algorithm.
    Ambiguous,
}

impl KeySet {
    /// Chooses keys by `kid`, or, without a `kid`, the one key that fits `alg`.
    pub fn select(&self, alg: Alg, kid: Option<&str>) -> Selection<'_> {
        match kid {
            Some(kid) => {
                let mut same_kid = self
                    .keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .peekable();
                if same_kid.peek().is_none() {
                    return Selection::UnknownKid;
                }
                let fitting: Vec<_> = same_kid.filter(|k| k.fits(alg)).map(|k| &k.key).collect();
                if fitting.is_empty() {
                    Selection::NoSuitableKey
                } else {
                    Selection::Candidates(fitting)
                }
            }
            None => {
                let fitting: Vec<_> = self
                    .keys
                    .iter()
                    .filter(|k| k.fits(alg))
                    .map(|k| &k.key)
                    .collect();
                match fitting.len() {
                    0 => Selection::NoSuitableKey,
                    1 => Selection::Candidates(fitting),
                    _ => Selection::Ambiguous,
                }
            }
        }
    }
}

/// The metadata of a JWKS entry that decides whether it is usable at all.
#[derive(Debug, PartialEq)]
struct JwkMeta {
    kty: String,
    kid: Option<String>,
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
}

impl JwkMeta {
    /// Reads the members of an entry (an object) as the serde derive it replaces did (by
    /// hand: no derive's Value deserializer in the Wasm): `kty` a string, `kid`, `use` and
    /// `alg` absent, null or a string, `key_ops` absent, null or an array of strings. `None`
    /// when any is otherwise: the entry is refused. (The derive also took an array in field
    /// order; no key was ever made of one, its members being read by name.)
    fn read(entry: &Value) -> Option<JwkMeta> {
        fn optional<T>(
            entry: &Map<String, Value>,
            name: &str,
            read: impl FnOnce(&Value) -> Option<T>,
        ) -> Option<Option<T>> {
            match entry.get(name) {
                None | Some(Value::Null) => Some(None),
                Some(v) => read(v).map(Some),
            }
        }
        let string = |v: &Value| v.as_str().map(str::to_owned);
        let entry = entry.as_object()?;
        Some(JwkMeta {
            kty: string(entry.get("kty")?)?,
            kid: optional(entry, "kid", string)?,
            use_: optional(entry, "use", string)?,
            key_ops: optional(entry, "key_ops", |v| {
                v.as_array()?.iter().map(string).collect()
            })?,
            alg: optional(entry, "alg", string)?,
        })
    }
}

/// Parses a JWKS document. Entries that cannot be used for signature verification are
/// skipped (a key set may mix encryption keys or key types we do not know), but a document
/// that is not a JWKS, is too big, or leaves no usable key is an error, so it can never
/// replace a good key set.
pub fn parse_jwks(body: &[u8], max_keys: usize) -> Result<KeySet, JwksError> {
    let doc = parse_strict(body).map_err(|_| JwksError::Invalid("not JSON"))?;
    let Some(Value::Array(entries)) = doc.get("keys") else {
        return Err(JwksError::Invalid("no \"keys\" array"));
    };
    if entries.len() > max_keys {
        return Err(JwksError::Invalid("too many keys"));
    }
    let mut set = KeySet::default();
    for entry in entries {
        match parse_entry(entry) {
            Some(jwk) => set.keys.push(jwk),
            None => set.skipped += 1,
        }
    }
    if set.keys.is_empty() {
        return Err(JwksError::Invalid("no usable signing key"));
    }
    Ok(set)
}

/// Parses one JWK (a JWKS entry, or a DPoP proof's `jwk` header) into a usable public key,
/// or `None` if it is not a public signature key we can use.
pub fn parse_entry(entry: &Value) -> Option<Jwk> {
    let meta = JwkMeta::read(entry)?;
    if meta.use_.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    if meta
        .key_ops
        .as_ref()
        .is_some_and(|ops| !ops.iter().any(|op| op == "verify"))
    {
        return None;
    }
    // Private key material in a published JWKS is an issuer mistake; we never use it, and
    // refusing the entry keeps it out of memory and KV.
    if entry.get("d").is_some() {
        return None;
    }
    // The members are read from the JSON value directly (jwt-compact's `JsonWebKey` would
    // buffer the whole entry through serde's internally-tagged machinery, costing Wasm
    // size), with the same rules: every member named below must be present and of its
    // type, the base64url ones decoded by the same strict decoder (base64ct, unpadded,
    // canonical).
    let key = match meta.kty.as_str() {
        // At least 2048 bits (RFC 7518 §3.3); weaker keys are never loaded.
        "RSA" => PublicKey::Rsa(Box::new(
            RsaKey::from_be(&b64_member(entry, "n")?, &b64_member(entry, "e")?, 2048).ok()?,
        )),
        "EC" => {
            let (x, y) = (b64_member(entry, "x")?, b64_member(entry, "y")?);
            match str_member(entry, "crv")? {
                "P-256" => PublicKey::P256(P256Key::from_xy(&x, &y)?),
                #[cfg(feature = "extra-curves")]
                "P-384" => PublicKey::P384(p384_key(&x, &y)?),
                #[cfg(feature = "extra-curves")]
                "P-521" => PublicKey::P521(p521_key(&x, &y)?),
                #[cfg(feature = "extra-curves")]
                "secp256k1" => PublicKey::Secp256k1(secp256k1_key(&x, &y)?),
                _ => return None,
            }
        }
        "OKP" => {
            let x = b64_member(entry, "x")?;
            match str_member(entry, "crv")? {
                // Small-order and non-canonical keys are refused here (see `verify::eddsa`).
                "Ed25519" => PublicKey::Ed25519(ed25519_key(&x)?),
                _ => return None,
            }
        }
        // `oct` keys never come from a JWKS (HMAC secrets are configured per issuer), and
        // unknown types are someone else's keys.
        _ => return None,
    };
    if let Some(alg) = meta.alg.as_deref() {
        // A key pinned to an algorithm of another family is not ours to use.
        if Alg::from_name(alg).is_none_or(|a| a.family() != key.family()) {
            return None;
        }
    }
    Some(Jwk {
        kid: meta.kid,
        alg: meta.alg,
        key,
    })
}

/// A string member of a JWK.
fn str_member<'a>(entry: &'a Value, name: &str) -> Option<&'a str> {
    entry.get(name)?.as_str()
}

/// A base64url member of a JWK, decoded by the strict decoder tokens use
/// (`token::decode_segment`: unpadded, canonical), which accepts exactly what jwt-compact's
/// JWK decoder (base64ct) does; `None` when absent, not a string or not canonical.
fn b64_member(entry: &Value, name: &str) -> Option<Vec<u8>> {
    crate::token::decode_segment(str_member(entry, name)?).ok()
}

#[cfg(test)]
pub(crate) mod tests;
