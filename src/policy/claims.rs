//! Claim checks on a verified token (RFC 7519 §4.1), with an injected clock.
//!
//! Time is passed in as unix seconds: `SystemTime::now()` does not exist on
//! `wasm32-unknown-unknown`, and a stopped clock makes every rule testable.

use crate::config::IssuerConfig;
use crate::error::TokenError;
use crate::token::{Principal, VerifiedToken};
use serde_json::{Map, Value};

/// Checks `exp` (required), `nbf`, `iat`, `iss` and `aud`, then yields the caller's identity.
pub fn check(
    token: VerifiedToken<'_>,
    issuer: &IssuerConfig,
    now: u64,
    leeway: u64,
) -> Result<Principal, TokenError> {
    let claims = token.claims();
    let leeway_secs = leeway;
    let now = now as f64;
    let leeway = leeway as f64;

    let exp = numeric_date(claims, "exp")?.ok_or(TokenError::MissingExpiry)?;
    if exp + leeway <= now {
        return Err(TokenError::Expired);
    }
    if numeric_date(claims, "nbf")?.is_some_and(|nbf| nbf > now + leeway) {
        return Err(TokenError::NotYetValid);
    }
    if numeric_date(claims, "iat")?.is_some_and(|iat| iat > now + leeway) {
        return Err(TokenError::IssuedInFuture);
    }
    match claims.get("iss") {
        Some(Value::String(iss)) if *iss == issuer.issuer => {}
        _ => return Err(TokenError::UnknownIssuer),
    }
    if !matches!(claims.get("sub"), None | Some(Value::String(_))) {
        return Err(TokenError::InvalidClaim);
    }
    // Well-formed (a string or an array of strings) and naming a configured audience; when it
    // names none, an issuer with `resource_audience` leaves it to the request (below).
    let audiences = audience_values(claims).ok_or(TokenError::InvalidClaim)?;
    let mut names_configured = false;
    for aud in audiences {
        names_configured |= issuer.audiences.iter().any(|a| a == aud);
    }
    let resource_audience = !names_configured && issuer.resource_audience;
    let left_to_request = resource_audience && claims.contains_key("aud");
    if !(names_configured || left_to_request) {
        return Err(TokenError::AudienceMismatch);
    }
    // RFC 9068 profile, per issuer.
    if let Some(required) = &issuer.require_typ {
        if !token
            .typ()
            .is_some_and(|typ| same_media_type(typ, required))
        {
            return Err(TokenError::WrongType);
        }
    }
    // The instant this token stops being acceptable (the verified-token cache honours it).
    let mut valid_until = exp;
    if let Some(max_age) = issuer.max_token_age {
        let iat = numeric_date(claims, "iat")?.ok_or(TokenError::TooOld)?;
        // Config bounds `max_age`, but the sum stays total for any value.
        if now - iat > max_age.saturating_add(leeway_secs) as f64 {
            return Err(TokenError::TooOld);
        }
        valid_until = valid_until.min(iat + max_age as f64);
    }
    if issuer
        .required_claims
        .iter()
        .any(|c| !claims.contains_key(c))
    {
        return Err(TokenError::MissingClaim);
    }
    let mut principal = token.into_principal(&issuer.issuer, valid_until);
    principal.resource_audience = resource_audience;
    Ok(principal)
}

/// `aud` as a list: one string, or an array of strings (RFC 7519 §4.1.3); empty when absent,
/// `None` when it is anything else.
fn audience_values(claims: &Map<String, Value>) -> Option<Vec<&str>> {
    match claims.get("aud") {
        None => Some(Vec::new()),
        Some(Value::String(aud)) => Some(vec![aud.as_str()]),
        Some(Value::Array(list)) => list.iter().map(Value::as_str).collect(),
        Some(_) => None,
    }
}

/// Whether a principal's `aud` names `resource` (RFC 8707). An origin with or without its
/// one trailing slash is the same URL (`https://mcp.example` and `https://mcp.example/`);
/// anything else compares byte for byte.
pub fn names_resource(principal: &Principal, resource: &str) -> bool {
    let resource = bare_origin(resource);
    audience_values(&principal.claims)
        .unwrap_or_default()
        .into_iter()
        .any(|aud| bare_origin(aud) == resource)
}

/// `scheme://authority/` without its slash; anything else as it is.
fn bare_origin(url: &str) -> &str {
    match url.split_once("://") {
        Some((_, rest)) if rest.strip_suffix('/').is_some_and(|a| !a.contains('/')) => {
            &url[..url.len() - 1]
        }
        _ => url,
    }
}

/// RFC 7515 §4.1.9: `typ` values compare case-insensitively, with `application/` optional.
fn same_media_type(a: &str, b: &str) -> bool {
    let strip = |s: &str| {
        let lower = s.to_ascii_lowercase();
        lower
            .strip_prefix("application/")
            .map(str::to_owned)
            .unwrap_or(lower)
    };
    strip(a) == strip(b)
}

