//! Errors by pipeline phase, and the one place where they become HTTP answers (RFC 6750).
//!
//! Every description below is a fixed, header-safe string: nothing a client sent is ever
//! echoed into `WWW-Authenticate`, and nothing about *which* key or claim value failed leaks
//! beyond a short reason. The log line (see [`Rejection::log_line`]) carries `iss` and `kid`
//! for operators, JSON-escaped and truncated; never the token.

use crate::alg::DPOP_ALGS;
use std::fmt;

/// Why the token could not be taken from the request (`token::extract`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtractError {
    /// No `Authorization` header, another scheme, or `Bearer` with nothing after it.
    Missing,
    /// Several `Authorization` headers, several tokens in one, or a token sent in more than
    /// one place (RFC 6750 §2: clients MUST NOT use more than one method).
    Multiple,
}

/// Why a request path is refused before any rule is applied (see `path`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// Encodings stacked so deep that the path has too many readings to check them all.
    TooManyReadings,
    /// `ORIGIN` has a base path and some reading of the path climbs above it.
    EscapesBasePath,
}

impl PathError {
    fn description(self) -> &'static str {
        match self {
            Self::TooManyReadings => "path has too many encodings",
            Self::EscapesBasePath => "path leaves the origin's base path",
        }
    }

    fn code(self) -> &'static str {
        match self {
            Self::TooManyReadings => "path_too_ambiguous",
            Self::EscapesBasePath => "path_escapes_base",
        }
    }
}

/// Why a token was refused (parse, key selection, signature and claim phases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Longer than `MAX_TOKEN_BYTES`.
    TooLarge,
    /// Not three base64url segments of a JSON header and a JSON object payload.
    Malformed,
    /// The header is not a valid JOSE header (no `alg`, wrong types, duplicates).
    MalformedHeader,
    /// The payload is not a JSON object (or has duplicate keys).
    MalformedClaims,
    /// The header carries `crit`; no extension is understood here.
    UnsupportedCrit,
    /// `iss` is missing or not one of the configured issuers.
    UnknownIssuer,
    /// `alg` is not allowed for this issuer (this covers `none`).
    AlgorithmNotAllowed,
    /// No key in the issuer's set has this `kid`.
    UnknownKid,
    /// Keys exist but none may verify this token (wrong type, `use`, `alg`).
    NoSuitableKey,
    /// No `kid` and several keys fit the algorithm.
    AmbiguousKey,
    /// The signature does not verify.
    BadSignature,
    /// `exp` is absent.
    MissingExpiry,
    /// A registered claim has the wrong JSON type or an out-of-range value.
    InvalidClaim,
    /// `exp` (plus leeway) has passed.
    Expired,
    /// `nbf` (minus leeway) is in the future.
    NotYetValid,
    /// `iat` (minus leeway) is in the future.
    IssuedInFuture,
    /// `aud` is absent or shares nothing with the issuer's `audiences`.
    AudienceMismatch,
    /// The header `typ` is not the one the issuer requires (RFC 9068: `at+jwt`).
    WrongType,
    /// Older than the issuer's `max_token_age` (or no `iat` to tell).
    TooOld,
    /// A claim listed in the issuer's `required_claims` is absent.
    MissingClaim,
    /// `jti` or `sub` is on the deny list.
    Revoked,
    /// The token is bound to a key (`cnf.jkt`) but was not presented with `DPoP`.
    DpopRequired,
    /// `Authorization: DPoP` with a token that is not bound to a key.
    NotDpopBound,
}

