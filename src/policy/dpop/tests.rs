use super::*;
use jwt_compact::alg::{Ed25519, Es256, Hs256, Hs256Key, Rsa};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{Algorithm, AlgorithmSignature};
use serde::Deserialize;
use serde_json::json;

const NOW: u64 = 1_700_000_000;
const AT: &str = "access-token.for-dpop-unit-tests";
const URL: &str = "https://api.example.test/v1/res";
const FIXTURES: &str = include_str!("../../../fixtures/dpop/proofs.json");

fn private_key(name: &str) -> Value {
    let text = match name {
        "p256-a" => include_str!("../../../fixtures/keys/p256-a.private.jwk.json"),
        "p256-b" => include_str!("../../../fixtures/keys/p256-b.private.jwk.json"),
        "ed25519-a" => include_str!("../../../fixtures/keys/ed25519-a.private.jwk.json"),
        "rsa2048-a" => include_str!("../../../fixtures/keys/rsa2048-a.private.jwk.json"),
        "rsa1024-weak" => include_str!("../../../fixtures/keys/rsa1024-weak.private.jwk.json"),
        other => panic!("no key {other}"),
    };
    serde_json::from_str(text).unwrap()
}

fn public_key(name: &str) -> Value {
    let mut jwk = private_key(name);
    let members = jwk.as_object_mut().unwrap();
    for m in PRIVATE_MEMBERS.iter().chain(&["kid"]) {
        members.remove(*m);
    }
    jwk
}

fn jkt_of(name: &str) -> String {
    jwk_thumbprint(public_key(name).as_object().unwrap()).unwrap()
}

/// Signs `message` with jwt-compact (not the code under test, which only verifies).
fn sign(alg: &str, key_name: &str, message: &[u8]) -> Vec<u8> {
    let private = private_key(key_name);
    let jwk = JsonWebKey::deserialize(&private).unwrap();
    match alg {
        "ES256" => {
            let key = <Es256 as Algorithm>::SigningKey::try_from(&jwk).unwrap();
            Es256.sign(&key, message).as_bytes().to_vec()
        }
        "EdDSA" => {
            let key = <Ed25519 as Algorithm>::SigningKey::try_from(&jwk).unwrap();
            Ed25519.sign(&key, message).as_bytes().to_vec()
        }
        "RS256" | "PS256" => {
            let key = <Rsa as Algorithm>::SigningKey::try_from(&jwk).unwrap();
            Rsa::with_name(alg).sign(&key, message).as_bytes().to_vec()
        }
        other => panic!("cannot sign {other}"),
    }
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A proof with this header and these claims, signed by `signer` with `alg`.
fn mint(header: &Value, claims: &Value, alg: &str, signer: &str) -> String {
    let signed = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let signature = sign(alg, signer, signed.as_bytes());
    format!("{signed}.{}", b64(signature))
}

fn header(alg: &str, key_name: &str) -> Value {
    json!({"typ": "dpop+jwt", "alg": alg, "jwk": public_key(key_name)})
}

fn claims() -> Value {
    json!({"jti": "jti-1", "htm": "GET", "htu": URL, "iat": NOW, "ath": access_token_hash(AT)})
}

/// The default ES256 proof (p256-a) after `edit` changed its header and claims.
fn es256_with(edit: impl FnOnce(&mut Map<String, Value>, &mut Map<String, Value>)) -> String {
    let (mut h, mut c) = (header("ES256", "p256-a"), claims());
    edit(h.as_object_mut().unwrap(), c.as_object_mut().unwrap());
    mint(&h, &c, "ES256", "p256-a")
}

/// What a Worker without the fleet-wide ledger does with a proof: every check, then the
/// record in this isolate's cache.
#[allow(
    clippy::too_many_arguments,
    reason = "check_proof's arguments, passed on"
)]
fn verify_proof(
    proof: &str,
    method: &str,
    url: &Url,
    at: &str,
    jkt: &str,
    now: u64,
    settings: &DpopSettings,
    replay: &mut ReplayCache,
) -> Result<(), DpopError> {
    let id = check_proof(proof, method, url, at, jkt, now, settings, replay)?;
    replay.record(&id);
    Ok(())
}

