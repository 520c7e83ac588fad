//! Route policy: which rule applies to a request (first match wins, then the default), and
//! whether an authenticated caller satisfies it. Pure.

mod glob;

use crate::error::ConfigError;
use crate::path::{fold_case, RequestPath};
use crate::token::Principal;
use serde_json::Value;

/// How a route treats authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// A valid token is needed (the default).
    Required,
    /// Anonymous requests pass without identity; a present token must still be valid.
    Optional,
    /// No token needed or checked.
    Public,
}

/// Where a rule matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    Any,
    Prefix(Pattern),
    Glob(Pattern),
}

/// A `prefix` or `path` as written, and in the letter case a case-insensitive origin uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    written: Vec<u8>,
    folded: Vec<u8>,
}

impl Pattern {
    fn new(text: &str) -> Self {
        Pattern {
            written: text.as_bytes().to_vec(),
            folded: fold_case(text.as_bytes()),
        }
    }

    fn get(&self, folded: bool) -> &[u8] {
        if folded {
            &self.folded
        } else {
            &self.written
        }
    }
}

impl PathMatch {
    fn matches(&self, text: &mut Reading<'_>) -> bool {
        match self {
            PathMatch::Any => true,
            PathMatch::Prefix(p) => text.bytes.starts_with(p.get(text.folded)),
            PathMatch::Glob(p) => glob::matches(p.get(text.folded), text),
        }
    }
}

/// One reading of the request path, in one letter case, with what glob matching has
/// computed about it so far (shared by every rule tested against it).
pub struct Reading<'t> {
    bytes: &'t [u8],
    folded: bool,
    glob: Option<glob::Text>,
}

/// One claim condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The claim equals one of these values.
    Equals {
        path: Vec<String>,
        values: Vec<Value>,
    },
    /// An array claim contains the value, or a string claim has it as a space-delimited word.
    Contains { path: Vec<String>, value: Value },
}

/// One route rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub path: PathMatch,
    /// Upper-case methods; empty means any.
    pub methods: Vec<String>,
    pub auth: AuthMode,
    pub scopes: Vec<String>,
    /// `true`: every scope is needed; `false`: any one.
    pub all_scopes: bool,
    pub claims: Vec<Condition>,
    pub issuers: Vec<String>,
}

impl Default for Rule {
    fn default() -> Self {
        Rule {
            path: PathMatch::Any,
            methods: Vec::new(),
            auth: AuthMode::Required,
            scopes: Vec::new(),
            all_scopes: true,
            claims: Vec::new(),
            issuers: Vec::new(),
        }
    }
}

/// Why an authenticated caller may not use a route (answered with 403).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forbidden {
    /// Short, fixed reason.
    pub reason: &'static str,
    /// Space-delimited scopes the route requires (for `scope="..."`), possibly empty.
    pub scope: String,
}

impl Rule {
    /// Does the rule's `methods` list include `method` (upper case)?
    fn covers(&self, method: &str) -> bool {
        self.methods.is_empty() || self.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
    }
}

/// The methods an origin may treat a request as: its own; GET for HEAD; and the value of
/// any method-override header (`X-HTTP-Method-Override` and its variants, honoured by many
/// frameworks), so `POST` + `X-HTTP-Method-Override: DELETE` meets the DELETE rule too.
pub fn method_readings(method: &str, overrides: &[&str]) -> Vec<String> {
    let mut out = vec![method.to_ascii_uppercase()];
    let mut add = |m: String| {
        if !out.contains(&m) {
            out.push(m);
        }
    };
    if method.eq_ignore_ascii_case("HEAD") {
        add("GET".to_owned());
    }
    // A repeated header arrives joined with `,`; frameworks take a part of it, so every part
    // counts.
    for value in overrides.iter().flat_map(|v| v.split(',')) {
        let value = value.trim();
        // A method is an HTTP token; anything else no framework would take as one.
        if !value.is_empty()
            && value.len() <= 32
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            add(value.to_ascii_uppercase());
            if value.eq_ignore_ascii_case("HEAD") {
                add("GET".to_owned());
            }
        }
    }
    out
}

