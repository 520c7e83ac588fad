//! A fixture deployment built into the crate: the fixtures' issuer, its key set
//! (fixtures/jwks/main.json) and a moment inside every fixture token's validity window. The
//! decision's tests and the Wasm micro-benchmark (bench/wasm-verify) run against it; the
//! gateway itself never does.

/// The fixtures' issuer.
pub const FIXTURE_ISSUER: &str = "https://issuer.fixtures.test/";
/// Its key set.
pub const FIXTURE_JWKS: &str = include_str!("../../fixtures/jwks/main.json");
/// A moment inside every fixture token's validity window.
pub const FIXTURE_NOW: u64 = 1_700_000_100;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::decide::pipeline::{finish, prepare};
    use crate::keys::parse_jwks;
    use std::collections::HashMap;

    /// The micro-benchmark times these tokens against these keys: they must verify.
    #[test]
    fn every_fixture_token_verifies_at_fixture_now() {
        let issuers = format!(
            r#"[{{"issuer":"{FIXTURE_ISSUER}","jwks_uri":"{FIXTURE_ISSUER}jwks","audiences":["api://edgeguard-fixtures"]}}]"#
        );
        let config = Config::parse(Some(&issuers), &HashMap::new()).expect("fixture configuration");
        let keys =
            parse_jwks(FIXTURE_JWKS.as_bytes(), config.fetch.max_keys).expect("fixture keys");
        for token in [
            include_str!("../../fixtures/tokens/valid-rs256.jwt"),
            include_str!("../../fixtures/tokens/valid-es256.jwt"),
            include_str!("../../fixtures/tokens/valid-eddsa.jwt"),
        ] {
            let verified =
                prepare(token.trim(), &config).and_then(|p| finish(p, Some(&keys), FIXTURE_NOW, 0));
            assert!(verified.is_ok(), "{verified:?}");
        }
    }
}
