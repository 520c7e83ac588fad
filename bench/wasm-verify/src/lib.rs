//! Verifies a fixture token `n` times through the gateway's own pipeline (parse, issuer,
//! key selection, signature, claims): what a request pays on a verified-token-cache miss.

use edgeguard::config::Config;
use edgeguard::decide::{decide, Caches, KeyStore, Keys, RequestParts};
use edgeguard::keys::freshness::Want;
use edgeguard::keys::{parse_jwks, KeySet};
use edgeguard::policy::deny::DenyState;
use edgeguard::decide::pipeline::{finish, prepare};
use edgeguard::decide::fixtures::{FIXTURE_ISSUER, FIXTURE_JWKS, FIXTURE_NOW};
use edgeguard::decide::wire::encode;
use std::collections::HashMap;
use std::rc::Rc;

/// (name shown, fixture token) for every algorithm measured.
pub const CASES: [(&str, &str); 12] = [
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
    // From FIRST_USE on: a key never used before, as a DPoP proof's key always is (no
    // fixed-base table yet; the figure includes cloning the unused key set, a few µs).
    (
        "ES256, key's first use",
        include_str!("../../../fixtures/tokens/valid-es256.jwt"),
    ),
    (
        "EdDSA, key's first use",
        include_str!("../../../fixtures/tokens/valid-eddsa.jwt"),
    ),
];

/// The first of the CASES whose key is fresh on every verification.
pub const FIRST_USE: usize = 10;

const SECRET: &str = include_str!("../../../fixtures/keys/hs-secret.txt");

pub struct Setup {
    config: Config,
    keys: KeySet,
    /// Never verified with, so its clones are keys on their first use.
    unused: KeySet,
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
    let unused = keys.clone();
    Setup {
        config,
        keys,
        unused,
    }
}

/// Verifies case `index` `n` times; false if any verification failed.
pub fn verify_n(setup: &Setup, index: usize, n: u32) -> bool {
    let token = CASES[index].1.trim();
    (0..n).all(|_| {
        let fresh = (index >= FIRST_USE).then(|| setup.unused.clone());
        let keys = fresh.as_ref().unwrap_or(&setup.keys);
        prepare(token, &setup.config)
            .and_then(|p| finish(p, Some(keys), FIXTURE_NOW, 60))
            .is_ok()
    })
}

/// The whole per-request decision the Worker's synchronous call runs (`decide::decide`, then
/// `wire::encode`), on `GET https://gateway.bench.test/items/42?page=1` with the keys in
/// memory: what a request costs in Rust, without the JS/Wasm crossing.
pub const DECISIONS: [&str; 3] = [
    "decide: RS256 token cached (forward)",
    "decide: no token (401)",
    "decide: RS256, nothing cached (forward)",
];

pub struct Decider {
    setup: Setup,
    keys: InMemory,
    cached: Caches,
    uncached: Caches,
}

struct InMemory(Rc<KeySet>);

impl KeyStore for InMemory {
    fn keys(&self, _: &str, _: u64, _: Want) -> Keys {
        Keys::Ready(self.0.clone())
    }
    fn fresh_generation(&self, _: &str, _: u64) -> Option<u64> {
        Some(1)
    }
    fn deny_list(&self, _: u64, _: u64) -> DenyState {
        // The benchmark's configuration has no DENY_LIST binding: never asked.
        DenyState::Fetch
    }
}

pub fn decider() -> Decider {
    let setup = setup();
    let keys = InMemory(Rc::new(setup.keys.clone()));
    let cached = Caches::for_config(Some(&setup.config));
    Decider {
        setup,
        keys,
        cached,
        uncached: Caches::for_config(None),
    }
}

/// Runs decision `index` `n` times; false if one did not end as expected.
pub fn decide_n(d: &mut Decider, index: usize, n: u32) -> bool {
    let auth = format!("Bearer {}", CASES[0].1.trim());
    let parts = RequestParts {
        method: "GET",
        url: "https://gateway.bench.test/items/42?page=1",
        authorization: (index != 1).then_some(auth.as_str()),
        ..RequestParts::default()
    };
    let caches = if index == 2 {
        &mut d.uncached
    } else {
        &mut d.cached
    };
    let want = if index == 1 { 'A' } else { 'F' };
    (0..n).all(|_| {
        let verdict = decide(&parts, &d.setup.config, FIXTURE_NOW, caches, &d.keys);
        encode(&verdict).starts_with(want)
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
    pub fn decision_count() -> usize {
        super::DECISIONS.len()
    }

    #[wasm_bindgen]
    pub fn decision_name(index: usize) -> String {
        super::DECISIONS[index].to_owned()
    }

    #[wasm_bindgen]
    pub fn decide_n(index: usize, n: u32) -> bool {
        thread_local!(static DECIDER: std::cell::RefCell<super::Decider> =
            std::cell::RefCell::new(super::decider()));
        DECIDER.with(|d| super::decide_n(&mut d.borrow_mut(), index, n))
    }

    #[wasm_bindgen]
    pub fn verify_n(index: usize, n: u32) -> bool {
        thread_local!(static SETUP: super::Setup = super::setup());
        SETUP.with(|s| super::verify_n(s, index, n))
    }
}