/// Does any rule list methods? If none does, every method gets the same rules.
pub fn names_methods(routes: &[Rule], default: &Rule) -> bool {
    routes
        .iter()
        .chain(std::iter::once(default))
        .any(|r| !r.methods.is_empty())
}

/// The header names [`method_readings`] takes overrides from.
pub const METHOD_OVERRIDE_HEADERS: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// The rules that apply to a request: for every reading of its path (see
/// [`RequestPath`]), in its own letter case and case-folded, and for every method it may
/// be taken as, the first matching rule (else `default`). An origin reads the request one
/// of these ways, so all of them apply: the strictest authentication, and every rule's
/// scopes, claims and issuers.
pub fn applicable<'r>(
    routes: &'r [Rule],
    default: &'r Rule,
    methods: &[String],
    path: &RequestPath,
) -> Vec<&'r Rule> {
    // No rules: every reading and method gets the default, without folding a reading.
    if routes.is_empty() {
        return vec![default];
    }
    let mut out: Vec<&'r Rule> = Vec::with_capacity(2);
    for bytes in path.readings() {
        let folded = fold_case(bytes);
        for (bytes, folded) in [(bytes, false), (folded.as_slice(), true)] {
            let mut reading = Reading {
                bytes,
                folded,
                glob: None,
            };
            let mut chosen: Vec<Option<&'r Rule>> = vec![None; methods.len()];
            for rule in routes {
                if chosen.iter().all(Option::is_some) {
                    break;
                }
                let wanted = |i: usize| chosen[i].is_none() && rule.covers(&methods[i]);
                if (0..methods.len()).any(wanted) && rule.path.matches(&mut reading) {
                    for (i, slot) in chosen.iter_mut().enumerate() {
                        if slot.is_none() && rule.covers(&methods[i]) {
                            *slot = Some(rule);
                        }
                    }
                }
            }
            for rule in chosen {
                let rule = rule.unwrap_or(default);
                if !out.iter().any(|r| std::ptr::eq(*r, rule)) {
                    out.push(rule);
                }
            }
        }
    }
    out
}

/// The strictest authentication among `rules`.
pub fn strictest(rules: &[&Rule]) -> AuthMode {
    let rank = |a: AuthMode| match a {
        AuthMode::Public => 0,
        AuthMode::Optional => 1,
        AuthMode::Required => 2,
    };
    rules
        .iter()
        .map(|r| r.auth)
        .max_by_key(|a| rank(*a))
        .unwrap_or(AuthMode::Required)
}

/// Checks scopes, claims and issuers of `rule` for an authenticated `principal`.
pub fn authorize(rule: &Rule, principal: &Principal) -> Result<(), Forbidden> {
    let scope = rule.scopes.join(" ");
    let forbid = |reason| {
        Err(Forbidden {
            reason,
            scope: scope.clone(),
        })
    };
    if !rule.issuers.is_empty() && !rule.issuers.contains(&principal.issuer) {
        return forbid("issuer not accepted for this route");
    }
    if !rule.scopes.is_empty() {
        let granted = granted_scopes(principal);
        let has = |s: &String| granted.iter().any(|g| g == s);
        let ok = if rule.all_scopes {
            rule.scopes.iter().all(has)
        } else {
            rule.scopes.iter().any(has)
        };
        if !ok {
            return forbid("insufficient scope");
        }
    }
    for condition in &rule.claims {
        if !condition_holds(condition, principal) {
            return forbid("required claim not met");
        }
    }
    Ok(())
}

/// Scopes from `scope` (space-delimited, RFC 8693 §4.2) and `scp` (array or string).
fn granted_scopes(principal: &Principal) -> Vec<&str> {
    let mut out = Vec::new();
    for name in ["scope", "scp"] {
        match principal.claims.get(name) {
            Some(Value::String(s)) => out.extend(s.split(' ').filter(|x| !x.is_empty())),
            Some(Value::Array(list)) => out.extend(list.iter().filter_map(Value::as_str)),
            _ => {}
        }
    }
    out
}

