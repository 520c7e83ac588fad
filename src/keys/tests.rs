use super::freshness::*;
use super::*;
use crate::config::cache_policy::CachePolicy;

const MAIN: &str = include_str!("../../fixtures/jwks/main.json");
const MIXED: &str = include_str!("../../fixtures/jwks/mixed.json");
const WEAK: &str = include_str!("../../fixtures/jwks/weak.json");

/// The default cache policy (see README).
pub(crate) fn policy() -> CachePolicy {
    CachePolicy {
        min_ttl: 60,
        max_ttl: 3600,
        default_ttl: 600,
        max_stale: 86_400,
        refetch_cooldown: 30,
    }
}

#[test]
fn fixture_jwks_parses_into_ready_keys() {
    let set = parse_jwks(MAIN.as_bytes(), 64).unwrap();
    assert_eq!(set.keys.len(), 5);
    assert_eq!(set.skipped, 0);
}

#[test]
fn unusable_entries_are_skipped_good_ones_kept() {
    let set = parse_jwks(MIXED.as_bytes(), 64).unwrap();
    assert_eq!(set.keys.len(), 1);
    assert_eq!(set.keys[0].kid.as_deref(), Some("rsa2048-a"));
    assert!(set.skipped >= 4);
}

fn okp(x_hex: &str) -> Value {
    let x: Vec<u8> = (0..x_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&x_hex[i..i + 2], 16).unwrap())
        .collect();
    use base64::Engine as _;
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(x);
    serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": x, "use": "sig"})
}