/// A NumericDate claim (RFC 7519 §2: a JSON number, possibly fractional).
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or(TokenError::InvalidClaim),
        Some(_) => Err(TokenError::InvalidClaim),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alg::Alg;
    use crate::config::JwksSource;
    use crate::token::UntrustedToken;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use serde_json::json;

    const NOW: u64 = 1_700_000_000;
    const ISS: &str = "https://issuer.policy.test/";

    fn issuer(max_token_age: Option<u64>) -> IssuerConfig {
        IssuerConfig {
            issuer: ISS.into(),
            jwks: JwksSource::None,
            audiences: vec!["api".into()],
            resource_audience: false,
            algorithms: vec![Alg::Rs256],
            secret: None,
            require_typ: None,
            max_token_age,
            required_claims: Vec::new(),
        }
    }

    fn run(claims: Value, issuer: &IssuerConfig, leeway: u64) -> Result<Principal, TokenError> {
        let b64 = |s: String| URL_SAFE_NO_PAD.encode(s);
        let token = format!(
            "{}.{}.c2ln",
            b64(json!({"alg": "RS256"}).to_string()),
            b64(claims.to_string())
        );
        let token = UntrustedToken::parse(&token, 8192).unwrap();
        check(token.into_verified(Alg::Rs256), issuer, NOW, leeway)
    }

    #[test]
    fn a_max_token_age_near_u64_max_neither_overflows_nor_wraps() {
        // Config bounds the value (one year); the check must still be total on its own:
        // `max_age + leeway` panicked in debug builds and wrapped to `leeway - 1` in release.
        let claims = json!({"iss": ISS, "aud": "api", "iat": NOW - 100, "exp": NOW + 600});
        for max_age in [u64::MAX, u64::MAX - 30, u64::MAX - 60] {
            for leeway in [0, 60, u64::MAX] {
                let p = run(claims.clone(), &issuer(Some(max_age)), leeway);
                assert_eq!(
                    p.map(|p| p.expires_at),
                    Ok((NOW + 600) as f64),
                    "{max_age} {leeway}"
                );
            }
        }
        // Still enforced where it binds.
        assert_eq!(
            run(claims, &issuer(Some(39)), 60).map(|p| p.expires_at),
            Err(TokenError::TooOld)
        );
    }

    fn resource_issuer(audiences: &[&str]) -> IssuerConfig {
        IssuerConfig {
            audiences: audiences.iter().map(|a| a.to_string()).collect(),
            resource_audience: true,
            ..issuer(None)
        }
    }

    fn with_aud(aud: Value) -> Value {
        json!({"iss": ISS, "aud": aud, "exp": NOW + 600})
    }

    #[test]
    fn a_configured_audience_is_final_even_with_resource_audience() {
        let p = run(
            with_aud(json!(["api", "https://mcp.test"])),
            &resource_issuer(&["api"]),
            0,
        );
        assert!(!p.unwrap().resource_audience, "no per-request check needed");
    }

    #[test]
    fn with_resource_audience_any_other_aud_is_left_to_the_request() {
        let resource_only = resource_issuer(&[]);
        for aud in [json!("https://mcp.test"), json!(["x", "y"]), json!([])] {
            let p = run(with_aud(aud.clone()), &resource_only, 0).unwrap();
            assert!(p.resource_audience, "{aud}");
        }
        // Without `aud` there is nothing to match; a malformed one is still refused.
        let no_aud = json!({"iss": ISS, "exp": NOW + 600});
        assert_eq!(
            run(no_aud, &resource_only, 0),
            Err(TokenError::AudienceMismatch)
        );
        assert_eq!(
            run(with_aud(json!(["ok", 1])), &resource_only, 0),
            Err(TokenError::InvalidClaim)
        );
        assert_eq!(
            run(with_aud(json!(7)), &resource_only, 0),
            Err(TokenError::InvalidClaim)
        );
        // And without the option, an unknown audience is final.
        assert_eq!(
            run(with_aud(json!("https://mcp.test")), &issuer(None), 0),
            Err(TokenError::AudienceMismatch)
        );
    }

    #[test]
    fn names_resource_matches_the_url_and_only_the_url() {
        let p = |aud: Value| run(with_aud(aud), &resource_issuer(&[]), 0).unwrap();
        let yes = [
            ("https://mcp.test", json!("https://mcp.test")),
            ("https://mcp.test", json!("https://mcp.test/")),
            ("https://mcp.test/", json!("https://mcp.test")),
            (
                "https://mcp.test:8443",
                json!(["other", "https://mcp.test:8443/"]),
            ),
            ("https://mcp.test/mcp", json!("https://mcp.test/mcp")),
        ];
        for (resource, aud) in yes {
            assert!(
                names_resource(&p(aud.clone()), resource),
                "{resource} {aud}"
            );
        }
        let no = [
            ("https://mcp.test", json!("https://mcp.test.evil")),
            ("https://mcp.test", json!("https://mcp.test//")),
            ("https://mcp.test", json!("http://mcp.test")),
            ("https://mcp.test", json!("https://MCP.test")),
            ("https://mcp.test/mcp", json!("https://mcp.test/mcp/")),
            ("https://mcp.test/mcp", json!("https://mcp.test")),
            ("https://mcp.test", json!("https://mcp.test/mcp")),
            ("https://mcp.test", json!([])),
            ("https://", json!("https:/")),
        ];
        for (resource, aud) in no {
            assert!(
                !names_resource(&p(aud.clone()), resource),
                "{resource} {aud}"
            );
        }
    }
}