/// Follows a dotted path into nested objects.
pub fn claim_at<'a>(
    claims: &'a serde_json::Map<String, Value>,
    path: &[String],
) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    rest.iter()
        .try_fold(claims.get(first)?, |v, key| v.as_object()?.get(key))
}

fn condition_holds(condition: &Condition, principal: &Principal) -> bool {
    match condition {
        Condition::Equals { path, values } => {
            claim_at(&principal.claims, path).is_some_and(|v| values.iter().any(|x| x == v))
        }
        Condition::Contains { path, value } => match claim_at(&principal.claims, path) {
            Some(Value::Array(items)) => items.contains(value),
            Some(Value::String(s)) => value.as_str().is_some_and(|w| s.split(' ').any(|x| x == w)),
            _ => false,
        },
    }
}

/// Longest `prefix` or `path`, in bytes.
pub const MAX_PATTERN_BYTES: usize = 512;
/// Most bytes of `path` globs in all of `ROUTES` together: glob matching costs path length
/// times this, divided by 64, per reading of a path (see `glob`).
pub const MAX_GLOB_BYTES: usize = 8192;

/// A `prefix` or `path`: starts with `/`, bounded, and written as the canonical paths it
/// is compared with are (see `path`): `/admin//` or `/%61dmin/` would never match.
fn parse_pattern(text: &str, at: &str, glob: bool) -> Result<Pattern, ConfigError> {
    let field = format!("{at}.{}", if glob { "path" } else { "prefix" });
    if !text.starts_with('/') {
        return Err(ConfigError::new(at, "prefix/path must start with /"));
    }
    if text.len() > MAX_PATTERN_BYTES {
        return Err(ConfigError::new(
            field,
            format!("is longer than {MAX_PATTERN_BYTES} bytes"),
        ));
    }
    let canonical = RequestPath::parse(text).map(|p| p.canonical().to_owned());
    if canonical.as_deref() != Ok(text) {
        let hint = canonical
            .map(|c| format!(" (write it as {c})"))
            .unwrap_or_default();
        return Err(ConfigError::new(
            field,
            format!("must be a canonical path: no empty or dot segments, no escapes of unreserved characters, upper-case hex{hint}"),
        ));
    }
    Ok(Pattern::new(text))
}

/// Parses `ROUTES` (a JSON array of rules) with errors naming `ROUTES[i].field`: each rule's
/// first error, every rule checked.
pub fn parse_routes(value: &Value) -> Result<Vec<Rule>, Vec<ConfigError>> {
    let Value::Array(items) = value else {
        return Err(vec![ConfigError::new(
            "ROUTES",
            "must be a JSON array of rules",
        )]);
    };
    if items.len() > 500 {
        return Err(vec![ConfigError::new(
            "ROUTES",
            "lists more than 500 rules",
        )]);
    }
    let (rules, errors): (Vec<_>, Vec<_>) = items
        .iter()
        .enumerate()
        .map(|(i, item)| parse_rule(item, &format!("ROUTES[{i}]"), true))
        .partition(Result::is_ok);
    if !errors.is_empty() {
        return Err(errors.into_iter().filter_map(Result::err).collect());
    }
    let rules: Vec<Rule> = rules.into_iter().filter_map(Result::ok).collect();
    let glob_bytes: usize = rules
        .iter()
        .map(|r| match &r.path {
            PathMatch::Glob(p) => p.written.len(),
            _ => 0,
        })
        .sum();
    if glob_bytes > MAX_GLOB_BYTES {
        return Err(vec![ConfigError::new(
            "ROUTES",
            format!("has {glob_bytes} bytes of path globs; at most {MAX_GLOB_BYTES} (use prefix rules where you can)"),
        )]);
    }
    Ok(rules)
}

