//! Native micro-benchmark: cost of one token check per algorithm, through the same pure
//! pipeline the Worker runs (`pipeline::prepare` + `pipeline::finish`: parse, issuer and
//! `alg` checks, signature, claims), on the fixture tokens in `fixtures/`.
//!
//!   cargo bench --bench verify                 # all rows, ~10 s after the build
//!   cargo bench --bench verify -- --batches 5  # fewer batches (quick look)
//!
//! `harness = false` (no criterion, to keep build time down): every row runs `--batches`
//! batches (default 15, at most 101) of enough iterations to last ~20 ms, and prints the
//! median, min and max µs per verification over the batches. The bench profile inherits
//! `[profile.release]` (opt-level "z", LTO), i.e. the code as it is optimised for the
//! Worker, but compiled for this machine's CPU, not wasm32: the Wasm in workerd is slower
//! (see bench/README.md); compare rows with each other, not with the load benchmark.
//! The timer is std::time::Instant; nothing here is asserted.

use edgeguard::config::Config;
use edgeguard::decide::cache::token_key;
use edgeguard::decide::pipeline::{finish, prepare};
use edgeguard::keys::{parse_jwks, KeySet};
use serde_json::Value;
use std::collections::HashMap;
use std::fs;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

/// The instant the fixture claims were written against (fixtures/README.md).
const NOW: u64 = 1_700_000_100;
const LEEWAY: u64 = 60;
const ISSUER: &str = "https://issuer.fixtures.test/";
const AUDIENCE: &str = "api://edgeguard-fixtures";
const BATCH_TARGET: Duration = Duration::from_millis(20);
const MAX_BATCHES: usize = 101;

fn fixture(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path);
    fs::read_to_string(&full).unwrap_or_else(|e| panic!("fixtures/{path}: {e}"))
}

fn config(algorithms: Option<Value>, secret: Option<String>) -> Config {
    let mut item = serde_json::json!({
        "issuer": ISSUER,
        "jwks_uri": "https://issuer.fixtures.test/jwks",
        "audiences": ["other-api", AUDIENCE],
    });
    if let Some(a) = algorithms {
        item["algorithms"] = a;
    }
    if let Some(s) = secret {
        item["secret"] = Value::String(s);
    }
    Config::parse(Some(&Value::Array(vec![item]).to_string()), &HashMap::new())
        .expect("benchmark issuer config")
}

/// One full check, exactly as the Worker does it after the key set is in memory.
fn check(token: &str, config: &Config, keys: &KeySet) -> bool {
    match prepare(token, config) {
        Ok(prepared) => {
            let keys = if prepared.needs_keys() {
                Some(keys)
            } else {
                None
            };
            finish(prepared, keys, NOW, LEEWAY).is_ok()
        }
        Err(_) => false,
    }
}

/// Median, min and max µs per call of `f` over `batches` batches.
fn measure(batches: usize, mut f: impl FnMut() -> bool) -> (f64, f64, f64, usize) {
    // Calibrate: iterations per batch so that one batch lasts about BATCH_TARGET (the
    // fastest of three probes, so a stall on a busy machine does not shrink the batches).
    let per = (0..3)
        .map(|_| {
            let t = Instant::now();
            let mut calib = 0usize;
            while t.elapsed() < BATCH_TARGET / 8 || calib < 2 {
                black_box(f());
                calib += 1;
            }
            t.elapsed().as_secs_f64() / calib as f64
        })
        .fold(f64::INFINITY, f64::min);
    let iters = ((BATCH_TARGET.as_secs_f64() / per).ceil() as usize).max(1);
    let mut samples: Vec<f64> = (0..batches)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                black_box(f());
            }
            t.elapsed().as_secs_f64() * 1e6 / iters as f64
        })
        .collect();
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = samples[samples.len() / 2];
    (median, samples[0], samples[samples.len() - 1], iters)
}

/// The same token with one base64url character of its signature changed three quarters of
/// the way in (the middle bytes of ECDSA's `s` and of Ed25519's little-endian `S`, so both
/// stay in range; bench/corrupt-tokens.mjs does the same): same length, still decodes, so
/// the verifier does the whole computation and then refuses it.
fn corrupt_signature(token: &str) -> String {
    let sig_start = token.rfind('.').expect("three segments") + 1;
    let at = sig_start + (token.len() - sig_start) * 3 / 4;
    let mut bytes = token.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("ASCII")
}

