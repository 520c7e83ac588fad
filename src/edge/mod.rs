//! The request glue. Two ways in, one decision (`decide`, pure):
//! * [`decide_request`], synchronous, called by the JS entry (js/shim.mjs) on every request
//!   with the few fields the decision reads; it answers from memory (config, verified-token
//!   cache, fresh keys) and returns the verdict in one string (`decide::wire`), or `S` when I/O is
//!   needed;
//! * [`handle`], async (`#[event(fetch)]`), for those: it reads the request itself, fetches
//!   keys through `edge::fetcher` (KV, the network) and the deny list through
//!   `edge::deny_list` until the decision is final, and forwards (streaming) or answers.

mod clock;
mod deny_list;
mod fetcher;
mod js_error;
mod replay;

use self::clock::now_secs;
use self::js_error::js_error_text;
use crate::config::{Config, VarValue, VAR_NAMES};
use crate::decide::forward::HeaderPlan;
use crate::decide::metrics::{DataPoint, KeySource, Observation};
use crate::decide::wire;
use crate::decide::{self, fields, Caches, KeyStore, Keys, LogLine, RequestParts, Verdict};
use crate::edge::fetcher::{fresh_generation, fresh_keys, keys_for, Want};
use crate::error::{ConfigError, EdgeResponse, JwksError, Rejection};
use crate::keys::KeySet;
use crate::policy::deny::DenyState;
use crate::policy::dpop::ledger::{self, Answer};
use crate::policy::dpop::ProofId;
use crate::policy::routes::METHOD_OVERRIDE_HEADERS;
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
    /// Verified tokens and DPoP proofs seen by this isolate, sized by the configuration
    /// (RFC 9449 §11.1: replay detection per isolate only).
    static CACHES: RefCell<Caches> = RefCell::new(Caches::for_config(None));
    /// The buffer the JS entry packs each request's fields into (js/pack.mjs): one
    /// allocation per isolate instead of one per string per request, and the runtime's
    /// native UTF-8 encoder instead of wasm-bindgen's per-character copy (a token is ~1 KiB).
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(Box::default());
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
    /// The Worker has a `DENY_LIST` binding.
    deny_list: bool,
    /// The Worker has a `METRICS` binding (Analytics Engine).
    metrics: bool,
    /// The Worker has a `DPOP_REPLAY` binding (Durable Objects).
    dpop_ledger: bool,
}

impl RawConfig {
    fn parse(&self) -> Result<Config, ConfigError> {
        Config::parse(self.issuers.as_deref(), &self.vars).map(|c| {
            c.with_deny_list(self.deny_list)
                .with_metrics(self.metrics)
                .with_dpop_ledger(self.dpop_ledger)
        })
    }
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

/// Keys as memory holds them: fresh ones only, and never a refetch (that is I/O).
struct InMemory;

impl KeyStore for InMemory {
    fn keys(&self, issuer: &str, now: u64, want: Want) -> Keys {
        match want {
            Want::Current => fresh_keys(issuer, now).map_or(Keys::Fetch, Keys::Ready),
            Want::Refetch => Keys::Fetch,
        }
    }

    fn fresh_generation(&self, issuer: &str, now: u64) -> Option<u64> {
        fresh_generation(issuer, now)
    }

    fn deny_list(&self, now: u64, ttl: u64) -> DenyState {
        deny_list::fresh(now, ttl)
    }

