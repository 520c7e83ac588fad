//! Taking the bearer token from the request (RFC 6750 §2.1).
//!
//! The Workers `Headers` object joins repeated headers with ", ". A JWT never contains a
//! comma or whitespace, so a comma means several `Authorization` headers (or a list) and
//! whitespace after the token means several tokens: both are refused instead of guessing
//! which one the origin would see.

use crate::error::ExtractError;

/// The `Authorization` scheme a token came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    /// RFC 9449: a DPoP-bound token, with its proof in the `DPoP` header.
    Dpop,
}

/// Returns the single bearer token in `authorization` (the header's value as the runtime
/// reports it, repeated headers joined by ", ").
pub fn bearer_token(authorization: Option<&str>) -> Result<&str, ExtractError> {
    match authorization_token(authorization)? {
        (token, Scheme::Bearer) => Ok(token),
        (_, Scheme::Dpop) => Err(ExtractError::Missing),
    }
}

/// Returns the single token in `authorization` with its scheme (`Bearer` or `DPoP`, both
/// case-insensitive).
pub fn authorization_token(authorization: Option<&str>) -> Result<(&str, Scheme), ExtractError> {
    match authorization.and_then(plain_credential) {
        Some(found) => Ok(found),
        None => any_credentials(authorization),
    }
}

/// The common case in one scan of the token: `<scheme> <token>` with one of our schemes, no
/// comma and no whitespace inside the token. `None` for anything else, which
/// [`any_credentials`] reads (it gives the same answer for what this accepts; a test checks).
fn plain_credential(value: &str) -> Option<(&str, Scheme)> {
    let (scheme, rest) = split_scheme(trim_ows(value));
    let scheme = scheme_of(scheme)?;
    let token = trim_ows(rest);
    (!token.is_empty() && !has_comma_or_ows(token)).then_some((token, scheme))
}

/// The general reading of an `Authorization` value: several credentials, other schemes.
fn any_credentials(authorization: Option<&str>) -> Result<(&str, Scheme), ExtractError> {
    let value = authorization.map(trim_ows).unwrap_or_default();
    if value.is_empty() {
        return Err(ExtractError::Missing);
    }
    if value.as_bytes().contains(&b',') {
        // Several credentials. If any of them is ours, the request is ambiguous.
        return if value
            .split(',')
            .any(|p| scheme_of(split_scheme(trim_ows(p)).0).is_some())
        {
            Err(ExtractError::Multiple)
        } else {
            Err(ExtractError::Missing)
        };
    }
    let (scheme, rest) = split_scheme(value);
    let Some(scheme) = scheme_of(scheme) else {
        return Err(ExtractError::Missing);
    };
    let token = trim_ows(rest);
    if token.is_empty() {
        return Err(ExtractError::Missing);
    }
    if has_ows(token) {
        return Err(ExtractError::Multiple);
    }
    Ok((token, scheme))
}

fn scheme_of(name: &str) -> Option<Scheme> {
    if name.eq_ignore_ascii_case("bearer") {
        Some(Scheme::Bearer)
    } else if name.eq_ignore_ascii_case("dpop") {
        Some(Scheme::Dpop)
    } else {
        None
    }
}

/// Where a token was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Header,
    /// The configured `TOKEN_HEADER`.
    TokenHeader,
    Cookie,
    Query,
}

/// What the request offers, as the runtime reports it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offered<'a> {
    pub authorization: Option<&'a str>,
    pub cookie: Option<&'a str>,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
    /// The value of the configured token header (`TOKEN_HEADER`) and the prefix it must
    /// carry, when one is configured and the request has it.
    pub token_header: Option<(&'a str, Option<&'a str>)>,
}

/// Finds the one token of a request among the enabled sources (`Authorization` always; a
/// named header, a cookie and a query parameter when configured). A token in more than one place, or twice in
/// one place, is refused (RFC 6750 §2); so is an RFC 6750 `access_token` parameter next to
/// a header token even when query tokens are not enabled.
pub fn find_token<'a>(
    offered: &Offered<'a>,
    cookie_name: Option<&'a str>,
    query_name: Option<&'a str>,
) -> Result<(&'a str, Source), ExtractError> {
    find_token_with_scheme(offered, cookie_name, query_name).map(|(t, s, _)| (t, s))
}

