//! The whole decision for one request, pure: request parts + clock + this isolate's caches +
//! the keys it holds in memory -> a [`Verdict`]. The Worker calls it synchronously from its
//! JS entry on every request (no futures, one crossing); only when the decision needs I/O
//! (keys not in memory, or not fresh) does it say so, and the async path in `edge` fetches
//! them and asks again. `cargo test` runs it natively.
//!
//! Order: the path (refused when it cannot be read one safe way), protected-resource
//! metadata, CORS preflight, route rules (public / optional / required), the token and its
//! source, the KV deny list's freshness, the verified-token cache, verification, the deny
//! lists, the DPoP binding, each matching rule's scopes, claims and issuers, and last (with
//! a `DPOP_REPLAY` binding) the fleet-wide replay ledger.

use self::forward::{HeaderPlan, Plans};
use crate::config::routes::{AuthMode, Rule};
use crate::config::{Config, ResourceMetadata};
use crate::decide::cache::{Refusal, TokenCache, Verdict as Cached};
use crate::decide::metrics::{DataPoint, KeySource, Observation};
use crate::decide::pipeline::{finish, prepare};
use crate::error::{EdgeResponse, ExtractError, JwksError, Rejection, TokenError};
use crate::keys::freshness::Want;
use crate::keys::KeySet;
use crate::path::RequestPath;
use crate::policy::deny::DenyState;
use crate::policy::dpop::ledger::{self, Answer};
use crate::policy::dpop::{self, DpopSettings, ProofId, ReplayCache};
use crate::policy::{claims, routes};
use crate::token::extract::{find_token_with_scheme, Offered, Scheme};
use crate::token::{Principal, UntrustedToken};
use std::rc::Rc;

pub mod cache;
pub mod fixtures;
pub mod forward;
pub mod metrics;
pub mod pipeline;
pub mod request;
pub mod wire;

pub use request::{fields, RequestParts, RequestUrl};

/// The optional fields `config` makes the decision read.
pub fn fields_needed(config: &Config) -> u32 {
    let mut need = 0;
    if config.token_cookie.is_some() {
        need |= fields::COOKIE;
    }
    if config.token_header.is_some() {
        need |= fields::TOKEN_HEADER;
    }
    if routes::names_methods(&config.routes, &config.default_route) {
        need |= fields::METHOD_OVERRIDES;
    }
    if config.cors_preflight {
        // A preflight is told apart by the absence of overrides, so they are read too.
        need |= fields::CORS | fields::METHOD_OVERRIDES;
    }
    need
}

/// Where the isolate's keys come from, as the decision sees them.
pub enum Keys {
    /// Usable now.
    Ready(Rc<KeySet>),
    /// Obtaining them failed and nothing usable is held.
    Unavailable(JwksError),
    /// Not held (or not fresh, or a refetch is wanted): only I/O can tell.
    Fetch,
}

/// What I/O provides this decision: the issuers' keys, the KV deny list and the DPoP replay
/// ledger's answer. The synchronous path offers only what memory holds fresh; the async
/// path offers what the fetchers returned.
pub trait KeyStore {
    fn keys(&self, issuer: &str, now: u64, want: Want) -> Keys;
    /// The generation of the issuer's key set when it is fresh in memory (a cached verdict
    /// holds only against it).
    fn fresh_generation(&self, issuer: &str, now: u64) -> Option<u64>;
    /// The KV deny list, when it is no older than `ttl` seconds (asked only when the
    /// Worker has the `DENY_LIST` binding).
    fn deny_list(&self, now: u64, ttl: u64) -> DenyState;
    /// What the fleet-wide replay ledger answered for `proof` (asked only when the Worker
    /// has the `DPOP_REPLAY` binding); `None`: not asked yet.
    fn ledger(&self, proof: &ProofId) -> Option<Answer>;
}

/// The isolate's per-request memory: verified and refused tokens, DPoP proofs seen, the
/// header plans of recent principals.
#[derive(Debug)]
pub struct Caches {
    pub tokens: TokenCache,
    pub replay: ReplayCache,
    pub plans: Plans,
}

impl Caches {
    /// Sized by the configuration (0 entries: nothing cached).
    pub fn for_config(config: Option<&Config>) -> Self {
        Caches {
            tokens: TokenCache::new(config.map_or(0, |c| c.token_cache_entries)),
            replay: ReplayCache::new(config.map_or(0, |c| c.dpop_replay_entries)),
            plans: Plans::new(config.is_some_and(|c| c.token_cache_entries > 0)),
        }
    }
}

