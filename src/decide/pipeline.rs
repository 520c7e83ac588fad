//! The pure pipeline around the one I/O step (getting keys), shared by the Worker glue and
//! the native tests so both run exactly the same checks in the same order:
//!
//! 1. [`prepare`]: parse the token, pick the issuer by its unverified `iss`, and check the
//!    `alg` against that issuer's allowed list (before any key is fetched);
//! 2. the caller gets the issuer's keys if [`Prepared::needs_keys`];
//! 3. [`finish`]: verify the signature (with the algorithm step 1 accepted: the token's
//!    `alg` is read and checked once, here), then the claims.

use crate::alg::{Alg, KeyFamily};
use crate::config::{Config, IssuerConfig};
use crate::error::TokenError;
use crate::keys::{KeySet, Selection};
use crate::policy::claims;
use crate::token::{Principal, UntrustedToken, VerifiedToken};
use crate::verify::{verify_hmac, verify_public};

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

    /// True when the token names a key the set does not have, or (without a `kid`) no key
    /// fits its algorithm: the issuer may have rotated keys, so fetching the JWKS again may
    /// help.
    pub fn needs_refetch(&self, keys: &KeySet) -> bool {
        self.needs_keys()
            && match keys.select(self.alg, self.token.kid()) {
                Selection::UnknownKid => true,
                Selection::NoSuitableKey => self.token.kid().is_none(),
                Selection::Candidates(_) | Selection::Ambiguous => false,
            }
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
    let issuer = prepared.issuer;
    let verified = verify(prepared, keys)?;
    claims::check(verified, issuer, now, leeway)
}

/// Checks the signature with `prepared.alg`: the issuer's configured secret for HMAC (a
/// JWKS key never becomes an HMAC secret), else each key `keys` offers for the algorithm
/// and the token's `kid`. `TokenError::UnknownKid` when no key carries that `kid`, so the
/// caller can decide whether a refetch is allowed.
fn verify<'t>(
    prepared: Prepared<'t, '_>,
    keys: Option<&KeySet>,
) -> Result<VerifiedToken<'t>, TokenError> {
    let Prepared { token, issuer, alg } = prepared;
    // `prepare` accepted `alg` for this issuer; the check is not repeated in release builds.
    debug_assert!(issuer.allows(alg), "a Prepared not made by prepare()");
    let verified = if alg.family() == KeyFamily::Hmac {
        let secret = issuer.secret.as_deref().ok_or(TokenError::NoSuitableKey)?;
        verify_hmac(alg, secret, token.signed_data(), token.signature())
    } else {
        let keys = keys.ok_or(TokenError::NoSuitableKey)?;
        match keys.select(alg, token.kid()) {
            Selection::Candidates(candidates) => candidates
                .into_iter()
                .any(|key| verify_public(alg, key, token.signed_data(), token.signature())),
            Selection::UnknownKid => return Err(TokenError::UnknownKid),
            Selection::NoSuitableKey => return Err(TokenError::NoSuitableKey),
            Selection::Ambiguous => return Err(TokenError::AmbiguousKey),
        }
    };
    if verified {
        Ok(token.into_verified(alg))
    } else {
        Err(TokenError::BadSignature)
    }
}