#[test]
fn small_order_and_non_canonical_ed25519_keys_are_never_loaded() {
    let ed25519 = include_str!("../../fixtures/keys/ed25519-a.private.jwk.json");
    let mut good: Value = serde_json::from_str(ed25519).unwrap();
    good.as_object_mut().unwrap().remove("d");
    assert!(parse_entry(&good).is_some());
    for (x, what) in [
        // Small order: a signature made of them verifies many messages at once.
        (
            "0100000000000000000000000000000000000000000000000000000000000000",
            "identity",
        ),
        (
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "order 2",
        ),
        (
            "0000000000000000000000000000000000000000000000000000000000000000",
            "order 4",
        ),
        (
            "0000000000000000000000000000000000000000000000000000000000000080",
            "order 4, x odd",
        ),
        (
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
            "order 8",
        ),
        (
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
            "order 8",
        ),
        // y = p + 1 (the identity again) and y = p + 3 (a point of large order): a
        // second spelling of a key gives a second thumbprint and another hashed `A`.
        (
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "y = p + 1",
        ),
        (
            "f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "y = p + 3",
        ),
    ] {
        assert!(parse_entry(&okp(x)).is_none(), "{what}");
        let set = format!(r#"{{"keys":[{},{}]}}"#, okp(x), good);
        assert_eq!(parse_jwks(set.as_bytes(), 64).unwrap().skipped, 1, "{what}");
    }
}

#[test]
fn jwk_members_decode_as_with_jwt_compacts_base64url_decoder() {
    use base64ct::{Base64UrlUnpadded, Encoding as _};
    // Every string of up to 4 characters from an alphabet with each class of last
    // character (trailing bits zero or not), the other alphabet, padding and whitespace,
    // then those after a valid 4-character block.
    let alphabet = [
        'A', 'B', 'E', 'Q', 'g', 'w', '_', '-', '+', '/', '=', ' ', '\n', '.',
    ];
    let mut strings = vec![String::new()];
    for _ in 0..4 {
        let longer: Vec<String> = strings
            .iter()
            .filter(|s| s.len() == strings.last().unwrap().len())
            .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
            .collect();
        strings.extend(longer);
    }
    let n = strings.len();
    for i in 0..n {
        strings.push(format!("AQAB{}", strings[i]));
    }
    for s in &strings {
        assert_eq!(
            crate::token::decode_segment(s).ok(),
            Base64UrlUnpadded::decode_vec(s).ok(),
            "{s:?}"
        );
    }
    assert!(strings.len() > 80_000);
}

/// `JwkMeta` as a serde derive read it until 2026-12: the reference for `JwkMeta::read`.
#[derive(serde::Deserialize)]
struct DerivedJwkMeta {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    #[serde(default)]
    key_ops: Option<Vec<String>>,
    #[serde(default)]
    alg: Option<String>,
}

fn derived_meta(entry: &Value) -> Option<JwkMeta> {
    use serde::Deserialize;
    let m = DerivedJwkMeta::deserialize(entry).ok()?;
    Some(JwkMeta {
        kty: m.kty,
        kid: m.kid,
        use_: m.use_,
        key_ops: m.key_ops,
        alg: m.alg,
    })
}

#[test]
fn jwk_metadata_is_read_as_the_serde_derive_read_it() {
    let doc: Value = serde_json::from_str(MAIN).unwrap();
    let key = &doc["keys"][0];
    let mut variants = vec![
        key.clone(),
        Value::Null,
        serde_json::json!([]),
        serde_json::json!("RSA"),
    ];
    for name in ["kty", "kid", "use", "key_ops", "alg"] {
        for v in [
            Value::Null,
            serde_json::json!(1),
            serde_json::json!(true),
            serde_json::json!("verify"),
            serde_json::json!(""),
            serde_json::json!([]),
            serde_json::json!(["verify"]),
            serde_json::json!(["sign", "verify"]),
            serde_json::json!(["verify", 1]),
            serde_json::json!([null]),
            serde_json::json!({}),
        ] {
            let mut e = key.clone();
            e[name] = v;
            variants.push(e);
        }
        let mut without = key.clone();
        without.as_object_mut().unwrap().remove(name);
        variants.push(without);
    }
    for v in &variants {
        assert_eq!(JwkMeta::read(v), derived_meta(v), "{v}");
    }
}

/// What `parse_entry` decided while it went through jwt-compact's `JsonWebKey` (until
/// 2026-12): the reference for reading the members directly.
fn loads_through_json_web_key(entry: &Value) -> bool {
    use jwt_compact::jwk::JsonWebKey;
    use serde::Deserialize;
    let Some(meta) = derived_meta(entry) else {
        return false;
    };
    if !matches!(meta.kty.as_str(), "RSA" | "EC" | "OKP") || entry.get("d").is_some() {
        return false;
    }
    match JsonWebKey::deserialize(entry) {
        Ok(JsonWebKey::Rsa {
            modulus,
            public_exponent,
            ..
        }) => RsaKey::from_be(&modulus, &public_exponent, 2048).is_ok(),
        Ok(JsonWebKey::EllipticCurve { curve, x, y, .. }) => {
            curve == "P-256" && P256Key::from_xy(&x, &y).is_some()
        }
        Ok(JsonWebKey::KeyPair { curve, x, .. }) => curve == "Ed25519" && ed25519_key(&x).is_some(),
        _ => false,
    }
}

#[test]
fn jwk_members_are_read_as_jwt_compact_reads_them() {
    let doc: Value = serde_json::from_str(MAIN).unwrap();
    let mut checked = 0;
    for key in doc["keys"].as_array().unwrap() {
        let mut variants = vec![key.clone()];
        // The members that make the key (the others are read by `JwkMeta` either way).
        let members = key.as_object().unwrap().iter();
        for (name, value) in
            members.filter(|(n, _)| ["kty", "crv", "n", "e", "x", "y"].contains(&n.as_str()))
        {
            let mut edit = |v: Value| {
                let mut e = key.clone();
                e[name.as_str()] = v;
                variants.push(e);
            };
            edit(Value::Null);
            edit(serde_json::json!(1));
            edit(serde_json::json!([value]));
            edit(serde_json::json!("other"));
            edit(serde_json::json!(""));
            if let Some(text) = value.as_str() {
                // Padding, the standard alphabet, non-canonical trailing bits, a
                // truncated or extended value, whitespace.
                edit(Value::String(format!("{text}=")));
                edit(Value::String(format!("{text}==")));
                edit(Value::String(text.replace('-', "+").replace('_', "/")));
                edit(Value::String(format!(" {text}")));
                edit(Value::String(text[..text.len() - 1].to_string()));
                edit(Value::String(format!("{text}A")));
                edit(Value::String(format!("{text}AA")));
                let last = text.chars().last().unwrap();
                for c in ['A', 'B', 'D', 'Q', 'R', 'g', 'w', '_'] {
                    if c != last {
                        edit(Value::String(format!("{}{c}", &text[..text.len() - 1])));
                    }
                }
            }
            let mut without = key.clone();
            without.as_object_mut().unwrap().remove(name);
            variants.push(without);
        }
        for crv in ["P-384", "secp256k1", "X25519", "Ed448", "p-256", "ed25519"] {
            let mut e = key.clone();
            e["crv"] = Value::String(crv.into());
            variants.push(e);
        }
        for v in &variants {
            assert_eq!(
                parse_entry(v).is_some(),
                loads_through_json_web_key(v),
                "{v}"
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn weak_rsa_keys_are_never_loaded() {
    assert_eq!(
        parse_jwks(WEAK.as_bytes(), 64).unwrap_err(),
        JwksError::Invalid("no usable signing key")
    );
}

#[test]
fn documents_that_are_not_a_jwks_are_errors() {
    for body in [
        "<html>",
        "{}",
        r#"{"keys":{}}"#,
        r#"{"keys":[]}"#,
        "[1]",
        r#"{"keys":[],"keys":[]}"#,
    ] {
        assert!(parse_jwks(body.as_bytes(), 64).is_err(), "{body}");
    }
    assert_eq!(
        parse_jwks(MAIN.as_bytes(), 2).unwrap_err(),
        JwksError::Invalid("too many keys")
    );
}

#[test]
fn selection_by_kid_alg_and_family() {
    let set = parse_jwks(MAIN.as_bytes(), 64).unwrap();
    assert!(
        matches!(set.select(Alg::Rs256, Some("rsa2048-a")), Selection::Candidates(c) if c.len() == 1)
    );
    assert!(matches!(
        set.select(Alg::Ps512, Some("rsa2048-a")),
        Selection::Candidates(_)
    ));
    assert!(matches!(
        set.select(Alg::Rs256, Some("nope")),
        Selection::UnknownKid
    ));
    // Key type does not fit the algorithm.
    assert!(matches!(
        set.select(Alg::Es256, Some("rsa2048-a")),
        Selection::NoSuitableKey
    ));
    // The Ed25519 key pins alg EdDSA; the P-256 key pins ES256.
    assert!(matches!(
        set.select(Alg::EdDsa, Some("ed25519-a")),
        Selection::Candidates(_)
    ));
    // Without kid: exactly one fitting key, or refuse.
    assert!(matches!(set.select(Alg::EdDsa, None), Selection::Candidates(c) if c.len() == 1));
    assert!(matches!(set.select(Alg::Rs256, None), Selection::Ambiguous));
    assert!(matches!(
        set.select(Alg::Hs256, None),
        Selection::NoSuitableKey
    ));
}

#[test]
fn keys_pinned_to_another_alg_or_use_are_not_used() {
    let base: Value = serde_json::from_str(MAIN).unwrap();
    let rsa = base["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == "rsa2048-a")
        .unwrap()
        .clone();
    let with = |extra: Value| {
        let mut k = rsa.clone();
        for (name, v) in extra.as_object().unwrap() {
            k[name] = v.clone();
        }
        serde_json::json!({ "keys": [k] }).to_string()
    };
    let pinned = parse_jwks(with(serde_json::json!({"alg": "RS256"})).as_bytes(), 64).unwrap();
    assert!(matches!(
        pinned.select(Alg::Rs256, Some("rsa2048-a")),
        Selection::Candidates(_)
    ));
    assert!(matches!(
        pinned.select(Alg::Ps256, Some("rsa2048-a")),
        Selection::NoSuitableKey
    ));
    assert!(parse_jwks(with(serde_json::json!({"use": "enc"})).as_bytes(), 64).is_err());
    assert!(parse_jwks(
        with(serde_json::json!({"key_ops": ["encrypt"]})).as_bytes(),
        64
    )
    .is_err());
    assert!(parse_jwks(with(serde_json::json!({"alg": "ES256"})).as_bytes(), 64).is_err());
    assert!(parse_jwks(with(serde_json::json!({"d": "AAAA"})).as_bytes(), 64).is_err());
    assert!(parse_jwks(
        with(serde_json::json!({"key_ops": ["verify"]})).as_bytes(),
        64
    )
    .is_ok());
}

#[test]
fn cache_control_is_clamped() {
    let p = policy();
    assert_eq!(p.ttl_from_cache_control(None), 600);
    assert_eq!(p.ttl_from_cache_control(Some("public, max-age=1200")), 1200);
    assert_eq!(p.ttl_from_cache_control(Some("max-age=5")), 60);
    assert_eq!(p.ttl_from_cache_control(Some("max-age=999999")), 3600);
    assert_eq!(p.ttl_from_cache_control(Some("max-age=abc")), 60);
    assert_eq!(p.ttl_from_cache_control(Some("no-store")), 60);
    assert_eq!(p.ttl_from_cache_control(Some("MAX-AGE=\"120\"")), 120);
}

#[test]
fn freshness_and_stale_window() {
    let p = policy();
    let f = Freshness {
        fetched_at: 1000,
        fresh_until: 1600,
    };
    assert!(f.is_fresh(1599));
    assert!(!f.is_fresh(1600));
    assert!(f.is_usable(1600 + 86_399, &p));
    assert!(!f.is_usable(1600 + 86_400, &p));
    assert_eq!(f.kv_ttl(1000, &p), 600 + 86_400);
    assert_eq!(f.kv_ttl(1_000_000, &p), 60);
}

/// A state with `failures` consecutive failures, the last at `last_failure`.
fn st(
    cached: Option<Freshness>,
    last_attempt: Option<u64>,
    last_failure: Option<u64>,
    failures: u32,
    in_flight: bool,
) -> FetchState {
    FetchState {
        cached,
        last_attempt,
        last_failure,
        failures,
        in_flight,
    }
}

#[test]
fn decisions_follow_the_cache_policy() {
    let p = policy();
    let fresh = Freshness {
        fetched_at: 1000,
        fresh_until: 1600,
    };
    let d = |state: FetchState, want, now| decide(&state, want, now, &p);
    // Nothing cached: fetch, or await the fetch already in flight.
    assert_eq!(
        d(st(None, None, None, 0, false), Want::Current, 1000),
        Decision::Fetch
    );
    assert_eq!(
        d(st(None, Some(1000), None, 0, true), Want::Current, 1000),
        Decision::AwaitOther
    );
    // Fresh: use it; an unknown kid refetches only after the cooldown.
    let ok = st(Some(fresh), Some(1000), None, 0, false);
    assert_eq!(d(ok, Want::Current, 1010), Decision::UseCached);
    assert_eq!(d(ok, Want::Refetch, 1010), Decision::UseCached);
    assert_eq!(d(ok, Want::Refetch, 1030), Decision::Fetch);
    // Expired: refreshed at once, not held back by the unknown-kid cooldown...
    assert_eq!(
        d(
            st(Some(fresh), Some(1590), None, 0, false),
            Want::Current,
            1600
        ),
        Decision::Fetch
    );
    // ...unless the back-off after failed refreshes runs, or another request is fetching.
    let failed = |n| st(Some(fresh), Some(1600), Some(1600), n, false);
    assert_eq!(d(failed(1), Want::Current, 1600), Decision::UseCached);
    assert_eq!(d(failed(1), Want::Current, 1601), Decision::Fetch);
    assert_eq!(d(failed(3), Want::Current, 1603), Decision::UseCached);
    assert_eq!(d(failed(3), Want::Current, 1604), Decision::Fetch);
    assert_eq!(d(failed(20), Want::Current, 1629), Decision::UseCached);
    assert_eq!(d(failed(20), Want::Current, 1630), Decision::Fetch);
    // The back-off holds an unknown-kid refetch back too.
    assert_eq!(
        d(
            st(Some(fresh), Some(1000), Some(1500), 6, false),
            Want::Refetch,
            1520
        ),
        Decision::UseCached
    );
    assert_eq!(
        d(
            st(Some(fresh), Some(1600), None, 0, true),
            Want::Current,
            1610
        ),
        Decision::UseCached
    );
    // Past the stale window the old set is no use: as if nothing were cached.
    let gone = 1600 + 86_400;
    assert_eq!(
        d(
            st(Some(fresh), Some(1600), Some(1600), 1, true),
            Want::Current,
            gone
        ),
        Decision::AwaitOther
    );
    assert_eq!(
        d(
            st(Some(fresh), Some(gone), Some(gone), 1, false),
            Want::Current,
            gone
        ),
        Decision::BackOff
    );
    assert_eq!(
        d(
            st(Some(fresh), Some(gone), Some(gone), 1, false),
            Want::Current,
            gone + 1
        ),
        Decision::Fetch
    );
}

#[test]
fn backoff_doubles_from_one_second_up_to_the_cooldown() {
    let p = policy();
    let steps: Vec<u64> = (0..9).map(|n| backoff_secs(n, &p)).collect();
    assert_eq!(steps, [0, 1, 2, 4, 8, 16, 30, 30, 30]);
    assert_eq!(backoff_secs(u32::MAX, &p), 30);
    let no_cooldown = CachePolicy {
        refetch_cooldown: 0,
        ..policy()
    };
    assert_eq!(backoff_secs(1, &no_cooldown), 1);
    assert_eq!(backoff_secs(64, &no_cooldown), 1);
    let long = CachePolicy {
        refetch_cooldown: 3600,
        ..policy()
    };
    assert_eq!(backoff_secs(12, &long), 2048);
    assert_eq!(backoff_secs(13, &long), 3600);
    // Near the end of time: no overflow.
    let late = st(None, Some(u64::MAX - 2), Some(u64::MAX - 2), 5, false);
    assert_eq!(late.backoff_until(&p), Some(u64::MAX));
    assert_eq!(
        decide(&late, Want::Current, u64::MAX - 1, &p),
        Decision::BackOff
    );
}

/// Drives `decide` like the fetcher does, against an endpoint that always fails, with
/// one request at each of `times`; returns the times a fetch was made.
fn fetches_against_a_failing_endpoint(
    cached: Option<Freshness>,
    times: impl IntoIterator<Item = u64>,
) -> Vec<u64> {
    let p = policy();
    let mut state = st(cached, None, None, 0, false);
    let mut fetched = Vec::new();
    for now in times {
        if decide(&state, Want::Current, now, &p) == Decision::Fetch {
            fetched.push(now);
            state.last_attempt = Some(now);
            state.last_failure = Some(now);
            state.failures += 1;
        }
    }
    fetched
}

#[test]
fn a_failing_endpoint_with_nothing_cached_is_not_fetched_per_request() {
    // 30 requests within one second: one fetch (it was 30).
    assert_eq!(
        fetches_against_a_failing_endpoint(None, std::iter::repeat_n(1000, 30)),
        [1000]
    );
    // One request a second for two minutes: the back-off schedule.
    assert_eq!(
        fetches_against_a_failing_endpoint(None, 1000..1120),
        [1000, 1001, 1003, 1007, 1015, 1031, 1061, 1091]
    );
}

#[test]
fn stale_keys_are_not_refreshed_per_request_while_the_endpoint_fails() {
    let stale = Freshness {
        fetched_at: 0,
        fresh_until: 1000,
    };
    assert_eq!(
        fetches_against_a_failing_endpoint(Some(stale), 1000..1040),
        [1000, 1001, 1003, 1007, 1015, 1031]
    );
}

#[test]
fn unknown_kid_refetch_is_rate_limited() {
    let p = policy();
    assert!(may_refetch(None, 100, &p));
    assert!(!may_refetch(Some(100), 129, &p));
    assert!(may_refetch(Some(100), 130, &p));
}
