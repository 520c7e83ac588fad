//! Configuration: the `ISSUERS` secret and the `[vars]`, validated once per isolate.
//!
//! The configuration is as hostile as any other input: a typo must not silently widen what
//! is accepted. So unknown fields are errors, every bound is checked, and each error names
//! the field to fix (`ISSUERS[1].audiences`, `LEEWAY_SECONDS`).

use crate::alg::{Alg, KeyFamily};
use crate::error::ConfigError;
use crate::json::parse_strict;
use cache_policy::CachePolicy;
pub mod cache_policy;
pub mod routes;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use routes::{parse_routes, parse_rule, Rule};
use serde_json::Value;
use std::collections::HashMap;
use url::{Host, Url};

/// Names of every `[vars]` entry read by the gateway (the glue reads exactly these).
pub const VAR_NAMES: [&str; 34] = [
    "ORIGIN",
    "AUTH_REALM",
    "LEEWAY_SECONDS",
    "SUBJECT_HEADER",
    "ISSUER_HEADER",
    "CLAIMS_HEADER",
    "STRIP_AUTHORIZATION",
    "MAX_TOKEN_BYTES",
    "JWKS_TIMEOUT_MS",
    "JWKS_MAX_BYTES",
    "JWKS_MAX_KEYS",
    "JWKS_MIN_TTL_SECONDS",
    "JWKS_MAX_TTL_SECONDS",
    "JWKS_DEFAULT_TTL_SECONDS",
    "JWKS_MAX_STALE_SECONDS",
    "JWKS_REFETCH_COOLDOWN_SECONDS",
    "RETRY_AFTER_SECONDS",
    "MAX_ISSUERS",
    "TOKEN_CACHE_ENTRIES",
    "ROUTES",
    "DEFAULT_ROUTE",
    "CLAIM_HEADERS",
    "TOKEN_COOKIE",
    "TOKEN_QUERY_PARAM",
    "TOKEN_HEADER",
    "CORS_PREFLIGHT",
    "DENY_JTI",
    "DENY_SUB",
    "DENY_LIST_TTL_SECONDS",
    "RESOURCE_METADATA",
    "DPOP_MAX_AGE_SECONDS",
    "DPOP_REPLAY_ENTRIES",
    "DPOP_REPLAY_FALLBACK",
    "DPOP_REPLAY_TIMEOUT_MS",
];

/// `RESOURCE_METADATA`: the RFC 9728 protected-resource metadata the gateway serves.
#[derive(Debug, Clone, PartialEq)]
pub enum ResourceMetadata {
    /// The operator's document, as JSON text (`bearer_methods_supported` added if absent),
    /// and its `resource`.
    Fixed { document: String, resource: String },
    /// `"auto"`: the document built from the configuration, whose `resource` is each
    /// request's origin (what a client that found this gateway at that origin expects).
    /// Held as the JSON text of its other members, so a request splices the origin in.
    Auto(String),
}

impl ResourceMetadata {
    /// The document for a request to `origin` (`https://host[:port]`).
    pub fn document(&self, origin: &str) -> String {
        match self {
            ResourceMetadata::Fixed { document, .. } => document.clone(),
            ResourceMetadata::Auto(rest) => {
                // `origin` is the runtime's serialised URL origin, but it is escaped anyway.
                let resource = serde_json::to_string(origin).unwrap_or_default();
                format!("{{\"resource\":{resource},{rest}")
            }
        }
    }

    /// The protected resource a request to `origin` is for: the document's `resource`.
    pub fn resource<'a>(&'a self, origin: &'a str) -> &'a str {
        match self {
            ResourceMetadata::Fixed { resource, .. } => resource,
            ResourceMetadata::Auto(_) => origin,
        }
    }

    /// `"auto"`'s document for `config`: the configured issuers as `authorization_servers`,
    /// the RFC 6750 methods the gateway reads (`header`; `query` with `TOKEN_QUERY_PARAM`),
    /// and every scope a route rule names (first-named first).
    fn auto(config: &Config) -> ResourceMetadata {
        let mut doc = serde_json::Map::new();
        let servers: Vec<Value> = config
            .issuers
            .iter()
            .map(|i| Value::String(i.issuer.clone()))
            .collect();
        doc.insert("authorization_servers".into(), Value::Array(servers));
        let mut methods = vec![Value::from("header")];
        if config.token_query_param.is_some() {
            methods.push(Value::from("query"));
        }
        doc.insert("bearer_methods_supported".into(), Value::Array(methods));
        // In the order the rules name them, each once.
        let mut scopes: Vec<Value> = Vec::new();
        let named = config.routes.iter().chain([&config.default_route]);
        for scope in named.flat_map(|r| &r.scopes) {
            if !scopes.iter().any(|s| s.as_str() == Some(scope.as_str())) {
                scopes.push(Value::from(scope.as_str()));
            }
        }
        if !scopes.is_empty() {
            doc.insert("scopes_supported".into(), Value::Array(scopes));
        }
        // The object's text without its opening brace: `document` writes `resource` there.
        let text = Value::Object(doc).to_string();
        ResourceMetadata::Auto(text[1..].to_owned())
    }
}