fn settings() -> DpopSettings {
    DpopSettings {
        max_age_secs: 300,
        leeway_secs: 5,
    }
}

/// Verifies against the default request (GET URL, AT, p256-a's thumbprint, NOW).
fn check(proof: &str) -> Result<(), DpopError> {
    check_at(proof, "GET", URL, NOW)
}

fn check_at(proof: &str, method: &str, url: &str, now: u64) -> Result<(), DpopError> {
    let url = Url::parse(url).unwrap();
    let mut replay = ReplayCache::new(16);
    verify_proof(
        proof,
        method,
        &url,
        AT,
        &jkt_of("p256-a"),
        now,
        &settings(),
        &mut replay,
    )
}

#[test]
fn rfc7638_example_thumbprint() {
    // RFC 7638 §3.1; `alg` and `kid` are not part of the thumbprint.
    let jwk = json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    });
    assert_eq!(
        jwk_thumbprint(jwk.as_object().unwrap()).as_deref(),
        Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    );
}

#[test]
fn thumbprints_need_the_required_members_of_a_known_kty() {
    let t = |v: Value| jwk_thumbprint(v.as_object().unwrap());
    assert!(t(json!({"kty": "EC", "crv": "P-256", "x": "AA"})).is_none());
    assert!(t(json!({"kty": "RSA", "n": "AA"})).is_none());
    assert!(t(json!({"kty": "OKP", "crv": "Ed25519", "x": 5})).is_none());
    assert!(t(json!({"kty": "oct", "k": "AA"})).is_none());
    assert!(t(json!({"crv": "Ed25519", "x": "AA"})).is_none());
    // Extra members never change it.
    let base = t(json!({"kty": "OKP", "crv": "Ed25519", "x": "AA"})).unwrap();
    let extra = t(json!({"x": "AA", "use": "sig", "kty": "OKP", "crv": "Ed25519"})).unwrap();
    assert_eq!(base, extra);
}

#[test]
fn proofs_signed_by_jose_verify() {
    // fixtures/dpop/proofs.json: made by an independent implementation (see generate.mjs),
    // including the RFC 7638 thumbprint jose computes for each key.
    let doc: Value = serde_json::from_str(FIXTURES).unwrap();
    let access_token = doc["access_token"].as_str().unwrap();
    assert_eq!(doc["ath"].as_str(), Some(&*access_token_hash(access_token)));
    let proofs = doc["proofs"].as_array().unwrap();
    assert!(proofs.len() >= 4);
    for p in proofs {
        let name = p["name"].as_str().unwrap();
        let key_name = p["key"].as_str().unwrap();
        let jkt = p["jkt"].as_str().unwrap();
        assert_eq!(jkt_of(key_name), jkt, "{name}");
        let method = p["htm"].as_str().unwrap();
        let iat = p["iat"].as_u64().unwrap();
        // The request URL as the Worker sees it: lower-case host, with a query string.
        let url = Url::parse("https://api.fixtures.test/").unwrap();
        let path = Url::parse(p["htu"].as_str().unwrap())
            .unwrap()
            .path()
            .to_owned();
        let url = url.join(&format!("{path}?page=2#frag")).unwrap();
        let run = |replay: &mut ReplayCache, method: &str, now: u64| {
            verify_proof(
                p["proof"].as_str().unwrap(),
                method,
                &url,
                access_token,
                jkt,
                now,
                &DpopSettings::default(),
                replay,
            )
        };
        let mut replay = ReplayCache::new(16);
        assert_eq!(run(&mut replay, method, iat + 10), Ok(()), "{name}");
        assert_eq!(
            run(&mut replay, method, iat + 11),
            Err(DpopError::Replayed),
            "{name}"
        );
        let mut fresh = ReplayCache::new(16);
        assert_eq!(
            run(&mut fresh, "PATCH", iat + 10),
            Err(DpopError::MethodMismatch),
            "{name}"
        );
        assert_eq!(
            run(&mut fresh, method, iat + 1000),
            Err(DpopError::Stale),
            "{name}"
        );
    }
}