impl TokenError {
    /// True for refusals reached after the signature was checked that stay true for the same
    /// token while the issuer's key set and the configuration stay the same: a bad signature,
    /// and claims that are wrong forever (`exp` only moves into the past, `aud`, `typ` and
    /// the required claims are fixed). Not `nbf`/`iat` in the future (time fixes those), not
    /// an unknown `kid` (a JWKS refresh may) and not the deny list (checked on every request).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::BadSignature
                | Self::MissingExpiry
                | Self::InvalidClaim
                | Self::Expired
                | Self::AudienceMismatch
                | Self::WrongType
                | Self::TooOld
                | Self::MissingClaim
        )
    }

    /// A short, fixed reason for `error_description`.
    pub fn description(self) -> &'static str {
        match self {
            Self::TooLarge => "token too large",
            Self::Malformed => "malformed token",
            Self::MalformedHeader => "malformed token header",
            Self::MalformedClaims => "malformed token claims",
            Self::UnsupportedCrit => "unsupported critical header",
            Self::UnknownIssuer => "unknown issuer",
            Self::AlgorithmNotAllowed => "algorithm not allowed",
            Self::UnknownKid => "unknown key id",
            Self::NoSuitableKey => "no suitable key",
            Self::AmbiguousKey => "ambiguous key",
            Self::BadSignature => "signature verification failed",
            Self::MissingExpiry => "missing exp claim",
            Self::InvalidClaim => "invalid claim",
            Self::Expired => "token expired",
            Self::NotYetValid => "token not yet valid",
            Self::IssuedInFuture => "token issued in the future",
            Self::AudienceMismatch => "audience not allowed",
            Self::WrongType => "token type not accepted",
            Self::TooOld => "token too old",
            Self::MissingClaim => "missing required claim",
            Self::Revoked => "token revoked",
            Self::DpopRequired => "token is DPoP-bound",
            Self::NotDpopBound => "token is not DPoP-bound",
        }
    }

    /// A stable machine-readable code for logs.
    pub fn code(self) -> &'static str {
        match self {
            Self::TooLarge => "token_too_large",
            Self::Malformed => "malformed_token",
            Self::MalformedHeader => "malformed_header",
            Self::MalformedClaims => "malformed_claims",
            Self::UnsupportedCrit => "unsupported_crit",
            Self::UnknownIssuer => "unknown_issuer",
            Self::AlgorithmNotAllowed => "algorithm_not_allowed",
            Self::UnknownKid => "unknown_kid",
            Self::NoSuitableKey => "no_suitable_key",
            Self::AmbiguousKey => "ambiguous_key",
            Self::BadSignature => "bad_signature",
            Self::MissingExpiry => "missing_exp",
            Self::InvalidClaim => "invalid_claim",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::AudienceMismatch => "audience_mismatch",
            Self::WrongType => "wrong_type",
            Self::TooOld => "too_old",
            Self::MissingClaim => "missing_claim",
            Self::Revoked => "revoked",
            Self::DpopRequired => "dpop_required",
            Self::NotDpopBound => "not_dpop_bound",
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// A configuration problem: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Path of the bad field, e.g. `ISSUERS[1].jwks_uri` or `LEEWAY_SECONDS`.
    pub field: String,
    /// What is wrong, lower-case, no trailing period.
    pub message: String,
}

impl ConfigError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why an issuer's keys could not be obtained (the JWKS phase).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksError {
    /// Network error, timeout, or a non-2xx status.
    Fetch(String),
    /// The response was larger than `JWKS_MAX_BYTES`.
    TooLarge,
    /// The body is not a usable JWKS (or discovery document).
    Invalid(&'static str),
    /// Not fetched: the last attempt failed and the back-off (see `jwks::backoff_secs`) has
    /// not run out. Carries that attempt's cause, for the log.
    BackingOff(String),
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fetch(why) => write!(f, "fetch failed: {why}"),
            Self::TooLarge => f.write_str("response too large"),
            Self::Invalid(why) => write!(f, "invalid response: {why}"),
            Self::BackingOff(cause) => write!(f, "not retried yet after: {cause}"),
        }
    }
}

