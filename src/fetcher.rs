//! The JWKS fetcher: per-isolate memory, then Workers KV, then the issuer's `jwks_uri`
//! (or OIDC discovery). The only module besides the request glue that touches `worker`.
//!
//! Rules (see `jwks` for the pure parts):
//! * memory holds parsed keys, so a JWKS is parsed once per isolate, never per request;
//! * KV holds the raw JWKS with its freshness, shared by every isolate, and outlives its
//!   freshness by the stale window so it can serve when the issuer is down;
//! * a failed or bad response never replaces a good key set;
//! * network fetches are bounded in time (abort) and size (streamed with a byte cap), and
//!   redirects are not followed (a key endpoint that moves is a configuration change).

use crate::config::{check_fetch_url, Config, IssuerConfig, JwksSource};
use crate::error::JwksError;
use crate::json::parse_object;
pub use crate::jwks::Want;
use crate::jwks::{decide, parse_jwks, Decision, FetchState, Freshness, KeySet};
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;
use url::Url;
use worker::{
    console_warn, AbortController, Context, Delay, Env, Fetch, Headers, Method, Request,
    RequestInit, RequestRedirect,
};

/// What one isolate knows about one issuer.
#[derive(Default)]
struct IssuerState {
    keys: Option<(Rc<KeySet>, Freshness)>,
    /// Bumped whenever `keys` is replaced; cached verified tokens remember it, so a new key
    /// set (a rotation, a removed key) invalidates them.
    generation: u64,
    /// The JWKS URL in use (configured, or found by discovery).
    jwks_uri: Option<Url>,
    /// Last network fetch attempt (unix seconds), for the unknown-`kid` cooldown.
    last_attempt: Option<u64>,
    /// When the last attempt failed (cleared by a success): stale keys are not refreshed
    /// on every request while the endpoint is down.
    last_failure: Option<u64>,
    /// KV is consulted once per isolate; after that memory is at least as new.
    kv_checked: bool,
    /// A network fetch for this issuer is under way in this isolate. Other requests do not
    /// await it (a Worker must not wait on another request's I/O); they keep using the
    /// cached set if there is one, so one fetch at a time reaches the issuer. A start time
    /// rather than a flag: a request cancelled mid-fetch cannot leave it set for longer
    /// than the fetch timeout.
    in_flight_since: Option<u64>,
}

thread_local! {
    // Bounded by the number of configured issuers (MAX_ISSUERS); never keyed by token input.
    static STATE: RefCell<HashMap<String, IssuerState>> = RefCell::new(HashMap::new());
}

/// The KV record, one per issuer under `jwks:v1:<issuer>`.
#[derive(Serialize, Deserialize)]
struct KvRecord {
    fetched_at: u64,
    fresh_until: u64,
    jwks_uri: String,
    jwks: String,
}

fn kv_key(issuer: &str) -> String {
    format!("jwks:v1:{issuer}")
}

/// Returns the issuer's key set, or why there is none usable.
pub async fn keys_for(
    env: &Env,
    ctx: &Context,
    config: &Config,
    issuer: &IssuerConfig,
    now: u64,
    want: Want,
) -> Result<Rc<KeySet>, JwksError> {
    let (mut state, kv_checked) = with_state(&issuer.issuer, |s| {
        let timeout = config.fetch.timeout_ms.div_ceil(1000);
        let in_flight = s.in_flight_since.is_some_and(|t| now <= t + timeout);
        let state = FetchState {
            cached: s.keys.as_ref().map(|(_, f)| *f),
            last_attempt: s.last_attempt,
            last_failure: s.last_failure,
            in_flight,
        };
        (state, s.kv_checked)
    });
    let mut cached = with_state(&issuer.issuer, |s| s.keys.clone());
    if cached.is_none() && !kv_checked {
        cached = load_from_kv(env, config, issuer).await;
        state.cached = cached.as_ref().map(|(_, f)| *f);
        // The KV record was fetched by some isolate at `fetched_at`: that counts as the last
        // attempt for the unknown-kid cooldown.
        state.last_attempt = state.last_attempt.or(state.cached.map(|f| f.fetched_at));
    }
    if let (Decision::UseCached, Some((keys, _))) =
        (decide(&state, want, now, &config.cache), &cached)
    {
        return Ok(keys.clone());
    }
    if cached.is_none() && state.in_flight {
        // Nothing to serve and another request of this isolate is already fetching: watch
        // the shared state (timers only, never that request's I/O) until it finishes, so a
        // burst at cold start costs the issuer one fetch, not one per request.
        return wait_for_other_fetch(config, issuer).await;
    }

    with_state(&issuer.issuer, |s| {
        s.last_attempt = Some(now);
        s.in_flight_since = Some(now);
    });
    let fetched = fetch_keys(config, issuer).await;
    with_state(&issuer.issuer, |s| {
        s.in_flight_since = None;
        s.last_failure = fetched.is_err().then_some(now);
    });
    match fetched {
        Ok((set, raw, uri, ttl)) => {
            let set = Rc::new(set);
            let freshness = Freshness {
                fetched_at: now,
                fresh_until: now + ttl,
            };
            with_state(&issuer.issuer, |s| {
                s.keys = Some((set.clone(), freshness));
                s.generation += 1;
                s.jwks_uri = Some(uri.clone());
            });
            store_in_kv(env, ctx, config, issuer, freshness, &uri, raw, now);
            Ok(set)
        }
        Err(err) => {
            log_jwks_failure(issuer, &err);
            match cached {
                Some((keys, f)) if f.is_usable(now, &config.cache) => Ok(keys),
                _ => Err(err),
            }
        }
    }
}

