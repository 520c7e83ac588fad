//! The pure pipeline around the one I/O step (getting keys), shared by the Worker glue and
//! the native tests so both run exactly the same checks in the same order:
//!
//! 1. [`prepare`]: parse the token, pick the issuer by its unverified `iss`, and check the
//!    `alg` against that issuer's allowed list (before any key is fetched);
//! 2. the caller gets the issuer's keys if [`Prepared::needs_keys`];
//! 3. [`finish`]: verify the signature, then the claims.

use crate::alg::{Alg, KeyFamily};
use crate::config::{Config, IssuerConfig};
use crate::error::TokenError;
use crate::jwks::KeySet;
use crate::token::{Principal, UntrustedToken};
use crate::{policy, verify};

/// A parsed token matched to a configured issuer, with an algorithm that issuer allows.
#[derive(Debug)]
pub struct Prepared<'t, 'c> {
    pub token: UntrustedToken<'t>,
    pub issuer: &'c IssuerConfig,
    pub alg: Alg,
}

impl Prepared<'_, '_> {
    /// HMAC tokens use the configured secret; every other algorithm needs the JWKS.
    pub fn needs_keys(&self) -> bool {
        self.alg.family() != KeyFamily::Hmac
    }
}

pub fn prepare<'t, 'c>(token: &'t str, config: &'c Config) -> Result<Prepared<'t, 'c>, TokenError> {
    let token = UntrustedToken::parse(token, config.max_token_bytes)?;
    let issuer = token
        .unverified_issuer()
        .and_then(|iss| config.issuer(iss))
        .ok_or(TokenError::UnknownIssuer)?;
    let alg = Alg::from_name(token.alg_name())
        .filter(|alg| issuer.allows(*alg))
        .ok_or(TokenError::AlgorithmNotAllowed)?;
    Ok(Prepared { token, issuer, alg })
}

pub fn finish(
    prepared: Prepared<'_, '_>,
    keys: Option<&KeySet>,
    now: u64,
    leeway: u64,
) -> Result<Principal, TokenError> {
    let verified = verify::verify(prepared.token, prepared.issuer, keys)?;
    policy::check(verified, prepared.issuer, now, leeway)
}
