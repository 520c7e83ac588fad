//! The request glue: reads the request and bindings, runs the pure pipeline, fetches keys
//! through `fetcher`, and either forwards (streaming) or answers at the edge.

use crate::cache::{token_key, Refusal, TokenCache, Verdict};
use crate::config::{Config, VarValue, VAR_NAMES};
use crate::dpop::{self, DpopSettings, ReplayCache};
use crate::error::TokenError;
use crate::error::{ConfigError, EdgeResponse, ExtractError, Rejection};
use crate::extract::{find_token_with_scheme, Offered, Scheme};
use crate::fetcher::{fresh_generation, keys_for, Want};
use crate::forward;
use crate::path::RequestPath;
use crate::pipeline::{finish, prepare};
use crate::route::{self, AuthMode};
use crate::token::{Principal, UntrustedToken};
use crate::verify;
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use worker::wasm_bindgen::{self, prelude::wasm_bindgen, JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{console_error, console_log, js_sys, web_sys, Context, Env};

thread_local! {
    /// The configuration (or why it is invalid), validated once per isolate.
    static CONFIG: RefCell<Option<ParsedConfig>> = const { RefCell::new(None) };
    /// Verified tokens of this isolate, sized by the configuration.
    static TOKENS: RefCell<TokenCache> = RefCell::new(TokenCache::new(0));
    /// DPoP proof `jti`s seen by this isolate (RFC 9449 §11.1: per isolate only).
    static DPOP_REPLAY: RefCell<ReplayCache> = RefCell::new(ReplayCache::new(0));
}

type ParsedConfig = Result<Rc<Config>, ConfigError>;

#[wasm_bindgen(module = "cloudflare:workers")]
extern "C" {
    /// The Worker's bindings at module scope (`import { env } from "cloudflare:workers"`),
    /// the same object every request's `env` is: lets the configuration be parsed at
    /// isolate start instead of on the first request.
    #[wasm_bindgen(thread_local_v2, js_name = env)]
    static MODULE_ENV: JsValue;
}

struct RawConfig {
    issuers: Option<String>,
    vars: HashMap<String, String>,
}

/// Seconds since the epoch from the runtime clock (on Workers it only moves on I/O).
pub(crate) fn now_secs() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

/// Adds `console_error_panic_hook` (which logs the panic with a JS stack trace) in front of
/// the hook `worker` installs at start-up, instead of replacing it: worker's hook is the one
/// that re-initialises the instance after the abort, so the next request finds a sane
/// module. A panic is a bug here (no input should cause one); this is how it gets found.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let worker_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            console_error_panic_hook::hook(info);
            worker_hook(info);
        }));
    });
}

/// Entry point for one request; never panics on input, never forwards on failure.
pub async fn handle(req: web_sys::Request, env: Env, ctx: Context) -> web_sys::Response {
    install_panic_hook();
    let config = match load_config(&env) {
        Ok(config) => config,
        Err(rejection) => {
            console_error!("{}", rejection.log_line(None, None));
            return edge_response(&rejection.to_response("edgeguard", 30));
        }
    };
    // Boxed: the request's state machine is then one function, reached through a vtable,
    // that `warm_up` has already run once (so V8 has compiled it before the first request).
    let served: Pin<Box<dyn Future<Output = web_sys::Response>>> =
        Box::pin(serve(req, env, ctx, config, Logging::On));
    served.await
}

/// Whether `serve` writes its log lines (off only for the warm-up's synthetic request).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Logging {
    On,
    Off,
}

async fn serve(
    req: web_sys::Request,
    env: Env,
    ctx: Context,
    config: Rc<Config>,
    logging: Logging,
) -> web_sys::Response {
    let Ok(url) = url::Url::parse(&req.url()) else {
        return edge_response(
            &Rejection::BadGateway.to_response(&config.realm, config.retry_after_secs),
        );
    };
    let metadata_url = config
        .resource_metadata
        .as_ref()
        .map(|_| metadata_url(&url));
    let decided = match request_path(&url, &config) {
        Ok(path) => decide(&req, &url, &path, &env, &ctx, &config)
            .await
            .map(|outcome| (outcome, path)),
        Err(rejection) => Err((rejection, None, None)),
    };
    match decided {
        Ok((Outcome::Metadata(doc), _)) => metadata_response(&doc),
        Ok((Outcome::Forward(principal), path)) => {
            forward_request(req, &url, &path, &config, principal.as_deref()).await
        }
        Err((rejection, iss, kid)) => {
            if logging == Logging::On {
                console_log!("{}", rejection.log_line(iss.as_deref(), kid.as_deref()));
            }
            edge_response(&rejection.to_response_with(
                &config.realm,
                config.retry_after_secs,
                metadata_url.as_deref(),
            ))
        }
    }
}