/// `TOKEN_HEADER`: one more header the token may come in (Cloudflare Access's
/// `Cf-Access-Jwt-Assertion`, an API's `X-Api-Token: Token <jwt>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHeader {
    /// Lower case (the runtime's `Headers` reads any case).
    pub name: String,
    /// A word the value starts with (compared case-insensitively), then whitespace and the
    /// token; `None`: the value is the token alone.
    pub prefix: Option<String>,
}

/// A `[vars]` value as the Worker receives it: wrangler hands wrangler.toml's values over as
/// JS values, and the parser reads text. The Worker (`edge`) and `edgeguard-check` (reading
/// the TOML) both turn a value into text here, so the check sees what the Worker sees.
#[derive(Debug, Clone, PartialEq)]
pub enum VarValue {
    Text(String),
    Bool(bool),
    Number(f64),
    /// A table or an array, as JSON text (`JSON.stringify`).
    Json(String),
}

impl VarValue {
    /// A table or array given as a JSON value, written as `JSON.stringify` writes the JS
    /// value: an integral number has no fraction (`60`, not `60.0`).
    pub fn structured(value: Value) -> VarValue {
        fn js(value: Value) -> Value {
            match value {
                Value::Number(n) => match n.as_f64().and_then(js_integer) {
                    Some(i) if !n.is_i64() && !n.is_u64() => Value::from(i),
                    _ => Value::Number(n),
                },
                Value::Array(items) => Value::Array(items.into_iter().map(js).collect()),
                Value::Object(map) => {
                    Value::Object(map.into_iter().map(|(k, v)| (k, js(v))).collect())
                }
                other => other,
            }
        }
        VarValue::Json(js(value).to_string())
    }

    /// The text the parser reads: strings as they are, booleans as `true`/`false`, integral
    /// numbers without a fraction, tables and arrays as JSON.
    pub fn into_text(self) -> String {
        match self {
            VarValue::Text(s) | VarValue::Json(s) => s,
            VarValue::Bool(b) => b.to_string(),
            VarValue::Number(n) => match js_integer(n) {
                Some(i) => i.to_string(),
                None => n.to_string(),
            },
        }
    }
}

/// `n` as an integer when it is one (and exactly representable), as JS prints it.
fn js_integer(n: f64) -> Option<i64> {
    (n.fract() == 0.0 && n.abs() < 1e15).then_some(n as i64)
}

/// Upper bound on configured issuers: bounds the per-isolate key cache as well.
const DEFAULT_MAX_ISSUERS: u64 = 50;
/// Upper bound of an issuer's `max_token_age`: one year. An access token meant to live longer
/// than that has no age limit worth configuring, and the bound keeps every sum of this value,
/// the leeway and a claim far from any integer limit.
pub const MAX_TOKEN_AGE_SECS: u64 = 365 * 86_400;

/// Where an issuer's JWKS comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A configured `jwks_uri`.
    Uri(Url),
    /// OIDC discovery: this is the `.well-known/openid-configuration` URL to read it from.
    Discovery(Url),
    /// The issuer only allows HMAC algorithms: its key is the configured secret.
    None,
}

/// One trusted issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerConfig {
    /// The exact `iss`.
    pub issuer: String,
    pub jwks: JwksSource,
    /// Accepted `aud` values (empty only with `resource_audience`).
    pub audiences: Vec<String>,
    /// RFC 8707 / MCP: `aud` may also name the protected resource the request is for
    /// (`ResourceMetadata::resource`). That depends on the request, so it is checked per
    /// request, not when the token is verified (a cached token is reused across hosts).
    pub resource_audience: bool,
    pub algorithms: Vec<Alg>,
    /// HMAC secret, present only when an `HS*` algorithm is listed.
    pub secret: Option<Vec<u8>>,
    /// RFC 9068: required header `typ` (compared without `application/`, case-insensitively).
    pub require_typ: Option<String>,
    /// RFC 9068: maximum age from `iat`, in seconds (makes `iat` required).
    pub max_token_age: Option<u64>,
    /// Claims that must be present.
    pub required_claims: Vec<String>,
}

impl IssuerConfig {
    pub fn allows(&self, alg: Alg) -> bool {
        self.algorithms.contains(&alg)
    }

    /// Only issuers with an asymmetric algorithm need a JWKS at all.
    pub fn needs_jwks(&self) -> bool {
        self.algorithms
            .iter()
            .any(|a| a.family() != KeyFamily::Hmac)
    }
}

/// Names of the identity headers added for the origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderNames {
    pub subject: String,
    pub issuer: String,
    pub claims: String,
}

