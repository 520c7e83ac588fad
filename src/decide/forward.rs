//! What to send to the origin: the target URL and the header edits. Pure; the glue applies
//! the plan to a streamed `Request` without buffering the body.

use crate::config::Config;
use crate::decide::request::RequestUrl;
use crate::policy::routes::claim_at;
use crate::token::extract::remove_query_param;
use crate::token::Principal;
use serde_json::Value;
use std::rc::Rc;
use url::Url;

/// The URL the request goes to: `ORIGIN` + canonical path + query, or (route mode) its
/// own origin with the canonical path and query. `drop_param` removes a query-string token
/// before it can reach the origin. The fragment never goes out.
pub fn target_url(
    request: &RequestUrl<'_>,
    canonical_path: &str,
    origin: Option<&Url>,
    drop_param: Option<&str>,
) -> String {
    let query = match (request.query, drop_param) {
        (Some(q), Some(name)) => Some(remove_query_param(q, name)).filter(|q| !q.is_empty()),
        (q, _) => q.map(str::to_owned),
    };
    let mut out = match origin {
        None => request.origin.to_owned(),
        Some(base) => base.as_str().trim_end_matches('/').to_owned(),
    };
    out.push_str(canonical_path);
    if let Some(q) = query {
        out.push('?');
        out.push_str(&q);
    }
    out
}

/// Header edits for the forwarded request, applied in order: remove, then set, with their
/// lines in [`crate::decide::wire`]'s forward format, encoded once when the plan is made (a
/// cache hit reuses the plan through [`Plans`]).
#[derive(Debug, PartialEq, Eq)]
pub struct HeaderPlan {
    remove: Vec<String>,
    set: Vec<(String, String)>,
    /// `remove.len()`, the removals, then name and value of each set, a line each; `None`
    /// when a field holds a line break (the verdict then forwards nothing).
    lines: Option<String>,
}

impl HeaderPlan {
    pub fn new(remove: Vec<String>, set: Vec<(String, String)>) -> Self {
        let lines = encode_lines(&remove, &set);
        HeaderPlan { remove, set, lines }
    }

    /// Headers to delete from the client's request.
    pub fn remove(&self) -> &[String] {
        &self.remove
    }

    /// Headers to set, each replacing every value the client sent.
    pub fn set(&self) -> &[(String, String)] {
        &self.set
    }

    /// The plan as wire lines (`None`: a field holds a line break).
    pub fn lines(&self) -> Option<&str> {
        self.lines.as_deref()
    }
}

fn encode_lines(remove: &[String], set: &[(String, String)]) -> Option<String> {
    let mut out = String::with_capacity(256);
    push_line(&mut out, &remove.len().to_string())?;
    for name in remove {
        push_line(&mut out, name)?;
    }
    for (name, value) in set {
        push_line(&mut out, name)?;
        push_line(&mut out, value)?;
    }
    Some(out)
}

/// Appends `field` and `\n`; `None` when `field` holds a line break, which would shift every
/// field after it on the wire. The one line rule of [`crate::decide::wire`].
pub fn push_line(out: &mut String, field: &str) -> Option<()> {
    // memchr on bytes, not a `char`-set pattern: fields are up to a few KB.
    if field.as_bytes().contains(&b'\n') || field.as_bytes().contains(&b'\r') {
        return None;
    }
    out.push_str(field);
    out.push('\n');
    Some(())
}

/// Headers that must never arrive from the client: the identity headers (so a client can
/// never claim an identity) and, when configured, the credentials (`Authorization` and the
/// `TOKEN_HEADER`).
pub fn headers_to_remove(config: &Config) -> Vec<String> {
    let h = &config.headers;
    let mut remove = vec![h.subject.clone(), h.issuer.clone(), h.claims.clone()];
    remove.extend(config.claim_headers.iter().map(|(name, _)| name.clone()));
    if config.strip_authorization {
        remove.push("authorization".to_owned());
        remove.extend(config.token_header.iter().map(|t| t.name.clone()));
    }
    remove
}

/// The full plan for an authenticated request.
pub fn plan(principal: &Principal, config: &Config) -> HeaderPlan {
    let h = &config.headers;
    let mut set = Vec::with_capacity(3);
    if let Some(sub) = &principal.subject {
        set.push((h.subject.clone(), header_safe(sub)));
    }
    set.push((h.issuer.clone(), header_safe(&principal.issuer)));
    // Already canonical base64url: always header-safe.
    set.push((h.claims.clone(), principal.claims_b64.clone()));
    for (name, path) in &config.claim_headers {
        if let Some(value) = claim_at(&principal.claims, path).and_then(claim_header_value) {
            set.push((name.clone(), value));
        }
    }
    // A set replaces every value of its header: removing it first would be one more call
    // per request in the JS entry for nothing.
    let mut remove = headers_to_remove(config);
    remove.retain(|name| !set.iter().any(|(s, _)| s.eq_ignore_ascii_case(name)));
    HeaderPlan::new(remove, set)
}