    /// The ledger is a round trip: never answered from memory.
    fn ledger(&self, _proof: &ProofId) -> Option<Answer> {
        None
    }
}

/// The optional request fields the JS entry must read (a `decide::fields` mask), or -1
/// while the configuration is not loaded (every request then takes the async path).
#[wasm_bindgen(js_name = requestFields)]
pub fn request_fields() -> i32 {
    match CONFIG.with(|c| c.borrow().clone()) {
        Some(Ok(config)) => decide::fields_needed(&config) as i32,
        _ => -1,
    }
}

/// The header `TOKEN_HEADER` names (lower case), for the JS entry to read; `""` when none
/// is configured or the configuration is not loaded.
#[wasm_bindgen(js_name = tokenHeaderName)]
pub fn token_header_name() -> String {
    CONFIG
        .with(|c| match &*c.borrow() {
            Some(Ok(config)) => config.token_header.as_ref().map(|h| h.name.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// A view of the scratch buffer, at least `size` bytes, for the JS entry to write into.
/// It stays valid until the next call here (which may move the buffer) or until the Wasm
/// memory grows (the view then reads as empty): the entry asks again in either case and
/// never keeps an old view.
#[wasm_bindgen]
pub fn scratch(size: usize) -> js_sys::Uint8Array {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < size {
            *s = vec![0; size.next_power_of_two()].into_boxed_slice();
        }
        // Built from the memory's buffer and an offset (no `unsafe` view): the view covers
        // memory the buffer owns, and the contract above keeps the entry from writing
        // through it after the buffer moves.
        let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
        js_sys::Uint8Array::new_with_byte_offset_and_length(
            &memory.buffer(),
            s.as_ptr() as u32,
            s.len() as u32,
        )
    })
}

/// The synchronous decision for one request (see the module comment). The fields are in the
/// scratch buffer, their lengths in `RequestParts::unpack`'s order (negative: absent);
/// `fields` says which optional ones were read; `now_ms` is the runtime clock.
#[allow(
    clippy::too_many_arguments,
    reason = "the JS entry passes each length as its own argument: no object to build per request"
)]
#[wasm_bindgen(js_name = decideRequest)]
pub fn decide_request(
    method: i32,
    url: i32,
    authorization: i32,
    dpop: i32,
    fields: u32,
    cookie: i32,
    override_1: i32,
    override_2: i32,
    override_3: i32,
    origin: i32,
    access_control_request_method: i32,
    token_header: i32,
    now_ms: f64,
) -> String {
    install_panic_hook();
    let config = match CONFIG.with(|c| c.borrow().clone()) {
        Some(Ok(config)) => config,
        Some(Err(e)) => return wire::encode(&decide::config_failure(&Rejection::Config(e))),
        None => return wire::encode(&Verdict::NeedFields),
    };
    let lens = [
        method,
        url,
        authorization,
        dpop,
        cookie,
        override_1,
        override_2,
        override_3,
        origin,
        access_control_request_method,
        token_header,
    ];
    let now = (now_ms / 1000.0) as u64;
    SCRATCH.with(|s| {
        let bytes = s.borrow();
        let mut seen = Observation::for_config(&config);
        let verdict = match RequestParts::unpack(&bytes, &lens, fields) {
            Some(parts) => CACHES.with(|c| {
                let caches = &mut c.borrow_mut();
                decide::decide_observed(&parts, &config, now, caches, &InMemory, &mut seen)
            }),
            // Not as packed: the async path reads the request itself.
            None => Verdict::NeedFields,
        };
        let point = verdict.data_point(&seen, KeySource::Memory);
        wire::encode_with_point(&verdict, point.as_ref())
    })
}

/// The 502 for a forward that failed in the JS entry (`cause`: the runtime's error text),
/// as a `decide::wire` answer.
#[wasm_bindgen(js_name = badGateway)]
pub fn bad_gateway(cause: &str) -> String {
    let (realm, retry) = CONFIG.with(|c| match &*c.borrow() {
        Some(Ok(config)) => (config.realm.clone(), config.retry_after_secs),
        _ => ("edgeguard".to_owned(), 30),
    });
    let rejection = Rejection::BadGateway;
    wire::encode(&Verdict::Answer {
        log: Some(LogLine::Info(bad_gateway_line(&rejection, cause))),
        response: rejection.to_response(&realm, retry),
    })
}

fn bad_gateway_line(rejection: &Rejection, cause: &str) -> String {
    serde_json::json!({"event": "rejected", "status": 502, "reason": rejection.reason(), "cause": cause})
        .to_string()
}

/// Entry point of the async path; never panics on input, never forwards on failure.
pub async fn handle(req: web_sys::Request, env: Env, ctx: Context) -> web_sys::Response {
    install_panic_hook();
    let config = match load_config(&env) {
        Ok(config) => config,
        Err(rejection) => {
            console_error!("{}", rejection.log_line(None, None));
            return edge_response(&rejection.to_response("edgeguard", 30));
        }
    };
    // Boxed: the request's state machine is then one function, reached through a vtable.
    let served: Pin<Box<dyn Future<Output = web_sys::Response>>> =
        Box::pin(serve(req, env, ctx, config));
    served.await
}

/// What the fetchers returned for this request, offered to the decision.
struct Fetched {
    current: Option<Result<Rc<KeySet>, JwksError>>,
    refetched: Option<Result<Rc<KeySet>, JwksError>>,
    deny_list: Option<DenyState>,
    /// The ledger's answer, for the one proof a request carries.
    ledger: Option<(ProofId, Answer)>,
}

impl KeyStore for Fetched {
    fn keys(&self, issuer: &str, now: u64, want: Want) -> Keys {
        let offered = match want {
            Want::Current => &self.current,
            Want::Refetch => &self.refetched,
        };
        match offered {
            Some(Ok(set)) => Keys::Ready(set.clone()),
            Some(Err(e)) => Keys::Unavailable(e.clone()),
            None => InMemory.keys(issuer, now, want),
        }
    }

