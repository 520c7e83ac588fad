//! Verifies a fixture token `n` times through the gateway's own pipeline (parse, issuer,
//! key selection, signature, claims): what a request pays on a verified-token-cache miss.

use edgeguard::config::Config;
use edgeguard::jwks::{parse_jwks, KeySet};
use edgeguard::pipeline::{finish, prepare};
use edgeguard::warm::{FIXTURE_ISSUER, FIXTURE_JWKS, FIXTURE_NOW};
use std::collections::HashMap;

/// (name shown, fixture token) for every algorithm measured.
pub const CASES: [(&str, &str); 10] = [
    (
        "RS256 (2048)",
        include_str!("../../../fixtures/tokens/valid-rs256.jwt"),
    ),
    (
        "RS256 (3072)",
        include_str!("../../../fixtures/tokens/valid-rs256-3072.jwt"),
    ),
    (
        "RS256 (4096)",
        include_str!("../../../fixtures/tokens/valid-rs256-4096.jwt"),
    ),
    (
        "PS256 (2048)",
        include_str!("../../../fixtures/tokens/valid-ps256.jwt"),
    ),
    (
        "RS512 (2048)",
        include_str!("../../../fixtures/tokens/valid-rs512.jwt"),
    ),
    (
        "ES256",
        include_str!("../../../fixtures/tokens/valid-es256.jwt"),
    ),
    (
        "EdDSA (Ed25519)",
        include_str!("../../../fixtures/tokens/valid-eddsa.jwt"),
    ),
    (
        "HS256",
        include_str!("../../../fixtures/tokens/valid-hs256.jwt"),
    ),
    (
        "HS384",
        include_str!("../../../fixtures/tokens/valid-hs384.jwt"),
    ),
    (
        "HS512",
        include_str!("../../../fixtures/tokens/valid-hs512.jwt"),
    ),
];

const SECRET: &str = include_str!("../../../fixtures/keys/hs-secret.txt");

pub struct Setup {
    config: Config,
    keys: KeySet,
}

pub fn setup() -> Setup {
    let issuers = serde_json::json!([{
        "issuer": FIXTURE_ISSUER,
        "jwks_uri": format!("{FIXTURE_ISSUER}jwks"),
        "audiences": ["api://edgeguard-fixtures"],
        "algorithms": ["RS256", "RS512", "PS256", "ES256", "EdDSA", "HS256", "HS384", "HS512"],
        "secret": SECRET.trim(),
    }]);
    let config = Config::parse(Some(&issuers.to_string()), &HashMap::new()).expect("config");
    let keys = parse_jwks(FIXTURE_JWKS.as_bytes(), 64).expect("jwks");
    Setup { config, keys }
}

/// Verifies case `index` `n` times; false if any verification failed.
pub fn verify_n(setup: &Setup, index: usize, n: u32) -> bool {
    let token = CASES[index].1.trim();
    (0..n).all(|_| {
        prepare(token, &setup.config)
            .and_then(|p| finish(p, Some(&setup.keys), FIXTURE_NOW, 60))
            .is_ok()
    })
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    pub fn case_count() -> usize {
        super::CASES.len()
    }

    #[wasm_bindgen]
    pub fn case_name(index: usize) -> String {
        super::CASES[index].0.to_owned()
    }

    #[wasm_bindgen]
    pub fn verify_n(index: usize, n: u32) -> bool {
        thread_local!(static SETUP: super::Setup = super::setup());
        SETUP.with(|s| super::verify_n(s, index, n))
    }
}