#[test]
fn minted_proofs_verify_for_every_key_family() {
    for (alg, key_name) in [
        ("ES256", "p256-a"),
        ("EdDSA", "ed25519-a"),
        ("RS256", "rsa2048-a"),
        ("PS256", "rsa2048-a"),
    ] {
        let proof = mint(&header(alg, key_name), &claims(), alg, key_name);
        let url = Url::parse(URL).unwrap();
        let mut replay = ReplayCache::new(16);
        let r = verify_proof(
            &proof,
            "GET",
            &url,
            AT,
            &jkt_of(key_name),
            NOW,
            &settings(),
            &mut replay,
        );
        assert_eq!(r, Ok(()), "{alg}");
    }
}

#[test]
fn typ_must_be_exactly_dpop_jwt() {
    for typ in [json!("JWT"), json!("DPOP+JWT"), json!("dpop"), json!(1)] {
        let proof = es256_with(|h, _| {
            h.insert("typ".into(), typ.clone());
        });
        assert_eq!(check(&proof), Err(DpopError::BadType), "{typ}");
    }
    let proof = es256_with(|h, _| {
        h.remove("typ");
    });
    assert_eq!(check(&proof), Err(DpopError::BadType));
}

#[test]
fn alg_none_and_hmac_are_refused() {
    let unsigned = |alg: &str| {
        let mut h = header("ES256", "p256-a");
        h["alg"] = json!(alg);
        format!("{}.{}.", b64(h.to_string()), b64(claims().to_string()))
    };
    for alg in [
        "none", "None", "NONE", "HS256", "HS384", "HS512", "ES256K", "ES384", "es256", "",
    ] {
        assert_eq!(
            check(&unsigned(alg)),
            Err(DpopError::UnsupportedAlg),
            "{alg}"
        );
    }
    // An HS256 proof with a real MAC, keyed by the public JWK's JSON (the classic
    // algorithm-confusion attempt).
    let mut h = header("ES256", "p256-a");
    h["alg"] = json!("HS256");
    let signed = format!("{}.{}", b64(h.to_string()), b64(claims().to_string()));
    let secret = Hs256Key::new(public_key("p256-a").to_string().as_bytes());
    let mac = Hs256.sign(&secret, signed.as_bytes());
    let proof = format!("{signed}.{}", b64(mac.as_bytes()));
    assert_eq!(check(&proof), Err(DpopError::UnsupportedAlg));
    // No alg at all.
    let proof = es256_with(|h, _| {
        h.remove("alg");
    });
    assert_eq!(check(&proof), Err(DpopError::Malformed));
}

#[test]
fn the_header_must_carry_a_usable_public_jwk() {
    let proof = es256_with(|h, _| {
        h.remove("jwk");
    });
    assert_eq!(check(&proof), Err(DpopError::BadKey));
    let proof = es256_with(|h, _| {
        h.insert("jwk".into(), json!("not an object"));
    });
    assert_eq!(check(&proof), Err(DpopError::BadKey));
    // A key of another family than alg: Ed25519 key, ES256 proof.
    let proof = es256_with(|h, _| {
        h.insert("jwk".into(), public_key("ed25519-a"));
    });
    assert_eq!(check(&proof), Err(DpopError::BadKey));
    // A key pinned to another algorithm of its family.
    let mut h = header("RS256", "rsa2048-a");
    h["jwk"]["alg"] = json!("PS256");
    let proof = mint(&h, &claims(), "RS256", "rsa2048-a");
    assert_eq!(check(&proof), Err(DpopError::BadKey));
    // An encryption key.
    let proof = es256_with(|h, _| {
        h["jwk"]["use"] = json!("enc");
    });
    assert_eq!(check(&proof), Err(DpopError::BadKey));
    // RSA below 2048 bits (parse_entry never loads it; the signature is not reached).
    let mut h = header("RS256", "rsa1024-weak");
    h["alg"] = json!("RS256");
    let proof = format!("{}.{}.c2ln", b64(h.to_string()), b64(claims().to_string()));
    assert_eq!(check(&proof), Err(DpopError::BadKey));
}