/// Every way a request is answered at the edge instead of being forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// 401 without an error code (RFC 6750 §3.1: the client did not try to authenticate).
    MissingToken,
    /// 400 `invalid_request`.
    InvalidRequest(ExtractError),
    /// 400 `invalid_request`, without a challenge: the path, not the token, is at fault.
    BadPath(PathError),
    /// 401 `invalid_token`.
    InvalidToken(TokenError),
    /// 403 `insufficient_scope`: authenticated, but the route's rule is not met.
    Forbidden(Forbidden),
    /// 401 with a `DPoP` challenge: the proof for a DPoP-bound token failed (RFC 9449 §7.1).
    InvalidDpop(DpopError),
    /// 401 with a `DPoP` challenge: the fleet-wide replay ledger (`DPOP_REPLAY`) gave no
    /// answer and `DPOP_REPLAY_FALLBACK` is `closed` (the cause, for the log). The client's
    /// remedy is the one for any refused proof: a new proof, on a new request.
    DpopReplayUnavailable(String),
    /// 503: the issuer's keys are unobtainable and nothing usable is cached.
    KeysUnavailable(JwksError),
    /// 503: the KV deny list is due and could not be read (the cause, for the log): no
    /// token is let through unchecked.
    DenyListUnavailable(String),
    /// 500: the deployment is misconfigured.
    Config(ConfigError),
    /// 502: the origin could not be reached.
    BadGateway,
}

impl From<ExtractError> for Rejection {
    fn from(e: ExtractError) -> Self {
        match e {
            ExtractError::Missing => Rejection::MissingToken,
            other => Rejection::InvalidRequest(other),
        }
    }
}

impl From<TokenError> for Rejection {
    fn from(e: TokenError) -> Self {
        Rejection::InvalidToken(e)
    }
}

impl From<ConfigError> for Rejection {
    fn from(e: ConfigError) -> Self {
        Rejection::Config(e)
    }
}

