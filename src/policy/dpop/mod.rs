//! DPoP proof verification (RFC 9449 §4.3) for DPoP-bound access tokens. Pure: the clock
//! and the replay cache are passed in.
//!
//! A proof is a small JWS the client signs for each request with the key its access token
//! is bound to (`cnf.jkt`, RFC 9449 §6.1). The proof carries that key in its own header
//! (`jwk`), which is *only* trusted because its RFC 7638 thumbprint must equal the `cnf.jkt`
//! of an access token the issuer signed; it names the request (`htm`, `htu`), is fresh
//! (`iat`), covers this access token (`ath`) and is used once (`jti`).
//!
//! Replay detection is per isolate and bounded (see [`ReplayCache`]): it stops a proof from
//! being replayed at the same isolate within its window. With a `DPOP_REPLAY` Durable
//! Object binding, [`ledger`] adds the fleet-wide check behind it.

use crate::alg::DPOP_ALGS;
use crate::bounded::Bounded;
use crate::error::DpopError;
use crate::json::parse_object;
use crate::keys::parse_entry;
use crate::path::normalise_percent_encoding;
use crate::token::{decode_segment, split_compact};
use crate::verify::verify_public;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use url::Url;

/// A proof longer than this is refused before any decoding.
pub const MAX_PROOF_BYTES: usize = 8192;
/// Longest `jti` accepted (bytes).
pub const MAX_JTI_BYTES: usize = 256;
/// The only header `typ` a proof may carry (RFC 9449 §4.2).
const DPOP_TYP: &str = "dpop+jwt";
/// JWK members that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2, §6.4;
/// RFC 8037 §2). A proof carrying one of them leaked its key: refused outright.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Freshness rules for proofs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DpopSettings {
    /// How old a proof's `iat` may be (seconds).
    pub max_age_secs: u64,
    /// Clock skew allowed on both sides of the window (seconds).
    pub leeway_secs: u64,
}

impl Default for DpopSettings {
    fn default() -> Self {
        DpopSettings {
            max_age_secs: 300,
            leeway_secs: 60,
        }
    }
}

impl DpopSettings {
    /// Last second (inclusive) at which a proof issued at `iat` is still acceptable.
    fn valid_until(&self, iat: f64) -> u64 {
        // `iat` is within [now - window, now + leeway] when this is called, so it is a
        // small non-negative number; `as` saturates anyway.
        (iat.ceil() as u64)
            .saturating_add(self.max_age_secs)
            .saturating_add(self.leeway_secs)
    }
}

type ReplayKey = [u8; 32];

pub mod ledger;

/// A proof that passed every check this isolate can make: what names it (SHA-256 of its
/// key's thumbprint and its `jti`, so no proof text is kept anywhere) and the last second
/// its `iat` window covers. Recording it is the caller's step ([`ReplayCache::record`]),
/// after any fleet-wide check ([`ledger`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofId {
    pub key: ReplayKey,
    pub until: u64,
}

/// Remembers the `jti`s of accepted proofs until their `iat` window has passed, so each
/// proof is accepted once.
///
/// * Keyed by SHA-256 of (key thumbprint, `jti`): a client's `jti` only collides with its
///   own, and no proof text is kept.
/// * A [`Bounded`] map: two generations of `capacity/2` entries; when the current map is
///   full it becomes the previous one and the old previous is dropped. Under a flood of
///   more than `capacity` proofs per window the oldest are forgotten early, so size
///   `capacity` for the expected proof rate times the window.
/// * `capacity` 0 disables replay detection.
#[derive(Debug)]
pub struct ReplayCache {
    seen: Bounded<u64>,
}