fn main() {
    // `cargo bench` passes `--bench`; anything unknown is ignored.
    let args: Vec<String> = std::env::args().collect();
    let batches = args
        .iter()
        .position(|a| a == "--batches")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(15)
        .clamp(1, MAX_BATCHES);

    let keys = parse_jwks(fixture("jwks/main.json").as_bytes(), 64).expect("jwks/main.json");
    let asymmetric = config(None, None);
    let hs_secret = fixture("keys/hs-secret.txt").trim().to_owned();
    let hmac = config(Some(serde_json::json!(["HS256"])), Some(hs_secret));

    // (label, fixture token, corrupt its signature?, config, expected outcome)
    let rows: [(&str, &str, bool, &Config, bool); 10] = [
        ("RS256 (RSA 2048)", "valid-rs256", false, &asymmetric, true),
        ("PS256 (RSA 2048)", "valid-ps256", false, &asymmetric, true),
        (
            "RS256 (RSA 3072)",
            "valid-rs256-3072",
            false,
            &asymmetric,
            true,
        ),
        (
            "RS256 (RSA 4096)",
            "valid-rs256-4096",
            false,
            &asymmetric,
            true,
        ),
        ("ES256 (P-256)", "valid-es256", false, &asymmetric, true),
        ("EdDSA (Ed25519)", "valid-eddsa", false, &asymmetric, true),
        ("HS256", "valid-hs256", false, &hmac, true),
        // What an attacker's flood costs: valid-looking tokens, signature corrupted.
        (
            "RS256 2048, bad signature",
            "valid-rs256",
            true,
            &asymmetric,
            false,
        ),
        (
            "ES256, bad signature",
            "valid-es256",
            true,
            &asymmetric,
            false,
        ),
        (
            "EdDSA, bad signature",
            "valid-eddsa",
            true,
            &asymmetric,
            false,
        ),
    ];

    println!(
        "edgeguard native verification benchmark: {} batches/row, ~{} ms each, profile {}",
        batches,
        BATCH_TARGET.as_millis(),
        if cfg!(debug_assertions) {
            "debug (numbers meaningless)"
        } else {
            "bench (= release: opt-level z, LTO)"
        }
    );
    println!(
        "target {} / {}; prepare + finish per call (parse, iss/alg checks, signature, claims)",
        std::env::consts::ARCH,
        std::env::consts::OS
    );
    println!();
    println!(
        "| {:<33} | {:>13} | {:>9} | {:>9} | {:>8} | {:>10} |",
        "token", "median µs/op", "min µs", "max µs", "iter/b", "ops/s/core"
    );
    println!(
        "|{:-<35}|{:->15}|{:->11}|{:->11}|{:->10}|{:->12}|",
        "", "", "", "", "", ""
    );
    for (label, name, bad_signature, cfg, expect_ok) in rows {
        let token = fixture(&format!("tokens/{name}.jwt"));
        let token = if bad_signature {
            corrupt_signature(token.trim_end())
        } else {
            token.trim_end().to_owned()
        };
        let token = token.as_str();
        let outcome = check(token, cfg, &keys);
        assert_eq!(
            outcome, expect_ok,
            "{name}: unexpected outcome (fixtures out of date?)"
        );
        let (median, min, max, iters) = measure(batches, || check(black_box(token), cfg, &keys));
        println!(
            "| {:<33} | {:>13.2} | {:>9.2} | {:>9.2} | {:>8} | {:>10.0} |",
            label,
            median,
            min,
            max,
            iters,
            1e6 / median
        );
    }
    // The verified-token cache's fast path: SHA-256 of the token (the lookup itself is a
    // HashMap probe). This is what a repeated token costs instead of a verification.
    let token = fixture("tokens/valid-rs256.jwt");
    let token = token.trim_end();
    let (median, min, max, iters) = measure(batches, || token_key(black_box(token))[0] != 0);
    println!(
        "| {:<33} | {:>13.2} | {:>9.2} | {:>9.2} | {:>8} | {:>10.0} |",
        "cache key: SHA-256 of RS256 JWT",
        median,
        min,
        max,
        iters,
        1e6 / median
    );
}