/// A finished edge answer: status, headers and JSON body. The glue turns it into a Response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Rejection {
    pub fn status(&self) -> u16 {
        match self {
            Self::MissingToken
            | Self::InvalidToken(_)
            | Self::InvalidDpop(_)
            | Self::DpopReplayUnavailable(_) => 401,
            Self::InvalidRequest(_) | Self::BadPath(_) => 400,
            Self::Forbidden(_) => 403,
            Self::KeysUnavailable(_) | Self::DenyListUnavailable(_) => 503,
            Self::Config(_) => 500,
            Self::BadGateway => 502,
        }
    }

    /// The `error` value of the JSON body (and of `WWW-Authenticate` where there is one).
    pub fn error_code(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::InvalidRequest(_) | Self::BadPath(_) => "invalid_request",
            Self::InvalidToken(_) => "invalid_token",
            Self::Forbidden(_) => "insufficient_scope",
            Self::InvalidDpop(e) => e.error_code(),
            Self::DpopReplayUnavailable(_) => "invalid_dpop_proof",
            Self::KeysUnavailable(_) | Self::DenyListUnavailable(_) => "temporarily_unavailable",
            Self::Config(_) => "server_error",
            Self::BadGateway => "bad_gateway",
        }
    }

    /// The `error_description` (public; short and fixed except for the config field path).
    pub fn description(&self) -> String {
        match self {
            Self::MissingToken => "bearer token required".into(),
            Self::InvalidRequest(_) => "more than one token".into(),
            Self::BadPath(e) => e.description().into(),
            Self::InvalidToken(e) => e.description().into(),
            Self::Forbidden(f) => f.reason.into(),
            Self::InvalidDpop(e) => e.description().into(),
            Self::DpopReplayUnavailable(_) => "DPoP replay check unavailable".into(),
            Self::KeysUnavailable(_) => "signing keys unavailable".into(),
            Self::DenyListUnavailable(_) => "revocation list unavailable".into(),
            // The field path names what to fix; the value itself is never echoed.
            Self::Config(e) => format!("invalid configuration: {}", e.field),
            Self::BadGateway => "origin unreachable".into(),
        }
    }

    /// The short reason used in logs.
    pub fn reason(&self) -> String {
        match self {
            Self::MissingToken => "missing_token".into(),
            Self::InvalidRequest(_) => "multiple_tokens".into(),
            Self::BadPath(e) => e.code().into(),
            Self::InvalidToken(e) => e.code().into(),
            Self::Forbidden(f) => format!("forbidden: {}", f.reason),
            Self::InvalidDpop(e) => e.code().into(),
            Self::DpopReplayUnavailable(e) => format!("dpop_replay_unavailable: {e}"),
            Self::KeysUnavailable(e) => format!("jwks_unavailable: {e}"),
            Self::DenyListUnavailable(e) => format!("deny_list_unavailable: {e}"),
            Self::Config(e) => format!("invalid_config: {e}"),
            Self::BadGateway => "origin_unreachable".into(),
        }
    }

    /// Builds the response: RFC 6750 `WWW-Authenticate` for 400/401, `Retry-After` for 503.
    pub fn to_response(&self, realm: &str, retry_after_secs: u64) -> EdgeResponse {
        self.to_response_with(realm, retry_after_secs, None)
    }

    /// As [`Self::to_response`], adding RFC 9728's `resource_metadata="<url>"` to
    /// `WWW-Authenticate` when the deployment publishes protected-resource metadata.
    pub fn to_response_with(
        &self,
        realm: &str,
        retry_after_secs: u64,
        resource_metadata: Option<&str>,
    ) -> EdgeResponse {
        let metadata = resource_metadata
            .map(|url| format!(", resource_metadata=\"{url}\""))
            .unwrap_or_default();
        let mut headers = vec![
            ("content-type", "application/json".to_string()),
            ("cache-control", "no-store".to_string()),
        ];
        let description = self.description();
        match self {
            Self::MissingToken => {
                headers.push((
                    "www-authenticate",
                    format!("Bearer realm=\"{realm}\"{metadata}"),
                ));
            }
            Self::InvalidRequest(_) | Self::InvalidToken(_) => {
                // error first: some clients match `^Bearer error=`; order is free per RFC 7235.
                headers.push((
                    "www-authenticate",
                    format!(
                        "Bearer error=\"{}\", error_description=\"{}\", realm=\"{realm}\"{metadata}",
                        self.error_code(),
                        description
                    ),
                ));
            }
            Self::Forbidden(f) => {
                // RFC 6750 §3.1: `scope` lists what the route needs (scope tokens are
                // validated at load to exclude quotes and backslashes).
                headers.push((
                    "www-authenticate",
                    format!(
                        "Bearer error=\"insufficient_scope\", error_description=\"{}\", scope=\"{}\", realm=\"{realm}\"{metadata}",
                        description, f.scope
                    ),
                ));
            }
            Self::InvalidDpop(_) | Self::DpopReplayUnavailable(_) => {
                let algs: Vec<&str> = DPOP_ALGS.iter().map(|a| a.name()).collect();
                headers.push((
                    "www-authenticate",
                    format!(
                        "DPoP error=\"{}\", error_description=\"{}\", algs=\"{}\", realm=\"{realm}\"{metadata}",
                        self.error_code(),
                        description,
                        algs.join(" ")
                    ),
                ));
            }
            Self::KeysUnavailable(_) | Self::DenyListUnavailable(_) => {
                headers.push(("retry-after", retry_after_secs.to_string()));
            }
            Self::BadPath(_) | Self::Config(_) | Self::BadGateway => {}
        }
        let mut body = String::with_capacity(96);
        body.push_str("{\"error\":");
        push_json_str(&mut body, self.error_code());
        body.push_str(",\"error_description\":");
        push_json_str(&mut body, &description);
        body.push('}');
        EdgeResponse {
            status: self.status(),
            headers,
            body,
        }
    }

    /// One structured JSON log line. `iss` and `kid` come from an unverified token: they
    /// are truncated and JSON-escaped, and the token itself is never part of the line.
    /// Written out directly rather than through `json!` (a map, then a serialiser: most of
    /// a 401's CPU in Wasm); keys in the order `json!` wrote them.
    pub fn log_line(&self, iss: Option<&str>, kid: Option<&str>) -> String {
        let mut line = String::with_capacity(128);
        line.push_str("{\"event\":\"rejected\",\"iss\":");
        push_json_opt(&mut line, iss.map(truncate_for_log));
        line.push_str(",\"kid\":");
        push_json_opt(&mut line, kid.map(truncate_for_log));
        line.push_str(",\"reason\":");
        push_json_str(&mut line, &self.reason());
        line.push_str(",\"status\":");
        line.push_str(&self.status().to_string());
        line.push('}');
        line
    }
}

/// Appends `s` as a JSON string (quoted and escaped).
fn push_json_str(out: &mut String, s: &str) {
    // Serialising a `&str` cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

fn push_json_opt(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => push_json_str(out, s),
        None => out.push_str("null"),
    }
}

