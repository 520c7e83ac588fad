//! The token as it moves from untrusted to trusted.
//!
//! * [`UntrustedToken`]: parsed (strict base64url, strict JSON), nothing verified. Its
//!   `iss` and `kid` may only be used to *look things up*, never to decide.
//! * [`VerifiedToken`]: the signature checked against a key the issuer published (or its
//!   configured secret). Only `verify` can make one.
//! * [`Principal`]: a verified token whose claims passed `policy`; what the origin is told.

pub mod extract;

use crate::alg::Alg;
use crate::error::TokenError;
use crate::json::{parse_object, ObjectError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

/// A parsed JWS compact token whose signature has not been checked.
#[derive(Debug, Clone)]
pub struct UntrustedToken<'a> {
    /// `header.payload`: the bytes the signature covers.
    signed_data: &'a str,
    /// The payload segment as sent: canonical base64url without padding (strict decoding
    /// guarantees that), so it is exactly what `X-Auth-Claims` must carry.
    payload_b64: &'a str,
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
    claims: Map<String, Value>,
    signature: Vec<u8>,
}

impl<'a> UntrustedToken<'a> {
    /// Parses a compact JWS. `max_len` bounds the work done for hostile input.
    pub fn parse(token: &'a str, max_len: usize) -> Result<Self, TokenError> {
        if token.len() > max_len {
            return Err(TokenError::TooLarge);
        }
        let (header_b64, payload_b64, signature_b64) =
            split_compact(token).ok_or(TokenError::Malformed)?;
        // The strict engine refuses padding, whitespace, the standard alphabet and
        // non-canonical trailing bits, so every token has exactly one spelling.
        let header_bytes = decode_segment(header_b64)?;
        let payload_bytes = decode_segment(payload_b64)?;
        let signature = decode_segment(signature_b64)?;
        if header_b64.is_empty() || payload_b64.is_empty() {
            return Err(TokenError::Malformed);
        }

        let header = parse_object(&header_bytes).map_err(|_| TokenError::MalformedHeader)?;
        let alg = match header.get("alg") {
            Some(Value::String(alg)) => alg.clone(),
            _ => return Err(TokenError::MalformedHeader),
        };
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(_) => return Err(TokenError::MalformedHeader),
        };
        let typ = match header.get("typ") {
            None => None,
            Some(Value::String(typ)) => Some(typ.clone()),
            Some(_) => return Err(TokenError::MalformedHeader),
        };
        // RFC 7515 §4.1.11: a recipient MUST reject a token whose `crit` lists anything it
        // does not understand. No extension is understood here, so any `crit` is refused.
        if header.contains_key("crit") {
            return Err(TokenError::UnsupportedCrit);
        }
        // Only JSON payloads (RFC 7519 §5.2: `cty` is for nested JWTs, which are not accepted).
        if header.contains_key("cty") {
            return Err(TokenError::MalformedHeader);
        }
        // `jku`, `x5u`, `jwk` and `x5c` are deliberately never read: keys come from the
        // issuer's configured JWKS only.

        let claims = parse_object(&payload_bytes).map_err(|e| match e {
            ObjectError::Syntax | ObjectError::NotAnObject => TokenError::MalformedClaims,
        })?;

        let signed_len = header_b64.len() + 1 + payload_b64.len();
        Ok(UntrustedToken {
            signed_data: &token[..signed_len],
            payload_b64,
            alg,
            kid,
            typ,
            claims,
            signature,
        })
    }

    /// The `alg` header as sent. Only compared against what the configuration allows.
    pub fn alg_name(&self) -> &str {
        &self.alg
    }

    /// The `kid` header, if any. Used to look up a key, nothing else.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The unverified `iss`, used only to pick which issuer's keys to try.
    pub fn unverified_issuer(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }

    pub(crate) fn signed_data(&self) -> &[u8] {
        self.signed_data.as_bytes()
    }

    pub(crate) fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Promotes the token once `verify` has checked its signature with `alg`.
    pub(crate) fn into_verified(self, alg: Alg) -> VerifiedToken<'a> {
        VerifiedToken {
            payload_b64: self.payload_b64,
            alg,
            kid: self.kid,
            typ: self.typ,
            claims: self.claims,
        }
    }
}

/// Splits a JWS compact serialization into its three segments (exactly three).
pub fn split_compact(jws: &str) -> Option<(&str, &str, &str)> {
    let mut segments = jws.split('.');
    match (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) {
        (Some(h), Some(p), Some(s), None) => Some((h, p, s)),
        _ => None,
    }
}

/// Decodes one compact-serialization segment: base64url, no padding, no whitespace, no
/// characters outside the alphabet, canonical trailing bits.
pub fn decode_segment(segment: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| TokenError::Malformed)
}

/// A token whose signature verified. Claims are authentic but not yet checked.
#[derive(Debug, Clone)]
pub struct VerifiedToken<'a> {
    payload_b64: &'a str,
    alg: Alg,
    kid: Option<String>,
    typ: Option<String>,
    claims: Map<String, Value>,
}

