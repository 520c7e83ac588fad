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
        if now - iat > (max_age + leeway_secs) as f64 {
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
