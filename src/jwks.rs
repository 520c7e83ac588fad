//! Key sets: parsing a JWKS once into ready verifying keys, choosing a key for a token, and
//! the cache policy that decides when to fetch again. Pure; the network and KV live in
//! `fetcher`.

use crate::alg::{Alg, KeyFamily};
#[cfg(feature = "extra-curves")]
use crate::alg_ec::{p384_key, secp256k1_key, P384Key, Secp256k1Key};
use crate::ed25519::ed25519_key;
pub use crate::ed25519::Ed25519Key;
use crate::error::JwksError;
use crate::json::parse_strict;
use crate::rsa_fast::RsaKey;
use serde_json::{Map, Value};

pub use crate::es256_fast::P256Key;

/// A public key ready to verify with: decoded and validated once, when the JWKS is parsed.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// Montgomery constants precomputed (see `rsa_fast`).
    Rsa(Box<RsaKey>),
    P256(P256Key),
    #[cfg(feature = "extra-curves")]
    P384(P384Key),
    #[cfg(feature = "extra-curves")]
    Secp256k1(Secp256k1Key),
    Ed25519(Ed25519Key),
}

impl PublicKey {
    fn family(&self) -> KeyFamily {
        match self {
            PublicKey::Rsa(_) => KeyFamily::Rsa,
            PublicKey::P256(_) => KeyFamily::P256,
            #[cfg(feature = "extra-curves")]
            PublicKey::P384(_) => KeyFamily::P384,
            #[cfg(feature = "extra-curves")]
            PublicKey::Secp256k1(_) => KeyFamily::Secp256k1,
            PublicKey::Ed25519(_) => KeyFamily::Ed25519,
        }
    }
}

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
                "secp256k1" => PublicKey::Secp256k1(secp256k1_key(&x, &y)?),
                _ => return None,
            }
        }
        "OKP" => {
            let x = b64_member(entry, "x")?;
            match str_member(entry, "crv")? {
                // Small-order and non-canonical keys are refused here (see `ed25519`).
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

/// Freshness rules for cached key sets (all in seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachePolicy {
    pub min_ttl: u64,
    pub max_ttl: u64,
    /// When the response says nothing usable about caching.
    pub default_ttl: u64,
    /// How long past freshness the last good set serves while the endpoint fails.
    pub max_stale: u64,
    /// Minimum interval between network fetches triggered by an unknown `kid`; also the cap
    /// of the back-off after failed fetches (`backoff_secs`).
    pub refetch_cooldown: u64,
}

impl CachePolicy {
    /// Freshness lifetime from a JWKS response's `Cache-Control`, clamped to
    /// `[min_ttl, max_ttl]`. `no-store`/`no-cache` mean "as short as allowed": refetching on
    /// every request would turn each token into a request to the issuer.
    pub fn ttl_from_cache_control(&self, header: Option<&str>) -> u64 {
        let mut ttl = None;
        for directive in header.unwrap_or_default().split(',') {
            let directive = directive.trim();
            let (name, value) = match directive.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                return self.min_ttl;
            }
            if name.eq_ignore_ascii_case("max-age") {
                // Malformed max-age: RFC 9111 §4.2.1 says treat the response as stale.
                ttl = Some(value.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0));
            }
        }
        ttl.unwrap_or(self.default_ttl)
            .clamp(self.min_ttl, self.max_ttl)
    }
}

/// When a cached set was fetched and until when it is fresh (unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    pub fetched_at: u64,
    pub fresh_until: u64,
}

impl Freshness {
    pub fn is_fresh(&self, now: u64) -> bool {
        now < self.fresh_until
    }

    /// Still allowed to serve when a refresh fails.
    pub fn is_usable(&self, now: u64, policy: &CachePolicy) -> bool {
        now < self.fresh_until.saturating_add(policy.max_stale)
    }

    /// KV `expirationTtl` so an entry outlives its freshness by the stale window (KV's
    /// minimum is 60 s).
    pub fn kv_ttl(&self, now: u64, policy: &CachePolicy) -> u64 {
        self.fresh_until
            .saturating_add(policy.max_stale)
            .saturating_sub(now)
            .max(60)
    }
}

