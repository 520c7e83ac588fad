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