impl ReplayCache {
    pub fn new(capacity: usize) -> Self {
        ReplayCache {
            seen: Bounded::new(capacity),
        }
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn key(jkt: &str, jti: &str) -> ReplayKey {
        let mut h = Sha256::new();
        h.update(jkt.as_bytes());
        // A thumbprint is base64url, so a NUL cannot occur in it: the pair is unambiguous.
        h.update([0u8]);
        h.update(jti.as_bytes());
        h.finalize().into()
    }

    /// True if `key` was recorded and is still inside its window at `now`.
    fn seen(&self, key: &ReplayKey, now: u64) -> bool {
        self.seen.peek(key).is_some_and(|&until| now <= until)
    }

    /// Remembers `proof` until its window has passed.
    pub fn record(&mut self, proof: &ProofId) {
        self.seen.insert(proof.key, proof.until);
    }
}

/// RFC 7638 JWK thumbprint: base64url (no padding) of the SHA-256 of the canonical JSON of
/// the key's required members (EC: `crv`,`kty`,`x`,`y`; RSA: `e`,`kty`,`n`; OKP:
/// `crv`,`kty`,`x`). `None` for another `kty` or a missing or non-string member.
pub fn jwk_thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let member = |name: &str| jwk.get(name).and_then(Value::as_str);
    let members: Vec<(&str, &str)> = match member("kty")? {
        "EC" => vec![
            ("crv", member("crv")?),
            ("kty", "EC"),
            ("x", member("x")?),
            ("y", member("y")?),
        ],
        "RSA" => vec![("e", member("e")?), ("kty", "RSA"), ("n", member("n")?)],
        "OKP" => vec![("crv", member("crv")?), ("kty", "OKP"), ("x", member("x")?)],
        _ => return None,
    };
    // Lexicographic order (as listed), no whitespace, JSON string escaping (RFC 7638 §3.3).
    let mut canonical = String::from("{");
    for (i, (name, value)) in members.into_iter().enumerate() {
        if i > 0 {
            canonical.push(',');
        }
        canonical.push('"');
        canonical.push_str(name);
        canonical.push_str("\":");
        canonical.push_str(&serde_json::to_string(value).ok()?);
    }
    canonical.push('}');
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

/// base64url (no padding) of SHA-256 of the access token's ASCII bytes: the `ath` a proof
/// must carry (RFC 9449 §4.2).
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// The `htu` comparison target of a URL: scheme, host, non-default port and path, without
/// query and fragment; the `url` crate already lower-cases scheme and host, drops a default
/// port and removes dot segments (RFC 3986 §6.2.2.1, §6.2.2.3, §6.2.3), and
/// [`normalise_percent_encoding`] does §6.2.2.1/§6.2.2.2 for the path (the one path
/// canonicaliser's first step, without its dot and slash handling: `htu` is compared as signed).
fn htu_target(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    let path = normalise_percent_encoding(url.path());
    url.set_path(&path);
    url.into()
}

/// Does the proof's `htu` name the request URL (RFC 9449 §4.3 step 9)?
fn htu_matches(htu: &str, request_url: &Url) -> bool {
    Url::parse(htu).is_ok_and(|htu| htu_target(&htu) == htu_target(request_url))
}

/// A claim that must be present: `MissingClaim` when absent, `Malformed` when present with
/// the wrong JSON type.
fn required<'a, T>(
    claims: &'a Map<String, Value>,
    name: &str,
    read: impl FnOnce(&'a Value) -> Option<T>,
) -> Result<T, DpopError> {
    read(claims.get(name).ok_or(DpopError::MissingClaim)?).ok_or(DpopError::Malformed)
}

/// Verifies the DPoP proof sent with a request carrying a DPoP-bound access token
/// (RFC 9449 §4.3, §7.1), this isolate's replay cache included, without recording the proof:
/// `Replayed` when this isolate has seen it, else what names it (the caller records it,
/// [`ReplayCache::record`], once any fleet-wide check has passed).
///
/// * `method`: the request method, compared exactly with `htm`;
/// * `request_url`: the URL the request was made to; compared with `htu` without query and
///   fragment;
/// * `access_token`: the token from `Authorization: DPoP <token>`, hashed into `ath`;
/// * `expected_jkt`: that (already verified) token's `cnf.jkt`;
/// * `now`: unix seconds.
#[allow(
    clippy::too_many_arguments,
    reason = "each argument is one input of RFC 9449 §4.3's checks; a struct would only rename them"
)]
pub fn check_proof(
    proof: &str,
    method: &str,
    request_url: &Url,
    access_token: &str,
    expected_jkt: &str,
    now: u64,
    settings: &DpopSettings,
    replay: &ReplayCache,
) -> Result<ProofId, DpopError> {
    use DpopError::*;

    if proof.is_empty() {
        return Err(Missing);
    }
    if proof.len() > MAX_PROOF_BYTES {
        return Err(Malformed);
    }
    // Several `DPoP` header lines reach the glue joined by ", "; a compact JWS has neither.
    if proof.contains(',') {
        return Err(Multiple);
    }

    // One compact JWS of three strict base64url segments.
    let (header_b64, payload_b64, signature_b64) = split_compact(proof).ok_or(Malformed)?;
    if header_b64.is_empty() || payload_b64.is_empty() {
        return Err(Malformed);
    }
    let header = decode_segment(header_b64).map_err(|_| Malformed)?;
    let payload = decode_segment(payload_b64).map_err(|_| Malformed)?;
    let signature = decode_segment(signature_b64).map_err(|_| Malformed)?;
    let header = parse_object(&header).map_err(|_| Malformed)?;
    let claims = parse_object(&payload).map_err(|_| Malformed)?;

    // Header: typ, crit, alg, jwk.
    match header.get("typ") {
        Some(Value::String(typ)) if typ == DPOP_TYP => {}
        _ => return Err(BadType),
    }
    if header.contains_key("crit") {
        return Err(Malformed);
    }
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => DPOP_ALGS
            .into_iter()
            .find(|a| a.name() == alg)
            .ok_or(UnsupportedAlg)?,
        _ => return Err(Malformed),
    };
    let Some(Value::Object(jwk_members)) = header.get("jwk") else {
        return Err(BadKey);
    };
    if PRIVATE_MEMBERS.iter().any(|m| jwk_members.contains_key(*m)) {
        return Err(PrivateKey);
    }
    let jwk = parse_entry(&header["jwk"]).ok_or(BadKey)?;
    // The rule a JWKS key must meet for a token (family, its own `alg`).
    if !jwk.fits(alg) {
        return Err(BadKey);
    }

    // Signature over `header.payload`, with the key the proof carries.
    let signed = &proof.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
    if !verify_public(alg, &jwk.key, signed, &signature) {
        return Err(BadSignature);
    }

    // Claims: all present and well-typed before any is compared.
    let jti = required(&claims, "jti", Value::as_str)?;
    let htm = required(&claims, "htm", Value::as_str)?;
    let htu = required(&claims, "htu", Value::as_str)?;
    let iat = required(&claims, "iat", Value::as_f64)?;
    let ath = required(&claims, "ath", Value::as_str)?;
    if jti.is_empty() || jti.len() > MAX_JTI_BYTES {
        return Err(Malformed);
    }

    if htm != method {
        return Err(MethodMismatch);
    }
    if !htu_matches(htu, request_url) {
        return Err(UrlMismatch);
    }
    let now_f = now as f64;
    let window = settings.max_age_secs.saturating_add(settings.leeway_secs) as f64;
    if iat < now_f - window {
        return Err(Stale);
    }
    if iat > now_f + settings.leeway_secs as f64 {
        return Err(FromFuture);
    }
    if ath != access_token_hash(access_token) {
        return Err(AccessTokenHashMismatch);
    }
    let jkt = jwk_thumbprint(jwk_members).ok_or(BadKey)?;
    if jkt != expected_jkt {
        return Err(KeyMismatch);
    }

    let key = ReplayCache::key(&jkt, jti);
    if replay.seen(&key, now) {
        return Err(Replayed);
    }
    Ok(ProofId {
        key,
        until: settings.valid_until(iat),
    })
}

#[cfg(test)]
mod tests;