/// The outcome for one request.
#[derive(Debug)]
pub enum Verdict {
    /// Forward to `target`, with the header edits (removals first, then sets).
    Forward {
        target: String,
        headers: Rc<HeaderPlan>,
    },
    /// Answer at the edge; `log` is the one log line to write, if any.
    Answer {
        response: EdgeResponse,
        log: Option<LogLine>,
    },
    /// The issuer's keys are needed and only I/O can get them: fetch, then decide again.
    NeedKeys { issuer: String, want: Want },
    /// The KV deny list is due: list it, then decide again.
    NeedDenyList,
    /// A DPoP proof passed every check of this isolate: ask the fleet-wide replay ledger
    /// (`policy::dpop::ledger`), then decide again with its answer.
    NeedReplayCheck(ProofId),
    /// A field the configuration needs was not read: decide again with it.
    NeedFields,
}

impl Verdict {
    /// The `METRICS` data point of a final verdict (`None` while it needs I/O, or when
    /// `seen` is not enabled); `keys`: where this request's keys came from.
    pub fn data_point(&self, seen: &Observation, keys: KeySource) -> Option<DataPoint> {
        match self {
            Verdict::Forward { .. } => DataPoint::of(None, seen, keys),
            Verdict::Answer { response, .. } => DataPoint::of(Some(response.status), seen, keys),
            Verdict::NeedKeys { .. }
            | Verdict::NeedDenyList
            | Verdict::NeedReplayCheck(_)
            | Verdict::NeedFields => None,
        }
    }
}

/// One structured log line, at its level: a rejection is the client's doing (info), a
/// configuration that does not load is the operator's (error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogLine {
    Info(String),
    Error(String),
}

impl LogLine {
    pub fn text(&self) -> &str {
        match self {
            LogLine::Info(t) | LogLine::Error(t) => t,
        }
    }
}

/// RFC 9728's well-known path, served at the edge when metadata is configured.
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

type Failure = (Rejection, Option<String>, Option<String>);

/// Decides one request. No DPoP proof is recorded and no verdict is cached unless the
/// verdict is final (not `NeedKeys` / `NeedFields`; a lookup may still drop a cached entry
/// that no longer holds), so asking again after I/O counts nothing twice.
pub fn decide(
    parts: &RequestParts<'_>,
    config: &Config,
    now: u64,
    caches: &mut Caches,
    keys: &dyn KeyStore,
) -> Verdict {
    decide_observed(
        parts,
        config,
        now,
        caches,
        keys,
        &mut Observation::default(),
    )
}

/// [`decide`], noting in `seen` what its data point needs (`metrics`; only when enabled).
pub fn decide_observed(
    parts: &RequestParts<'_>,
    config: &Config,
    now: u64,
    caches: &mut Caches,
    keys: &dyn KeyStore,
    seen: &mut Observation,
) -> Verdict {
    if fields_needed(config) & !parts.fields != 0 {
        return Verdict::NeedFields;
    }
    let Some(url) = RequestUrl::parse(parts.url) else {
        return answer(config, None, (Rejection::BadGateway, None, None), seen);
    };
    let metadata_url = config
        .resource_metadata
        .as_ref()
        .map(|_| format!("{}{METADATA_PATH}", url.origin));
    let path = match request_path(&url, config) {
        Ok(path) => path,
        Err(rejection) => {
            return answer(
                config,
                metadata_url.as_deref(),
                (rejection, None, None),
                seen,
            )
        }
    };
    match authorize(parts, &url, &path, config, now, caches, keys, seen) {
        Ok(Outcome::Metadata(metadata)) => {
            seen.metadata = true;
            Verdict::Answer {
                response: metadata_response(&metadata.document(url.origin)),
                log: None,
            }
        }
        Ok(Outcome::Forward(principal)) => {
            seen.authenticated = principal.is_some();
            Verdict::Forward {
                target: forward::target_url(
                    &url,
                    path.canonical(),
                    config.origin.as_ref(),
                    config.token_query_param.as_deref(),
                ),
                headers: match principal {
                    Some(p) => caches.plans.for_principal(&p, config),
                    None => caches.plans.anonymous(config),
                },
            }
        }
        Ok(Outcome::Io(verdict)) => verdict,
        Err(failure) => answer(config, metadata_url.as_deref(), failure, seen),
    }
}

