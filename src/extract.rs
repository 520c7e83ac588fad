//! Taking the bearer token from the request (RFC 6750 §2.1).
//!
//! The Workers `Headers` object joins repeated headers with ", ". A JWT never contains a
//! comma or whitespace, so a comma means several `Authorization` headers (or a list) and
//! whitespace after the token means several tokens: both are refused instead of guessing
//! which one the origin would see.

use crate::error::ExtractError;

/// Returns the single bearer token in `authorization` (the header's value as the runtime
/// reports it, repeated headers joined by ", ").
pub fn bearer_token(authorization: Option<&str>) -> Result<&str, ExtractError> {
    let value = authorization.map(trim_ows).unwrap_or_default();
    if value.is_empty() {
        return Err(ExtractError::Missing);
    }
    let parts: Vec<&str> = value.split(',').map(trim_ows).collect();
    if parts.len() > 1 {
        // Several credentials. If any of them is ours, the request is ambiguous.
        return if parts
            .iter()
            .any(|p| split_scheme(p).0.eq_ignore_ascii_case("bearer"))
        {
            Err(ExtractError::Multiple)
        } else {
            Err(ExtractError::Missing)
        };
    }
    let (scheme, rest) = split_scheme(value);
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ExtractError::Missing);
    }
    let token = trim_ows(rest);
    if token.is_empty() {
        return Err(ExtractError::Missing);
    }
    if token.contains([' ', '\t']) {
        return Err(ExtractError::Multiple);
    }
    Ok(token)
}

/// True when the query string carries an RFC 6750 §2.3 `access_token` parameter.
pub fn query_has_access_token(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&').any(|pair| {
            pair.split('=')
                .next()
                .is_some_and(|name| name == "access_token")
        })
    })
}

fn split_scheme(s: &str) -> (&str, &str) {
    match s.find([' ', '\t']) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn access_token_query_parameter_is_detected() {
        assert!(query_has_access_token(Some("a=1&access_token=x")));
        assert!(query_has_access_token(Some("access_token")));
        assert!(!query_has_access_token(Some("my_access_token=x")));
        assert!(!query_has_access_token(None));
    }
}