/// As [`find_token`], also telling the `Authorization` scheme (`Bearer` for cookie and
/// query tokens).
pub fn find_token_with_scheme<'a>(
    offered: &Offered<'a>,
    cookie_name: Option<&'a str>,
    query_name: Option<&'a str>,
) -> Result<(&'a str, Source, Scheme), ExtractError> {
    // The first token found, and how many places held one.
    let mut found: Option<(&'a str, Source, Scheme)> = None;
    let mut places = 0;
    let mut push = |t| {
        found.get_or_insert(t);
        places += 1;
    };
    match authorization_token(offered.authorization) {
        Ok((t, scheme)) => push((t, Source::Header, scheme)),
        Err(ExtractError::Missing) => {}
        Err(e) => return Err(e),
    }
    if let Some((value, prefix)) = offered.token_header {
        if let Some(t) = named_header_token(value, prefix)? {
            push((t, Source::TokenHeader, Scheme::Bearer));
        }
    }
    if let Some(name) = cookie_name {
        if let Some(t) = single(cookie_values(offered.cookie, name))? {
            push((t, Source::Cookie, Scheme::Bearer));
        }
    }
    match query_name {
        Some(name) => {
            if let Some(t) = single(query_values(offered.query, name))? {
                push((t, Source::Query, Scheme::Bearer));
            }
        }
        None => {
            if places > 0 && query_values(offered.query, "access_token").next().is_some() {
                return Err(ExtractError::Multiple);
            }
        }
    }
    match (places, found) {
        (1, Some(found)) => Ok(found),
        (0, _) => Err(ExtractError::Missing),
        _ => Err(ExtractError::Multiple),
    }
}

/// The token in a `TOKEN_HEADER` value: the value itself, or what follows `prefix` (a word,
/// compared case-insensitively, then whitespace). Another prefix is no token of ours; a
/// comma or whitespace in the token means several values (a repeated header), refused.
fn named_header_token<'a>(
    value: &'a str,
    prefix: Option<&str>,
) -> Result<Option<&'a str>, ExtractError> {
    let value = trim_ows(value);
    let token = match prefix {
        None => value,
        Some(prefix) => match split_scheme(value) {
            (word, rest) if word.eq_ignore_ascii_case(prefix) => trim_ows(rest),
            _ if value.as_bytes().contains(&b',') => return Err(ExtractError::Multiple),
            _ => return Ok(None),
        },
    };
    if token.is_empty() {
        return Ok(None);
    }
    if has_comma_or_ows(token) {
        return Err(ExtractError::Multiple);
    }
    Ok(Some(token))
}

fn single<'a>(mut values: impl Iterator<Item = &'a str>) -> Result<Option<&'a str>, ExtractError> {
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(_), Some(_)) => Err(ExtractError::Multiple),
        (Some(""), None) => Ok(None),
        (Some(v), None) => Ok(Some(v)),
    }
}

/// Values of cookie `name` in a `Cookie` header (`a=1; b=2`), quotes removed.
fn cookie_values<'a>(header: Option<&'a str>, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    header
        .unwrap_or_default()
        .split(';')
        .filter_map(move |pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"'))
        })
}

/// Values of query parameter `name` (raw: a JWT needs no percent-decoding).
fn query_values<'a>(query: Option<&'a str>, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    query
        .unwrap_or_default()
        .split('&')
        .filter_map(move |pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
}

/// The query string without parameter `name` (for forwarding a query-string token).
pub fn remove_query_param(query: &str, name: &str) -> String {
    query
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some(name))
        .collect::<Vec<_>>()
        .join("&")
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Byte searches (`[u8]::contains` is memchr) instead of a `char`-set pattern: a token is
/// ~1 KB, and a `str` search with a char set decodes UTF-8 char by char (most of a cache
/// hit's CPU, profiled in V8).
fn has_ows(s: &str) -> bool {
    s.as_bytes().contains(&b' ') || s.as_bytes().contains(&b'\t')
}

