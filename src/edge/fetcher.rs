//! The JWKS fetcher: per-isolate memory, then Workers KV, then the issuer's `jwks_uri`
//! (or OIDC discovery). The only module besides the request glue that touches `worker`.
//!
//! Rules (see `keys`, `keys::freshness` and `keys::source` for the pure parts):
//! * memory holds parsed keys, so a JWKS is parsed once per isolate, never per request;
//! * KV holds the raw JWKS with its freshness and its source, shared by every isolate, and
//!   outlives its freshness by the stale window so it can serve when the issuer is down; a
//!   record from another source than the configured one is ignored;
//! * a failed or bad response never replaces a good key set, and a failed attempt starts a
//!   back-off during which the issuer is not fetched at all;
//! * network fetches are bounded in time (abort) and size (streamed with a byte cap), and
//!   redirects are not followed (a key endpoint that moves is a configuration change).

use crate::config::{check_fetch_url, Config, IssuerConfig, JwksSource};
use crate::decide::metrics::KeySource;
use crate::edge::clock::now_secs;
use crate::error::JwksError;
use crate::json::parse_object;
pub use crate::keys::freshness::Want;
use crate::keys::freshness::{decide, Decision, FetchState, Freshness};
use crate::keys::source::{
    kv_key, plan_uri, read_record, write_record, Discovered, IssuerKeys, Ticket, UriPlan,
};
use crate::keys::{parse_jwks, KeySet};
use futures_util::future::{select, Either};
use futures_util::StreamExt;
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
    keys: IssuerKeys,
    /// Last network fetch attempt (unix seconds), for the unknown-`kid` cooldown.
    last_attempt: Option<u64>,
    /// When the last attempt failed, and why (cleared by a success): the back-off runs
    /// from here.
    last_failure: Option<(u64, JwksError)>,
    /// Consecutive failed attempts: the back-off doubles with each.
    failures: u32,
    /// KV is consulted once per isolate; after that memory is at least as new.
    kv_checked: bool,
    /// A network fetch for this issuer is under way in this isolate. Other requests do not
    /// await it (a Worker must not wait on another request's I/O); they keep using the
    /// cached set if there is one, so one fetch at a time reaches the issuer. A start time
    /// rather than a flag: a request cancelled mid-fetch cannot leave it set for longer
    /// than an attempt can take (`attempt_ms`).
    in_flight_since: Option<u64>,
}

thread_local! {
    // Bounded by the number of configured issuers (MAX_ISSUERS); never keyed by token input.
    static STATE: RefCell<HashMap<String, IssuerState>> = RefCell::new(HashMap::new());
}