#[test]
fn a_jwk_with_private_members_is_refused() {
    // Signed correctly, but the proof publishes its private key.
    let proof = es256_with(|h, _| {
        h.insert("jwk".into(), private_key("p256-a"));
    });
    assert_eq!(check(&proof), Err(DpopError::PrivateKey));
    for member in PRIVATE_MEMBERS {
        let proof = es256_with(|h, _| {
            h["jwk"][member] = json!("AAAA");
        });
        assert_eq!(check(&proof), Err(DpopError::PrivateKey), "{member}");
    }
}

#[test]
fn htm_must_be_the_request_method_exactly() {
    let proof = es256_with(|_, _| {});
    assert_eq!(check_at(&proof, "GET", URL, NOW), Ok(()));
    assert_eq!(
        check_at(&proof, "POST", URL, NOW),
        Err(DpopError::MethodMismatch)
    );
    assert_eq!(
        check_at(&proof, "get", URL, NOW),
        Err(DpopError::MethodMismatch)
    );
}

#[test]
fn htu_must_name_the_request_url_without_query_and_fragment() {
    let proof = es256_with(|_, _| {});
    let at = |url: &str| check_at(&proof, "GET", url, NOW);
    assert_eq!(at("https://api.example.test/v1/res?x=1&y=2"), Ok(()));
    assert_eq!(at("https://api.example.test/v1/res#section"), Ok(()));
    assert_eq!(at("https://API.Example.Test:443/v1/res"), Ok(()));
    assert_eq!(at("https://api.example.test/v1/./x/../res"), Ok(()));
    for other in [
        "https://api.example.test/v1/other",
        "https://api.example.test/v1/res/",
        "https://api.example.test/V1/res",
        "https://evil.example.test/v1/res",
        "http://api.example.test/v1/res",
        "https://api.example.test:8443/v1/res",
        "https://user@api.example.test/v1/res",
    ] {
        assert_eq!(at(other), Err(DpopError::UrlMismatch), "{other}");
    }
    // The proof's own query and fragment are ignored too; normalisation applies to
    // the htu side as well.
    for htu in [
        "https://api.example.test/v1/res?a=b#c",
        "https://api.example.test:443/v1/%72es",
        "HTTPS://api.example.test/v1/res",
    ] {
        let proof = es256_with(|_, c| {
            c.insert("htu".into(), json!(htu));
        });
        assert_eq!(check(&proof), Ok(()), "{htu}");
    }
    for htu in ["/v1/res", "api.example.test/v1/res", ""] {
        let proof = es256_with(|_, c| {
            c.insert("htu".into(), json!(htu));
        });
        assert_eq!(check(&proof), Err(DpopError::UrlMismatch), "{htu}");
    }
}

#[test]
fn percent_encoding_is_normalised() {
    assert_eq!(normalise_percent_encoding("/a%7eb%2fc%2F"), "/a~b%2Fc%2F");
    // A `%` that starts no escape is a percent sign: written `%25`, as in request paths.
    assert_eq!(normalise_percent_encoding("/%41%zz%4"), "/A%25zz%254");
    // (htu, a request URL it names, one it does not). A bare `%` and its escape name the
    // same path (both go to the origin as `%25`).
    for (htu, same, other) in [
        ("/v1/a%2fb", "/v1/a%2Fb", "/v1/a/b"),
        ("/v1/50%", "/v1/50%25", "/v1/50"),
    ] {
        let base = "https://api.example.test";
        let proof = es256_with(|_, c| {
            c.insert("htu".into(), json!(format!("{base}{htu}")));
        });
        assert_eq!(
            check_at(&proof, "GET", &format!("{base}{same}"), NOW),
            Ok(()),
            "{htu}"
        );
        assert_eq!(
            check_at(&proof, "GET", &format!("{base}{other}"), NOW),
            Err(DpopError::UrlMismatch),
            "{htu}"
        );
    }
}

