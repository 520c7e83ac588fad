//! Route policy: which rule applies to a request (first match wins, then the default), and
//! whether an authenticated caller satisfies it. Pure.

use crate::error::ConfigError;
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
    Prefix(String),
    Glob(String),
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

/// Picks the first matching rule, else `default`.
pub fn select<'r>(routes: &'r [Rule], default: &'r Rule, method: &str, path: &str) -> &'r Rule {
    routes
        .iter()
        .find(|r| {
            let method_ok =
                r.methods.is_empty() || r.methods.iter().any(|m| m.eq_ignore_ascii_case(method));
            method_ok
                && match &r.path {
                    PathMatch::Any => true,
                    PathMatch::Prefix(p) => path.starts_with(p.as_str()),
                    PathMatch::Glob(g) => glob_match(g.as_bytes(), path.as_bytes()),
                }
        })
        .unwrap_or(default)
}

/// The rules that apply to a request. An origin may or may not decode percent-encoding
/// (`/public/..%2Fadmin` is `/admin` to some servers), so when the path carries any, the
/// rule for the path as sent *and* the rule for its decoded, dot-segment-resolved form
/// both apply: the strictest authentication of the two, and both rules' scopes, claims and
/// issuers. Whichever way the origin reads the path, its rule was enforced.
pub fn applicable<'r>(
    routes: &'r [Rule],
    default: &'r Rule,
    method: &str,
    path: &str,
) -> Vec<&'r Rule> {
    let raw = select(routes, default, method, path);
    if !path.contains('%') && !path.contains('\\') {
        return vec![raw];
    }
    let decoded = select(routes, default, method, &normalize_path(path));
    if std::ptr::eq(raw, decoded) {
        vec![raw]
    } else {
        vec![raw, decoded]
    }
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

/// Percent-decodes a path once, turns `\` into `/`, and resolves `.`/`..` segments
/// (RFC 3986 §5.2.4), as a decoding origin would see it.
pub fn normalize_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                decoded.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        decoded.push(if bytes[i] == b'\\' { b'/' } else { bytes[i] });
        i += 1;
    }
    let decoded = String::from_utf8_lossy(&decoded).replace('\\', "/");
    let mut out: Vec<&str> = Vec::new();
    for segment in decoded.split('/').skip(1) {
        match segment {
            "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut result = String::from("/");
    result.push_str(&out.join("/"));
    if (decoded.ends_with("/.") || decoded.ends_with("/..")) && !result.ends_with('/') {
        result.push('/');
    }
    result
}

/// `*` matches within a segment, `**` across segments, `?` one non-`/` byte.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.first() {
        None => text.is_empty(),
        Some(b'*') if pattern.get(1) == Some(&b'*') => {
            let rest = &pattern[2..];
            (0..=text.len()).any(|i| glob_match(rest, &text[i..]))
        }
        Some(b'*') => {
            let rest = &pattern[1..];
            let limit = text.iter().position(|b| *b == b'/').unwrap_or(text.len());
            (0..=limit).any(|i| glob_match(rest, &text[i..]))
        }
        Some(b'?') => {
            text.first().is_some_and(|c| *c != b'/') && glob_match(&pattern[1..], &text[1..])
        }
        Some(c) => text.first() == Some(c) && glob_match(&pattern[1..], &text[1..]),
    }
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

/// Parses `ROUTES` (a JSON array of rules) with errors naming `ROUTES[i].field`.
pub fn parse_routes(value: &Value) -> Result<Vec<Rule>, ConfigError> {
    let Value::Array(items) = value else {
        return Err(ConfigError::new("ROUTES", "must be a JSON array of rules"));
    };
    if items.len() > 500 {
        return Err(ConfigError::new("ROUTES", "lists more than 500 rules"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| parse_rule(item, &format!("ROUTES[{i}]"), true))
        .collect()
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
        (Some(p), None) => PathMatch::Prefix(p),
        (None, Some(g)) => PathMatch::Glob(g),
        (None, None) if with_path => return Err(ConfigError::new(at, "needs a prefix or a path")),
        (None, None) => PathMatch::Any,
    };
    for p in [&rule.path] {
        if let PathMatch::Prefix(s) | PathMatch::Glob(s) = p {
            if !s.starts_with('/') {
                return Err(ConfigError::new(at, "prefix/path must start with /"));
            }
        }
    }
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

    #[test]
    fn glob_semantics() {
        assert!(glob_match(b"/users/*/profile", b"/users/42/profile"));
        assert!(!glob_match(b"/users/*/profile", b"/users/4/2/profile"));
        assert!(glob_match(b"/static/**", b"/static/a/b/c.css"));
        assert!(glob_match(b"/v?/x", b"/v1/x"));
        assert!(!glob_match(b"/v?/x", b"/v//x"));
        assert!(glob_match(b"/a/**/z", b"/a/b/c/z"));
        assert!(!glob_match(b"/health", b"/healthz"));
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
        assert_eq!(
            select(&routes, &default, "GET", "/health").auth,
            AuthMode::Public
        );
        assert_eq!(
            select(&routes, &default, "POST", "/health").auth,
            AuthMode::Optional
        );
        assert_eq!(
            select(&routes, &default, "GET", "/api/x").scopes,
            vec!["read"]
        );
        assert_eq!(
            select(&routes[..1], &default, "GET", "/other").auth,
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
        let auth = |p: &str| strictest(&applicable(&routes, &default, "GET", p));
        assert_eq!(auth("/public/a"), AuthMode::Public);
        for p in [
            "/public/..%2Fadmin/x",
            "/public/%2e%2e/admin/x",
            "/public/..%5cadmin/x",
            "/public/..\\admin/x",
        ] {
            let rules = applicable(&routes, &default, "GET", p);
            assert_eq!(strictest(&rules), AuthMode::Required, "{p}");
            assert!(
                rules.iter().any(|r| r.scopes == vec!["admin"]),
                "{p}: the admin rule applies"
            );
        }
        // Encoded letters: `/%61dmin/` is `/admin/` to a decoding origin.
        assert!(applicable(&routes, &default, "GET", "/%61dmin/x")
            .iter()
            .any(|r| r.scopes == vec!["admin"]));
        // A public default cannot be reached around a rule by encoding.
        let secure = parse_routes(&json!([{"prefix": "/secure/"}])).unwrap();
        let public = parse_rule(&json!({"auth": "public"}), "D", false).unwrap();
        for p in ["/x/..%2Fsecure/y", "/secure%2Fy", "/%73ecure/x"] {
            assert_eq!(
                strictest(&applicable(&secure, &public, "GET", p)),
                AuthMode::Required,
                "{p}"
            );
        }
    }

    #[test]
    fn path_normalisation() {
        assert_eq!(normalize_path("/a/b"), "/a/b");
        assert_eq!(normalize_path("/a/../b"), "/b");
        assert_eq!(normalize_path("/a/%2e%2E/b"), "/b");
        assert_eq!(normalize_path("/a%2Fb"), "/a/b");
        assert_eq!(normalize_path("/a/..%5Cb"), "/b");
        assert_eq!(normalize_path("/../../x"), "/x");
        assert_eq!(normalize_path("/a/b/.."), "/a/");
        assert_eq!(normalize_path("/%zz"), "/%zz");
        assert_eq!(normalize_path("/%"), "/%");
        assert_eq!(normalize_path("/%4"), "/%4");
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
    fn bad_rules_name_the_field() {
        let err = |v: Value| parse_routes(&v).unwrap_err().field;
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