/// The answer for a rejection, with its log line.
fn answer(
    config: &Config,
    metadata_url: Option<&str>,
    failure: Failure,
    seen: &mut Observation,
) -> Verdict {
    let (rejection, iss, kid) = failure;
    if seen.enabled {
        seen.reason(&rejection.reason());
        if let (None, Some(iss)) = (&seen.issuer, &iss) {
            seen.issuer(config, iss);
        }
    }
    Verdict::Answer {
        log: Some(LogLine::Info(
            rejection.log_line(iss.as_deref(), kid.as_deref()),
        )),
        response: rejection.to_response_with(&config.realm, config.retry_after_secs, metadata_url),
    }
}

/// The answer for a configuration that does not load (every request gets it).
pub fn config_failure(rejection: &Rejection) -> Verdict {
    Verdict::Answer {
        log: Some(LogLine::Error(rejection.log_line(None, None))),
        response: rejection.to_response("edgeguard", 30),
    }
}

enum Outcome<'c> {
    /// Forward, with this caller's identity (or anonymously).
    Forward(Option<Rc<Principal>>),
    Metadata(&'c ResourceMetadata),
    /// Not decided without I/O.
    Io(Verdict),
}

/// The request's path, canonical, with its other readings; refused when it cannot be
/// read one safe way (see `path`).
fn request_path(url: &RequestUrl<'_>, config: &Config) -> Result<RequestPath, Rejection> {
    let path = RequestPath::parse(url.path).map_err(Rejection::BadPath)?;
    let base = config.origin.as_ref().is_some_and(|o| o.path() != "/");
    path.check_base(base).map_err(Rejection::BadPath)?;
    Ok(path)
}

/// Route policy around authentication.
#[allow(
    clippy::too_many_arguments,
    reason = "the decision's inputs, each borrowed on its own; a struct would only rename them"
)]
fn authorize<'c>(
    parts: &RequestParts<'_>,
    url: &RequestUrl<'_>,
    path: &RequestPath,
    config: &'c Config,
    now: u64,
    caches: &mut Caches,
    keys: &dyn KeyStore,
    seen: &mut Observation,
) -> Result<Outcome<'c>, Failure> {
    let fail = |r: Rejection| (r, None, None);
    let method = parts.method;
    if let Some(doc) = &config.resource_metadata {
        if path.canonical() == METADATA_PATH && (method == "GET" || method == "HEAD") {
            return Ok(Outcome::Metadata(doc));
        }
    }
    // A browser's preflight never carries a method override; one that does is not a
    // preflight, and the origin might take it for the method it names.
    if config.cors_preflight
        && method == "OPTIONS"
        && parts.origin.is_some()
        && parts.access_control_request_method.is_some()
        && parts.method_overrides.iter().all(Option::is_none)
    {
        return Ok(Outcome::Forward(None));
    }
    let rules = rules_for(parts, path, config);
    let auth = routes::strictest(&rules);
    if auth == AuthMode::Public {
        return Ok(Outcome::Forward(None));
    }
    let offered = Offered {
        authorization: parts.authorization,
        cookie: parts.cookie,
        query: url.query,
        token_header: config
            .token_header
            .as_ref()
            .and_then(|h| Some((parts.token_header?, h.prefix.as_deref()))),
    };
    let (token, scheme) = match find_token_with_scheme(
        &offered,
        config.token_cookie.as_deref(),
        config.token_query_param.as_deref(),
    ) {
        Ok((token, _source, scheme)) => (token, scheme),
        Err(ExtractError::Missing) if auth == AuthMode::Optional => {
            return Ok(Outcome::Forward(None))
        }
        Err(e) => return Err(fail(e.into())),
    };
    // Before any verification work, so that asking again after the listing repeats nothing.
    let deny_list = if config.deny_list {
        match keys.deny_list(now, config.deny_list_ttl_secs) {
            DenyState::Ready(list) => Some(list),
            DenyState::Fetch => return Ok(Outcome::Io(Verdict::NeedDenyList)),
            DenyState::Unavailable(cause) => {
                return Err(fail(Rejection::DenyListUnavailable(cause)))
            }
        }
    } else {
        None
    };
    let principal = match authenticate(token, config, now, caches, keys, seen)? {
        Authenticated::Principal(p) => p,
        Authenticated::Io(verdict) => return Ok(Outcome::Io(verdict)),
    };
    // Verified by now: the log line names the issuer; the kid is not kept past verification.
    let with_issuer = |r: Rejection| (r, Some(principal.issuer.clone()), None);
    let claim = |name: &str| {
        principal
            .claims
            .get(name)
            .and_then(serde_json::Value::as_str)
    };
    if principal.resource_audience {
        let resource = config
            .resource_metadata
            .as_ref()
            .map(|m| m.resource(url.origin));
        if !resource.is_some_and(|r| claims::names_resource(&principal, r)) {
            return Err(with_issuer(Rejection::InvalidToken(
                TokenError::AudienceMismatch,
            )));
        }
    }
    if claim("jti").is_some_and(|j| config.deny_jti.iter().any(|d| d == j))
        || claim("sub").is_some_and(|s| config.deny_sub.iter().any(|d| d == s))
        || deny_list.is_some_and(|list| list.denies(claim("jti"), claim("sub")))
    {
        return Err(with_issuer(Rejection::InvalidToken(TokenError::Revoked)));
    }
    let unsettled = check_binding(
        parts,
        config,
        token,
        scheme,
        &principal,
        now,
        &mut caches.replay,
    )
    .map_err(with_issuer)?;
    for rule in rules {
        routes::authorize(rule, &principal)
            .map_err(|forbidden| with_issuer(Rejection::Forbidden(forbidden)))?;
    }
    // Last: the one check that costs a round trip is made only for a request that passes
    // every other.
    if let Some(proof) = unsettled {
        match keys.ledger(&proof) {
            None => return Ok(Outcome::Io(Verdict::NeedReplayCheck(proof))),
            Some(answer) => ledger::settle(
                &proof,
                &answer,
                config.dpop_ledger.fallback,
                &mut caches.replay,
            )
            .map_err(with_issuer)?,
        }
    }
    Ok(Outcome::Forward(Some(principal)))
}