/// Keeps log lines bounded whatever a client puts in `iss` or `kid`.
fn truncate_for_log(s: &str) -> &str {
    const MAX: usize = 128;
    if s.len() <= MAX {
        return s;
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Why an authenticated caller may not use a route (answered with 403).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forbidden {
    /// Short, fixed reason.
    pub reason: &'static str,
    /// Space-delimited scopes the route requires (for `scope="..."`), possibly empty.
    pub scope: String,
}

/// Why a DPoP proof was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpopError {
    /// No proof (an empty `DPoP` header, or none where the glue requires one).
    Missing,
    /// More than one proof (the glue saw several `DPoP` headers, or a comma-joined value).
    Multiple,
    /// Not one compact JWS of strict base64url JSON, too large, a `crit` header, or a claim
    /// of the wrong JSON type (or a `jti` that is empty or longer than 256 bytes).
    Malformed,
    /// Header `typ` is not exactly `dpop+jwt`.
    BadType,
    /// `alg` is not a supported asymmetric algorithm (`none` and `HS*` included).
    UnsupportedAlg,
    /// Header `jwk` is absent, not a usable public key, or does not fit `alg`.
    BadKey,
    /// Header `jwk` carries private key material.
    PrivateKey,
    /// The signature does not verify with the header `jwk`.
    BadSignature,
    /// `htm` is not the request method.
    MethodMismatch,
    /// `htu` is not the request URL (query and fragment ignored).
    UrlMismatch,
    /// `iat` is older than the allowed window.
    Stale,
    /// `iat` is in the future (beyond leeway).
    FromFuture,
    /// `ath` is not the hash of the access token presented with the proof.
    AccessTokenHashMismatch,
    /// The proof's key is not the one the access token is bound to (`cnf.jkt`).
    KeyMismatch,
    /// This `jti` (for this key) was already used within the window.
    Replayed,
    /// `jti`, `htm`, `htu`, `iat` or `ath` is absent.
    MissingClaim,
}

impl DpopError {
    /// A short, fixed reason for `error_description` (header-safe).
    pub fn description(self) -> &'static str {
        match self {
            Self::Missing => "DPoP proof required",
            Self::Multiple => "more than one DPoP proof",
            Self::Malformed => "malformed DPoP proof",
            Self::BadType => "DPoP proof type not accepted",
            Self::UnsupportedAlg => "DPoP proof algorithm not supported",
            Self::BadKey => "DPoP proof key not usable",
            Self::PrivateKey => "DPoP proof carries a private key",
            Self::BadSignature => "DPoP proof signature verification failed",
            Self::MethodMismatch => "DPoP proof method mismatch",
            Self::UrlMismatch => "DPoP proof URL mismatch",
            Self::Stale => "DPoP proof too old",
            Self::FromFuture => "DPoP proof issued in the future",
            Self::AccessTokenHashMismatch => "DPoP proof access token hash mismatch",
            Self::KeyMismatch => "DPoP proof key does not match token binding",
            Self::Replayed => "DPoP proof replayed",
            Self::MissingClaim => "DPoP proof missing required claim",
        }
    }

    /// A stable machine-readable code for logs.
    pub fn code(self) -> &'static str {
        match self {
            Self::Missing => "dpop_missing",
            Self::Multiple => "dpop_multiple",
            Self::Malformed => "dpop_malformed",
            Self::BadType => "dpop_bad_type",
            Self::UnsupportedAlg => "dpop_unsupported_alg",
            Self::BadKey => "dpop_bad_key",
            Self::PrivateKey => "dpop_private_key",
            Self::BadSignature => "dpop_bad_signature",
            Self::MethodMismatch => "dpop_method_mismatch",
            Self::UrlMismatch => "dpop_url_mismatch",
            Self::Stale => "dpop_stale",
            Self::FromFuture => "dpop_from_future",
            Self::AccessTokenHashMismatch => "dpop_ath_mismatch",
            Self::KeyMismatch => "dpop_key_mismatch",
            Self::Replayed => "dpop_replayed",
            Self::MissingClaim => "dpop_missing_claim",
        }
    }

    /// The RFC 6750 / RFC 9449 §7.1 `error` value: the proof's key not being the one the
    /// token is bound to is a problem of the token as presented (`invalid_token`); every
    /// other failure is a problem of the proof (`invalid_dpop_proof`). Both are 401.
    pub fn error_code(self) -> &'static str {
        match self {
            Self::KeyMismatch => "invalid_token",
            _ => "invalid_dpop_proof",
        }
    }
}

