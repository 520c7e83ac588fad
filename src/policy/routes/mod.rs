//! Route policy: which rule applies to a request (first match wins, then the default), and
//! whether an authenticated caller satisfies it. Pure.

mod glob;

use crate::config::routes::{AuthMode, Condition, PathMatch, Rule};
use crate::error::Forbidden;
use crate::path::{fold_case, RequestPath};
use crate::token::Principal;
use glob::Reading;
use serde_json::Value;

/// Does `path` match this reading of the request path?
fn path_matches(path: &PathMatch, text: &mut Reading<'_>) -> bool {
    match path {
        PathMatch::Any => true,
        PathMatch::Prefix(p) => text.bytes.starts_with(p.get(text.folded)),
        PathMatch::Glob(p) => glob::matches(p.get(text.folded), text),
    }
}

/// Does the rule's `methods` list include `method` (upper case)?
fn covers(rule: &Rule, method: &str) -> bool {
    rule.methods.is_empty() || rule.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
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
                let wanted = |i: usize| chosen[i].is_none() && covers(rule, &methods[i]);
                if (0..methods.len()).any(wanted) && path_matches(&rule.path, &mut reading) {
                    for (i, slot) in chosen.iter_mut().enumerate() {
                        if slot.is_none() && covers(rule, &methods[i]) {
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

#[cfg(test)]
mod tests;