type Failure = (Rejection, Option<String>, Option<String>);

enum Outcome {
    /// Forward, with this caller's identity (or anonymously).
    Forward(Option<Rc<Principal>>),
    /// Answer with the RFC 9728 protected-resource metadata.
    Metadata(String),
}

const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

fn metadata_url(url: &url::Url) -> String {
    format!("{}{METADATA_PATH}", url.origin().ascii_serialization())
}

/// The request's path, canonical, with its other readings; refused when it cannot be
/// read one safe way (see `path`).
fn request_path(url: &url::Url, config: &Config) -> Result<RequestPath, Rejection> {
    let path = RequestPath::parse(url.path()).map_err(Rejection::BadPath)?;
    let base = config.origin.as_ref().is_some_and(|o| o.path() != "/");
    path.check_base(base).map_err(Rejection::BadPath)?;
    Ok(path)
}

/// Route policy around authentication: metadata, CORS preflight, public and optional
/// routes, the token's sources, the deny list and the route's scopes/claims/issuers.
async fn decide(
    req: &web_sys::Request,
    url: &url::Url,
    path: &RequestPath,
    env: &Env,
    ctx: &Context,
    config: &Config,
) -> Result<Outcome, Failure> {
    let fail = |r: Rejection| (r, None, None);
    let method = req.method();
    let headers = req.headers();
    if let Some(doc) = &config.resource_metadata {
        if path.canonical() == METADATA_PATH && (method == "GET" || method == "HEAD") {
            return Ok(Outcome::Metadata(doc.clone()));
        }
    }
    // A browser's preflight never carries a method override; one that does is not a
    // preflight, and the origin might take it for the method it names.
    if config.cors_preflight
        && method == "OPTIONS"
        && headers.has("origin").unwrap_or(false)
        && headers
            .has("access-control-request-method")
            .unwrap_or(false)
        && !route::METHOD_OVERRIDE_HEADERS
            .iter()
            .any(|name| headers.has(name).unwrap_or(true))
    {
        return Ok(Outcome::Forward(None));
    }
    // Only rules that list methods tell methods apart: without one, the override headers
    // cannot change the outcome, and reading them would be three JS calls per request.
    let methods = if route::names_methods(&config.routes, &config.default_route) {
        let overrides: Vec<String> = route::METHOD_OVERRIDE_HEADERS
            .iter()
            .filter_map(|name| headers.get(name).ok().flatten())
            .collect();
        let overrides: Vec<&str> = overrides.iter().map(String::as_str).collect();
        route::method_readings(&method, &overrides)
    } else {
        vec![method.clone()]
    };
    let rules = route::applicable(&config.routes, &config.default_route, &methods, path);
    let auth = route::strictest(&rules);
    if auth == AuthMode::Public {
        return Ok(Outcome::Forward(None));
    }
    let authorization = headers.get("authorization").ok().flatten();
    let cookie = config
        .token_cookie
        .as_ref()
        .and_then(|_| headers.get("cookie").ok().flatten());
    let offered = Offered {
        authorization: authorization.as_deref(),
        cookie: cookie.as_deref(),
        query: url.query(),
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
    let principal = authenticate(token, env, ctx, config).await?;
    // Verified by now: the log line names the issuer; the kid is not kept past verification.
    let ids = || (Some(principal.issuer.clone()), None);
    let claim = |name: &str| {
        principal
            .claims
            .get(name)
            .and_then(serde_json::Value::as_str)
    };
    if claim("jti").is_some_and(|j| config.deny_jti.iter().any(|d| d == j))
        || claim("sub").is_some_and(|s| config.deny_sub.iter().any(|d| d == s))
    {
        let (iss, kid) = ids();
        return Err((Rejection::InvalidToken(TokenError::Revoked), iss, kid));
    }
    check_binding(req, url, config, token, scheme, &principal).map_err(|r| {
        let (iss, kid) = ids();
        (r, iss, kid)
    })?;
    for rule in rules {
        if let Err(forbidden) = route::authorize(rule, &principal) {
            let (iss, kid) = ids();
            return Err((Rejection::Forbidden(forbidden), iss, kid));
        }
    }
    Ok(Outcome::Forward(Some(principal)))
}

/// RFC 9449: a token bound to a key (`cnf.jkt`) needs `Authorization: DPoP` and a valid
/// proof from that key; `DPoP` with an unbound token, or a binding we cannot check, is
/// refused.
fn check_binding(
    req: &web_sys::Request,
    url: &url::Url,
    config: &Config,
    token: &str,
    scheme: Scheme,
    principal: &Principal,
) -> Result<(), Rejection> {
    let cnf = principal.claims.get("cnf");
    let jkt = cnf
        .and_then(|c| c.get("jkt"))
        .and_then(serde_json::Value::as_str);
    match (cnf, jkt, scheme) {
        (None, _, Scheme::Bearer) => Ok(()),
        (None, _, Scheme::Dpop) => Err(Rejection::InvalidToken(TokenError::NotDpopBound)),
        (Some(_), None, _) => Err(Rejection::InvalidToken(TokenError::InvalidClaim)),
        (Some(_), Some(_), Scheme::Bearer) => {
            Err(Rejection::InvalidToken(TokenError::DpopRequired))
        }
        (Some(_), Some(jkt), Scheme::Dpop) => {
            let proof = req.headers().get("dpop").ok().flatten().unwrap_or_default();
            let settings = DpopSettings {
                max_age_secs: config.dpop_max_age_secs,
                leeway_secs: config.leeway_secs,
            };
            DPOP_REPLAY
                .with(|r| {
                    dpop::verify_proof(
                        &proof,
                        &req.method(),
                        url,
                        token,
                        jkt,
                        now_secs(),
                        &settings,
                        &mut r.borrow_mut(),
                    )
                })
                .map_err(Rejection::InvalidDpop)
        }
    }
}

/// Verifies `token` (or finds it in the verified-token cache) and checks its claims.
async fn authenticate(
    token: &str,
    env: &Env,
    ctx: &Context,
    config: &Config,
) -> Result<Rc<Principal>, Failure> {
    let now = now_secs();
    // Fast path: this exact token was verified (or refused for good) before, against the
    // key set still in use.
    let cache_key = token_key(token);
    let hit = TOKENS.with(|c| {
        c.borrow_mut()
            .get(&cache_key, now, |iss| fresh_generation(iss, now))
    });
    match hit {
        Some(Verdict::Verified(principal)) => return Ok(principal),
        Some(Verdict::Refused(r)) => {
            return Err((Rejection::InvalidToken(r.error), Some(r.issuer), r.kid))
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
    let iss = Some(prepared.issuer.issuer.clone());
    let kid = prepared.token.kid().map(str::to_owned);

    let mut keys = None;
    if prepared.needs_keys() {
        let unavailable = |e| (Rejection::KeysUnavailable(e), iss.clone(), kid.clone());
        let issuer = prepared.issuer;
        let mut set = keys_for(env, ctx, config, issuer, now, Want::Current)
            .await
            .map_err(unavailable)?;
        if verify::needs_refetch(&prepared.token, &set) {
            // An unknown kid may mean the issuer rotated; the fetcher rate-limits this.
            if let Ok(fresh) = keys_for(env, ctx, config, issuer, now, Want::Refetch).await {
                set = fresh;
            }
        }
        keys = Some(set);
    }
    let issuer = prepared.issuer;
    let outcome = finish(prepared, keys.as_deref(), now, config.leeway_secs).map(Rc::new);
    // Only verdicts reached with a JWKS are cached: HMAC verification is already cheap,
    // and the key-set generation is what lets a rotation revoke cached entries.
    let generation = keys
        .is_some()
        .then(|| fresh_generation(&issuer.issuer, now))
        .flatten();
    if let Some(generation) = generation {
        TOKENS.with(|c| {
            let mut cache = c.borrow_mut();
            match &outcome {
                Ok(principal) => {
                    cache.insert(cache_key, principal.clone(), config.leeway_secs, generation)
                }
                Err(error) => cache.insert_refusal(
                    cache_key,
                    Refusal {
                        error: *error,
                        issuer: issuer.issuer.clone(),
                        kid: kid.clone(),
                    },
                    generation,
                ),
            }
        });
    }
    outcome.map_err(|e| (Rejection::InvalidToken(e), iss, kid))
}

/// Forwards with the same method, headers (edited), query and streamed body.
async fn forward_request(
    req: web_sys::Request,
    url: &url::Url,
    path: &RequestPath,
    config: &Config,
    principal: Option<&Principal>,
) -> web_sys::Response {
    match try_forward(&req, url, path, config, principal).await {
        Ok(response) => response,
        Err(e) => {
            let rejection = Rejection::BadGateway;
            console_log!(
                "{}",
                serde_json::json!({"event": "rejected", "status": 502, "reason": rejection.reason(), "cause": e})
            );
            edge_response(&rejection.to_response(&config.realm, config.retry_after_secs))
        }
    }
}

async fn try_forward(
    req: &web_sys::Request,
    url: &url::Url,
    path: &RequestPath,
    config: &Config,
    principal: Option<&Principal>,
) -> Result<web_sys::Response, String> {
    let js_err = |e: JsValue| e.as_string().unwrap_or_else(|| format!("{e:?}"));
    let target = forward::target_url(
        url,
        path.canonical(),
        config.origin.as_ref(),
        config.token_query_param.as_deref(),
    );
    let headers = web_sys::Headers::new_with_headers(&req.headers()).map_err(js_err)?;
    // Client copies of identity headers go on every route, anonymous ones included.
    let plan = match principal {
        Some(p) => forward::plan(p, config),
        None => forward::HeaderPlan {
            remove: forward::headers_to_remove(config),
            set: Vec::new(),
        },
    };
    for name in &plan.remove {
        headers.delete(name).map_err(js_err)?;
    }
    for (name, value) in &plan.set {
        headers.set(name, value).map_err(js_err)?;
    }
    let init = web_sys::RequestInit::new();
    init.set_method(&req.method());
    init.set_headers(&headers);
    init.set_redirect(web_sys::RequestRedirect::Manual);
    // The body stream is handed over as is: never buffered in the Worker.
    if let Some(body) = req.body() {
        init.set_body(&body);
    }
    let outbound = web_sys::Request::new_with_str_and_init(&target, &init).map_err(js_err)?;
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let response = JsFuture::from(global.fetch_with_request(&outbound))
        .await
        .map_err(js_err)?;
    // Returned untouched: status, status text, headers and the streamed body.
    response.dyn_into::<web_sys::Response>().map_err(js_err)
}

/// Runs the request handler once at isolate start, on a request without a token under
/// `config` (the built-in fixtures' configuration), and throws the 401 away. V8 compiles
/// Wasm lazily, function by function; without this the first real request pays for
/// compiling the request path. No I/O and no cache is touched: a request without a token
/// is answered before the token cache, KV or the network, so the future is complete after
/// its first poll.
pub fn warm_up(config: Config) {
    let Ok(req) = web_sys::Request::new_with_str("https://warm-up.invalid/") else {
        return;
    };
    // Never read on this path (no token, so no key lookup and no background work).
    let env: Env = js_sys::Object::new().unchecked_into();
    let ctx = Context::new(js_sys::Object::new().unchecked_into());
    let mut served: Pin<Box<dyn Future<Output = web_sys::Response>>> =
        Box::pin(serve(req, env, ctx, Rc::new(config), Logging::Off));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let _ = served.as_mut().poll(&mut cx);
}

/// Parses the deployment's configuration at isolate start, from the bindings the runtime
/// offers at module scope, so the first request does not pay for it. Only a valid
/// configuration is kept here: when the bindings are not offered (an older runtime, the
/// `disallow_importable_env` flag) or do not parse, nothing is kept and the first request
/// reads its own `env` and reports any problem as before.
pub fn preload_config() {
    let env = MODULE_ENV.with(JsValue::clone);
    if !env.is_object() {
        return;
    }
    let raw = read_raw_config(env.unchecked_ref());
    if raw.issuers.is_none() {
        return;
    }
    if let Ok(config) = Config::parse(raw.issuers.as_deref(), &raw.vars) {
        install_config(Ok(Rc::new(config)));
    }
}

/// The configuration, validated on the first request of the isolate and kept: bindings
/// and secrets cannot change under a running isolate (a new version or secret starts new
/// isolates), so reading ~30 bindings across the JS boundary on every request would be
/// pure overhead on the hot path. An invalid configuration is kept too: every request
/// gets the same 500 until the deployment is fixed.
fn load_config(env: &Env) -> Result<Rc<Config>, Rejection> {
    if let Some(parsed) = CONFIG.with(|c| c.borrow().clone()) {
        return parsed.map_err(Rejection::Config);
    }
    let raw = read_raw_config(env);
    let parsed = Config::parse(raw.issuers.as_deref(), &raw.vars).map(Rc::new);
    install_config(parsed.clone());
    parsed.map_err(Rejection::Config)
}

/// Keeps the isolate's configuration and sizes its caches from it.
fn install_config(parsed: ParsedConfig) {
    let entries = parsed.as_ref().map_or(0, |c| c.token_cache_entries);
    TOKENS.with(|t| *t.borrow_mut() = TokenCache::new(entries));
    let replay = parsed.as_ref().map_or(0, |c| c.dpop_replay_entries);
    DPOP_REPLAY.with(|r| *r.borrow_mut() = ReplayCache::new(replay));
    CONFIG.with(|c| *c.borrow_mut() = Some(parsed));
}

/// Reads `ISSUERS` and every known var, as text (`VarValue::into_text`: how numbers,
/// booleans and structured vars read). `ISSUERS` may also be given as a structured var
/// (JSON), not only a secret.
fn read_raw_config(env: &Env) -> RawConfig {
    let read = |name: &str| -> Option<String> {
        let v = js_sys::Reflect::get(env.as_ref(), &JsValue::from_str(name)).ok()?;
        let value = if v.is_undefined() || v.is_null() {
            return None;
        } else if let Some(s) = v.as_string() {
            VarValue::Text(s)
        } else if let Some(b) = v.as_bool() {
            VarValue::Bool(b)
        } else if let Some(n) = v.as_f64() {
            VarValue::Number(n)
        } else {
            VarValue::Json(js_sys::JSON::stringify(&v).ok()?.as_string()?)
        };
        Some(value.into_text())
    };
    RawConfig {
        issuers: read("ISSUERS"),
        vars: VAR_NAMES
            .iter()
            .filter_map(|name| read(name).map(|v| (name.to_string(), v)))
            .collect(),
    }
}

/// RFC 9728 §3.2: the metadata document, as JSON.
fn metadata_response(doc: &str) -> web_sys::Response {
    edge_response(&EdgeResponse {
        status: 200,
        headers: vec![
            ("content-type", "application/json".to_string()),
            ("cache-control", "public, max-age=3600".to_string()),
        ],
        body: doc.to_string(),
    })
}

fn edge_response(r: &EdgeResponse) -> web_sys::Response {
    let build = || -> Result<web_sys::Response, JsValue> {
        let headers = web_sys::Headers::new()?;
        for (name, value) in &r.headers {
            headers.set(name, value)?;
        }
        let init = web_sys::ResponseInit::new();
        init.set_status(r.status);
        init.set_headers(&headers);
        web_sys::Response::new_with_opt_str_and_init(Some(&r.body), &init)
    };
    // Header values are fixed ASCII built above, so this cannot fail in practice; if the
    // runtime disagrees, a bare 500 is still an answer that forwards nothing.
    build().unwrap_or_else(|_| {
        web_sys::Response::new_with_opt_str(Some("internal error"))
            .unwrap_or_else(|_| unreachable_response())
    })
}

fn unreachable_response() -> web_sys::Response {
    // `Response.error()` cannot fail: a network-error response, still never a forward.
    web_sys::Response::error()
}