/// May an unknown `kid` trigger a network fetch now? At most one per cooldown per issuer,
/// counted from the last fetch attempt of any kind, so a flood of random `kid`s costs the
/// issuer one request per cooldown, not one per token.
pub fn may_refetch(last_attempt: Option<u64>, now: u64, policy: &CachePolicy) -> bool {
    last_attempt.is_none_or(|t| now >= t.saturating_add(policy.refetch_cooldown))
}

/// How long after the last of `failures` consecutive failed fetches no new fetch is made:
/// 1 s, 2 s, 4 s, ... capped by `refetch_cooldown`, and never less than 1 s, so even a
/// cooldown of 0 cannot let every request reach a failing endpoint. 0 after a success.
pub fn backoff_secs(failures: u32, policy: &CachePolicy) -> u64 {
    match failures {
        0 => 0,
        n => (1u64 << (n - 1).min(63)).min(policy.refetch_cooldown.max(1)),
    }
}

/// Why keys are wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Normal request: cached keys while fresh.
    Current,
    /// The token's `kid` is unknown: fetch again if the cooldown allows.
    Refetch,
}

/// What the fetcher knows about one issuer when a request arrives.
#[derive(Debug, Clone, Copy, Default)]
pub struct FetchState {
    pub cached: Option<Freshness>,
    /// Last network attempt of any kind (unix seconds).
    pub last_attempt: Option<u64>,
    /// When the most recent attempt ended, if it failed.
    pub last_failure: Option<u64>,
    /// Consecutive failed attempts (0 after a success).
    pub failures: u32,
    /// Another request of this isolate is fetching right now.
    pub in_flight: bool,
}

impl FetchState {
    /// Before this time (unix seconds) no fetch is made: the back-off after failures.
    pub fn backoff_until(&self, policy: &CachePolicy) -> Option<u64> {
        self.last_failure
            .map(|t| t.saturating_add(backoff_secs(self.failures, policy)))
    }
}

/// Serve what is cached, go to the network, or neither?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    UseCached,
    Fetch,
    /// Nothing usable, and another request of this isolate is fetching: watch for its result
    /// instead of fetching too.
    AwaitOther,
    /// Nothing usable, and the endpoint failed less than the back-off ago: no fetch, 503.
    BackOff,
}