/// `DPOP_REPLAY_FALLBACK`: what a DPoP request gets when the fleet-wide replay ledger
/// gives no answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LedgerFallback {
    /// `closed` (default): 401 `invalid_dpop_proof`, nothing forwarded.
    #[default]
    Closed,
    /// `isolate`: this isolate's replay cache alone decides, as without the binding; the
    /// request's log line says so.
    Isolate,
}

/// The fleet-wide DPoP replay ledger: a `DPOP_REPLAY` Durable Object binding
/// (`policy::dpop::ledger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerSettings {
    /// The Worker has the binding (set by the glue, which sees the bindings:
    /// [`Config::with_dpop_ledger`]); `false` from [`Config::parse`].
    pub bound: bool,
    pub fallback: LedgerFallback,
    /// How long a request waits for the ledger's answer (`DPOP_REPLAY_TIMEOUT_MS`).
    pub timeout_ms: u64,
}

/// Fetching limits for JWKS and discovery documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchLimits {
    pub timeout_ms: u64,
    pub max_bytes: usize,
    pub max_keys: usize,
}

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub issuers: Vec<IssuerConfig>,
    /// `None`: route mode (the request goes on to its own URL).
    pub origin: Option<Url>,
    pub realm: String,
    pub leeway_secs: u64,
    pub headers: HeaderNames,
    pub strip_authorization: bool,
    pub max_token_bytes: usize,
    pub fetch: FetchLimits,
    pub cache: CachePolicy,
    pub retry_after_secs: u64,
    /// Verified tokens remembered per isolate (0 disables the cache).
    pub token_cache_entries: usize,
    pub routes: Vec<Rule>,
    pub default_route: Rule,
    /// `(header, dotted claim path)` pairs for the origin.
    pub claim_headers: Vec<(String, Vec<String>)>,
    pub token_cookie: Option<String>,
    pub token_query_param: Option<String>,
    pub token_header: Option<TokenHeader>,
    pub cors_preflight: bool,
    pub deny_jti: Vec<String>,
    pub deny_sub: Vec<String>,
    /// True when the Worker has a `DENY_LIST` KV binding (set by the glue, which sees the
    /// bindings: [`Config::with_deny_list`]); `false` from [`Config::parse`].
    pub deny_list: bool,
    /// The Worker has a `METRICS` binding (Workers Analytics Engine): one data point per
    /// request (`decide::metrics`).
    pub metrics: bool,
    /// How long an isolate uses its copy of the KV deny list before listing it again.
    pub deny_list_ttl_secs: u64,
    /// RFC 9728 document served at `/.well-known/oauth-protected-resource`.
    pub resource_metadata: Option<ResourceMetadata>,
    /// RFC 9449: how old a DPoP proof's `iat` may be.
    pub dpop_max_age_secs: u64,
    /// RFC 9449: `jti`s remembered per isolate for replay detection.
    pub dpop_replay_entries: usize,
    /// RFC 9449: replay detection across isolates, when the Worker has the binding.
    pub dpop_ledger: LedgerSettings,
}

impl Config {
    /// The same configuration, with the KV deny list on when `bound` (the Worker has a
    /// `DENY_LIST` binding).
    pub fn with_deny_list(mut self, bound: bool) -> Config {
        self.deny_list = bound;
        self
    }

    /// The same configuration, for a Worker that has (or lacks) the `DPOP_REPLAY` binding.
    pub fn with_dpop_ledger(mut self, bound: bool) -> Config {
        self.dpop_ledger.bound = bound;
        self
    }

    /// The same configuration, for a Worker that has (or lacks) the `METRICS` binding.
    pub fn with_metrics(mut self, bound: bool) -> Config {
        self.metrics = bound;
        self
    }

    /// Finds the issuer whose `issuer` is exactly `iss`.
    pub fn issuer(&self, iss: &str) -> Option<&IssuerConfig> {
        self.issuers.iter().find(|i| i.issuer == iss)
    }

    /// Validates `ISSUERS` (the secret's text, if set) and the `[vars]` (already stringified,
    /// see [`VarValue`]). The first error of [`Config::check`]: the Worker reports one.
    pub fn parse(
        issuers: Option<&str>,
        vars: &HashMap<String, String>,
    ) -> Result<Config, ConfigError> {
        Self::check(Issuers::Text(issuers), vars).map_err(|mut errors| errors.swap_remove(0))
    }