/// The generation of the issuer's key set if it is fresh in memory, else `None` (so a
/// cached token is only served while its keys would be used without any I/O).
pub fn fresh_generation(issuer: &str, now: u64) -> Option<u64> {
    STATE.with(|m| {
        let m = m.borrow();
        let state = m.get(issuer)?;
        let (_, freshness) = state.keys.as_ref()?;
        freshness.is_fresh(now).then_some(state.generation)
    })
}

async fn wait_for_other_fetch(
    config: &Config,
    issuer: &IssuerConfig,
) -> Result<Rc<KeySet>, JwksError> {
    const STEP_MS: u64 = 10;
    for _ in 0..=(config.fetch.timeout_ms / STEP_MS + 1) {
        Delay::from(Duration::from_millis(STEP_MS)).await;
        let (keys, in_flight) = with_state(&issuer.issuer, |s| {
            (s.keys.clone(), s.in_flight_since.is_some())
        });
        if let Some((keys, _)) = keys {
            return Ok(keys);
        }
        if !in_flight {
            break;
        }
    }
    Err(JwksError::Fetch(
        "the fetch in progress for this issuer failed".into(),
    ))
}

fn with_state<R>(issuer: &str, f: impl FnOnce(&mut IssuerState) -> R) -> R {
    STATE.with(|m| f(m.borrow_mut().entry(issuer.to_owned()).or_default()))
}

async fn load_from_kv(
    env: &Env,
    config: &Config,
    issuer: &IssuerConfig,
) -> Option<(Rc<KeySet>, Freshness)> {
    with_state(&issuer.issuer, |s| s.kv_checked = true);
    let kv = env.kv("JWKS_CACHE").ok()?;
    let text = match kv.get(&kv_key(&issuer.issuer)).text().await {
        Ok(text) => text?,
        Err(e) => {
            console_warn!(
                "{}",
                json_line("kv_read_failed", &issuer.issuer, &e.to_string())
            );
            return None;
        }
    };
    // KV content is re-validated like a network response: it is only as trustworthy as
    // whoever can write to the namespace.
    let record: KvRecord = serde_json::from_str(&text).ok()?;
    let set = parse_jwks(record.jwks.as_bytes(), config.fetch.max_keys).ok()?;
    let uri = Url::parse(&record.jwks_uri).ok()?;
    let freshness = Freshness {
        fetched_at: record.fetched_at,
        fresh_until: record.fresh_until,
    };
    let entry = (Rc::new(set), freshness);
    with_state(&issuer.issuer, |s| {
        s.keys = Some(entry.clone());
        s.generation += 1;
        s.jwks_uri = Some(uri);
    });
    Some(entry)
}

#[allow(clippy::too_many_arguments)]
fn store_in_kv(
    env: &Env,
    ctx: &Context,
    config: &Config,
    issuer: &IssuerConfig,
    freshness: Freshness,
    uri: &Url,
    raw: String,
    now: u64,
) {
    let Ok(kv) = env.kv("JWKS_CACHE") else { return };
    let record = KvRecord {
        fetched_at: freshness.fetched_at,
        fresh_until: freshness.fresh_until,
        jwks_uri: uri.to_string(),
        jwks: raw,
    };
    let Ok(body) = serde_json::to_string(&record) else {
        return;
    };
    let ttl = freshness.kv_ttl(now, &config.cache);
    let key = kv_key(&issuer.issuer);
    let iss = issuer.issuer.clone();
    // Written after the response is on its way: KV latency never delays a request.
    ctx.wait_until(async move {
        let put = match kv.put(&key, body) {
            Ok(put) => put.expiration_ttl(ttl).execute().await,
            Err(e) => Err(e),
        };
        if let Err(e) = put {
            console_warn!("{}", json_line("kv_write_failed", &iss, &e.to_string()));
        }
    });
}