/// The cache policy in one place:
/// * fresh keys are used as they are;
/// * expired keys are refreshed, unless another request is already at it or the back-off
///   after failed attempts is running (then the stale set serves, within `max_stale`);
/// * an unknown `kid` refetches at most once per cooldown since the last attempt;
/// * with nothing usable, a fetch is made unless one is in flight (its result is awaited)
///   or the back-off is running (503 without any I/O): a failing endpoint costs the issuer
///   one request per back-off step, not one per request naming it.
pub fn decide(state: &FetchState, want: Want, now: u64, policy: &CachePolicy) -> Decision {
    let backing_off = state.backoff_until(policy).is_some_and(|t| now < t);
    let Some(f) = state.cached.filter(|f| f.is_usable(now, policy)) else {
        return if state.in_flight {
            Decision::AwaitOther
        } else if backing_off {
            Decision::BackOff
        } else {
            Decision::Fetch
        };
    };
    if state.in_flight || backing_off {
        return Decision::UseCached;
    }
    let fetch = match want {
        Want::Current => !f.is_fresh(now),
        Want::Refetch => may_refetch(state.last_attempt, now, policy),
    };
    if fetch {
        Decision::Fetch
    } else {
        Decision::UseCached
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const MAIN: &str = include_str!("../fixtures/jwks/main.json");
    const MIXED: &str = include_str!("../fixtures/jwks/mixed.json");
    const WEAK: &str = include_str!("../fixtures/jwks/weak.json");

    /// The default cache policy (see README).
    pub(crate) fn policy() -> CachePolicy {
        CachePolicy {
            min_ttl: 60,
            max_ttl: 3600,
            default_ttl: 600,
            max_stale: 86_400,
            refetch_cooldown: 30,
        }
    }

    #[test]
    fn fixture_jwks_parses_into_ready_keys() {
        let set = parse_jwks(MAIN.as_bytes(), 64).unwrap();
        assert_eq!(set.keys.len(), 5);
        assert_eq!(set.skipped, 0);
    }

    #[test]
    fn unusable_entries_are_skipped_good_ones_kept() {
        let set = parse_jwks(MIXED.as_bytes(), 64).unwrap();
        assert_eq!(set.keys.len(), 1);
        assert_eq!(set.keys[0].kid.as_deref(), Some("rsa2048-a"));
        assert!(set.skipped >= 4);
    }

    fn okp(x_hex: &str) -> Value {
        let x: Vec<u8> = (0..x_hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&x_hex[i..i + 2], 16).unwrap())
            .collect();
        use base64::Engine as _;
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(x);
        serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": x, "use": "sig"})
    }

    #[test]
    fn small_order_and_non_canonical_ed25519_keys_are_never_loaded() {
        let ed25519 = include_str!("../fixtures/keys/ed25519-a.private.jwk.json");
        let mut good: Value = serde_json::from_str(ed25519).unwrap();
        good.as_object_mut().unwrap().remove("d");
        assert!(parse_entry(&good).is_some());
        for (x, what) in [
            // Small order: a signature made of them verifies many messages at once.
            (
                "0100000000000000000000000000000000000000000000000000000000000000",
                "identity",
            ),
            (
                "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
                "order 2",
            ),
            (
                "0000000000000000000000000000000000000000000000000000000000000000",
                "order 4",
            ),
            (
                "0000000000000000000000000000000000000000000000000000000000000080",
                "order 4, x odd",
            ),
            (
                "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
                "order 8",
            ),
            (
                "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
                "order 8",
            ),
            // y = p + 1 (the identity again) and y = p + 3 (a point of large order): a
            // second spelling of a key gives a second thumbprint and another hashed `A`.
            (
                "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
                "y = p + 1",
            ),
            (
                "f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
                "y = p + 3",
            ),
        ] {
            assert!(parse_entry(&okp(x)).is_none(), "{what}");
            let set = format!(r#"{{"keys":[{},{}]}}"#, okp(x), good);
            assert_eq!(parse_jwks(set.as_bytes(), 64).unwrap().skipped, 1, "{what}");
        }
    }

    #[test]
    fn jwk_members_decode_as_with_jwt_compacts_base64url_decoder() {
        use base64ct::{Base64UrlUnpadded, Encoding as _};
        // Every string of up to 4 characters from an alphabet with each class of last
        // character (trailing bits zero or not), the other alphabet, padding and whitespace,
        // then those after a valid 4-character block.
        let alphabet = [
            'A', 'B', 'E', 'Q', 'g', 'w', '_', '-', '+', '/', '=', ' ', '\n', '.',
        ];
        let mut strings = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = strings
                .iter()
                .filter(|s| s.len() == strings.last().unwrap().len())
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            strings.extend(longer);
        }
        let n = strings.len();
        for i in 0..n {
            strings.push(format!("AQAB{}", strings[i]));
        }
        for s in &strings {
            assert_eq!(
                crate::token::decode_segment(s).ok(),
                Base64UrlUnpadded::decode_vec(s).ok(),
                "{s:?}"
            );
        }
        assert!(strings.len() > 80_000);
    }

    /// `JwkMeta` as a serde derive read it until 2026-12: the reference for `JwkMeta::read`.
    #[derive(serde::Deserialize)]
    struct DerivedJwkMeta {
        kty: String,
        #[serde(default)]
        kid: Option<String>,
        #[serde(default, rename = "use")]
        use_: Option<String>,
        #[serde(default)]
        key_ops: Option<Vec<String>>,
        #[serde(default)]
        alg: Option<String>,
    }

    fn derived_meta(entry: &Value) -> Option<JwkMeta> {
        use serde::Deserialize;
        let m = DerivedJwkMeta::deserialize(entry).ok()?;
        Some(JwkMeta {
            kty: m.kty,
            kid: m.kid,
            use_: m.use_,
            key_ops: m.key_ops,
            alg: m.alg,
        })
    }

    #[test]
    fn jwk_metadata_is_read_as_the_serde_derive_read_it() {
        let doc: Value = serde_json::from_str(MAIN).unwrap();
        let key = &doc["keys"][0];
        let mut variants = vec![
            key.clone(),
            Value::Null,
            serde_json::json!([]),
            serde_json::json!("RSA"),
        ];
        for name in ["kty", "kid", "use", "key_ops", "alg"] {
            for v in [
                Value::Null,
                serde_json::json!(1),
                serde_json::json!(true),
                serde_json::json!("verify"),
                serde_json::json!(""),
                serde_json::json!([]),
                serde_json::json!(["verify"]),
                serde_json::json!(["sign", "verify"]),
                serde_json::json!(["verify", 1]),
                serde_json::json!([null]),
                serde_json::json!({}),
            ] {
                let mut e = key.clone();
                e[name] = v;
                variants.push(e);
            }
            let mut without = key.clone();
            without.as_object_mut().unwrap().remove(name);
            variants.push(without);
        }
        for v in &variants {
            assert_eq!(JwkMeta::read(v), derived_meta(v), "{v}");
        }
    }

    /// What `parse_entry` decided while it went through jwt-compact's `JsonWebKey` (until
    /// 2026-12): the reference for reading the members directly.
    fn loads_through_json_web_key(entry: &Value) -> bool {
        use jwt_compact::jwk::JsonWebKey;
        use serde::Deserialize;
        let Some(meta) = derived_meta(entry) else {
            return false;
        };
        if !matches!(meta.kty.as_str(), "RSA" | "EC" | "OKP") || entry.get("d").is_some() {
            return false;
        }
        match JsonWebKey::deserialize(entry) {
            Ok(JsonWebKey::Rsa {
                modulus,
                public_exponent,
                ..
            }) => RsaKey::from_be(&modulus, &public_exponent, 2048).is_ok(),
            Ok(JsonWebKey::EllipticCurve { curve, x, y, .. }) => {
                curve == "P-256" && P256Key::from_xy(&x, &y).is_some()
            }
            Ok(JsonWebKey::KeyPair { curve, x, .. }) => {
                curve == "Ed25519" && ed25519_key(&x).is_some()
            }
            _ => false,
        }
    }

    #[test]
    fn jwk_members_are_read_as_jwt_compact_reads_them() {
        let doc: Value = serde_json::from_str(MAIN).unwrap();
        let mut checked = 0;
        for key in doc["keys"].as_array().unwrap() {
            let mut variants = vec![key.clone()];
            // The members that make the key (the others are read by `JwkMeta` either way).
            let members = key.as_object().unwrap().iter();
            for (name, value) in
                members.filter(|(n, _)| ["kty", "crv", "n", "e", "x", "y"].contains(&n.as_str()))
            {
                let mut edit = |v: Value| {
                    let mut e = key.clone();
                    e[name.as_str()] = v;
                    variants.push(e);
                };
                edit(Value::Null);
                edit(serde_json::json!(1));
                edit(serde_json::json!([value]));
                edit(serde_json::json!("other"));
                edit(serde_json::json!(""));
                if let Some(text) = value.as_str() {
                    // Padding, the standard alphabet, non-canonical trailing bits, a
                    // truncated or extended value, whitespace.
                    edit(Value::String(format!("{text}=")));
                    edit(Value::String(format!("{text}==")));
                    edit(Value::String(text.replace('-', "+").replace('_', "/")));
                    edit(Value::String(format!(" {text}")));
                    edit(Value::String(text[..text.len() - 1].to_string()));
                    edit(Value::String(format!("{text}A")));
                    edit(Value::String(format!("{text}AA")));
                    let last = text.chars().last().unwrap();
                    for c in ['A', 'B', 'D', 'Q', 'R', 'g', 'w', '_'] {
                        if c != last {
                            edit(Value::String(format!("{}{c}", &text[..text.len() - 1])));
                        }
                    }
                }
                let mut without = key.clone();
                without.as_object_mut().unwrap().remove(name);
                variants.push(without);
            }
            for crv in ["P-384", "secp256k1", "X25519", "Ed448", "p-256", "ed25519"] {
                let mut e = key.clone();
                e["crv"] = Value::String(crv.into());
                variants.push(e);
            }
            for v in &variants {
                assert_eq!(
                    parse_entry(v).is_some(),
                    loads_through_json_web_key(v),
                    "{v}"
                );
                checked += 1;
            }
        }
        assert!(checked > 100, "{checked}");
    }

    #[test]
    fn weak_rsa_keys_are_never_loaded() {
        assert_eq!(
            parse_jwks(WEAK.as_bytes(), 64).unwrap_err(),
            JwksError::Invalid("no usable signing key")
        );
    }

    #[test]
    fn documents_that_are_not_a_jwks_are_errors() {
        for body in [
            "<html>",
            "{}",
            r#"{"keys":{}}"#,
            r#"{"keys":[]}"#,
            "[1]",
            r#"{"keys":[],"keys":[]}"#,
        ] {
            assert!(parse_jwks(body.as_bytes(), 64).is_err(), "{body}");
        }
        assert_eq!(
            parse_jwks(MAIN.as_bytes(), 2).unwrap_err(),
            JwksError::Invalid("too many keys")
        );
    }

    #[test]
    fn selection_by_kid_alg_and_family() {
        let set = parse_jwks(MAIN.as_bytes(), 64).unwrap();
        assert!(
            matches!(set.select(Alg::Rs256, Some("rsa2048-a")), Selection::Candidates(c) if c.len() == 1)
        );
        assert!(matches!(
            set.select(Alg::Ps512, Some("rsa2048-a")),
            Selection::Candidates(_)
        ));
        assert!(matches!(
            set.select(Alg::Rs256, Some("nope")),
            Selection::UnknownKid
        ));
        // Key type does not fit the algorithm.
        assert!(matches!(
            set.select(Alg::Es256, Some("rsa2048-a")),
            Selection::NoSuitableKey
        ));
        // The Ed25519 key pins alg EdDSA; the P-256 key pins ES256.
        assert!(matches!(
            set.select(Alg::EdDsa, Some("ed25519-a")),
            Selection::Candidates(_)
        ));
        // Without kid: exactly one fitting key, or refuse.
        assert!(matches!(set.select(Alg::EdDsa, None), Selection::Candidates(c) if c.len() == 1));
        assert!(matches!(set.select(Alg::Rs256, None), Selection::Ambiguous));
        assert!(matches!(
            set.select(Alg::Hs256, None),
            Selection::NoSuitableKey
        ));
    }

    #[test]
    fn keys_pinned_to_another_alg_or_use_are_not_used() {
        let base: Value = serde_json::from_str(MAIN).unwrap();
        let rsa = base["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == "rsa2048-a")
            .unwrap()
            .clone();
        let with = |extra: Value| {
            let mut k = rsa.clone();
            for (name, v) in extra.as_object().unwrap() {
                k[name] = v.clone();
            }
            serde_json::json!({ "keys": [k] }).to_string()
        };
        let pinned = parse_jwks(with(serde_json::json!({"alg": "RS256"})).as_bytes(), 64).unwrap();
        assert!(matches!(
            pinned.select(Alg::Rs256, Some("rsa2048-a")),
            Selection::Candidates(_)
        ));
        assert!(matches!(
            pinned.select(Alg::Ps256, Some("rsa2048-a")),
            Selection::NoSuitableKey
        ));
        assert!(parse_jwks(with(serde_json::json!({"use": "enc"})).as_bytes(), 64).is_err());
        assert!(parse_jwks(
            with(serde_json::json!({"key_ops": ["encrypt"]})).as_bytes(),
            64
        )
        .is_err());
        assert!(parse_jwks(with(serde_json::json!({"alg": "ES256"})).as_bytes(), 64).is_err());
        assert!(parse_jwks(with(serde_json::json!({"d": "AAAA"})).as_bytes(), 64).is_err());
        assert!(parse_jwks(
            with(serde_json::json!({"key_ops": ["verify"]})).as_bytes(),
            64
        )
        .is_ok());
    }

    #[test]
    fn cache_control_is_clamped() {
        let p = policy();
        assert_eq!(p.ttl_from_cache_control(None), 600);
        assert_eq!(p.ttl_from_cache_control(Some("public, max-age=1200")), 1200);
        assert_eq!(p.ttl_from_cache_control(Some("max-age=5")), 60);
        assert_eq!(p.ttl_from_cache_control(Some("max-age=999999")), 3600);
        assert_eq!(p.ttl_from_cache_control(Some("max-age=abc")), 60);
        assert_eq!(p.ttl_from_cache_control(Some("no-store")), 60);
        assert_eq!(p.ttl_from_cache_control(Some("MAX-AGE=\"120\"")), 120);
    }

    #[test]
    fn freshness_and_stale_window() {
        let p = policy();
        let f = Freshness {
            fetched_at: 1000,
            fresh_until: 1600,
        };
        assert!(f.is_fresh(1599));
        assert!(!f.is_fresh(1600));
        assert!(f.is_usable(1600 + 86_399, &p));
        assert!(!f.is_usable(1600 + 86_400, &p));
        assert_eq!(f.kv_ttl(1000, &p), 600 + 86_400);
        assert_eq!(f.kv_ttl(1_000_000, &p), 60);
    }

    /// A state with `failures` consecutive failures, the last at `last_failure`.
    fn st(
        cached: Option<Freshness>,
        last_attempt: Option<u64>,
        last_failure: Option<u64>,
        failures: u32,
        in_flight: bool,
    ) -> FetchState {
        FetchState {
            cached,
            last_attempt,
            last_failure,
            failures,
            in_flight,
        }
    }

    #[test]
    fn decisions_follow_the_cache_policy() {
        let p = policy();
        let fresh = Freshness {
            fetched_at: 1000,
            fresh_until: 1600,
        };
        let d = |state: FetchState, want, now| decide(&state, want, now, &p);
        // Nothing cached: fetch, or await the fetch already in flight.
        assert_eq!(
            d(st(None, None, None, 0, false), Want::Current, 1000),
            Decision::Fetch
        );
        assert_eq!(
            d(st(None, Some(1000), None, 0, true), Want::Current, 1000),
            Decision::AwaitOther
        );
        // Fresh: use it; an unknown kid refetches only after the cooldown.
        let ok = st(Some(fresh), Some(1000), None, 0, false);
        assert_eq!(d(ok, Want::Current, 1010), Decision::UseCached);
        assert_eq!(d(ok, Want::Refetch, 1010), Decision::UseCached);
        assert_eq!(d(ok, Want::Refetch, 1030), Decision::Fetch);
        // Expired: refreshed at once, not held back by the unknown-kid cooldown...
        assert_eq!(
            d(
                st(Some(fresh), Some(1590), None, 0, false),
                Want::Current,
                1600
            ),
            Decision::Fetch
        );
        // ...unless the back-off after failed refreshes runs, or another request is fetching.
        let failed = |n| st(Some(fresh), Some(1600), Some(1600), n, false);
        assert_eq!(d(failed(1), Want::Current, 1600), Decision::UseCached);
        assert_eq!(d(failed(1), Want::Current, 1601), Decision::Fetch);
        assert_eq!(d(failed(3), Want::Current, 1603), Decision::UseCached);
        assert_eq!(d(failed(3), Want::Current, 1604), Decision::Fetch);
        assert_eq!(d(failed(20), Want::Current, 1629), Decision::UseCached);
        assert_eq!(d(failed(20), Want::Current, 1630), Decision::Fetch);
        // The back-off holds an unknown-kid refetch back too.
        assert_eq!(
            d(
                st(Some(fresh), Some(1000), Some(1500), 6, false),
                Want::Refetch,
                1520
            ),
            Decision::UseCached
        );
        assert_eq!(
            d(
                st(Some(fresh), Some(1600), None, 0, true),
                Want::Current,
                1610
            ),
            Decision::UseCached
        );
        // Past the stale window the old set is no use: as if nothing were cached.
        let gone = 1600 + 86_400;
        assert_eq!(
            d(
                st(Some(fresh), Some(1600), Some(1600), 1, true),
                Want::Current,
                gone
            ),
            Decision::AwaitOther
        );
        assert_eq!(
            d(
                st(Some(fresh), Some(gone), Some(gone), 1, false),
                Want::Current,
                gone
            ),
            Decision::BackOff
        );
        assert_eq!(
            d(
                st(Some(fresh), Some(gone), Some(gone), 1, false),
                Want::Current,
                gone + 1
            ),
            Decision::Fetch
        );
    }

    #[test]
    fn backoff_doubles_from_one_second_up_to_the_cooldown() {
        let p = policy();
        let steps: Vec<u64> = (0..9).map(|n| backoff_secs(n, &p)).collect();
        assert_eq!(steps, [0, 1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(backoff_secs(u32::MAX, &p), 30);
        let no_cooldown = CachePolicy {
            refetch_cooldown: 0,
            ..policy()
        };
        assert_eq!(backoff_secs(1, &no_cooldown), 1);
        assert_eq!(backoff_secs(64, &no_cooldown), 1);
        let long = CachePolicy {
            refetch_cooldown: 3600,
            ..policy()
        };
        assert_eq!(backoff_secs(12, &long), 2048);
        assert_eq!(backoff_secs(13, &long), 3600);
        // Near the end of time: no overflow.
        let late = st(None, Some(u64::MAX - 2), Some(u64::MAX - 2), 5, false);
        assert_eq!(late.backoff_until(&p), Some(u64::MAX));
        assert_eq!(
            decide(&late, Want::Current, u64::MAX - 1, &p),
            Decision::BackOff
        );
    }

    /// Drives `decide` like the fetcher does, against an endpoint that always fails, with
    /// one request at each of `times`; returns the times a fetch was made.
    fn fetches_against_a_failing_endpoint(
        cached: Option<Freshness>,
        times: impl IntoIterator<Item = u64>,
    ) -> Vec<u64> {
        let p = policy();
        let mut state = st(cached, None, None, 0, false);
        let mut fetched = Vec::new();
        for now in times {
            if decide(&state, Want::Current, now, &p) == Decision::Fetch {
                fetched.push(now);
                state.last_attempt = Some(now);
                state.last_failure = Some(now);
                state.failures += 1;
            }
        }
        fetched
    }

    #[test]
    fn a_failing_endpoint_with_nothing_cached_is_not_fetched_per_request() {
        // 30 requests within one second: one fetch (it was 30).
        assert_eq!(
            fetches_against_a_failing_endpoint(None, std::iter::repeat_n(1000, 30)),
            [1000]
        );
        // One request a second for two minutes: the back-off schedule.
        assert_eq!(
            fetches_against_a_failing_endpoint(None, 1000..1120),
            [1000, 1001, 1003, 1007, 1015, 1031, 1061, 1091]
        );
    }

    #[test]
    fn stale_keys_are_not_refreshed_per_request_while_the_endpoint_fails() {
        let stale = Freshness {
            fetched_at: 0,
            fresh_until: 1000,
        };
        assert_eq!(
            fetches_against_a_failing_endpoint(Some(stale), 1000..1040),
            [1000, 1001, 1003, 1007, 1015, 1031]
        );
    }

    #[test]
    fn unknown_kid_refetch_is_rate_limited() {
        let p = policy();
        assert!(may_refetch(None, 100, &p));
        assert!(!may_refetch(Some(100), 129, &p));
        assert!(may_refetch(Some(100), 130, &p));
    }
}