#[test]
fn iat_must_be_inside_the_window() {
    let proof = es256_with(|_, _| {});
    // settings(): max age 300, leeway 5 → iat in [now - 305, now + 5].
    assert_eq!(check_at(&proof, "GET", URL, NOW + 305), Ok(()));
    assert_eq!(
        check_at(&proof, "GET", URL, NOW + 306),
        Err(DpopError::Stale)
    );
    assert_eq!(check_at(&proof, "GET", URL, NOW - 5), Ok(()));
    assert_eq!(
        check_at(&proof, "GET", URL, NOW - 6),
        Err(DpopError::FromFuture)
    );
    // Fractional iat is a NumericDate too.
    let proof = es256_with(|_, c| {
        c.insert("iat".into(), json!(NOW as f64 + 5.5));
    });
    assert_eq!(check(&proof), Err(DpopError::FromFuture));
    let proof = es256_with(|_, c| {
        c.insert("iat".into(), json!(NOW.to_string()));
    });
    assert_eq!(check(&proof), Err(DpopError::Malformed));
}

#[test]
fn ath_must_hash_the_presented_access_token() {
    let proof = es256_with(|_, _| {});
    let url = Url::parse(URL).unwrap();
    let mut replay = ReplayCache::new(16);
    let r = verify_proof(
        &proof,
        "GET",
        &url,
        "another-access-token",
        &jkt_of("p256-a"),
        NOW,
        &settings(),
        &mut replay,
    );
    assert_eq!(r, Err(DpopError::AccessTokenHashMismatch));
    let proof = es256_with(|_, c| {
        c.insert("ath".into(), json!(b64(AT)));
    });
    assert_eq!(check(&proof), Err(DpopError::AccessTokenHashMismatch));
}

#[test]
fn every_required_claim_must_be_present_and_well_typed() {
    for name in ["jti", "htm", "htu", "iat", "ath"] {
        let proof = es256_with(|_, c| {
            c.remove(name);
        });
        assert_eq!(check(&proof), Err(DpopError::MissingClaim), "{name}");
        let proof = es256_with(|_, c| {
            c.insert(name.into(), json!(["wrong", "type"]));
        });
        assert_eq!(check(&proof), Err(DpopError::Malformed), "{name}");
    }
    for jti in [String::new(), "x".repeat(257)] {
        let proof = es256_with(|_, c| {
            c.insert("jti".into(), json!(jti));
        });
        assert_eq!(check(&proof), Err(DpopError::Malformed));
    }
    let proof = es256_with(|_, c| {
        c.insert("jti".into(), json!("x".repeat(256)));
    });
    assert_eq!(check(&proof), Ok(()));
}

#[test]
fn the_proof_key_must_be_the_token_binding() {
    let proof = es256_with(|_, _| {});
    let url = Url::parse(URL).unwrap();
    let mut replay = ReplayCache::new(16);
    for jkt in [jkt_of("p256-b"), jkt_of("ed25519-a"), String::new()] {
        let r = verify_proof(&proof, "GET", &url, AT, &jkt, NOW, &settings(), &mut replay);
        assert_eq!(r, Err(DpopError::KeyMismatch));
    }
    assert!(replay.is_empty());
}