impl VerifiedToken<'_> {
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    pub fn alg(&self) -> Alg {
        self.alg
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The header `typ`, authenticated by the signature.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// Promotes the token once `policy` has accepted its claims.
    pub(crate) fn into_principal(self, issuer: &str, expires_at: f64) -> Principal {
        let subject = self
            .claims
            .get("sub")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Principal {
            subject,
            issuer: issuer.to_owned(),
            claims_b64: self.payload_b64.to_owned(),
            claims: self.claims,
            expires_at,
            alg: self.alg,
            resource_audience: false,
        }
    }
}

/// The authenticated caller, as the origin will be told.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// `sub`, when it is a string.
    pub subject: Option<String>,
    /// The configured issuer (equal to the token's `iss`).
    pub issuer: String,
    /// base64url (no padding) of the verified payload JSON.
    pub claims_b64: String,
    pub claims: Map<String, Value>,
    /// `exp` as checked (unix seconds).
    pub expires_at: f64,
    /// The algorithm its signature was verified with.
    pub alg: Alg,
    /// Its `aud` names no configured audience, only (perhaps) the protected resource: each
    /// request checks it against the resource it is for (`policy::claims::names_resource`).
    pub resource_audience: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn tok(header: &str, payload: &str, sig: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), sig)
    }

    #[test]
    fn parses_a_well_formed_token() {
        let t = tok(
            r#"{"alg":"RS256","kid":"k1"}"#,
            r#"{"iss":"https://i/","sub":"u"}"#,
            "c2ln",
        );
        let u = UntrustedToken::parse(&t, 8192).unwrap();
        assert_eq!(u.alg_name(), "RS256");
        assert_eq!(u.kid(), Some("k1"));
        assert_eq!(u.unverified_issuer(), Some("https://i/"));
        assert_eq!(u.signature(), b"sig");
        assert_eq!(u.signed_data(), t.rsplit_once('.').unwrap().0.as_bytes());
    }

    #[test]
    fn rejects_every_malformed_shape() {
        let good_h = b64(r#"{"alg":"RS256"}"#);
        let good_p = b64(r#"{"iss":"x"}"#);
        let cases = [
            "".to_string(),
            "abc".to_string(),
            format!("{good_h}.{good_p}"),
            format!("{good_h}.{good_p}.c2ln.extra"),
            format!("{good_h}=.{good_p}.c2ln"),
            format!("{good_h}.{good_p}.c2ln="),
            format!("{good_h} .{good_p}.c2ln"),
            format!(".{good_p}.c2ln"),
            format!("{good_h}..c2ln"),
            format!("{good_h}.{good_p}.c2l+"),
            format!("{good_h}.{good_p}.c2l/"),
            // Non-canonical trailing bits: "c2l" and "c2k" would both decode to "si".
            format!("{good_h}.{good_p}.c2l"),
        ];
        for c in cases {
            assert_eq!(
                UntrustedToken::parse(&c, 8192).unwrap_err(),
                TokenError::Malformed,
                "{c:?}"
            );
        }
    }

    #[test]
    fn rejects_bad_headers_and_payloads() {
        let e = |h: &str, p: &str| UntrustedToken::parse(&tok(h, p, "c2ln"), 8192).unwrap_err();
        assert_eq!(e("not json", "{}"), TokenError::MalformedHeader);
        assert_eq!(e("[]", "{}"), TokenError::MalformedHeader);
        assert_eq!(e(r#"{"kid":"k"}"#, "{}"), TokenError::MalformedHeader);
        assert_eq!(e(r#"{"alg":5}"#, "{}"), TokenError::MalformedHeader);
        assert_eq!(
            e(r#"{"alg":"RS256","kid":7}"#, "{}"),
            TokenError::MalformedHeader
        );
        assert_eq!(
            e(r#"{"alg":"RS256","alg":"none"}"#, "{}"),
            TokenError::MalformedHeader
        );
        assert_eq!(
            e(r#"{"alg":"RS256","cty":"JWT"}"#, "{}"),
            TokenError::MalformedHeader
        );
        assert_eq!(
            e(r#"{"alg":"RS256","crit":["exp"],"exp":1}"#, "{}"),
            TokenError::UnsupportedCrit
        );
        assert_eq!(
            e(r#"{"alg":"RS256"}"#, "[1,2]"),
            TokenError::MalformedClaims
        );
        assert_eq!(e(r#"{"alg":"RS256"}"#, "nope"), TokenError::MalformedClaims);
        assert_eq!(
            e(r#"{"alg":"RS256"}"#, r#"{"iss":"a","iss":"b"}"#),
            TokenError::MalformedClaims
        );
    }

    #[test]
    fn oversized_tokens_are_refused_before_parsing() {
        let big = "a".repeat(9000);
        assert_eq!(
            UntrustedToken::parse(&big, 8192).unwrap_err(),
            TokenError::TooLarge
        );
    }
}
