//! Warm-up at isolate start: runs the configuration parser, the JWKS parser and one
//! verification per common algorithm (RS256, ES256, EdDSA) on keys and tokens built into the
//! module, so that V8 has compiled those code paths before the first request arrives.
//! On Workers an isolate starts while the client's TLS handshake is still in progress, so
//! work done here is usually off the request's critical path; the first request then pays
//! only for its own I/O (KV, the JWKS fetch) and its own keys.
//!
//! Pure: nothing here touches the network or the isolate's caches, and the result is thrown
//! away (the configuration and keys used are the test fixtures, never the deployment's).

use crate::config::Config;
use crate::decide::pipeline::{finish, prepare};
use crate::keys::parse_jwks;
use std::collections::HashMap;

/// The fixtures' issuer, its key set (fixtures/jwks/main.json) and a moment inside every
/// fixture token's validity window; also used by the Wasm micro-benchmark.
pub const FIXTURE_ISSUER: &str = "https://issuer.fixtures.test/";
pub const FIXTURE_JWKS: &str = include_str!("../../fixtures/jwks/main.json");
pub const FIXTURE_NOW: u64 = 1_700_000_100;
const TOKENS: [&str; 3] = [
    include_str!("../../fixtures/tokens/valid-rs256.jwt"),
    include_str!("../../fixtures/tokens/valid-es256.jwt"),
    include_str!("../../fixtures/tokens/valid-eddsa.jwt"),
];

/// Runs the warm-up under `config` (from [`fixture_config`]); returns how many of the
/// built-in tokens verified (all of them, unless the fixtures and the code disagree, which
/// the unit test below catches).
pub fn run(config: &Config) -> usize {
    let Ok(keys) = parse_jwks(FIXTURE_JWKS.as_bytes(), config.fetch.max_keys) else {
        return 0;
    };
    TOKENS
        .iter()
        .filter(|token| {
            prepare(token.trim(), config)
                .and_then(|p| finish(p, Some(&keys), FIXTURE_NOW, 0))
                .is_ok()
        })
        .count()
}

/// The configuration the warm-up runs under: the fixtures' issuer, defaults otherwise
/// (every route needs a token).
pub fn fixture_config() -> Option<Config> {
    let issuers = format!(
        r#"[{{"issuer":"{FIXTURE_ISSUER}","jwks_uri":"{FIXTURE_ISSUER}jwks","audiences":["api://edgeguard-fixtures"]}}]"#
    );
    Config::parse(Some(&issuers), &HashMap::new()).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_built_in_token_verifies() {
        let config = super::fixture_config().expect("fixture configuration parses");
        assert_eq!(super::run(&config), super::TOKENS.len());
    }

    /// `edge::warm_up` relies on this: under the fixture configuration a request without a
    /// token is refused before any cache, KV or network access (a public or optional route
    /// would forward it, which is I/O at isolate start).
    #[test]
    fn fixture_configuration_needs_a_token_everywhere() {
        use crate::config::routes::AuthMode;
        use crate::path::RequestPath;
        use crate::policy::routes::{applicable, method_readings, strictest};
        let config = super::fixture_config().expect("fixture configuration parses");
        let root = RequestPath::parse("/").unwrap();
        let rules = applicable(
            &config.routes,
            &config.default_route,
            &method_readings("GET", &[]),
            &root,
        );
        assert_eq!(strictest(&rules), AuthMode::Required);
        assert!(config.resource_metadata.is_none() && !config.cors_preflight);
        assert!(config.token_cookie.is_none() && config.token_query_param.is_none());
    }
}