/// Returns the issuer's key set, or why there is none usable.
pub async fn keys_for(
    env: &Env,
    ctx: &Context,
    config: &Config,
    issuer: &IssuerConfig,
    now: u64,
    want: Want,
) -> Result<(Rc<KeySet>, KeySource), JwksError> {
    let policy = &config.cache;
    let kv_ticket = with_state(&issuer.issuer, |s| {
        let first = s.keys.keys().is_none() && !s.kv_checked;
        s.kv_checked = true;
        first.then(|| s.keys.ticket())
    });
    // Keys served without a fetch came from KV when this request just loaded them (memory
    // was empty, so anything usable now is KV's, unless another request installed fetched
    // keys during the KV read: rare, and only the data point's label), else from memory.
    let mut held = KeySource::Memory;
    if let Some(ticket) = kv_ticket {
        load_from_kv(env, config, issuer, ticket, now).await;
        held = KeySource::Kv;
    }
    // Read after the KV await: another request may have changed the state meanwhile.
    let (state, cached) = with_state(&issuer.issuer, |s| {
        let timeout = attempt_ms(config, issuer).div_ceil(1000);
        let state = FetchState {
            cached: s.keys.keys().map(|(_, f)| *f),
            last_attempt: s.last_attempt,
            last_failure: s.last_failure.as_ref().map(|(t, _)| *t),
            failures: s.failures,
            in_flight: s.in_flight_since.is_some_and(|t| now <= t + timeout),
        };
        (state, s.keys.usable(now, policy))
    });
    match (decide(&state, want, now, policy), cached) {
        (Decision::UseCached, Some(keys)) => return Ok((keys, held)),
        // Nothing to serve and another request of this isolate is already fetching: watch
        // the shared state (timers only, never that request's I/O) until it finishes, so a
        // burst at cold start costs the issuer one fetch, not one per request.
        (Decision::AwaitOther, _) => {
            let keys = wait_for_other_fetch(config, issuer, now).await?;
            return Ok((keys, KeySource::Network));
        }
        (Decision::BackOff, _) => {
            let cause = with_state(&issuer.issuer, |s| {
                s.last_failure.as_ref().map(|(_, e)| e.to_string())
            });
            return Err(JwksError::BackingOff(cause.unwrap_or_default()));
        }
        _ => {}
    }

    with_state(&issuer.issuer, |s| {
        s.last_attempt = Some(now);
        s.in_flight_since = Some(now);
    });
    let fetched = fetch_keys(config, issuer, now).await;
    // The back-off runs from when the attempt ended: a fetch that timed out must not have
    // used its back-off up while it was waiting.
    let ended = now_secs().max(now);
    with_state(&issuer.issuer, |s| {
        s.in_flight_since = None;
        match &fetched {
            Ok(_) => {
                s.failures = 0;
                s.last_failure = None;
            }
            Err(e) => {
                s.failures = s.failures.saturating_add(1);
                s.last_failure = Some((ended, e.clone()));
            }
        }
    });
    match fetched {
        Ok((set, raw, ttl)) => {
            let set = Rc::new(set);
            let freshness = Freshness {
                fetched_at: now,
                fresh_until: now + ttl,
            };
            let discovered = with_state(&issuer.issuer, |s| {
                s.keys.install_fetched(set.clone(), freshness);
                s.keys.discovered().cloned()
            });
            if let Some(record) = write_record(&issuer.jwks, discovered.as_ref(), freshness, raw) {
                store_in_kv(env, ctx, config, issuer, freshness, record, now);
            }
            Ok((set, KeySource::Network))
        }
        Err(err) => {
            log_jwks_failure(issuer, &err);
            // Whatever is usable now (a rediscovery may have dropped keys from a jwks_uri
            // that is no longer named).
            let usable = with_state(&issuer.issuer, |s| s.keys.usable(now, policy));
            usable.map(|keys| (keys, held)).ok_or(err)
        }
    }
}

/// The generation of the issuer's key set if it is fresh in memory, else `None` (so a
/// cached token is only served while its keys would be used without any I/O).
pub fn fresh_generation(issuer: &str, now: u64) -> Option<u64> {
    fresh(issuer, now, |s| s.keys.generation())
}

/// The issuer's key set if it is fresh in memory: what `keys_for(Want::Current)` would
/// return without any I/O.
pub fn fresh_keys(issuer: &str, now: u64) -> Option<Rc<KeySet>> {
    fresh(issuer, now, |s| s.keys.keys().map(|(k, _)| k.clone())).flatten()
}

fn fresh<R>(issuer: &str, now: u64, read: impl FnOnce(&IssuerState) -> R) -> Option<R> {
    STATE.with(|m| {
        let m = m.borrow();
        let state = m.get(issuer)?;
        let (_, freshness) = state.keys.keys()?;
        freshness.is_fresh(now).then(|| read(state))
    })
}

