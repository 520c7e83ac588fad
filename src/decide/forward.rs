//! What to send to the origin: the target URL and the header edits. Pure; the glue applies
//! the plan to a streamed `Request` without buffering the body.

use crate::config::Config;
use crate::decide::request::RequestUrl;
use crate::policy::routes::claim_at;
use crate::token::extract::remove_query_param;
use crate::token::Principal;
use serde_json::Value;
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

/// Header edits for the forwarded request, applied in order: remove, then set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderPlan {
    pub remove: Vec<String>,
    pub set: Vec<(String, String)>,
}

/// Headers that must never arrive from the client: the identity headers (so a client can
/// never claim an identity) and, when configured, `Authorization`.
pub fn headers_to_remove(config: &Config) -> Vec<String> {
    let h = &config.headers;
    let mut remove = vec![h.subject.clone(), h.issuer.clone(), h.claims.clone()];
    remove.extend(config.claim_headers.iter().map(|(name, _)| name.clone()));
    if config.strip_authorization {
        remove.push("authorization".to_owned());
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
    HeaderPlan { remove, set }
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
        };
        let p = plan(&principal, &config);
        let get = |n: &str| p.set.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("X-Org"), Some("acme"));
        assert_eq!(get("X-Groups"), Some("a,b"));
        assert_eq!(get("X-Level"), Some("3"));
        assert_eq!(get("X-Note"), Some("x%0D%0Ay"));
        assert_eq!(get("X-Missing"), None);
        assert!(get("X-Auth-Subject").is_none(), "no sub, no subject header");
        assert!(
            p.remove.iter().any(|n| n == "X-Missing"),
            "client copies are removed even when unset"
        );
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
