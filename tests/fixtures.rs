//! Every scenario token in fixtures/tokens (minted by node `jose`, an independent JOSE
//! implementation, or assembled by hand where jose refuses) run through the same pure
//! pipeline the Worker uses, with the clock stopped at NOW.

use edgeguard::config::Config;
use edgeguard::decide::pipeline::{finish, prepare};
use edgeguard::error::TokenError;
use edgeguard::keys::{parse_jwks, KeySet};
use edgeguard::token::Principal;
use serde_json::Value;
use std::collections::HashMap;
use std::fs;
use std::path::Path;

/// The instant the fixture claims were written against (see fixtures/README.md).
const NOW: u64 = 1_700_000_100;
const LEEWAY: u64 = 60;
const ISSUER: &str = "https://issuer.fixtures.test/";
const AUDIENCE: &str = "api://edgeguard-fixtures";

fn fixture(path: &str) -> String {
    fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(path),
    )
    .unwrap_or_else(|e| panic!("fixtures/{path}: {e}"))
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
    Config::parse(Some(&Value::Array(vec![item]).to_string()), &HashMap::new()).unwrap()
}

fn run(token: &str, config: &Config, keys: Option<&KeySet>) -> Result<Principal, TokenError> {
    let prepared = prepare(token, config)?;
    let keys = if prepared.needs_keys() { keys } else { None };
    finish(prepared, keys, NOW, LEEWAY)
}

/// The index's expectation strings, mapped to the gateway's errors.
fn expected(expect: &str) -> Vec<TokenError> {
    use TokenError::*;
    match expect {
        "expired" => vec![Expired],
        "not yet valid" => vec![NotYetValid],
        "iat in the future" => vec![IssuedInFuture],
        "missing exp" => vec![MissingExpiry],
        "wrong aud" | "missing aud" => vec![AudienceMismatch],
        "unknown iss" => vec![UnknownIssuer],
        "unknown kid" => vec![UnknownKid],
        "bad signature" => vec![BadSignature],
        "alg not allowed" | "alg none" => vec![AlgorithmNotAllowed],
        "alg does not fit key" => vec![NoSuitableKey],
        "unknown crit" => vec![UnsupportedCrit],
        "malformed token" => vec![Malformed, MalformedHeader, MalformedClaims],
        "invalid exp" => vec![InvalidClaim],
        other => panic!("fixtures/tokens/index.json: unknown expectation {other:?}"),
    }
}