async fn wait_for_other_fetch(
    config: &Config,
    issuer: &IssuerConfig,
    now: u64,
) -> Result<Rc<KeySet>, JwksError> {
    const STEP_MS: u64 = 10;
    for _ in 0..=(attempt_ms(config, issuer) / STEP_MS + 1) {
        Delay::from(Duration::from_millis(STEP_MS)).await;
        let (keys, in_flight) = with_state(&issuer.issuer, |s| {
            (
                s.keys.usable(now, &config.cache),
                s.in_flight_since.is_some(),
            )
        });
        if let Some(keys) = keys {
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

/// The longest one attempt can take: each GET is bounded by `JWKS_TIMEOUT_MS`, and
/// discovery adds one before the JWKS.
fn attempt_ms(config: &Config, issuer: &IssuerConfig) -> u64 {
    match issuer.jwks {
        JwksSource::Discovery(_) => 2 * config.fetch.timeout_ms,
        _ => config.fetch.timeout_ms,
    }
}

fn with_state<R>(issuer: &str, f: impl FnOnce(&mut IssuerState) -> R) -> R {
    STATE.with(|m| f(m.borrow_mut().entry(issuer.to_owned()).or_default()))
}

/// Reads the issuer's KV record and installs it if it belongs to the configured source and
/// nothing newer was installed since `ticket` was taken.
async fn load_from_kv(env: &Env, config: &Config, issuer: &IssuerConfig, ticket: Ticket, now: u64) {
    let Ok(kv) = env.kv("JWKS_CACHE") else { return };
    let text = match kv.get(&kv_key(&issuer.issuer)).text().await {
        Ok(Some(text)) => text,
        Ok(None) => return,
        Err(e) => {
            console_warn!(
                "{}",
                json_line("kv_read_failed", &issuer.issuer, &e.to_string())
            );
            return;
        }
    };
    let loaded = match read_record(
        &text,
        &issuer.jwks,
        now,
        &config.cache,
        config.fetch.max_keys,
    ) {
        Ok(loaded) => loaded,
        Err(why) => {
            console_warn!("{}", json_line("kv_record_ignored", &issuer.issuer, why));
            return;
        }
    };
    let fetched_at = loaded.freshness.fetched_at;
    with_state(&issuer.issuer, |s| {
        if s.keys.install_loaded(ticket, loaded) {
            // The record was fetched by some isolate at `fetched_at`: that counts as the
            // last attempt for the unknown-kid cooldown.
            s.last_attempt = s.last_attempt.or(Some(fetched_at));
        }
    });
}

fn store_in_kv(
    env: &Env,
    ctx: &Context,
    config: &Config,
    issuer: &IssuerConfig,
    freshness: Freshness,
    record: String,
    now: u64,
) {
    let Ok(kv) = env.kv("JWKS_CACHE") else { return };
    let ttl = freshness.kv_ttl(now, &config.cache);
    let key = kv_key(&issuer.issuer);
    let iss = issuer.issuer.clone();
    // Written after the response is on its way: KV latency never delays a request.
    ctx.wait_until(async move {
        let put = match kv.put(&key, record) {
            Ok(put) => put.expiration_ttl(ttl).execute().await,
            Err(e) => Err(e),
        };
        if let Err(e) = put {
            console_warn!("{}", json_line("kv_write_failed", &iss, &e.to_string()));
        }
    });
}

/// Fetches (discovering first if needed) and parses the issuer's JWKS.
/// Returns the key set, its raw text (for KV) and the freshness lifetime.
async fn fetch_keys(
    config: &Config,
    issuer: &IssuerConfig,
    now: u64,
) -> Result<(KeySet, String, u64), JwksError> {
    let discovered = with_state(&issuer.issuer, |s| s.keys.discovered().cloned());
    let uri = match plan_uri(&issuer.jwks, discovered.as_ref(), now, &config.cache)? {
        UriPlan::Use(uri) => uri,
        UriPlan::Discover {
            well_known,
            fallback,
        } => match discover(config, issuer, &well_known).await {
            Ok((jwks_uri, ttl)) => {
                let freshness = Freshness {
                    fetched_at: now,
                    fresh_until: now + ttl,
                };
                with_state(&issuer.issuer, |s| {
                    s.keys.install_discovered(Discovered {
                        jwks_uri: jwks_uri.clone(),
                        freshness,
                    })
                });
                jwks_uri
            }
            Err(err) => {
                let Some(uri) = fallback else { return Err(err) };
                // The last discovered jwks_uri serves within the stale window.
                console_warn!(
                    "{}",
                    json_line("discovery_failed", &issuer.issuer, &err.to_string())
                );
                uri
            }
        },
    };
    let (body, ttl) = get_limited(config, &uri).await?;
    let set = parse_jwks(&body, config.fetch.max_keys)?;
    let raw = String::from_utf8(body).map_err(|_| JwksError::Invalid("not UTF-8"))?;
    Ok((set, raw, ttl))
}

/// OIDC discovery: the document's `issuer` must be exactly ours (OIDC Discovery §4.3),
/// and its `jwks_uri` must pass the same https rule as a configured one.
/// Returns the `jwks_uri` and how long it is fresh (the response's `Cache-Control`, clamped
/// like a JWKS response's).
async fn discover(
    config: &Config,
    issuer: &IssuerConfig,
    well_known: &Url,
) -> Result<(Url, u64), JwksError> {
    let (body, ttl) = get_limited(config, well_known).await?;
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
    Ok((uri, ttl))
}

/// GET with a deadline and a byte cap; returns the body and its freshness lifetime (from
/// `Cache-Control`, clamped by the cache policy).
async fn get_limited(config: &Config, url: &Url) -> Result<(Vec<u8>, u64), JwksError> {
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
        Ok((
            body,
            config
                .cache
                .ttl_from_cache_control(cache_control.as_deref()),
        ))
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