/// Every rule that applies, for every method the request may be taken as.
fn rules_for<'c>(
    parts: &RequestParts<'_>,
    path: &RequestPath,
    config: &'c Config,
) -> Vec<&'c Rule> {
    // Only rules that list methods tell methods apart: without one, the override headers
    // cannot change the outcome.
    let methods = if routes::names_methods(&config.routes, &config.default_route) {
        let overrides: Vec<&str> = parts.method_overrides.iter().flatten().copied().collect();
        routes::method_readings(parts.method, &overrides)
    } else {
        vec![parts.method.to_owned()]
    };
    routes::applicable(&config.routes, &config.default_route, &methods, path)
}

/// RFC 9449: a token bound to a key (`cnf.jkt`) needs `Authorization: DPoP` and a valid
/// proof from that key; `DPoP` with an unbound token, or a binding we cannot check, is
/// refused. With the `DPOP_REPLAY` ledger, a proof this isolate has not seen comes back
/// unrecorded, for the ledger to settle; without it, it is recorded here.
fn check_binding(
    parts: &RequestParts<'_>,
    config: &Config,
    token: &str,
    scheme: Scheme,
    principal: &Principal,
    now: u64,
    replay: &mut ReplayCache,
) -> Result<Option<ProofId>, Rejection> {
    let cnf = principal.claims.get("cnf");
    let jkt = cnf
        .and_then(|c| c.get("jkt"))
        .and_then(serde_json::Value::as_str);
    match (cnf, jkt, scheme) {
        (None, _, Scheme::Bearer) => Ok(None),
        (None, _, Scheme::Dpop) => Err(Rejection::InvalidToken(TokenError::NotDpopBound)),
        (Some(_), None, _) => Err(Rejection::InvalidToken(TokenError::InvalidClaim)),
        (Some(_), Some(_), Scheme::Bearer) => {
            Err(Rejection::InvalidToken(TokenError::DpopRequired))
        }
        (Some(_), Some(jkt), Scheme::Dpop) => {
            let Ok(url) = url::Url::parse(parts.url) else {
                return Err(Rejection::BadGateway);
            };
            let settings = DpopSettings {
                max_age_secs: config.dpop_max_age_secs,
                leeway_secs: config.leeway_secs,
            };
            let proof = dpop::check_proof(
                parts.dpop.unwrap_or_default(),
                parts.method,
                &url,
                token,
                jkt,
                now,
                &settings,
                replay,
            )
            .map_err(Rejection::InvalidDpop)?;
            if config.dpop_ledger.bound {
                return Ok(Some(proof));
            }
            replay.record(&proof);
            Ok(None)
        }
    }
}

enum Authenticated {
    Principal(Rc<Principal>),
    Io(Verdict),
}