/// [`has_ows`] or a comma, in one pass of eight bytes at a time (the token is ~1 KB, and this
/// is the only full scan of it on a cache hit).
fn has_comma_or_ows(s: &str) -> bool {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGHS: u64 = ONES << 7;
    // Exact: true when some byte of `v` is zero.
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS != 0;
    let chunks = s.as_bytes().chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        let v = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        if has_zero(v ^ (ONES * u64::from(b',')))
            || has_zero(v ^ (ONES * u64::from(b' ')))
            || has_zero(v ^ (ONES * u64::from(b'\t')))
        {
            return true;
        }
    }
    tail.iter().any(|&b| b == b',' || is_ows(b))
}

fn split_scheme(s: &str) -> (&str, &str) {
    match s.bytes().position(is_ows) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

fn trim_ows(s: &str) -> &str {
    let start = s.bytes().position(|b| !is_ows(b)).unwrap_or(s.len());
    let end = s.bytes().rposition(|b| !is_ows(b)).map_or(start, |i| i + 1);
    &s[start..end.max(start)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_header_gives_its_token_bare_or_after_its_prefix() {
        let named = |value: &'static str, prefix: Option<&'static str>| {
            let o = Offered {
                token_header: Some((value, prefix)),
                ..Offered::default()
            };
            find_token(&o, None, None)
        };
        let from = |t| Ok((t, Source::TokenHeader));
        assert_eq!(named("a.b.c", None), from("a.b.c"));
        assert_eq!(named("  a.b.c\t", None), from("a.b.c"));
        assert_eq!(named("Token a.b.c", Some("Token")), from("a.b.c"));
        assert_eq!(named("token   a.b.c ", Some("Token")), from("a.b.c"));
        // Another prefix, or none where one is configured: no token of ours.
        for (value, prefix) in [
            ("Bearer a.b.c", Some("Token")),
            ("a.b.c", Some("Token")),
            ("", None),
            ("  ", None),
            ("Token", Some("Token")),
            ("Token  ", Some("Token")),
        ] {
            assert_eq!(
                named(value, prefix),
                Err(ExtractError::Missing),
                "{value:?}"
            );
        }
        // Several values (a repeated header is joined with ", "), or words: refused.
        for (value, prefix) in [
            ("a.b.c, d.e.f", None),
            ("a.b.c d.e.f", None),
            ("Bearer a.b.c", None),
            ("Token a.b.c, Token d.e.f", Some("Token")),
            ("Other x, Token a.b.c", Some("Token")),
            ("Token a.b.c d", Some("Token")),
        ] {
            assert_eq!(
                named(value, prefix),
                Err(ExtractError::Multiple),
                "{value:?}"
            );
        }
        // With a token anywhere else too: refused, whichever place.
        let base = Offered {
            token_header: Some(("a.b.c", None)),
            ..Offered::default()
        };
        let elsewhere = [
            (
                Offered {
                    authorization: Some("Bearer a.b.c"),
                    ..base
                },
                None,
            ),
            (
                Offered {
                    cookie: Some("at=a.b.c"),
                    ..base
                },
                Some("at"),
            ),
            (
                Offered {
                    query: Some("access_token=a.b.c"),
                    ..base
                },
                None,
            ),
        ];
        for (o, cookie) in elsewhere {
            assert_eq!(
                find_token(&o, cookie, None),
                Err(ExtractError::Multiple),
                "{o:?}"
            );
        }
    }

    #[test]
    fn the_one_scan_reading_agrees_with_the_general_one() {
        // Values built from the pieces that matter (schemes, separators, token bytes), and
        // every byte of the token scan's 8-byte chunks and tail: both readings must agree.
        let pieces = [
            "Bearer", "bearer", "DPoP", "Basic", " ", "\t", ",", ", ", "a", "b.c", "eyJ0", "=",
            "x,y", "  ", "Bearer ", "DPoP\t",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut values: Vec<String> = Vec::new();
        for _ in 0..20_000 {
            let n = 1 + (next() % 7) as usize;
            values.push(
                (0..n)
                    .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                    .collect(),
            );
        }
        for at in 0..40 {
            for b in [b',', b' ', b'\t', b'.'] {
                let mut token = vec![b'a'; 40];
                token[at] = b;
                values.push(format!("Bearer {}", String::from_utf8(token).unwrap()));
            }
        }
        for v in &values {
            assert_eq!(
                authorization_token(Some(v)),
                any_credentials(Some(v)),
                "{v:?}"
            );
        }
    }

    #[test]
    fn takes_the_token_from_a_bearer_header_of_any_case() {
        for h in [
            "Bearer abc.def.ghi",
            "bearer abc.def.ghi",
            "BEARER  abc.def.ghi ",
            "BeArEr\tabc.def.ghi",
        ] {
            assert_eq!(bearer_token(Some(h)), Ok("abc.def.ghi"), "{h:?}");
        }
    }

    #[test]
    fn dpop_scheme_is_recognised() {
        assert_eq!(
            authorization_token(Some("DPoP a.b.c")),
            Ok(("a.b.c", Scheme::Dpop))
        );
        assert_eq!(
            authorization_token(Some("dpop a.b.c")),
            Ok(("a.b.c", Scheme::Dpop))
        );
        assert_eq!(
            authorization_token(Some("Bearer a.b.c, DPoP d.e.f")),
            Err(ExtractError::Multiple)
        );
        assert_eq!(bearer_token(Some("DPoP a.b.c")), Err(ExtractError::Missing));
    }

    #[test]
    fn no_header_other_scheme_or_empty_bearer_is_missing() {
        for h in [
            None,
            Some(""),
            Some("   "),
            Some("Basic dXNlcjpwYXNz"),
            Some("Bearer"),
            Some("Bearer   "),
            Some("Bearerabc"),
            Some("Token abc"),
        ] {
            assert_eq!(bearer_token(h), Err(ExtractError::Missing), "{h:?}");
        }
    }

    #[test]
    fn several_tokens_or_headers_are_refused() {
        for h in [
            "Bearer a.b.c, Bearer d.e.f",
            "Bearer a.b.c d.e.f",
            "Basic x, Bearer a.b.c",
            "Bearer a.b.c,",
        ] {
            assert_eq!(bearer_token(Some(h)), Err(ExtractError::Multiple), "{h:?}");
        }
        assert_eq!(
            bearer_token(Some("Basic x, Basic y")),
            Err(ExtractError::Missing)
        );
    }

    fn offered<'a>(
        authorization: Option<&'a str>,
        cookie: Option<&'a str>,
        query: Option<&'a str>,
    ) -> Offered<'a> {
        Offered {
            authorization,
            cookie,
            query,
            token_header: None,
        }
    }

    #[test]
    fn header_token_with_an_access_token_parameter_is_refused() {
        let o = offered(Some("Bearer a.b.c"), None, Some("x=1&access_token=d.e.f"));
        assert_eq!(find_token(&o, None, None), Err(ExtractError::Multiple));
        let o = offered(Some("Bearer a.b.c"), None, Some("my_access_token=x"));
        assert_eq!(find_token(&o, None, None), Ok(("a.b.c", Source::Header)));
        // Without a header token the parameter alone is not a token (query tokens are off).
        let o = offered(None, None, Some("access_token=d.e.f"));
        assert_eq!(find_token(&o, None, None), Err(ExtractError::Missing));
    }

    #[test]
    fn cookie_and_query_sources_when_enabled() {
        let o = offered(None, Some("theme=dark; at=\"a.b.c\""), None);
        assert_eq!(
            find_token(&o, Some("at"), None),
            Ok(("a.b.c", Source::Cookie))
        );
        assert_eq!(find_token(&o, None, None), Err(ExtractError::Missing));
        let o = offered(None, None, Some("x=1&token=a.b.c"));
        assert_eq!(
            find_token(&o, None, Some("token")),
            Ok(("a.b.c", Source::Query))
        );
        let both = offered(Some("Bearer a.b.c"), Some("at=a.b.c"), None);
        assert_eq!(
            find_token(&both, Some("at"), None),
            Err(ExtractError::Multiple)
        );
        let twice = offered(None, Some("at=a.b.c; at=d.e.f"), None);
        assert_eq!(
            find_token(&twice, Some("at"), None),
            Err(ExtractError::Multiple)
        );
        let twice = offered(None, None, Some("token=a&token=b"));
        assert_eq!(
            find_token(&twice, None, Some("token")),
            Err(ExtractError::Multiple)
        );
    }

    #[test]
    fn query_token_is_removed_for_forwarding() {
        assert_eq!(remove_query_param("a=1&token=x&b=2", "token"), "a=1&b=2");
        assert_eq!(remove_query_param("token=x", "token"), "");
        assert_eq!(remove_query_param("tokens=1", "token"), "tokens=1");
    }
}