#[test]
fn every_fixture_scenario_gets_its_documented_outcome() {
    let index: Value = serde_json::from_str(&fixture("tokens/index.json")).unwrap();
    let secret = fixture("keys/hs-secret.txt").trim().to_owned();
    let mut checked = 0;
    for (name, entry) in index.as_object().unwrap() {
        let token = fixture(&format!("tokens/{name}.jwt"));
        let jwks_name = entry["jwks"].as_str();
        let keys = match jwks_name {
            Some("weak.json") => {
                // A JWKS with only a 1024-bit RSA key yields no usable key at all.
                assert!(parse_jwks(fixture("jwks/weak.json").as_bytes(), 64).is_err());
                checked += 1;
                continue;
            }
            Some(j) => Some(parse_jwks(fixture(&format!("jwks/{j}")).as_bytes(), 64).unwrap()),
            None => None,
        };
        let cfg = match entry.get("issuer_config") {
            Some(ic) => config(Some(ic["algorithms"].clone()), Some(secret.clone())),
            None => config(None, None),
        };
        let outcome = run(token.trim_end(), &cfg, keys.as_ref());
        let expect = entry["expect"].as_str().unwrap();
        if expect == "accept" {
            let p = outcome.unwrap_or_else(|e| panic!("{name}: expected accept, got {e:?}"));
            assert_eq!(p.issuer, ISSUER, "{name}");
            assert_eq!(p.subject.as_deref(), Some("fixture-user"), "{name}");
        } else {
            let err = outcome
                .err()
                .unwrap_or_else(|| panic!("{name}: expected {expect:?}, got accept"));
            let mut allowed = expected(expect);
            if name == "truncated-signature" {
                // Cutting characters can also leave an impossible base64 length.
                allowed.push(TokenError::Malformed);
            }
            assert!(
                allowed.contains(&err),
                "{name}: expected {expect:?}, got {err:?}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 50, "only {checked} scenarios found");
}

#[test]
fn rotated_key_is_unknown_until_the_new_jwks_is_loaded() {
    let token = fixture("tokens/rotated-kid.jwt");
    let cfg = config(None, None);
    let old = parse_jwks(fixture("jwks/main.json").as_bytes(), 64).unwrap();
    let new = parse_jwks(fixture("jwks/rotated.json").as_bytes(), 64).unwrap();
    let prepared = prepare(token.trim_end(), &cfg).unwrap();
    assert!(prepared.needs_refetch(&old));
    assert!(!prepared.needs_refetch(&new));
    assert_eq!(
        run(token.trim_end(), &cfg, Some(&old)).unwrap_err(),
        TokenError::UnknownKid
    );
    assert!(run(token.trim_end(), &cfg, Some(&new)).is_ok());
}

#[test]
fn algorithm_allow_list_comes_from_configuration() {
    let keys = parse_jwks(fixture("jwks/main.json").as_bytes(), 64).unwrap();
    let ps256 = fixture("tokens/valid-ps256.jwt");
    let only_rs256 = config(Some(serde_json::json!(["RS256"])), None);
    assert_eq!(
        run(ps256.trim_end(), &only_rs256, Some(&keys)).unwrap_err(),
        TokenError::AlgorithmNotAllowed
    );
    assert!(run(ps256.trim_end(), &config(None, None), Some(&keys)).is_ok());
}

#[test]
fn rsa_public_key_as_hmac_secret_fails_even_where_hs256_is_allowed() {
    // The issuer allows HS256 with its own secret: the confusion token must still fail.
    let secret = fixture("keys/hs-secret.txt").trim().to_owned();
    let cfg = config(Some(serde_json::json!(["RS256", "HS256"])), Some(secret));
    let keys = parse_jwks(fixture("jwks/main.json").as_bytes(), 64).unwrap();
    let token = fixture("tokens/hs256-with-rsa-public-key.jwt");
    assert_eq!(
        run(token.trim_end(), &cfg, Some(&keys)).unwrap_err(),
        TokenError::BadSignature
    );
}

#[test]
fn claims_header_is_the_signed_payload_segment() {
    let keys = parse_jwks(fixture("jwks/main.json").as_bytes(), 64).unwrap();
    let token = fixture("tokens/valid-rs256.jwt");
    let p = run(token.trim_end(), &config(None, None), Some(&keys)).unwrap();
    assert_eq!(p.claims_b64, token.trim_end().split('.').nth(1).unwrap());
    assert_eq!(p.claims["aud"], AUDIENCE);
}

#[test]
fn leeway_is_applied_both_ways() {
    let keys = parse_jwks(fixture("jwks/main.json").as_bytes(), 64).unwrap();
    let cfg = config(None, None);
    let prepared = |name: &str| fixture(&format!("tokens/{name}.jwt"));
    let within = prepared("valid-exp-within-leeway");
    let within = within.trim_end();
    // exp = NOW-30: accepted with 60 s leeway, refused with none.
    assert!(finish(prepare(within, &cfg).unwrap(), Some(&keys), NOW, 60).is_ok());
    assert_eq!(
        finish(prepare(within, &cfg).unwrap(), Some(&keys), NOW, 0).unwrap_err(),
        TokenError::Expired
    );
    let nbf = prepared("valid-nbf-within-leeway");
    let nbf = nbf.trim_end();
    assert!(finish(prepare(nbf, &cfg).unwrap(), Some(&keys), NOW, 60).is_ok());
    assert_eq!(
        finish(prepare(nbf, &cfg).unwrap(), Some(&keys), NOW, 0).unwrap_err(),
        TokenError::NotYetValid
    );
}

fn config_with(extra: Value) -> Config {
    let mut item = serde_json::json!({
        "issuer": ISSUER,
        "jwks_uri": "https://issuer.fixtures.test/jwks",
        "audiences": [AUDIENCE],
    });
    for (k, v) in extra.as_object().unwrap() {
        item[k] = v.clone();
    }
    Config::parse(Some(&Value::Array(vec![item]).to_string()), &HashMap::new()).unwrap()
}

#[test]
fn rfc9068_profile_checks_per_issuer() {
    let keys = parse_jwks(fixture("jwks/main.json").as_bytes(), 64).unwrap();
    let token = fixture("tokens/valid-rs256.jwt");
    let token = token.trim_end();
    let run_with = |extra: Value| run(token, &config_with(extra), Some(&keys));
    // The fixture's typ is "JWT": an at+jwt requirement refuses it (an ID-token-shaped token).
    assert_eq!(
        run_with(serde_json::json!({"require_typ": "at+jwt"})).unwrap_err(),
        TokenError::WrongType
    );
    assert!(
        run_with(serde_json::json!({"require_typ": "jwt"})).is_ok(),
        "typ compares case-insensitively"
    );
    assert!(run_with(serde_json::json!({"require_typ": "application/JWT"})).is_ok());
    // iat = NOW-100: 100 s old, leeway 60.
    assert!(run_with(serde_json::json!({"max_token_age": 50})).is_ok());
    assert_eq!(
        run_with(serde_json::json!({"max_token_age": 30})).unwrap_err(),
        TokenError::TooOld
    );
    let p = run_with(serde_json::json!({"max_token_age": 50})).unwrap();
    assert_eq!(
        p.expires_at, 1_700_000_050.0,
        "the cache must stop serving at iat + max_token_age"
    );
    assert_eq!(
        run_with(serde_json::json!({"required_claims": ["sub", "jti"]})).unwrap_err(),
        TokenError::MissingClaim
    );
    assert!(run_with(serde_json::json!({"required_claims": ["sub", "aud"]})).is_ok());
}

/// A token that brings its own key (`jwk`, `jku`, `x5u`, `x5c` in its header) is checked with
/// the issuer's configured secret only: signed with the key it carries, it is refused; the
/// same header and claims signed with the configured secret verify (so the refusal is about
/// the key, not the shape).
#[test]
fn keys_named_in_the_token_header_are_never_used() {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    use jwt_compact::alg::{Hs256, Hs256Key};
    use jwt_compact::{Algorithm, AlgorithmSignature};
    let secret = fixture("keys/hs-secret.txt").trim().to_owned();
    let cfg = config(Some(serde_json::json!(["HS256"])), Some(secret.clone()));
    let attacker = b"the attacker's own HMAC key, 32+";
    let header = serde_json::json!({
        "alg": "HS256",
        "jwk": {"kty": "oct", "k": URL_SAFE_NO_PAD.encode(attacker)},
        "jku": "https://attacker.example/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
        "x5c": ["MIIB"],
    });
    let claims = serde_json::json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "mallory", "iat": NOW, "exp": NOW + 600,
    });
    let signed_with = |key: &[u8]| {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = Hs256.sign(&Hs256Key::new(key), input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_bytes()))
    };
    assert_eq!(
        run(&signed_with(attacker), &cfg, None).unwrap_err(),
        TokenError::BadSignature
    );
    let configured = URL_SAFE_NO_PAD
        .decode(&secret)
        .expect("the fixture secret is base64url");
    let p = run(&signed_with(&configured), &cfg, None).expect("the control token verifies");
    assert_eq!(p.subject.as_deref(), Some("mallory"));
}