impl fmt::Display for DpopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every DPoP refusal as a client sees it: 401, a `DPoP` challenge with RFC 9449's
    /// parameters, a description that is safe inside a quoted header value, and codes that
    /// tell the failures apart in logs.
    #[test]
    fn dpop_refusals_answer_401_with_a_dpop_challenge() {
        use DpopError::*;
        let all = [
            Missing,
            Multiple,
            Malformed,
            BadType,
            UnsupportedAlg,
            BadKey,
            PrivateKey,
            BadSignature,
            MethodMismatch,
            UrlMismatch,
            Stale,
            FromFuture,
            AccessTokenHashMismatch,
            KeyMismatch,
            Replayed,
            MissingClaim,
        ];
        let mut codes = std::collections::BTreeSet::new();
        let mut descriptions = std::collections::BTreeSet::new();
        for e in all {
            let r = Rejection::InvalidDpop(e).to_response("api", 30);
            assert_eq!(r.status, 401, "{e:?}");
            let challenge = header(&r, "www-authenticate").expect("a challenge");
            assert!(challenge.starts_with("DPoP error=\""), "{challenge}");
            assert!(challenge.contains(&format!("error_description=\"{}\"", e.description())));
            assert!(challenge.contains("algs=\"RS256 "), "{challenge}");
            assert!(
                e.description()
                    .bytes()
                    .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'),
                "{e:?}"
            );
            assert!(codes.insert(e.code()), "{} used twice", e.code());
            assert!(descriptions.insert(e.description()), "{e:?}");
        }
        // RFC 9449 §7.1: a bad proof is `invalid_dpop_proof`; a proof by another key than
        // the one the token is bound to makes the token, as presented, `invalid_token`.
        let error_of = |e| Rejection::InvalidDpop(e).to_response("api", 30).body;
        assert!(error_of(BadSignature).starts_with("{\"error\":\"invalid_dpop_proof\""));
        assert!(error_of(KeyMismatch).starts_with("{\"error\":\"invalid_token\""));
    }

    fn header<'a>(r: &'a EdgeResponse, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The hand-written log line and body are exactly what `json!` wrote before, escaping
    /// included (log pipelines parse them).
    #[test]
    fn log_lines_and_bodies_match_the_json_serialiser() {
        let hostile = "a\"b\\c\n\u{1}é\u{2028}";
        for rejection in [
            Rejection::MissingToken,
            Rejection::InvalidToken(TokenError::Expired),
            Rejection::Config(ConfigError::new("ISSUERS[0].\"x\"", "bad")),
            Rejection::BadGateway,
        ] {
            for (iss, kid) in [(None, None), (Some(hostile), Some("k1")), (Some("i"), None)] {
                let expected = serde_json::json!({
                    "event": "rejected",
                    "status": rejection.status(),
                    "reason": rejection.reason(),
                    "iss": iss,
                    "kid": kid,
                })
                .to_string();
                assert_eq!(rejection.log_line(iss, kid), expected);
            }
            let body = serde_json::json!({
                "error": rejection.error_code(),
                "error_description": rejection.description(),
            })
            .to_string();
            assert_eq!(rejection.to_response("r", 1).body, body);
        }
    }

    #[test]
    fn missing_token_has_realm_and_no_error_attribute() {
        let r = Rejection::MissingToken.to_response("api", 30);
        assert_eq!(r.status, 401);
        assert_eq!(header(&r, "www-authenticate"), Some("Bearer realm=\"api\""));
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["error"], "missing_token");
    }

    #[test]
    fn invalid_token_names_the_error_and_reason() {
        let r = Rejection::InvalidToken(TokenError::Expired).to_response("api", 30);
        assert_eq!(r.status, 401);
        assert_eq!(
            header(&r, "www-authenticate"),
            Some("Bearer error=\"invalid_token\", error_description=\"token expired\", realm=\"api\"")
        );
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["error"], "invalid_token");
        assert_eq!(body["error_description"], "token expired");
        assert_eq!(header(&r, "cache-control"), Some("no-store"));
    }

    #[test]
    fn unavailable_keys_answer_503_with_retry_after() {
        let r = Rejection::KeysUnavailable(JwksError::TooLarge).to_response("api", 17);
        assert_eq!(r.status, 503);
        assert_eq!(header(&r, "retry-after"), Some("17"));
        assert!(header(&r, "www-authenticate").is_none());
    }

    #[test]
    fn an_unreadable_deny_list_answers_503_and_logs_why() {
        let rejection = Rejection::DenyListUnavailable("KV list failed: boom".into());
        let r = rejection.to_response("api", 9);
        assert_eq!(r.status, 503);
        assert_eq!(header(&r, "retry-after"), Some("9"));
        assert!(header(&r, "www-authenticate").is_none());
        assert!(r.body.contains("\"temporarily_unavailable\""), "{}", r.body);
        assert!(r.body.contains("revocation list unavailable"), "{}", r.body);
        assert!(!r.body.contains("boom"), "the cause is for the log only");
        let line = rejection.log_line(None, None);
        assert!(
            line.contains("deny_list_unavailable: KV list failed: boom"),
            "{line}"
        );
    }

    #[test]
    fn an_unanswered_replay_check_answers_401_with_a_dpop_challenge_and_logs_why() {
        let rejection = Rejection::DpopReplayUnavailable("DpopReplay threw: down".into());
        let r = rejection.to_response("api", 9);
        assert_eq!(r.status, 401);
        let www = header(&r, "www-authenticate").unwrap_or_default();
        assert!(
            www.starts_with("DPoP error=\"invalid_dpop_proof\", error_description=\"DPoP replay check unavailable\""),
            "{www}"
        );
        assert!(www.contains("algs=\""), "{www}");
        assert!(header(&r, "retry-after").is_none());
        assert!(!r.body.contains("down"), "the cause is for the log only");
        let line = rejection.log_line(None, None);
        assert!(
            line.contains("\"reason\":\"dpop_replay_unavailable: DpopReplay threw: down\""),
            "{line}"
        );
    }

    #[test]
    fn config_errors_name_the_field_but_not_the_value() {
        let e = ConfigError::new("ISSUERS[0].secret", "must be base64url: s3cr3t");
        let r = Rejection::Config(e).to_response("api", 30);
        assert_eq!(r.status, 500);
        assert!(r.body.contains("ISSUERS[0].secret"));
        assert!(!r.body.contains("s3cr3t"));
    }

    #[test]
    fn descriptions_are_header_safe() {
        let all = [
            TokenError::TooLarge,
            TokenError::Malformed,
            TokenError::MalformedHeader,
            TokenError::MalformedClaims,
            TokenError::UnsupportedCrit,
            TokenError::UnknownIssuer,
            TokenError::AlgorithmNotAllowed,
            TokenError::UnknownKid,
            TokenError::NoSuitableKey,
            TokenError::AmbiguousKey,
            TokenError::BadSignature,
            TokenError::MissingExpiry,
            TokenError::InvalidClaim,
            TokenError::Expired,
            TokenError::NotYetValid,
            TokenError::IssuedInFuture,
            TokenError::AudienceMismatch,
            TokenError::WrongType,
            TokenError::TooOld,
            TokenError::MissingClaim,
            TokenError::Revoked,
            TokenError::DpopRequired,
            TokenError::NotDpopBound,
        ];
        for e in all {
            assert!(e
                .description()
                .bytes()
                .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'));
        }
    }

    #[test]
    fn log_lines_are_json_and_bounded() {
        let kid = "k\"\n".repeat(1000);
        let line = Rejection::InvalidToken(TokenError::UnknownKid)
            .log_line(Some("https://i/"), Some(&kid));
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["reason"], "unknown_kid");
        assert!(v["kid"].as_str().unwrap().len() <= 128);
    }
}