/// Verifies `token` (or finds it in the verified-token cache) and checks its claims.
fn authenticate(
    token: &str,
    config: &Config,
    now: u64,
    caches: &mut Caches,
    keys: &dyn KeyStore,
    seen: &mut Observation,
) -> Result<Authenticated, Failure> {
    // Fast path: this exact token was verified (or refused for good) before, against the
    // key set still in use.
    let keyed = caches.tokens.key(token);
    let cache_key = *keyed.key();
    match caches
        .tokens
        .get(&cache_key, now, |iss| keys.fresh_generation(iss, now))
    {
        Some(Cached::Verified(principal)) => {
            caches.tokens.remember(token, keyed);
            if seen.enabled {
                seen.cache_hit = Some(true);
                seen.alg = Some(principal.alg);
                seen.issuer(config, &principal.issuer);
            }
            return Ok(Authenticated::Principal(principal));
        }
        Some(Cached::Refused(r)) => {
            caches.tokens.remember(token, keyed);
            if seen.enabled {
                seen.cache_hit = Some(true);
                seen.alg = Some(r.alg);
                seen.issuer(config, &r.issuer);
            }
            return Err((Rejection::InvalidToken(r.error), Some(r.issuer), r.kid));
        }
        None => {}
    }

    let prepared = prepare(token, config).map_err(|e| {
        // Even a token we refuse early is worth its iss/kid in the log, when they parse.
        let peek = UntrustedToken::parse(token, config.max_token_bytes).ok();
        let iss = peek
            .as_ref()
            .and_then(|t| t.unverified_issuer().map(str::to_owned));
        let kid = peek.as_ref().and_then(|t| t.kid().map(str::to_owned));
        (Rejection::InvalidToken(e), iss, kid)
    })?;
    let issuer = prepared.issuer;
    let alg = prepared.alg;
    if seen.enabled {
        seen.cache_hit = Some(false);
        seen.alg = Some(alg);
        seen.issuer(config, &issuer.issuer);
    }
    let ids = || {
        (
            Some(issuer.issuer.clone()),
            prepared.token.kid().map(str::to_owned),
        )
    };

    let mut set = None;
    if prepared.needs_keys() {
        let need = |want| {
            Ok(Authenticated::Io(Verdict::NeedKeys {
                issuer: issuer.issuer.clone(),
                want,
            }))
        };
        let current = match keys.keys(&issuer.issuer, now, Want::Current) {
            Keys::Ready(current) => current,
            Keys::Unavailable(e) => {
                let (iss, kid) = ids();
                return Err((Rejection::KeysUnavailable(e), iss, kid));
            }
            Keys::Fetch => return need(Want::Current),
        };
        // An unknown kid may mean the issuer rotated: the fetcher rate-limits the refetch,
        // and offers the current set again when it cannot (or need not) fetch.
        let current = if prepared.needs_refetch(&current) {
            match keys.keys(&issuer.issuer, now, Want::Refetch) {
                Keys::Ready(fresh) => fresh,
                Keys::Unavailable(_) => current,
                Keys::Fetch => return need(Want::Refetch),
            }
        } else {
            current
        };
        set = Some(current);
        seen.used_keys = true;
    }
    let (iss, kid) = ids();
    let outcome = finish(prepared, set.as_deref(), now, config.leeway_secs).map(Rc::new);
    // Only verdicts reached with a JWKS are cached: HMAC verification is already cheap,
    // and the key-set generation is what lets a rotation revoke cached entries.
    let generation = set
        .is_some()
        .then(|| keys.fresh_generation(&issuer.issuer, now))
        .flatten();
    if let Some(generation) = generation {
        // Memoised only when the cache takes the verdict in (a verified token, or a
        // refusal that is final).
        if outcome.as_ref().err().is_none_or(|e| e.is_final()) {
            caches.tokens.remember(token, keyed);
        }
        match &outcome {
            Ok(principal) => {
                caches
                    .tokens
                    .insert(cache_key, principal.clone(), config.leeway_secs, generation)
            }
            Err(error) => caches.tokens.insert_refusal(
                cache_key,
                Refusal {
                    error: *error,
                    issuer: issuer.issuer.clone(),
                    kid: kid.clone(),
                    alg,
                },
                generation,
            ),
        }
    }
    outcome
        .map(Authenticated::Principal)
        .map_err(|e| (Rejection::InvalidToken(e), iss, kid))
}

/// RFC 9728 §3.2: the metadata document, as JSON.
fn metadata_response(doc: &str) -> EdgeResponse {
    EdgeResponse {
        status: 200,
        headers: vec![
            ("content-type", "application/json".to_string()),
            ("cache-control", "public, max-age=3600".to_string()),
        ],
        body: doc.to_string(),
    }
}

#[cfg(test)]
mod tests;