/// The plans of recently forwarded principals, found by identity: the token cache hands out
/// the same `Rc<Principal>` for a token on every hit, so its plan (and its wire lines) is
/// built once, not per request (profiled: building and encoding it was a quarter of a
/// cached decision in V8). Direct-mapped; a slot holds its `Rc`, so the address it is found
/// by cannot be reused by another principal while it is there. One configuration only (it
/// lives in the caches made for it).
#[derive(Debug)]
pub struct Plans {
    slots: Vec<Option<(Rc<Principal>, Rc<HeaderPlan>)>>,
    anonymous: Option<Rc<HeaderPlan>>,
}

impl Plans {
    /// Slots (a power of two).
    pub const SLOTS: usize = 64;

    /// No slots when `enabled` is false (no token cache: every principal is new).
    pub fn new(enabled: bool) -> Self {
        Plans {
            slots: if enabled {
                vec![None; Self::SLOTS]
            } else {
                Vec::new()
            },
            anonymous: None,
        }
    }

    /// The plan for `principal` under `config`.
    pub fn for_principal(&mut self, principal: &Rc<Principal>, config: &Config) -> Rc<HeaderPlan> {
        if self.slots.is_empty() {
            return Rc::new(plan(principal, config));
        }
        // Fibonacci hashing of the address (allocations are 8-aligned: drop those bits).
        let i =
            ((Rc::as_ptr(principal) as usize >> 3).wrapping_mul(0x9e37_79b9) >> 8) % Self::SLOTS;
        if let Some((p, plan)) = &self.slots[i] {
            if Rc::ptr_eq(p, principal) {
                return plan.clone();
            }
        }
        let made = Rc::new(plan(principal, config));
        self.slots[i] = Some((principal.clone(), made.clone()));
        made
    }

    /// The plan for an anonymous request (public and optional routes, preflights).
    pub fn anonymous(&mut self, config: &Config) -> Rc<HeaderPlan> {
        self.anonymous
            .get_or_insert_with(|| Rc::new(HeaderPlan::new(headers_to_remove(config), Vec::new())))
            .clone()
    }
}

/// A claim as a header value: an array is its elements joined with `,`, each element's own
/// `,` percent-encoded, so `["a,b"]` and `["a", "b"]` differ; anything else is one value.
/// Strings are as they are, other JSON values JSON text (a top-level object stays JSON);
/// everything goes through [`header_safe`].
fn claim_header_value(value: &Value) -> Option<String> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match value {
        Value::Null => None,
        Value::Array(items) => Some(
            items
                .iter()
                .map(|item| encode(&text(item), true))
                .collect::<Vec<_>>()
                .join(","),
        ),
        other => Some(header_safe(&text(other))),
    }
}

/// Makes a value safe and exact in an HTTP header: printable ASCII passes through; `%`,
/// leading and trailing spaces, and everything outside printable ASCII (CR, LF, HTAB, other
/// controls, non-ASCII) are percent-encoded as UTF-8. So no value can split a header or be
/// rejected by the runtime, and the spaces Fetch strips from a header's ends survive. The
/// exact claims are always available, signed, in the claims header.
pub fn header_safe(value: &str) -> String {
    encode(value, false)
}