#[test]
fn a_jti_is_accepted_once_per_window() {
    let url = Url::parse(URL).unwrap();
    let mut replay = ReplayCache::new(16);
    let run = |proof: &str, now: u64, replay: &mut ReplayCache| {
        verify_proof(
            proof,
            "GET",
            &url,
            AT,
            &jkt_of("p256-a"),
            now,
            &settings(),
            replay,
        )
    };
    let first = es256_with(|_, _| {});
    assert_eq!(run(&first, NOW, &mut replay), Ok(()));
    assert_eq!(run(&first, NOW + 1, &mut replay), Err(DpopError::Replayed));
    // Same jti in another proof (later iat, so other bytes): still a replay.
    let again = es256_with(|_, c| {
        c.insert("iat".into(), json!(NOW + 1));
    });
    assert_ne!(first, again);
    assert_eq!(run(&again, NOW + 2, &mut replay), Err(DpopError::Replayed));
    // Another jti is fine.
    let other = es256_with(|_, c| {
        c.insert("jti".into(), json!("jti-2"));
    });
    assert_eq!(run(&other, NOW + 2, &mut replay), Ok(()));
    // A failed proof does not burn its jti.
    let fresh = es256_with(|_, c| {
        c.insert("jti".into(), json!("jti-3"));
    });
    let url2 = Url::parse("https://api.example.test/elsewhere").unwrap();
    let r = verify_proof(
        &fresh,
        "GET",
        &url2,
        AT,
        &jkt_of("p256-a"),
        NOW,
        &settings(),
        &mut replay,
    );
    assert_eq!(r, Err(DpopError::UrlMismatch));
    assert_eq!(run(&fresh, NOW + 3, &mut replay), Ok(()));
    assert_eq!(replay.len(), 3);
}

#[test]
fn the_high_s_twin_of_a_used_proof_is_a_replay() {
    use crate::verify::tests::{hex, negate_s, P256_N};
    let proof = es256_with(|_, _| {});
    let (signed, sig) = proof.rsplit_once('.').unwrap();
    let twin = format!(
        "{signed}.{}",
        b64(negate_s(&decode_segment(sig).unwrap(), &hex(P256_N)))
    );
    let url = Url::parse(URL).unwrap();
    let jkt = jkt_of("p256-a");
    let run = |proof: &str, replay: &mut ReplayCache| {
        verify_proof(proof, "GET", &url, AT, &jkt, NOW, &settings(), replay)
    };
    // Both spellings verify (high-S is accepted), but they are one proof.
    assert_eq!(run(&twin, &mut ReplayCache::new(16)), Ok(()));
    let mut replay = ReplayCache::new(16);
    assert_eq!(run(&proof, &mut replay), Ok(()));
    assert_eq!(run(&twin, &mut replay), Err(DpopError::Replayed));
}

#[test]
fn replay_entries_expire_with_the_window_and_stay_bounded() {
    let s = settings();
    let mut cache = ReplayCache::new(4);
    let k = ReplayCache::key("jkt", "a");
    cache.record(&ProofId {
        key: k,
        until: s.valid_until(NOW as f64),
    });
    assert!(cache.seen(&k, NOW + 305));
    assert!(!cache.seen(&k, NOW + 306));
    // Another key's jti does not collide.
    assert!(!cache.seen(&ReplayCache::key("jkt2", "a"), NOW));
    for i in 0..1000 {
        cache.record(&ProofId {
            key: ReplayCache::key("jkt", &i.to_string()),
            until: NOW + 10,
        });
        assert!(cache.len() <= 4);
    }
    assert!(cache.seen(&ReplayCache::key("jkt", "999"), NOW));
    let mut off = ReplayCache::new(0);
    off.record(&ProofId {
        key: k,
        until: NOW + 10,
    });
    assert!(off.is_empty());
}

