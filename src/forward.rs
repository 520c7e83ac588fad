//! What to send to the origin: the target URL and the header edits. Pure; the glue applies
//! the plan to a streamed `Request` without buffering the body.

use crate::config::Config;
use crate::token::Principal;
use url::Url;

/// The URL the request goes to: `ORIGIN` + path + query, or (route mode) its own URL.
pub fn target_url(request: &Url, origin: Option<&Url>) -> String {
    match origin {
        None => request.as_str().to_owned(),
        Some(base) => {
            let mut out = base.as_str().trim_end_matches('/').to_owned();
            out.push_str(request.path());
            if let Some(q) = request.query() {
                out.push('?');
                out.push_str(q);
            }
            out
        }
    }
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
    HeaderPlan {
        remove: headers_to_remove(config),
        set,
    }
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

    #[test]
    fn origin_gets_path_and_query_appended() {
        let req = Url::parse("https://api.example.com/v1/items?x=1&y=%20").unwrap();
        let origin = Url::parse("https://backend.internal/base/").unwrap();
        assert_eq!(
            target_url(&req, Some(&origin)),
            "https://backend.internal/base/v1/items?x=1&y=%20"
        );
        let bare = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            target_url(&req, Some(&bare)),
            "http://127.0.0.1:8080/v1/items?x=1&y=%20"
        );
    }

    #[test]
    fn route_mode_keeps_the_request_url() {
        let req = Url::parse("https://api.example.com/v1?q").unwrap();
        assert_eq!(target_url(&req, None), "https://api.example.com/v1?q");
    }

    #[test]
    fn header_values_cannot_inject() {
        assert_eq!(header_safe("alice"), "alice");
        assert_eq!(header_safe("a\r\nX-Evil: 1"), "a%0D%0AX-Evil: 1");
        assert_eq!(header_safe("100%"), "100%25");
        assert_eq!(header_safe("é"), "%C3%A9");
    }
}
