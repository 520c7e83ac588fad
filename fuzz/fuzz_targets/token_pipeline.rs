//! The token path with a fixed configuration and key set: the `Authorization` value through
//! `extract::bearer_token`, and the bytes as a token through `pipeline::prepare` /
//! `pipeline::finish` (parse, issuer and alg checks, signature, claims), as the Worker runs
//! them, with the clock stopped at the fixtures' NOW. Also the rejection log line and the
//! forwarding plan, whose inputs (`iss`, `kid`, `sub`) come from the token.
//!
//! Beyond "no panic", it checks invariants an accepted token must satisfy.
#![no_main]

use std::sync::OnceLock;

use edgeguard::alg::Alg;
use edgeguard::config::Config;
use edgeguard::error::Rejection;
use edgeguard::token::extract::bearer_token;
use edgeguard::keys::{parse_jwks, KeySet};
use edgeguard::decide::pipeline::{finish, prepare};
use edgeguard::token::UntrustedToken;
use edgeguard::decide::forward;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

/// The fixtures' clock (fixtures/README.md) and the default leeway.
const NOW: u64 = 1_700_000_100;
const LEEWAY: u64 = 60;
const ISSUER: &str = "https://issuer.fixtures.test/";
const AUDIENCE: &str = "api://edgeguard-fixtures";
const HS_SECRET: &str = include_str!("../../fixtures/keys/hs-secret.txt");
const MAIN_JWKS: &str = include_str!("../../fixtures/jwks/main.json");

struct Fixed {
    config: Config,
    keys: KeySet,
}

fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| {
        let algorithms: Vec<&str> = Alg::ALL.iter().map(|a| a.name()).collect();
        let issuers = serde_json::json!([{
            "issuer": ISSUER,
            "jwks_uri": "https://issuer.fixtures.test/jwks",
            "audiences": [AUDIENCE],
            "algorithms": algorithms,
            "secret": HS_SECRET.trim(),
        }])
        .to_string();
        let config = Config::parse(Some(&issuers), &HashMap::new()).expect("fixed ISSUERS");
        let keys = parse_jwks(MAIN_JWKS.as_bytes(), 64).expect("fixtures/jwks/main.json");
        Fixed { config, keys }
    })
}

fn run_token(token: &str, fixed: &Fixed) {
    let config = &fixed.config;
    // What the glue logs for a rejected token: unverified iss/kid, truncated and escaped.
    let untrusted = UntrustedToken::parse(token, config.max_token_bytes).ok();
    let (iss, kid) = match &untrusted {
        Some(t) => (t.unverified_issuer(), t.kid()),
        None => (None, None),
    };

    let outcome = prepare(token, config).and_then(|prepared| {
        let _ = prepared.needs_refetch(&fixed.keys);
        let keys = prepared.needs_keys().then_some(&fixed.keys);
        finish(prepared, keys, NOW, LEEWAY)
    });
    match outcome {
        Ok(principal) => {
            // Nothing but a correctly signed, currently valid token for the one issuer
            // may get here.
            assert_eq!(principal.issuer, ISSUER);
            assert!(principal.expires_at + LEEWAY as f64 > NOW as f64);
            let payload = token.split('.').nth(1).expect("three segments");
            assert_eq!(principal.claims_b64, payload);
            let plan = forward::plan(&principal, config);
            for (name, value) in plan.set() {
                assert!(!name.is_empty());
                assert!(
                    value.bytes().all(|b| (0x20..0x7f).contains(&b)),
                    "{value:?}"
                );
            }
        }
        Err(e) => {
            let rejection = Rejection::from(e);
            let line = rejection.log_line(iss, kid);
            // iss and kid are cut to 128 bytes each; JSON escaping can grow a byte to 6.
            assert!(
                line.len() < 2048,
                "log line not bounded: {} bytes",
                line.len()
            );
            let response = rejection.to_response(&config.realm, config.retry_after_secs);
            assert_eq!(response.status, 401);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let fixed = fixed();
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    // The input as an `Authorization` header value...
    match bearer_token(Some(s)) {
        Ok(token) => {
            assert!(!token.is_empty() && !token.contains([' ', '\t', ',']));
            if token != s {
                run_token(token, fixed);
            }
        }
        Err(e) => {
            let _ = Rejection::from(e).to_response("edgeguard", 30);
        }
    }
    // ...and as the token itself.
    run_token(s, fixed);
});