/// Fetches (discovering first if needed) and parses the issuer's JWKS.
/// Returns the key set, its raw text (for KV), the URL used and the freshness lifetime.
async fn fetch_keys(
    config: &Config,
    issuer: &IssuerConfig,
) -> Result<(KeySet, String, Url, u64), JwksError> {
    let known_uri = with_state(&issuer.issuer, |s| s.jwks_uri.clone());
    let uri = match (&issuer.jwks, known_uri) {
        (JwksSource::Uri(uri), _) => uri.clone(),
        (JwksSource::Discovery(_), Some(uri)) => uri,
        (JwksSource::Discovery(well_known), None) => discover(config, issuer, well_known).await?,
        (JwksSource::None, _) => return Err(JwksError::Invalid("issuer has no JWKS (HMAC only)")),
    };
    let (body, cache_control) = get_limited(config, &uri).await?;
    let set = parse_jwks(&body, config.fetch.max_keys)?;
    let raw = String::from_utf8(body).map_err(|_| JwksError::Invalid("not UTF-8"))?;
    let ttl = config
        .cache
        .ttl_from_cache_control(cache_control.as_deref());
    Ok((set, raw, uri, ttl))
}

/// OIDC discovery: the document's `issuer` must be exactly ours (OIDC Discovery §4.3),
/// and its `jwks_uri` must pass the same https rule as a configured one.
async fn discover(
    config: &Config,
    issuer: &IssuerConfig,
    well_known: &Url,
) -> Result<Url, JwksError> {
    let (body, _) = get_limited(config, well_known).await?;
    let doc = parse_object(&body)
        .map_err(|_| JwksError::Invalid("discovery document is not a JSON object"))?;
    if doc.get("issuer").and_then(Value::as_str) != Some(issuer.issuer.as_str()) {
        return Err(JwksError::Invalid("discovery issuer mismatch"));
    }
    let uri = doc
        .get("jwks_uri")
        .and_then(Value::as_str)
        .and_then(|s| Url::parse(s).ok())
        .ok_or(JwksError::Invalid(
            "discovery document has no valid jwks_uri",
        ))?;
    check_fetch_url(&uri).map_err(|_| JwksError::Invalid("discovery jwks_uri is not https"))?;
    Ok(uri)
}

/// GET with a deadline and a byte cap; returns the body and its `Cache-Control`.
async fn get_limited(config: &Config, url: &Url) -> Result<(Vec<u8>, Option<String>), JwksError> {
    let limits = &config.fetch;
    let controller = AbortController::default();
    let signal = controller.signal();
    let work = async {
        let headers = Headers::new();
        headers
            .set("accept", "application/json")
            .map_err(|e| JwksError::Fetch(e.to_string()))?;
        let mut init = RequestInit::new();
        init.with_method(Method::Get)
            .with_headers(headers)
            .with_redirect(RequestRedirect::Manual);
        let request = Request::new_with_init(url.as_str(), &init)
            .map_err(|e| JwksError::Fetch(e.to_string()))?;
        let mut response = Fetch::Request(request)
            .send_with_signal(&signal)
            .await
            .map_err(|e| JwksError::Fetch(e.to_string()))?;
        let status = response.status_code();
        if !(200..300).contains(&status) {
            return Err(JwksError::Fetch(format!("HTTP {status}")));
        }
        let declared = response.headers().get("content-length").ok().flatten();
        if declared
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|n| n > limits.max_bytes)
        {
            return Err(JwksError::TooLarge);
        }
        let cache_control = response.headers().get("cache-control").ok().flatten();
        let mut body = Vec::new();
        let mut stream = response
            .stream()
            .map_err(|e| JwksError::Fetch(e.to_string()))?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| JwksError::Fetch(e.to_string()))?;
            if body.len() + chunk.len() > limits.max_bytes {
                return Err(JwksError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, cache_control))
    };
    let deadline = Delay::from(Duration::from_millis(limits.timeout_ms));
    let outcome = select(Box::pin(work), deadline).await;
    match outcome {
        Either::Left((result, _)) => result,
        Either::Right(((), _)) => {
            controller.abort();
            Err(JwksError::Fetch(format!(
                "timed out after {} ms",
                limits.timeout_ms
            )))
        }
    }
}

fn log_jwks_failure(issuer: &IssuerConfig, err: &JwksError) {
    console_warn!(
        "{}",
        json_line("jwks_fetch_failed", &issuer.issuer, &err.to_string())
    );
}

fn json_line(event: &str, iss: &str, cause: &str) -> String {
    serde_json::json!({ "event": event, "iss": iss, "cause": cause }).to_string()
}