/// Parses one rule; `with_path` is false for `DEFAULT_ROUTE`.
pub fn parse_rule(item: &Value, at: &str, with_path: bool) -> Result<Rule, ConfigError> {
    const FIELDS: [&str; 8] = [
        "prefix",
        "path",
        "methods",
        "auth",
        "scopes",
        "scopes_match",
        "claims",
        "issuers",
    ];
    let field = |name: &str| format!("{at}.{name}");
    let Value::Object(obj) = item else {
        return Err(ConfigError::new(at, "must be an object"));
    };
    if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ConfigError::new(field(unknown), "is not a known field"));
    }
    let mut rule = Rule::default();
    let string = |name: &str| -> Result<Option<String>, ConfigError> {
        match obj.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(_) => Err(ConfigError::new(field(name), "must be a non-empty string")),
        }
    };
    let strings = |name: &str| -> Result<Vec<String>, ConfigError> {
        match obj.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(list)) if !list.is_empty() => list
                .iter()
                .map(|v| match v {
                    Value::String(s) if !s.is_empty() => Ok(s.clone()),
                    _ => Err(ConfigError::new(
                        field(name),
                        "must contain only non-empty strings",
                    )),
                })
                .collect(),
            Some(_) => Err(ConfigError::new(
                field(name),
                "must be a non-empty array of strings",
            )),
        }
    };
    rule.path = match (string("prefix")?, string("path")?) {
        (Some(_), Some(_)) => return Err(ConfigError::new(at, "has both prefix and path")),
        (Some(_), None) | (None, Some(_)) if !with_path => {
            return Err(ConfigError::new(
                at,
                "DEFAULT_ROUTE takes no prefix or path",
            ))
        }
        (Some(p), None) => PathMatch::Prefix(parse_pattern(&p, at, false)?),
        (None, Some(g)) => PathMatch::Glob(parse_pattern(&g, at, true)?),
        (None, None) if with_path => return Err(ConfigError::new(at, "needs a prefix or a path")),
        (None, None) => PathMatch::Any,
    };
    rule.methods = strings("methods")?
        .into_iter()
        .map(|m| m.to_ascii_uppercase())
        .collect();
    rule.auth = match string("auth")?.as_deref() {
        None | Some("required") => AuthMode::Required,
        Some("optional") => AuthMode::Optional,
        Some("public") => AuthMode::Public,
        Some(_) => {
            return Err(ConfigError::new(
                field("auth"),
                "must be required, optional or public",
            ))
        }
    };
    rule.scopes = strings("scopes")?;
    // RFC 6749 §3.3 scope-token characters: no space, quote or backslash.
    if rule.scopes.iter().any(|s| {
        !s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
    }) {
        return Err(ConfigError::new(
            field("scopes"),
            "must be scope tokens (no spaces, quotes or backslashes)",
        ));
    }
    rule.all_scopes = match string("scopes_match")?.as_deref() {
        None | Some("all") => true,
        Some("any") => false,
        Some(_) => {
            return Err(ConfigError::new(
                field("scopes_match"),
                "must be all or any",
            ))
        }
    };
    rule.issuers = strings("issuers")?;
    rule.claims = match obj.get("claims") {
        None => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(j, c)| parse_condition(c, &format!("{at}.claims[{j}]")))
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(ConfigError::new(
                field("claims"),
                "must be an array of conditions",
            ))
        }
    };
    if rule.auth == AuthMode::Public
        && (!rule.scopes.is_empty() || !rule.claims.is_empty() || !rule.issuers.is_empty())
    {
        return Err(ConfigError::new(
            field("auth"),
            "public routes cannot require scopes, claims or issuers",
        ));
    }
    Ok(rule)
}