    fn fresh_generation(&self, issuer: &str, now: u64) -> Option<u64> {
        fresh_generation(issuer, now)
    }

    fn deny_list(&self, now: u64, ttl: u64) -> DenyState {
        match &self.deny_list {
            Some(state) => state.clone(),
            None => InMemory.deny_list(now, ttl),
        }
    }

    fn ledger(&self, proof: &ProofId) -> Option<Answer> {
        match &self.ledger {
            Some((asked, answer)) if asked == proof => Some(answer.clone()),
            _ => None,
        }
    }
}

async fn serve(
    req: web_sys::Request,
    env: Env,
    ctx: Context,
    config: Rc<Config>,
) -> web_sys::Response {
    let headers = req.headers();
    let header = |name: &str| headers.get(name).ok().flatten();
    let (method, url) = (req.method(), req.url());
    let (authorization, dpop, cookie) = (header("authorization"), header("dpop"), header("cookie"));
    let overrides = METHOD_OVERRIDE_HEADERS.map(header);
    let (origin, acrm) = (header("origin"), header("access-control-request-method"));
    let token_header = config.token_header.as_ref().and_then(|h| header(&h.name));
    let parts = RequestParts {
        method: &method,
        url: &url,
        authorization: authorization.as_deref(),
        dpop: dpop.as_deref(),
        fields: fields::ALL,
        cookie: cookie.as_deref(),
        method_overrides: [
            overrides[0].as_deref(),
            overrides[1].as_deref(),
            overrides[2].as_deref(),
        ],
        origin: origin.as_deref(),
        access_control_request_method: acrm.as_deref(),
        token_header: token_header.as_deref(),
    };
    let now = now_secs();
    let mut fetched = Fetched {
        current: None,
        refetched: None,
        deny_list: None,
        ledger: None,
    };
    // Where this request's keys came from, if it fetched any (else: memory).
    let mut source = KeySource::Memory;
    // At most: the deny list, keys, a refetch for an unknown kid, the replay ledger, then
    // final.
    for _ in 0..5 {
        let mut seen = Observation::for_config(&config);
        let verdict = CACHES.with(|c| {
            let caches = &mut c.borrow_mut();
            decide::decide_observed(&parts, &config, now, caches, &fetched, &mut seen)
        });
        if let Some(point) = verdict.data_point(&seen, source) {
            write_point(&env, &point);
        }
        match verdict {
            Verdict::NeedKeys { issuer, want } => {
                let Some(issuer) = config.issuer(&issuer) else {
                    break;
                };
                let got =
                    keys_for(&env, &ctx, &config, issuer, now, want)
                        .await
                        .map(|(set, from)| {
                            source = source.max(from);
                            set
                        });
                match want {
                    Want::Current => fetched.current = Some(got),
                    Want::Refetch => fetched.refetched = Some(got),
                }
            }
            Verdict::NeedDenyList => {
                fetched.deny_list = Some(deny_list::refresh(&env, &config, now).await);
            }
            Verdict::NeedReplayCheck(proof) => {
                let answer = replay::ask(&env, &config.dpop_ledger, &proof, now).await;
                fetched.ledger = Some((proof, answer));
            }
            Verdict::NeedFields => break,
            Verdict::Forward { target, headers } => {
                return forward_request(req, &target, &headers, &config).await
            }
            Verdict::Answer { response, log } => {
                match log {
                    Some(LogLine::Info(line)) => console_log!("{line}"),
                    Some(LogLine::Error(line)) => console_error!("{line}"),
                    None => {}
                }
                return edge_response(&response);
            }
        }
    }
    // Not reachable with a sound decision; still an answer that forwards nothing.
    let rejection = Rejection::KeysUnavailable(JwksError::Fetch("no final decision".into()));
    console_log!("{}", rejection.log_line(None, None));
    edge_response(&rejection.to_response(&config.realm, config.retry_after_secs))
}

/// Forwards with the same method, headers (edited), query and streamed body.
async fn forward_request(
    req: web_sys::Request,
    target: &str,
    plan: &HeaderPlan,
    config: &Config,
) -> web_sys::Response {
    match try_forward(&req, target, plan).await {
        Ok(response) => response,
        Err(e) => {
            let rejection = Rejection::BadGateway;
            console_log!("{}", bad_gateway_line(&rejection, &e));
            edge_response(&rejection.to_response(&config.realm, config.retry_after_secs))
        }
    }
}

async fn try_forward(
    req: &web_sys::Request,
    target: &str,
    plan: &HeaderPlan,
) -> Result<web_sys::Response, String> {
    let js_err = js_error_text;
    let headers = web_sys::Headers::new_with_headers(&req.headers()).map_err(js_err)?;
    for name in plan.remove() {
        headers.delete(name).map_err(js_err)?;
    }
    for (name, value) in plan.set() {
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
    let outbound = web_sys::Request::new_with_str_and_init(target, &init).map_err(js_err)?;
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let response = JsFuture::from(global.fetch_with_request(&outbound))
        .await
        .map_err(js_err)?;
    // Returned untouched: status, status text, headers and the streamed body.
    response.dyn_into::<web_sys::Response>().map_err(js_err)
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
    if let Ok(config) = raw.parse() {
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
    let parsed = raw.parse().map(Rc::new);
    install_config(parsed.clone());
    parsed.map_err(Rejection::Config)
}

/// Keeps the isolate's configuration and sizes its caches from it.
fn install_config(parsed: ParsedConfig) {
    CACHES.with(|c| *c.borrow_mut() = Caches::for_config(parsed.as_ref().ok().map(|c| &**c)));
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
        // A binding is an object; a var of that name (text) is not one.
        deny_list: is_binding(env, deny_list::BINDING),
        metrics: is_binding(env, METRICS_BINDING),
        dpop_ledger: is_binding(env, ledger::BINDING),
    }
}

/// The Workers Analytics Engine dataset binding that gets one data point per request.
const METRICS_BINDING: &str = "METRICS";

fn is_binding(env: &Env, name: &str) -> bool {
    js_sys::Reflect::get(env.as_ref(), &JsValue::from_str(name)).is_ok_and(|v| v.is_object())
}

/// Writes the async path's data point (the sync path's goes out in the verdict, `M`).
/// Best effort, as Analytics Engine itself is: a failed write is logged, never the
/// request's failure.
fn write_point(env: &Env, point: &DataPoint) {
    let written = env.analytics_engine(METRICS_BINDING).and_then(|dataset| {
        let mut builder = worker::AnalyticsEngineDataPointBuilder::new()
            .indexes([point.index.as_str()])
            .add_double(f64::from(point.status));
        for blob in &point.blobs {
            builder = builder.add_blob(blob.as_str());
        }
        dataset.write_data_point(&builder.build())
    });
    if let Err(e) = written {
        console_error!(
            "{{\"event\":\"metrics_write_failed\",\"cause\":{}}}",
            serde_json::Value::from(e.to_string())
        );
    }
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