    /// Validates like [`Config::parse`] but reports every error, for `edgeguard-check`. Each
    /// var and each `ISSUERS` item is checked on its own (up to its first error), so one typo
    /// does not hide the next; a check across vars runs only when its vars are valid.
    /// With [`Issuers::Unchecked`] the `Config` has no issuers: for reporting only.
    pub fn check(
        issuers: Issuers<'_>,
        vars: &HashMap<String, String>,
    ) -> Result<Config, Vec<ConfigError>> {
        let v = Vars(vars);
        let mut e = Errors::default();
        let max_issuers = e.ok(v.number("MAX_ISSUERS", DEFAULT_MAX_ISSUERS, 1, 1000));
        let origin = e.take(v.get("ORIGIN").map(parse_origin).transpose());
        let subject = e.ok(v.header_name("SUBJECT_HEADER", "X-Auth-Subject"));
        let issuer = e.ok(v.header_name("ISSUER_HEADER", "X-Auth-Issuer"));
        let claims = e.ok(v.header_name("CLAIMS_HEADER", "X-Auth-Claims"));
        let identity = match (subject, issuer, claims) {
            (Some(subject), Some(issuer), Some(claims)) => Some(HeaderNames {
                subject,
                issuer,
                claims,
            }),
            _ => None,
        };
        if let Some(h) = &identity {
            let lower = |s: &str| s.to_ascii_lowercase();
            if lower(&h.subject) == lower(&h.issuer)
                || lower(&h.subject) == lower(&h.claims)
                || lower(&h.issuer) == lower(&h.claims)
            {
                e.push(ConfigError::new(
                    "SUBJECT_HEADER",
                    "identity header names must differ",
                ));
            }
        }
        let realm = e.take(v.realm());
        let min_ttl = e.ok(v.number("JWKS_MIN_TTL_SECONDS", 60, 0, 86_400));
        let max_ttl = e.ok(v.number("JWKS_MAX_TTL_SECONDS", 3600, 1, 7 * 86_400));
        if let (Some(min), Some(max)) = (min_ttl, max_ttl) {
            if min > max {
                e.push(ConfigError::new(
                    "JWKS_MIN_TTL_SECONDS",
                    "must not exceed JWKS_MAX_TTL_SECONDS",
                ));
            }
        }
        let cache = CachePolicy {
            min_ttl: min_ttl.unwrap_or_default(),
            max_ttl: max_ttl.unwrap_or_default(),
            default_ttl: e.take(v.number("JWKS_DEFAULT_TTL_SECONDS", 600, 0, 7 * 86_400)),
            max_stale: e.take(v.number("JWKS_MAX_STALE_SECONDS", 86_400, 0, 30 * 86_400)),
            refetch_cooldown: e.take(v.number("JWKS_REFETCH_COOLDOWN_SECONDS", 30, 0, 3600)),
        };
        // Clashes with the identity headers can only be told once those are valid.
        let claim_headers = match &identity {
            Some(h) => e.take(v.claim_headers(h)),
            None => Vec::new(),
        };
        let issuers = match issuers {
            Issuers::Text(raw) => parse_issuers(raw, max_issuers.map(|n| n as usize), &mut e),
            Issuers::Unchecked => Vec::new(),
        };
        let token_header = e.take(v.token_header(identity.as_ref(), &claim_headers));
        let metadata = e.take(v.resource_metadata());
        let mut config = Config {
            issuers,
            origin,
            realm,
            leeway_secs: e.take(v.number("LEEWAY_SECONDS", 60, 0, 600)),
            headers: identity.unwrap_or_else(|| HeaderNames {
                subject: String::new(),
                issuer: String::new(),
                claims: String::new(),
            }),
            strip_authorization: e.take(v.boolean("STRIP_AUTHORIZATION", false)),
            max_token_bytes: e.take(v.number("MAX_TOKEN_BYTES", 8192, 256, 65_536)) as usize,
            fetch: FetchLimits {
                timeout_ms: e.take(v.number("JWKS_TIMEOUT_MS", 5000, 100, 30_000)),
                max_bytes: e.take(v.number("JWKS_MAX_BYTES", 262_144, 1024, 4 * 1024 * 1024))
                    as usize,
                max_keys: e.take(v.number("JWKS_MAX_KEYS", 64, 1, 1000)) as usize,
            },
            cache,
            retry_after_secs: e.take(v.number("RETRY_AFTER_SECONDS", 30, 1, 3600)),
            token_cache_entries: e.take(v.number("TOKEN_CACHE_ENTRIES", 4096, 0, 100_000)) as usize,
            routes: match e.take(v.json("ROUTES")) {
                Some(value) => parse_routes(&value).unwrap_or_else(|errors| {
                    e.0.extend(errors);
                    Vec::new()
                }),
                None => Vec::new(),
            },
            default_route: match e.take(v.json("DEFAULT_ROUTE")) {
                Some(value) => e.take(parse_rule(&value, "DEFAULT_ROUTE", false)),
                None => Rule::default(),
            },
            claim_headers,
            token_cookie: e.take(v.token_name("TOKEN_COOKIE")),
            token_query_param: e.take(v.token_name("TOKEN_QUERY_PARAM")),
            token_header,
            cors_preflight: e.take(v.boolean("CORS_PREFLIGHT", false)),
            deny_jti: e.take(v.string_list("DENY_JTI")),
            deny_sub: e.take(v.string_list("DENY_SUB")),
            deny_list: false,
            metrics: false,
            deny_list_ttl_secs: e.take(v.number("DENY_LIST_TTL_SECONDS", 30, 1, 3600)),
            resource_metadata: None,
            dpop_max_age_secs: e.take(v.number("DPOP_MAX_AGE_SECONDS", 300, 1, 3600)),
            dpop_replay_entries: e.take(v.number("DPOP_REPLAY_ENTRIES", 4096, 0, 100_000)) as usize,
            dpop_ledger: LedgerSettings {
                bound: false,
                fallback: e.take(v.ledger_fallback()),
                timeout_ms: e.take(v.number("DPOP_REPLAY_TIMEOUT_MS", 1000, 50, 10_000)),
            },
        };
        // "auto" describes the rest of the configuration, so it is built from it.
        config.resource_metadata = match metadata {
            Some(MetadataSetting::Auto) => Some(ResourceMetadata::auto(&config)),
            Some(MetadataSetting::Fixed { document, resource }) => {
                Some(ResourceMetadata::Fixed { document, resource })
            }
            None => None,
        };
        if config.resource_metadata.is_none() {
            if let Some(i) = config.issuers.iter().position(|i| i.resource_audience) {
                e.0.push(ConfigError::new(
                    format!("ISSUERS[{i}].resource_audience"),
                    "needs RESOURCE_METADATA (the resource is its \"resource\", or the request's origin with \"auto\")",
                ));
            }
        }
        if e.0.is_empty() {
            Ok(config)
        } else {
            Err(e.0)
        }
    }
}