fn parse_condition(item: &Value, at: &str) -> Result<Condition, ConfigError> {
    let Value::Object(obj) = item else {
        return Err(ConfigError::new(at, "must be an object"));
    };
    if let Some(unknown) = obj
        .keys()
        .find(|k| !["claim", "equals", "contains"].contains(&k.as_str()))
    {
        return Err(ConfigError::new(
            format!("{at}.{unknown}"),
            "is not a known field",
        ));
    }
    let path = match obj.get("claim") {
        Some(Value::String(s)) if !s.is_empty() && s.split('.').all(|p| !p.is_empty()) => {
            s.split('.').map(str::to_owned).collect()
        }
        _ => {
            return Err(ConfigError::new(
                format!("{at}.claim"),
                "must be a dotted claim path",
            ))
        }
    };
    let scalar = |v: &Value| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
    match (obj.get("equals"), obj.get("contains")) {
        (Some(Value::Array(values)), None) if !values.is_empty() && values.iter().all(scalar) => {
            Ok(Condition::Equals { path, values: values.clone() })
        }
        (Some(v), None) if scalar(v) => Ok(Condition::Equals { path, values: vec![v.clone()] }),
        (None, Some(v)) if scalar(v) => Ok(Condition::Contains { path, value: v.clone() }),
        _ => Err(ConfigError::new(
            at,
            "needs exactly one of equals (a value or non-empty array of values) or contains (a value)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn principal(claims: Value) -> Principal {
        Principal {
            subject: None,
            issuer: "https://i/".into(),
            claims_b64: String::new(),
            claims: claims.as_object().unwrap().clone(),
            expires_at: 0.0,
        }
    }

    /// The rules for `method` on `path`, as a request would get them.
    fn rules_for<'r>(
        routes: &'r [Rule],
        default: &'r Rule,
        method: &str,
        path: &str,
    ) -> Vec<&'r Rule> {
        let path = RequestPath::parse(path).unwrap();
        applicable(routes, default, &method_readings(method, &[]), &path)
    }

    fn glob(pattern: &str, text: &str) -> bool {
        let mut reading = Reading {
            bytes: text.as_bytes(),
            folded: false,
            glob: None,
        };
        glob::matches(pattern.as_bytes(), &mut reading)
    }

    #[test]
    fn glob_semantics() {
        assert!(glob("/users/*/profile", "/users/42/profile"));
        assert!(!glob("/users/*/profile", "/users/4/2/profile"));
        assert!(glob("/users/*/profile", "/users//profile"));
        assert!(glob("/static/**", "/static/a/b/c.css"));
        assert!(glob("/static/**", "/static/"));
        assert!(!glob("/static/**", "/static"));
        assert!(glob("/v?/x", "/v1/x"));
        assert!(!glob("/v?/x", "/v//x"));
        assert!(!glob("/v?/x", "/v/x"));
        assert!(glob("/a/**/z", "/a/b/c/z"));
        assert!(glob("/a/**/z", "/a//z"));
        assert!(!glob("/a/**/z", "/a/z"));
        assert!(!glob("/health", "/healthz"));
        assert!(glob("/health", "/health"));
        assert!(glob("/files/*.txt", "/files/a.b.txt"));
        assert!(!glob("/files/*.txt", "/files/a/b.txt"));
        assert!(glob("/*/*/*", "/a/b/c"));
        assert!(!glob("/*/*/*", "/a/b/c/d"));
        assert!(glob("/**x", "/a/b/x"));
        assert!(glob("/a*b*c", "/abbbc"));
        assert!(!glob("/a*b*c", "/abbb"));
    }

    /// A backtracking reference matcher, exponential but obviously right, for the
    /// randomised comparison below.
    fn reference(p: &[u8], t: &[u8]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some(b'*') if p.get(1) == Some(&b'*') => {
                (0..=t.len()).any(|i| reference(&p[2..], &t[i..]))
            }
            Some(b'*') => {
                let limit = t.iter().position(|b| *b == b'/').unwrap_or(t.len());
                (0..=limit).any(|i| reference(&p[1..], &t[i..]))
            }
            Some(b'?') => t.first().is_some_and(|c| *c != b'/') && reference(&p[1..], &t[1..]),
            Some(c) => t.first() == Some(c) && reference(&p[1..], &t[1..]),
        }
    }

    #[test]
    fn glob_agrees_with_a_backtracking_matcher() {
        // Small alphabets make matches likely; texts cross the 64-position word edges.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..3000 {
            let pattern: String = (0..1 + next(8))
                .map(|_| ["a", "/", "*", "**", "?", "b"][next(6) as usize])
                .collect();
            let text: String = (0..next(140))
                .map(|_| ["a", "/", "b"][next(3) as usize])
                .collect();
            let (pattern, text) = (format!("/{pattern}"), format!("/{text}"));
            assert_eq!(
                glob(&pattern, &text),
                reference(pattern.as_bytes(), text.as_bytes()),
                "{pattern} on {text}"
            );
        }
    }

    #[test]
    fn glob_matching_is_linear_on_the_pathological_case() {
        // Issue 11: a backtracking matcher takes more than 20 s on this 4 KB path.
        let text = format!("/a/{}y", "b/".repeat(2000));
        let start = std::time::Instant::now();
        assert!(!glob("/a/**/b/**/b/**/c", &text));
        let routes =
            parse_routes(&json!([{"path": "/a/**/b/**/b/**/c", "auth": "public"}])).unwrap();
        let default = Rule::default();
        let rules = rules_for(&routes, &default, "GET", &text);
        assert_eq!(strictest(&rules), AuthMode::Required);
        // Printed, not asserted: the closing note quotes it (`cargo test glob_matching -- --nocapture`).
        eprintln!(
            "pathological glob, 4 KB path, both letter cases: {:?}",
            start.elapsed()
        );
    }

    #[test]
    fn first_match_wins_then_default() {
        let routes = parse_routes(&json!([
            {"path": "/health", "methods": ["get"], "auth": "public"},
            {"prefix": "/api/", "scopes": ["read"]},
            {"prefix": "/", "auth": "optional"}
        ]))
        .unwrap();
        let default = Rule::default();
        let only = |method: &str, path: &str| {
            let rules = rules_for(&routes, &default, method, path);
            assert_eq!(rules.len(), 1, "{method} {path}: {rules:?}");
            rules[0].clone()
        };
        assert_eq!(only("GET", "/health").auth, AuthMode::Public);
        assert_eq!(only("POST", "/health").auth, AuthMode::Optional);
        assert_eq!(only("GET", "/api/x").scopes, vec!["read"]);
        assert_eq!(
            rules_for(&routes[..1], &default, "GET", "/other")[0].auth,
            AuthMode::Required
        );
    }

    #[test]
    fn encoded_paths_get_the_rules_of_both_readings() {
        let routes = parse_routes(&json!([
            {"prefix": "/public/", "auth": "public"},
            {"prefix": "/admin/", "scopes": ["admin"]}
        ]))
        .unwrap();
        let default = Rule::default();
        let auth = |p: &str| strictest(&rules_for(&routes, &default, "GET", p));
        assert_eq!(auth("/public/a"), AuthMode::Public);
        for p in [
            "/public/..%2Fadmin/x",
            "/public/%2e%2e/admin/x",
            "/public/..%5cadmin/x",
            "/public/..\\admin/x",
            "/public/..%252Fadmin/x",
            "/public/..;/admin/x",
            "/public/%2E%2E%3B/admin/x",
        ] {
            let rules = rules_for(&routes, &default, "GET", p);
            assert_eq!(strictest(&rules), AuthMode::Required, "{p}");
            assert!(
                rules.iter().any(|r| r.scopes == vec!["admin"]),
                "{p}: the admin rule applies"
            );
        }
        // Encoded letters: `/%61dmin/` is `/admin/` to a decoding origin.
        assert!(rules_for(&routes, &default, "GET", "/%61dmin/x")
            .iter()
            .any(|r| r.scopes == vec!["admin"]));
        // A public default cannot be reached around a rule by encoding.
        let secure = parse_routes(&json!([{"prefix": "/secure/"}])).unwrap();
        let public = parse_rule(&json!({"auth": "public"}), "D", false).unwrap();
        for p in ["/x/..%2Fsecure/y", "/secure%2Fy", "/%73ecure/x"] {
            assert_eq!(
                strictest(&rules_for(&secure, &public, "GET", p)),
                AuthMode::Required,
                "{p}"
            );
        }
    }

    #[test]
    fn path_shapes_origins_normalise_get_the_admin_rule() {
        // Issue 11: each of these reached the origin without the admin scope.
        let routes = parse_routes(&json!([{"prefix": "/admin/", "scopes": ["admin"]}])).unwrap();
        let public = parse_rule(&json!({"auth": "public"}), "D", false).unwrap();
        for p in [
            "//admin/users",
            "/.//admin/users",
            "///admin//users",
            "/ADMIN/users",
            "/Admin/users",
            "/admin;x=1/users",
            "/%41dmin/users",
            "/adm%C4%B1n/users",
            "/admin%3Bx/users",
        ] {
            for default in [&Rule::default(), &public] {
                let rules = rules_for(&routes, default, "GET", p);
                assert_eq!(strictest(&rules), AuthMode::Required, "{p}");
                assert!(
                    rules.iter().any(|r| r.scopes == vec!["admin"]),
                    "{p}: {rules:?}"
                );
            }
        }
        // A rule written in capitals applies to the lower-case path as well.
        let upper = parse_routes(&json!([{"path": "/Admin/**", "scopes": ["admin"]}])).unwrap();
        assert!(rules_for(&upper, &public, "GET", "/admin/x")
            .iter()
            .any(|r| r.scopes == vec!["admin"]));
        // A path that only looks similar is not the admin path.
        assert_eq!(
            strictest(&rules_for(&routes, &public, "GET", "/administrator/x")),
            AuthMode::Public
        );
    }

    #[test]
    fn head_and_method_overrides_meet_the_rules_of_the_method_they_stand_for() {
        let routes = parse_routes(&json!([
            {"prefix": "/r/", "methods": ["GET"], "scopes": ["read"]},
            {"prefix": "/r/", "methods": ["DELETE"], "scopes": ["delete"]},
            {"prefix": "/", "auth": "public"}
        ]))
        .unwrap();
        let default = Rule::default();
        let path = RequestPath::parse("/r/x").unwrap();
        let scopes = |methods: Vec<String>| -> Vec<Vec<String>> {
            applicable(&routes, &default, &methods, &path)
                .iter()
                .map(|r| r.scopes.clone())
                .filter(|s| !s.is_empty())
                .collect()
        };
        assert_eq!(
            scopes(method_readings("HEAD", &[])),
            vec![vec!["read".to_string()]]
        );
        assert_eq!(
            scopes(method_readings("POST", &[])),
            Vec::<Vec<String>>::new()
        );
        assert_eq!(
            scopes(method_readings("POST", &[" delete "])),
            vec![vec!["delete".to_string()]]
        );
        assert!(names_methods(&routes, &default));
        assert!(!names_methods(&routes[2..], &default));
        // A value no framework takes for a method adds nothing.
        assert_eq!(method_readings("POST", &["DE LETE", ""]), vec!["POST"]);
        // A repeated header, joined: every part counts.
        assert_eq!(
            method_readings("POST", &["get, Delete"]),
            vec!["POST", "GET", "DELETE"]
        );
        assert_eq!(method_readings("head", &[]), vec!["HEAD", "GET"]);
    }

    #[test]
    fn patterns_are_bounded_and_canonical() {
        let err = |v: Value| parse_routes(&v).unwrap_err().swap_remove(0);
        for (pattern, field) in [
            ("/admin//", "ROUTES[0].prefix"),
            ("/a/../b", "ROUTES[0].prefix"),
            ("/%61dmin/", "ROUTES[0].prefix"),
            ("/a%2fb", "ROUTES[0].prefix"),
        ] {
            assert_eq!(err(json!([{"prefix": pattern}])).field, field, "{pattern}");
        }
        assert!(err(json!([{"prefix": "/%61dmin/"}]))
            .message
            .contains("/admin/"));
        assert_eq!(err(json!([{"path": "/a//*"}])).field, "ROUTES[0].path");
        let long = format!("/{}", "a".repeat(MAX_PATTERN_BYTES));
        assert_eq!(err(json!([{"path": long}])).field, "ROUTES[0].path");
        let many: Vec<Value> = (0..40)
            .map(|i| json!({"path": format!("/{i}/{}/**", "x".repeat(250))}))
            .collect();
        assert_eq!(err(Value::Array(many)).field, "ROUTES");
        assert!(parse_routes(&json!([{"prefix": "/a%2Fb"}, {"path": "/files/*.txt"}])).is_ok());
    }

    #[test]
    fn scopes_all_and_any() {
        let all = parse_rule(&json!({"prefix": "/", "scopes": ["a", "b"]}), "R", true).unwrap();
        let any = parse_rule(
            &json!({"prefix": "/", "scopes": ["a", "b"], "scopes_match": "any"}),
            "R",
            true,
        )
        .unwrap();
        let only_a = principal(json!({"scope": "a c"}));
        let both = principal(json!({"scp": ["a", "b"]}));
        assert!(authorize(&all, &only_a).is_err());
        assert_eq!(authorize(&all, &only_a).unwrap_err().scope, "a b");
        assert!(authorize(&all, &both).is_ok());
        assert!(authorize(&any, &only_a).is_ok());
        assert!(authorize(&any, &principal(json!({"scope": "ab"}))).is_err());
    }

    #[test]
    fn claim_conditions_with_dotted_paths() {
        let rule = parse_rule(
            &json!({"prefix": "/", "claims": [
                {"claim": "org.tier", "equals": ["gold", "platinum"]},
                {"claim": "groups", "contains": "admin"},
                {"claim": "email_verified", "equals": true},
                {"claim": "level", "equals": [3, 4]}
            ]}),
            "R",
            true,
        )
        .unwrap();
        let ok = principal(
            json!({"org": {"tier": "gold"}, "groups": ["x", "admin"], "email_verified": true, "level": 3}),
        );
        assert!(authorize(&rule, &ok).is_ok());
        let words = principal(
            json!({"org": {"tier": "gold"}, "groups": "x admin", "email_verified": true, "level": 4}),
        );
        assert!(authorize(&rule, &words).is_ok());
        for bad in [
            json!({"org": {"tier": "silver"}, "groups": ["admin"], "email_verified": true, "level": 3}),
            json!({"org": "gold", "groups": ["admin"], "email_verified": true, "level": 3}),
            json!({"org": {"tier": "gold"}, "groups": ["administrator"], "email_verified": true, "level": 3}),
            json!({"org": {"tier": "gold"}, "groups": ["admin"], "email_verified": "true", "level": 3}),
            json!({"org": {"tier": "gold"}, "groups": ["admin"], "email_verified": true, "level": "3"}),
        ] {
            assert!(authorize(&rule, &principal(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn issuer_restriction() {
        let rule = parse_rule(
            &json!({"prefix": "/", "issuers": ["https://other/"]}),
            "R",
            true,
        )
        .unwrap();
        assert_eq!(
            authorize(&rule, &principal(json!({}))).unwrap_err().reason,
            "issuer not accepted for this route"
        );
    }

    #[test]
    fn every_bad_rule_is_reported() {
        let errors = parse_routes(&json!([
            {"prefix": "/a", "auth": "maybe"},
            {"prefix": "/ok/"},
            {"prefix": "/b", "scope": ["x"]}
        ]))
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["ROUTES[0].auth", "ROUTES[2].scope"]);
    }

    #[test]
    fn bad_rules_name_the_field() {
        let err = |v: Value| parse_routes(&v).unwrap_err().swap_remove(0).field;
        assert_eq!(err(json!({})), "ROUTES");
        assert_eq!(err(json!([{"prefix": "/a", "path": "/b"}])), "ROUTES[0]");
        assert_eq!(err(json!([{"methods": ["GET"]}])), "ROUTES[0]");
        assert_eq!(
            err(json!([{"prefix": "/", "auth": "maybe"}])),
            "ROUTES[0].auth"
        );
        assert_eq!(
            err(json!([{"prefix": "/", "scope": ["a"]}])),
            "ROUTES[0].scope"
        );
        assert_eq!(
            err(json!([{"prefix": "/", "scopes": [1]}])),
            "ROUTES[0].scopes"
        );
        assert_eq!(
            err(json!([{"prefix": "/", "claims": [{"claim": "a"}]}])),
            "ROUTES[0].claims[0]"
        );
        assert_eq!(
            err(json!([{"prefix": "/", "auth": "public", "scopes": ["a"]}])),
            "ROUTES[0].auth"
        );
        assert_eq!(err(json!([{"prefix": "api"}])), "ROUTES[0]");
    }
}
