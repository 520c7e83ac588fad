//! What to send to the origin: the target URL and the header edits. Pure; the glue applies
//! the plan to a streamed `Request` without buffering the body.

use crate::config::Config;
use crate::extract::remove_query_param;
use crate::route::claim_at;
use crate::token::Principal;
use serde_json::Value;
use url::Url;

/// The URL the request goes to: `ORIGIN` + canonical path + query, or (route mode) its
/// own URL with the canonical path. `drop_param` removes a query-string token before it
/// can reach the origin.
pub fn target_url(
    request: &Url,
    canonical_path: &str,
    origin: Option<&Url>,
    drop_param: Option<&str>,
) -> String {
    let query = match (request.query(), drop_param) {
        (Some(q), Some(name)) => Some(remove_query_param(q, name)).filter(|q| !q.is_empty()),
        (q, _) => q.map(str::to_owned),
    };
    let mut out = match origin {
        None => {
            let mut u = request.clone();
            u.set_query(None);
            u.set_path(canonical_path);
            u.as_str().to_owned()
        }
        Some(base) => {
            let mut out = base.as_str().trim_end_matches('/').to_owned();
            out.push_str(canonical_path);
            out
        }
    };
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
    HeaderPlan {
        remove: headers_to_remove(config),
        set,
    }
}

/// A claim as a header value: strings as they are, arrays joined with `,` (elements as
/// strings or JSON), other values as JSON; always passed through [`header_safe`].
fn claim_header_value(value: &Value) -> Option<String> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let raw = match value {
        Value::Null => return None,
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(","),
        other => text(other),
    };
    Some(header_safe(&raw))
}

/// Makes a claim value safe for an HTTP header: printable ASCII passes through, everything
/// else (CR, LF, other controls, non-ASCII) and `%` itself are percent-encoded as UTF-8, so
/// no value can split a header or be rejected by the runtime. The exact value is always
/// available, signed, in the claims header.
pub fn header_safe(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
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

    #[test]
    fn origin_gets_path_and_query_appended() {
        let req = Url::parse("https://api.example.com/v1/items?x=1&y=%20").unwrap();
        let origin = Url::parse("https://backend.internal/base/").unwrap();
        assert_eq!(
            target_url(&req, req.path(), Some(&origin), None),
            "https://backend.internal/base/v1/items?x=1&y=%20"
        );
        let bare = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            target_url(&req, req.path(), Some(&bare), None),
            "http://127.0.0.1:8080/v1/items?x=1&y=%20"
        );
    }

    #[test]
    fn the_canonical_path_is_what_goes_out() {
        let req = Url::parse("https://api.example.com//admin/./users?x=1").unwrap();
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
        let req = Url::parse("https://api.example.com/v1?q").unwrap();
        assert_eq!(
            target_url(&req, req.path(), None, None),
            "https://api.example.com/v1?q"
        );
        let with_token = Url::parse("https://api.example.com/v1?t=a.b.c").unwrap();
        assert_eq!(
            target_url(&with_token, with_token.path(), None, Some("t")),
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

    #[test]
    fn header_values_cannot_inject() {
        assert_eq!(header_safe("alice"), "alice");
        assert_eq!(header_safe("a\r\nX-Evil: 1"), "a%0D%0AX-Evil: 1");
        assert_eq!(header_safe("100%"), "100%25");
        assert_eq!(header_safe("é"), "%C3%A9");
    }
}