/// What [`Config::check`] validates as `ISSUERS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issuers<'a> {
    /// The secret's text, `None` when it is not set (itself an error).
    Text(Option<&'a str>),
    /// Not at hand (a check of wrangler.toml alone: `ISSUERS` is a secret).
    Unchecked,
}

/// `RESOURCE_METADATA` as written, before the rest of the configuration is known.
enum MetadataSetting {
    Auto,
    Fixed { document: String, resource: String },
}

/// The errors found so far.
#[derive(Default)]
struct Errors(Vec<ConfigError>);

impl Errors {
    fn push(&mut self, error: ConfigError) {
        self.0.push(error);
    }

    fn ok<T>(&mut self, result: Result<T, ConfigError>) -> Option<T> {
        result.map_err(|error| self.push(error)).ok()
    }

    /// The value, or after an error a placeholder: any error discards the whole `Config`, so
    /// the placeholder only lets the other fields be checked.
    fn take<T: Default>(&mut self, result: Result<T, ConfigError>) -> T {
        self.ok(result).unwrap_or_default()
    }
}

struct Vars<'a>(&'a HashMap<String, String>);

impl Vars<'_> {
    /// A structured var: JSON text (TOML arrays/tables arrive already as JSON).
    fn json(&self, name: &str) -> Result<Option<Value>, ConfigError> {
        self.get(name)
            .map(|raw| {
                parse_strict(raw.as_bytes())
                    .map_err(|_| ConfigError::new(name, "is not valid JSON"))
            })
            .transpose()
    }

    fn string_list(&self, name: &str) -> Result<Vec<String>, ConfigError> {
        match self.json(name)? {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) if !s.is_empty() => Ok(s),
                    _ => Err(ConfigError::new(
                        name,
                        "must be a JSON array of non-empty strings",
                    )),
                })
                .collect(),
            Some(_) => Err(ConfigError::new(
                name,
                "must be a JSON array of non-empty strings",
            )),
        }
    }

    /// A cookie or query parameter name.
    fn token_name(&self, name: &str) -> Result<Option<String>, ConfigError> {
        match self.get(name) {
            None => Ok(None),
            Some(v)
                if v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) =>
            {
                Ok(Some(v.to_string()))
            }
            Some(_) => Err(ConfigError::new(
                name,
                "must be letters, digits, '-', '_' or '.'",
            )),
        }
    }

    /// `TOKEN_HEADER`: `Name` (the header's value is the token) or `Name: Prefix` (the value
    /// is the prefix, whitespace, then the token).
    fn token_header(
        &self,
        identity: Option<&HeaderNames>,
        claim_headers: &[(String, Vec<String>)],
    ) -> Result<Option<TokenHeader>, ConfigError> {
        const VAR: &str = "TOKEN_HEADER";
        let Some(raw) = self.get(VAR) else {
            return Ok(None);
        };
        let (name, prefix) = match raw.split_once(':') {
            Some((name, prefix)) => (name.trim(), Some(prefix.trim())),
            None => (raw.trim(), None),
        };
        if name.is_empty() {
            return Err(ConfigError::new(
                VAR,
                "must name a header: `Name` or `Name: Prefix`",
            ));
        }
        let name = Vars(&HashMap::from([(VAR.to_owned(), name.to_owned())]))
            .header_name(VAR, "")?
            .to_ascii_lowercase();
        // DPoP proofs have their own header; the identity and claim headers are the
        // gateway's own, removed from every request before it reaches the origin.
        let mut ours = identity
            .into_iter()
            .flat_map(|h| [&h.subject, &h.issuer, &h.claims])
            .chain(claim_headers.iter().map(|(h, _)| h));
        if name == "dpop" || ours.any(|h: &String| h.eq_ignore_ascii_case(&name)) {
            return Err(ConfigError::new(
                VAR,
                "must not name the DPoP header or a header the gateway sets",
            ));
        }
        let prefix = match prefix {
            None => None,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_graphic()) => {
                Some(p.to_owned())
            }
            Some(_) => {
                return Err(ConfigError::new(
                    VAR,
                    "the prefix after `:` must be one word of printable ASCII (e.g. `Token`)",
                ))
            }
        };
        Ok(Some(TokenHeader { name, prefix }))
    }

    fn claim_headers(
        &self,
        identity: &HeaderNames,
    ) -> Result<Vec<(String, Vec<String>)>, ConfigError> {
        let Some(value) = self.json("CLAIM_HEADERS")? else {
            return Ok(Vec::new());
        };
        let Value::Object(map) = value else {
            return Err(ConfigError::new(
                "CLAIM_HEADERS",
                "must be a JSON object {\"header\": \"claim.path\"}",
            ));
        };
        let mut out = Vec::new();
        for (header, path) in map {
            let at = format!("CLAIM_HEADERS.{header}");
            let valid =
                Vars(&HashMap::from([(at.clone(), header.clone())])).header_name(&at, "x")?;
            let lower = valid.to_ascii_lowercase();
            if [&identity.subject, &identity.issuer, &identity.claims]
                .iter()
                .any(|h| h.to_ascii_lowercase() == lower)
            {
                return Err(ConfigError::new(at, "clashes with an identity header"));
            }
            match path {
                Value::String(p) if !p.is_empty() && p.split('.').all(|s| !s.is_empty()) => {
                    out.push((valid, p.split('.').map(str::to_owned).collect()));
                }
                _ => return Err(ConfigError::new(at, "must map to a dotted claim path")),
            }
        }
        Ok(out)
    }

    fn resource_metadata(&self) -> Result<Option<MetadataSetting>, ConfigError> {
        if self.get("RESOURCE_METADATA") == Some("auto") {
            return Ok(Some(MetadataSetting::Auto));
        }
        let Some(value) = self.json("RESOURCE_METADATA")? else {
            return Ok(None);
        };
        let Value::Object(mut doc) = value else {
            return Err(ConfigError::new(
                "RESOURCE_METADATA",
                "must be \"auto\" or a JSON object",
            ));
        };
        let resource = match doc.get("resource") {
            Some(Value::String(r)) if Url::parse(r).is_ok() => r.clone(),
            _ => {
                return Err(ConfigError::new(
                    "RESOURCE_METADATA",
                    "needs \"resource\": an absolute URL",
                ))
            }
        };
        doc.entry("bearer_methods_supported")
            .or_insert_with(|| serde_json::json!(["header"]));
        Ok(Some(MetadataSetting::Fixed {
            document: Value::Object(doc).to_string(),
            resource,
        }))
    }

    fn realm(&self) -> Result<String, ConfigError> {
        let realm = self.get("AUTH_REALM").unwrap_or("edgeguard");
        if realm
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
        {
            Ok(realm.to_string())
        } else {
            Err(ConfigError::new(
                "AUTH_REALM",
                "must be printable ASCII without quotes or backslashes",
            ))
        }
    }

    /// An unset or empty var means "use the default".
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    fn number(&self, name: &str, default: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        let n: u64 = raw
            .parse()
            .map_err(|_| ConfigError::new(name, "must be a whole number"))?;
        if n < min || n > max {
            return Err(ConfigError::new(
                name,
                format!("must be between {min} and {max}"),
            ));
        }
        Ok(n)
    }

    fn ledger_fallback(&self) -> Result<LedgerFallback, ConfigError> {
        const NAME: &str = "DPOP_REPLAY_FALLBACK";
        match self.get(NAME).map(str::to_ascii_lowercase).as_deref() {
            None | Some("closed") => Ok(LedgerFallback::Closed),
            Some("isolate") => Ok(LedgerFallback::Isolate),
            Some(_) => Err(ConfigError::new(NAME, "must be closed or isolate")),
        }
    }

    fn boolean(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(_) => Err(ConfigError::new(name, "must be true or false")),
        }
    }

    fn header_name(&self, name: &str, default: &str) -> Result<String, ConfigError> {
        let value = self.get(name).unwrap_or(default);
        let is_tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if !value.bytes().all(is_tchar) {
            return Err(ConfigError::new(name, "must be a valid HTTP header name"));
        }
        // These carry meaning for the hop or for authentication itself.
        const RESERVED: [&str; 6] = [
            "authorization",
            "host",
            "content-length",
            "transfer-encoding",
            "connection",
            "cookie",
        ];
        if RESERVED.contains(&value.to_ascii_lowercase().as_str()) {
            return Err(ConfigError::new(name, "must not name a reserved header"));
        }
        Ok(value.to_string())
    }
}