#[test]
fn signatures_must_verify_with_the_header_key() {
    let proof = es256_with(|_, _| {});
    // Flip one signature byte.
    let (signed, sig) = proof.rsplit_once('.').unwrap();
    let mut sig = decode_segment(sig).unwrap();
    sig[10] ^= 1;
    let tampered = format!("{signed}.{}", b64(&sig));
    assert_eq!(check(&tampered), Err(DpopError::BadSignature));
    // Truncated and empty signatures.
    assert_eq!(
        check(&format!("{signed}.{}", b64(&sig[..32]))),
        Err(DpopError::BadSignature)
    );
    assert_eq!(check(&format!("{signed}.")), Err(DpopError::BadSignature));
    // Payload swapped under a valid signature.
    let (h, rest) = proof.split_once('.').unwrap();
    let (_, s) = rest.split_once('.').unwrap();
    let mut c = claims();
    c["htm"] = json!("POST");
    let swapped = format!("{h}.{}.{s}", b64(c.to_string()));
    assert_eq!(
        check_at(&swapped, "POST", URL, NOW),
        Err(DpopError::BadSignature)
    );
    // Signed by p256-b, claiming p256-a's key.
    let proof = mint(&header("ES256", "p256-a"), &claims(), "ES256", "p256-b");
    assert_eq!(check(&proof), Err(DpopError::BadSignature));
    // EdDSA header and key, but an Ed25519 signature by... the right family, wrong bytes.
    let mut h = header("EdDSA", "ed25519-a");
    h["alg"] = json!("EdDSA");
    let signed = format!("{}.{}", b64(h.to_string()), b64(claims().to_string()));
    let proof = format!("{signed}.{}", b64([0u8; 64]));
    assert_eq!(check(&proof), Err(DpopError::BadSignature));
}

#[test]
fn an_identity_point_key_verifies_no_proof() {
    // x = the identity point; signature R = identity, S = 0: valid for any message
    // under cofactorless verification. Bound by its own thumbprint, so only the key
    // and the signature can refuse it.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(identity)});
    let jkt = jwk_thumbprint(jwk.as_object().unwrap()).unwrap();
    let h = json!({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": jwk});
    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(&identity);
    let url = Url::parse(URL).unwrap();
    for htm in ["GET", "POST"] {
        let mut c = claims();
        c["htm"] = json!(htm);
        let proof = format!(
            "{}.{}.{}",
            b64(h.to_string()),
            b64(c.to_string()),
            b64(signature)
        );
        let mut replay = ReplayCache::new(16);
        let r = verify_proof(&proof, htm, &url, AT, &jkt, NOW, &settings(), &mut replay);
        assert_eq!(r, Err(DpopError::BadKey), "{htm}");
        assert!(replay.is_empty());
    }
}

#[test]
fn malformed_proofs_are_refused_before_anything_else() {
    let good = es256_with(|_, _| {});
    let (h, rest) = good.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    assert_eq!(check(""), Err(DpopError::Missing));
    assert_eq!(check(&format!("{good}, {good}")), Err(DpopError::Multiple));
    let oversized = format!("{h}.{}.{s}", "A".repeat(MAX_PROOF_BYTES));
    assert_eq!(check(&oversized), Err(DpopError::Malformed));
    for bad in [
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}.{s}"),
        format!("{h}=.{p}.{s}"),
        format!(".{p}.{s}"),
        format!("{h}..{s}"),
        format!("{h}.{p}.{s} "),
        format!("{}.{p}.{s}", b64("not json")),
        format!("{h}.{}.{s}", b64("[1]")),
        format!(
            "{}.{p}.{s}",
            b64(r#"{"typ":"dpop+jwt","typ":"dpop+jwt","alg":"ES256"}"#)
        ),
    ] {
        assert_eq!(check(&bad), Err(DpopError::Malformed), "{bad}");
    }
    let proof = es256_with(|h, _| {
        h.insert("crit".into(), json!(["exp"]));
    });
    assert_eq!(check(&proof), Err(DpopError::Malformed));
    // Duplicate claim names, correctly signed.
    let hdr = b64(header("ES256", "p256-a").to_string());
    let dup = b64(format!(
        r#"{{"jti":"a","jti":"b","htm":"GET","htu":"{URL}","iat":{NOW},"ath":"{}"}}"#,
        access_token_hash(AT)
    ));
    let signed = format!("{hdr}.{dup}");
    let sig = sign("ES256", "p256-a", signed.as_bytes());
    assert_eq!(
        check(&format!("{signed}.{}", b64(sig))),
        Err(DpopError::Malformed)
    );
}
