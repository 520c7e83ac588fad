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

/// How many fields the JS entry packs, in [`RequestParts::unpack`]'s order.
pub const PACKED_FIELDS: usize = 11;

impl<'a> RequestParts<'a> {
    /// The fields the JS entry (js/pack.mjs) wrote back to back into one buffer as UTF-8, in
    /// this order: method, url, authorization, dpop, cookie, the three method overrides,
    /// origin, access-control-request-method, the `TOKEN_HEADER` header. `lens[i]` is field
    /// i's length in bytes, or negative when the field is absent (or was not read).
    ///
    /// `None` when the lengths do not fit the buffer, a field is not UTF-8, or method or url
    /// is missing: the caller then reads the request itself (the async path), so a packing
    /// bug costs time, never a wrong decision.
    pub fn unpack(bytes: &'a [u8], lens: &[i32; PACKED_FIELDS], fields: u32) -> Option<Self> {
        let mut at = 0usize;
        let mut out: [Option<&'a str>; PACKED_FIELDS] = [None; PACKED_FIELDS];
        for (slot, &len) in out.iter_mut().zip(lens) {
            // Negative: absent (checked before the cast, so no length wraps around).
            let Ok(len) = usize::try_from(len) else {
                continue;
            };
            let end = at.checked_add(len)?;
            *slot = Some(std::str::from_utf8(bytes.get(at..end)?).ok()?);
            at = end;
        }
        let [method, url, authorization, dpop, cookie, o1, o2, o3, origin, acrm, token_header] =
            out;
        Some(RequestParts {
            method: method?,
            url: url?,
            authorization,
            dpop,
            fields,
            cookie,
            method_overrides: [o1, o2, o3],
            origin,
            access_control_request_method: acrm,
            token_header,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packs as js/pack.mjs does: back to back, a negative length for an absent field (and
    /// for every field after `values`).
    fn pack(values: &[Option<&str>]) -> (Vec<u8>, [i32; PACKED_FIELDS]) {
        let mut bytes = Vec::new();
        let mut lens = [-1; PACKED_FIELDS];
        for (len, value) in lens.iter_mut().zip(values.iter().copied()) {
            if let Some(v) = value {
                bytes.extend_from_slice(v.as_bytes());
                *len = v.len() as i32;
            }
        }
        (bytes, lens)
    }

    #[test]
    fn unpack_reads_each_field_in_the_entry_order() {
        let values = [
            Some("POST"),
            Some("https://api.test/a?b=1"),
            Some("Bearer t.u.v"),
            None,
            Some("session=é"),
            Some(""),
            None,
            Some("PUT"),
            Some("https://app.test"),
            None,
            Some("jwt"),
        ];
        let (bytes, lens) = pack(&values);
        let parts = RequestParts::unpack(&bytes, &lens, fields::ALL).expect("packed by the rules");
        assert_eq!(parts.method, "POST");
        assert_eq!(parts.url, "https://api.test/a?b=1");
        assert_eq!(parts.authorization, Some("Bearer t.u.v"));
        assert_eq!(parts.dpop, None);
        assert_eq!(parts.cookie, Some("session=é"));
        assert_eq!(parts.method_overrides, [Some(""), None, Some("PUT")]);
        assert_eq!(parts.origin, Some("https://app.test"));
        assert_eq!(parts.access_control_request_method, None);
        assert_eq!(parts.token_header, Some("jwt"));
        assert_eq!(parts.fields, fields::ALL);
    }

    #[test]
    fn unpack_refuses_what_the_entry_cannot_have_packed() {
        let (bytes, lens) = pack(&[Some("GET"), Some("https://a.test/"), Some("Bearer x")]);
        // A length past the end of the buffer.
        let mut long = lens;
        long[2] += 1;
        assert!(RequestParts::unpack(&bytes, &long, 0).is_none());
        // A length so large the offset would overflow.
        let mut huge = lens;
        huge[3] = i32::MAX;
        assert!(RequestParts::unpack(&bytes, &huge, 0).is_none());
        // No method, or no URL.
        let mut no_method = lens;
        no_method[0] = -1;
        assert!(RequestParts::unpack(&bytes[3..], &no_method, 0).is_none());
        let mut no_url = lens;
        no_url[1] = -1;
        assert!(RequestParts::unpack(&bytes, &no_url, 0).is_none());
        // Bytes that are not UTF-8 (a field split inside a character).
        let (bytes, mut lens) = pack(&[Some("GET"), Some("https://a.test/é")]);
        lens[1] -= 1;
        assert!(RequestParts::unpack(&bytes, &lens, 0).is_none());
    }
}