fn parse_origin(raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|_| ConfigError::new("ORIGIN", "must be an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ConfigError::new(
            "ORIGIN",
            "must be an http(s) URL with a host",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(ConfigError::new(
            "ORIGIN",
            "must not carry a query, fragment or credentials",
        ));
    }
    Ok(url)
}

/// True for `localhost`, `127.0.0.0/8` and `::1`: the only hosts allowed over plain http.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// An https URL, or http to a loopback host (for local development and tests).
pub fn check_fetch_url(url: &Url) -> Result<(), &'static str> {
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err("must be https (http only for loopback hosts)"),
        _ => Err("must be an https URL"),
    }
}

/// Every issuer that parses; each item's first error (and a repeated `issuer`) goes to
/// `errors`. `max` is `None` when `MAX_ISSUERS` itself is invalid (already reported).
fn parse_issuers(raw: Option<&str>, max: Option<usize>, errors: &mut Errors) -> Vec<IssuerConfig> {
    let Some(items) = errors.ok(issuer_items(raw, max)) else {
        return Vec::new();
    };
    let mut out: Vec<IssuerConfig> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(parsed) = errors.ok(parse_issuer(item, &format!("ISSUERS[{i}]"))) else {
            continue;
        };
        if out.iter().any(|o| o.issuer == parsed.issuer) {
            errors.push(ConfigError::new(
                format!("ISSUERS[{i}].issuer"),
                "is listed twice",
            ));
        } else {
            out.push(parsed);
        }
    }
    out
}