/// [`header_safe`], also encoding `,` when `comma` (an array element).
fn encode(value: &str, comma: bool) -> String {
    let start = value.len() - value.trim_start_matches(' ').len();
    let end = value.trim_end_matches(' ').len().max(start);
    let plain = |i: usize, b: u8| {
        (0x20..0x7f).contains(&b)
            && b != b'%'
            && !(comma && b == b',')
            && (b != b' ' || (start..end).contains(&i))
    };
    // Most values (subjects, issuers) need no escape at all: copy them whole.
    if value.bytes().enumerate().all(|(i, b)| plain(i, b)) {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len());
    for (i, b) in value.bytes().enumerate() {
        if plain(i, b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Principal;
    use serde_json::json;

    #[test]
    fn origin_gets_path_and_query_appended() {
        let req = RequestUrl::parse("https://api.example.com/v1/items?x=1&y=%20").unwrap();
        let origin = Url::parse("https://backend.internal/base/").unwrap();
        assert_eq!(
            target_url(&req, req.path, Some(&origin), None),
            "https://backend.internal/base/v1/items?x=1&y=%20"
        );
        let bare = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            target_url(&req, req.path, Some(&bare), None),
            "http://127.0.0.1:8080/v1/items?x=1&y=%20"
        );
    }

    #[test]
    fn the_canonical_path_is_what_goes_out() {
        let req = RequestUrl::parse("https://api.example.com//admin/./users?x=1#frag").unwrap();
        let origin = Url::parse("https://backend.internal/api").unwrap();
        assert_eq!(
            target_url(&req, "/admin/users", Some(&origin), None),
            "https://backend.internal/api/admin/users?x=1"
        );
        assert_eq!(
            target_url(&req, "/admin/users", None, None),
            "https://api.example.com/admin/users?x=1"
        );
    }

    #[test]
    fn route_mode_keeps_the_request_url() {
        let req = RequestUrl::parse("https://api.example.com/v1?q").unwrap();
        assert_eq!(
            target_url(&req, req.path, None, None),
            "https://api.example.com/v1?q"
        );
        let with_token = RequestUrl::parse("https://api.example.com/v1?t=a.b.c").unwrap();
        assert_eq!(
            target_url(&with_token, with_token.path, None, Some("t")),
            "https://api.example.com/v1"
        );
    }

    #[test]
    fn claim_headers_follow_the_mapping() {
        let vars: std::collections::HashMap<String, String> = [(
            "CLAIM_HEADERS".to_string(),
            r#"{"X-Org": "org.id", "X-Groups": "groups", "X-Level": "level", "X-Note": "note", "X-Missing": "nope"}"#
                .to_string(),
        )]
        .into();
        let issuers = r#"[{"issuer":"https://i/","jwks_uri":"https://i/j","audiences":["a"]}]"#;
        let config = Config::parse(Some(issuers), &vars).unwrap();
        let claims = serde_json::json!({"org": {"id": "acme"}, "groups": ["a", "b"], "level": 3, "note": "x\r\ny"});
        let principal = Principal {
            subject: None,
            issuer: "https://i/".into(),
            claims_b64: "e30".into(),
            claims: claims.as_object().unwrap().clone(),
            expires_at: 0.0,
            alg: crate::alg::Alg::Rs256,
            resource_audience: false,
        };
        let p = plan(&principal, &config);
        let get = |n: &str| {
            p.set()
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("X-Org"), Some("acme"));
        assert_eq!(get("X-Groups"), Some("a,b"));
        assert_eq!(get("X-Level"), Some("3"));
        assert_eq!(get("X-Note"), Some("x%0D%0Ay"));
        assert_eq!(get("X-Missing"), None);
        assert!(get("X-Auth-Subject").is_none(), "no sub, no subject header");
        assert!(
            p.remove().iter().any(|n| n == "X-Missing"),
            "client copies are removed even when unset"
        );
    }

    fn config() -> Config {
        let issuers = r#"[{"issuer":"https://i/","jwks_uri":"https://i/j","audiences":["a"]}]"#;
        Config::parse(Some(issuers), &Default::default()).unwrap()
    }

    fn someone(sub: &str) -> Rc<Principal> {
        Rc::new(Principal {
            subject: Some(sub.into()),
            issuer: "https://i/".into(),
            claims_b64: "e30".into(),
            claims: Default::default(),
            expires_at: 0.0,
            alg: crate::alg::Alg::Rs256,
            resource_audience: false,
        })
    }

    fn subject_of(plan: &HeaderPlan, config: &Config) -> Option<String> {
        let name = &config.headers.subject;
        plan.set()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    #[test]
    fn a_plan_carries_its_wire_lines() {
        let p = HeaderPlan::new(
            vec!["x-a".into(), "authorization".into()],
            vec![("x-b".into(), "1".into())],
        );
        assert_eq!(p.lines(), Some("2\nx-a\nauthorization\nx-b\n1\n"));
        assert_eq!(HeaderPlan::new(vec![], vec![]).lines(), Some("0\n"));
        for bad in ["1\nx", "1\rx"] {
            let p = HeaderPlan::new(vec![], vec![("x-b".into(), bad.into())]);
            assert_eq!(p.lines(), None, "{bad:?}");
            let p = HeaderPlan::new(vec![bad.into()], vec![]);
            assert_eq!(p.lines(), None, "{bad:?}");
        }
    }

    #[test]
    fn plans_are_found_by_the_principal_itself_never_by_another() {
        let config = config();
        let mut plans = Plans::new(true);
        let alice = someone("alice");
        let first = plans.for_principal(&alice, &config);
        assert!(
            Rc::ptr_eq(&first, &plans.for_principal(&alice, &config)),
            "reused"
        );
        assert_eq!(*first, plan(&alice, &config));
        // An equal principal at another address gets a plan of its own (equal in content).
        let twin = Rc::new((*alice).clone());
        let theirs = plans.for_principal(&twin, &config);
        assert_eq!(*theirs, *first);
        // More principals than slots, alive together (so some share a slot): each plan names
        // its own subject, asked in one order and then the other.
        let many: Vec<_> = (0..4 * Plans::SLOTS)
            .map(|i| someone(&format!("u{i}")))
            .collect();
        let up: Vec<usize> = (0..many.len()).collect();
        for order in [up.clone(), up.into_iter().rev().collect()] {
            for i in order {
                let got = plans.for_principal(&many[i], &config);
                assert_eq!(subject_of(&got, &config), Some(format!("u{i}")));
            }
        }
        // Off (no token cache): built every time, still right.
        let mut off = Plans::new(false);
        let a = off.for_principal(&alice, &config);
        assert!(!Rc::ptr_eq(&a, &off.for_principal(&alice, &config)));
        assert_eq!(subject_of(&a, &config).as_deref(), Some("alice"));
        // The anonymous plan removes the identity headers and sets nothing.
        let anon = plans.anonymous(&config);
        assert!(anon.set().is_empty());
        assert_eq!(anon.remove(), headers_to_remove(&config).as_slice());
        assert!(Rc::ptr_eq(&anon, &plans.anonymous(&config)));
    }

    /// The origin's side of the documented encoding: split on `,`, percent-decode each.
    fn decode(header: &str) -> Vec<String> {
        header
            .split(',')
            .map(|part| {
                let (mut out, bytes, mut i) = (Vec::new(), part.as_bytes(), 0);
                while i < bytes.len() {
                    if bytes[i] == b'%' {
                        out.push(u8::from_str_radix(&part[i + 1..i + 3], 16).unwrap());
                        i += 3;
                    } else {
                        out.push(bytes[i]);
                        i += 1;
                    }
                }
                String::from_utf8(out).unwrap()
            })
            .collect()
    }

    #[test]
    fn claim_arrays_and_edge_spaces_arrive_distinguishable() {
        let header = |v: Value| claim_header_value(&v).unwrap();
        assert_eq!(header(json!(["a,b"])), "a%2Cb");
        assert_eq!(header(json!(["a", "b"])), "a,b");
        assert_eq!(header(json!(" admin")), "%20admin");
        assert_eq!(header(json!("admin ")), "admin%20");
        assert_eq!(header(json!(["a", " b "])), "a,%20b%20");
        assert_eq!(header(json!(["a", ""])), "a,");
        // Inner spaces and other printable ASCII stay as they are.
        assert_eq!(header(json!("Ada Lovelace")), "Ada Lovelace");
        assert_eq!(header(json!("a@b.test")), "a@b.test");
        // Only an array's own commas separate: elements' commas are encoded, a scalar's and a
        // top-level object's stay (an object is still JSON).
        assert_eq!(header(json!("Doe, John")), "Doe, John");
        assert_eq!(header(json!({"a": 1, "b": 2})), r#"{"a":1,"b":2}"#);
        assert_eq!(header(json!([{"a": 1, "b": 2}, 3])), r#"{"a":1%2C"b":2},3"#);
        // Every array round-trips through the origin's decoding, element by element.
        for items in [
            vec!["a,b"],
            vec!["a", "b"],
            vec![" admin", "user "],
            vec!["  ", "\t", "%2C", "%", "é,ü", "x\r\ny"],
            vec!["", ""],
        ] {
            assert_eq!(decode(&header(json!(items))), items, "{items:?}");
        }
        // Identity headers keep their edge spaces too.
        assert_eq!(header_safe(" alice"), "%20alice");
        assert_eq!(header_safe("   "), "%20%20%20");
    }

    #[test]
    fn header_values_cannot_inject() {
        assert_eq!(header_safe("alice"), "alice");
        assert_eq!(header_safe("a\r\nX-Evil: 1"), "a%0D%0AX-Evil: 1");
        assert_eq!(header_safe("100%"), "100%25");
        assert_eq!(header_safe("é"), "%C3%A9");
    }
}
