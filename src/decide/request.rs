//! The request as the decision reads it: a few fields the JS entry (js/shim.mjs) passes in,
//! and the runtime's URL split into origin, path and query.

/// Optional request fields: read by the caller only when the configuration needs them
/// ([`super::fields_needed`]), and declared in [`RequestParts::fields`]. A decision that needs a
/// field the caller did not read is `Verdict::NeedFields`, never a guess.
pub mod fields {
    /// `Cookie` (a token cookie is configured).
    pub const COOKIE: u32 = 1;
    /// The three method-override headers (some rule lists methods).
    pub const METHOD_OVERRIDES: u32 = 2;
    /// `Origin` and `Access-Control-Request-Method` (CORS preflight is enabled).
    pub const CORS: u32 = 4;
    /// The header `TOKEN_HEADER` names.
    pub const TOKEN_HEADER: u32 = 8;
    /// Every optional field (the async path reads them all).
    pub const ALL: u32 = COOKIE | METHOD_OVERRIDES | CORS | TOKEN_HEADER;
}

/// What the decision reads of a request, as the runtime reports it (header values with
/// repeated headers joined by ", "; `None` when absent).
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestParts<'a> {
    pub method: &'a str,
    /// The absolute URL, as the runtime serialises it.
    pub url: &'a str,
    pub authorization: Option<&'a str>,
    pub dpop: Option<&'a str>,
    /// Which of the optional fields below were read (a [`fields`] mask).
    pub fields: u32,
    pub cookie: Option<&'a str>,
    /// `X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override`
    /// ([`crate::policy::routes::METHOD_OVERRIDE_HEADERS`]).
    pub method_overrides: [Option<&'a str>; 3],
    pub origin: Option<&'a str>,
    pub access_control_request_method: Option<&'a str>,
    /// The value of the header `TOKEN_HEADER` names.
    pub token_header: Option<&'a str>,
}

/// The runtime's request URL, split (a WHATWG serialisation: lower-case scheme and host,
/// default port dropped, path percent-encoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestUrl<'a> {
    /// `scheme://host[:port]`, without user info.
    pub origin: &'a str,
    pub path: &'a str,
    /// Without the `?`.
    pub query: Option<&'a str>,
}

impl<'a> RequestUrl<'a> {
    /// `None` for anything but an absolute `http(s)` URL with a host.
    pub fn parse(url: &'a str) -> Option<Self> {
        let url = url.split_once('#').map_or(url, |(u, _)| u);
        let (scheme, rest) = url.split_once("://")?;
        if !(scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http")) {
            return None;
        }
        let authority_end = rest
            .bytes()
            .position(|b| b == b'/' || b == b'?')
            .unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        // User info is never part of an origin nor forwarded; runtimes do not hand it over,
        // so a URL with it is refused (the glue answers 502, nothing is forwarded).
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let origin_end = url.len() - rest.len() + authority_end;
        let (path, query) = split_query(&url[origin_end..]);
        Some(RequestUrl {
            origin: &url[..origin_end],
            path,
            query,
        })
    }
}

fn split_query(rest: &str) -> (&str, Option<&str>) {
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    (if path.is_empty() { "/" } else { path }, query)
}