/// The items of the `ISSUERS` array, bounded by `max`.
fn issuer_items(raw: Option<&str>, max: Option<usize>) -> Result<Vec<Value>, ConfigError> {
    let raw = raw
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ConfigError::new("ISSUERS", "is not set (wrangler secret put ISSUERS)"))?;
    let value = parse_strict(raw.as_bytes())
        .map_err(|_| ConfigError::new("ISSUERS", "is not valid JSON (or repeats a key)"))?;
    let Value::Array(items) = value else {
        return Err(ConfigError::new("ISSUERS", "must be a JSON array"));
    };
    if items.is_empty() {
        return Err(ConfigError::new("ISSUERS", "must list at least one issuer"));
    }
    if let Some(max) = max.filter(|&max| items.len() > max) {
        return Err(ConfigError::new(
            "ISSUERS",
            format!("lists more than {max} issuers (MAX_ISSUERS)"),
        ));
    }
    Ok(items)
}

fn parse_issuer(item: &Value, at: &str) -> Result<IssuerConfig, ConfigError> {
    const FIELDS: [&str; 9] = [
        "issuer",
        "jwks_uri",
        "audiences",
        "resource_audience",
        "algorithms",
        "secret",
        "require_typ",
        "max_token_age",
        "required_claims",
    ];
    let field = |name: &str| format!("{at}.{name}");
    let Value::Object(obj) = item else {
        return Err(ConfigError::new(at, "must be an object"));
    };
    if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ConfigError::new(field(unknown), "is not a known field"));
    }

    let issuer = match obj.get("issuer") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            return Err(ConfigError::new(
                field("issuer"),
                "must be a non-empty string",
            ))
        }
    };

    let resource_audience = match obj.get("resource_audience") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ConfigError::new(
                field("resource_audience"),
                "must be true or false",
            ))
        }
    };
    let audiences = match obj.get("audiences") {
        // The resource is then the only audience accepted.
        None if resource_audience => Vec::new(),
        Some(Value::Array(list)) if !list.is_empty() => list
            .iter()
            .map(|a| match a {
                Value::String(s) if !s.is_empty() => Ok(s.clone()),
                _ => Err(ConfigError::new(
                    field("audiences"),
                    "must contain only non-empty strings",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => {
            return Err(ConfigError::new(
                field("audiences"),
                "must be a non-empty array of strings",
            ))
        }
    };

    let algorithms = match obj.get("algorithms") {
        None => Alg::DEFAULT.to_vec(),
        Some(Value::Array(list)) if !list.is_empty() => {
            let mut algs = Vec::new();
            for a in list {
                let Value::String(name) = a else {
                    return Err(ConfigError::new(
                        field("algorithms"),
                        "must contain only strings",
                    ));
                };
                if name.eq_ignore_ascii_case("none") {
                    return Err(ConfigError::new(
                        field("algorithms"),
                        "\"none\" is never accepted",
                    ));
                }
                let alg = Alg::from_name(name).ok_or_else(|| {
                    ConfigError::new(
                        field("algorithms"),
                        format!("unsupported algorithm {name:?}"),
                    )
                })?;
                if let (false, Some(feature)) = (alg.compiled_in(), alg.feature()) {
                    return Err(ConfigError::new(
                        field("algorithms"),
                        format!(
                            "{name} needs a build with the {feature} feature, which this one \
                             lacks; build with `EDGEGUARD_FEATURES={feature} ./scripts/build.sh`"
                        ),
                    ));
                }
                if !algs.contains(&alg) {
                    algs.push(alg);
                }
            }
            algs
        }
        Some(_) => {
            return Err(ConfigError::new(
                field("algorithms"),
                "must be a non-empty array of strings",
            ))
        }
    };

    let hmac_algs: Vec<Alg> = algorithms
        .iter()
        .copied()
        .filter(|a| a.family() == KeyFamily::Hmac)
        .collect();
    let secret = match obj.get("secret") {
        None if hmac_algs.is_empty() => None,
        None => {
            return Err(ConfigError::new(
                field("secret"),
                "is required when an HS* algorithm is listed",
            ))
        }
        Some(_) if hmac_algs.is_empty() => {
            return Err(ConfigError::new(
                field("secret"),
                "is only allowed when an HS* algorithm is listed",
            ))
        }
        Some(Value::String(s)) => {
            let bytes = URL_SAFE_NO_PAD
                .decode(s.trim_end_matches('='))
                .map_err(|_| ConfigError::new(field("secret"), "must be base64url"))?;
            let needed = hmac_algs
                .iter()
                .map(|a| a.min_secret_len())
                .max()
                .unwrap_or(32);
            if bytes.len() < needed {
                return Err(ConfigError::new(
                    field("secret"),
                    format!("must decode to at least {needed} bytes for the listed HS algorithms"),
                ));
            }
            Some(bytes)
        }
        Some(_) => {
            return Err(ConfigError::new(
                field("secret"),
                "must be a base64url string",
            ))
        }
    };

    let jwks = match obj.get("jwks_uri") {
        Some(Value::String(s)) => {
            let url = Url::parse(s)
                .map_err(|_| ConfigError::new(field("jwks_uri"), "must be an absolute URL"))?;
            check_fetch_url(&url).map_err(|why| ConfigError::new(field("jwks_uri"), why))?;
            JwksSource::Uri(url)
        }
        Some(_) => return Err(ConfigError::new(field("jwks_uri"), "must be a string")),
        None if hmac_algs.len() == algorithms.len() => JwksSource::None,
        None => {
            // OIDC Discovery 1.0 §4: strip a trailing slash, append the well-known path.
            let base = Url::parse(&issuer).map_err(|_| {
                ConfigError::new(
                    field("jwks_uri"),
                    "is required unless issuer is a URL usable for OIDC discovery",
                )
            })?;
            check_fetch_url(&base).map_err(|why| {
                ConfigError::new(field("issuer"), format!("for OIDC discovery {why}"))
            })?;
            if base.query().is_some() || base.fragment().is_some() {
                return Err(ConfigError::new(
                    field("issuer"),
                    "for OIDC discovery must not carry a query or fragment",
                ));
            }
            let well_known = format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            );
            let url = Url::parse(&well_known).map_err(|_| {
                ConfigError::new(field("issuer"), "does not give a valid discovery URL")
            })?;
            JwksSource::Discovery(url)
        }
    };

    let require_typ = match obj.get("require_typ") {
        None => None,
        Some(Value::String(t)) if !t.is_empty() => Some(t.clone()),
        Some(_) => {
            return Err(ConfigError::new(
                field("require_typ"),
                "must be a non-empty string such as \"at+jwt\"",
            ))
        }
    };
    let max_token_age = match obj.get("max_token_age") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| (1..=MAX_TOKEN_AGE_SECS).contains(n))
                .ok_or_else(|| {
                    ConfigError::new(
                        field("max_token_age"),
                        format!(
                            "must be a whole number of seconds from 1 to {MAX_TOKEN_AGE_SECS} (one year)"
                        ),
                    )
                })?,
        ),
    };
    let required_claims = match obj.get("required_claims") {
        None => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|c| match c {
                Value::String(s) if !s.is_empty() => Ok(s.clone()),
                _ => Err(ConfigError::new(
                    field("required_claims"),
                    "must contain only claim names",
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(ConfigError::new(
                field("required_claims"),
                "must be an array of claim names",
            ))
        }
    };

    Ok(IssuerConfig {
        issuer,
        jwks,
        audiences,
        resource_audience,
        algorithms,
        secret,
        require_typ,
        max_token_age,
        required_claims,
    })
}

#[cfg(test)]
mod tests;
