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
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => issuer.audiences.contains(aud),
        Some(Value::Array(list)) => {
            let mut any = false;
            for aud in list {
                let Value::String(aud) = aud else {
                    return Err(TokenError::InvalidClaim);
                };
                any |= issuer.audiences.contains(aud);
            }
            any
        }
        None => false,
        Some(_) => return Err(TokenError::InvalidClaim),
    };
    if !audience_ok {
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
    Ok(token.into_principal(&issuer.issuer, valid_until))
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
}
