//! `ROUTES` and `DEFAULT_ROUTE` as the operator wrote them: the rule types and their parser,
//! which refuses what could not be matched one safe way (a pattern that is not a canonical
//! path, oversized globs). Matching a request against them is `policy::routes`.

use crate::error::ConfigError;
use crate::path::{fold_case, RequestPath};
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
    pub(crate) fn new(text: &str) -> Self {
        Pattern {
            written: text.as_bytes().to_vec(),
            folded: fold_case(text.as_bytes()),
        }
    }

    pub(crate) fn get(&self, folded: bool) -> &[u8] {
        if folded {
            &self.folded
        } else {
            &self.written
        }
    }
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
