//! Wycheproof known-answer vectors (tests/vectors/wycheproof) for every verifier the
//! gateway uses: every "valid" vector must verify, every "invalid" one must fail;
//! "acceptable" ones may go either way. RSA is also cross-checked against jwt-compact's
//! `rsa`-crate verifier, so the two implementations must agree on every vector.
//! Every vector file in the directory is used.

use edgeguard::alg::Alg;
use edgeguard::keys::{parse_jwks, Selection};
use edgeguard::token::decode_segment;
use edgeguard::verify::rsa::{Hash, Padding, RsaKey};
use edgeguard::verify::PublicKey;
use edgeguard::verify::{verify_hmac, verify_public};
use jwt_compact::alg::{Rsa, RsaPublicKey};
use jwt_compact::{Algorithm, AlgorithmSignature};
use serde_json::Value;
use std::path::PathBuf;

fn vectors(name: &str) -> Value {
    let dir = std::env::var_os("WYCHEPROOF_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/wycheproof")
        });
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (set WYCHEPROOF_DIR to the vectors' directory)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn b64(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

/// Runs `check` on every test of every group and asserts the expected outcomes.
fn run(file: &str, mut check: impl FnMut(&Value, &Value) -> Option<bool>) {
    let doc = vectors(file);
    let (mut valid, mut invalid, mut skipped) = (0, 0, 0);
    for group in doc["testGroups"].as_array().unwrap() {
        for t in group["tests"].as_array().unwrap() {
            let Some(ok) = check(group, t) else {
                skipped += 1;
                continue;
            };
            match t["result"].as_str().unwrap() {
                "valid" => {
                    assert!(
                        ok,
                        "{file} tcId {}: valid vector rejected ({})",
                        t["tcId"], t["comment"]
                    );
                    valid += 1;
                }
                "invalid" => {
                    assert!(
                        !ok,
                        "{file} tcId {}: invalid vector accepted ({})",
                        t["tcId"], t["comment"]
                    );
                    invalid += 1;
                }
                _ => {}
            }
        }
    }
    assert!(valid > 0 && invalid > 0, "{file}: nothing checked");
    eprintln!("{file}: {valid} valid and {invalid} invalid vectors as expected, {skipped} skipped");
}

/// One RSA test case: the group's public key (JWK `n`, `e`), loaded the way the gateway
/// loads JWKS keys, and the case's message and signature.
struct RsaVector {
    n: Vec<u8>,
    e: Vec<u8>,
    key: RsaKey,
    msg: Vec<u8>,
    sig: Vec<u8>,
}

impl RsaVector {
    fn new(jwk: &Value, t: &Value) -> Self {
        let (n, e) = (
            b64(jwk["n"].as_str().unwrap()),
            b64(jwk["e"].as_str().unwrap()),
        );
        let key = RsaKey::from_be(&n, &e, 2048).expect("vector key");
        RsaVector {
            n,
            e,
            key,
            msg: hex(t["msg"].as_str().unwrap()),
            sig: hex(t["sig"].as_str().unwrap()),
        }
    }
}

fn rsa_pkcs1(file: &str, hash: Hash, reference: Rsa) {
    run(file, |group, t| {
        let v = RsaVector::new(&group["keyJwk"], t);
        let ours = v.key.verify(Padding::Pkcs1v15, hash, &v.msg, &v.sig);
        let reference_key = RsaPublicKey::new(
            rsa::BigUint::from_bytes_be(&v.n),
            rsa::BigUint::from_bytes_be(&v.e),
        );
        if let Ok(rk) = reference_key {
            let theirs = <Rsa as Algorithm>::Signature::try_from_slice(&v.sig)
                .map(|s| reference.verify_signature(&s, &rk, &v.msg))
                .unwrap_or(false);
            if t["result"] != "acceptable" {
                assert_eq!(
                    ours, theirs,
                    "{file} tcId {}: rsa_fast and the rsa crate disagree",
                    t["tcId"]
                );
            }
        }
        Some(ours)
    });
}

#[test]
fn rsa_pkcs1_2048_sha256() {
    rsa_pkcs1(
        "rsa_signature_2048_sha256_test.json",
        Hash::Sha256,
        Rsa::rs256(),
    );
}

#[test]
fn rsa_pkcs1_3072_sha384() {
    rsa_pkcs1(
        "rsa_signature_3072_sha384_test.json",
        Hash::Sha384,
        Rsa::rs384(),
    );
}

#[test]
fn rsa_pkcs1_4096_sha512() {
    rsa_pkcs1(
        "rsa_signature_4096_sha512_test.json",
        Hash::Sha512,
        Rsa::rs512(),
    );
}

fn rsa_pss(file: &str, hash: Hash) {
    run(file, |group, t| {
        // JWA's PS* use MGF1 with the same hash and a salt as long as the hash.
        let v = RsaVector::new(&group["publicKeyJwk"], t);
        Some(v.key.verify(Padding::Pss, hash, &v.msg, &v.sig))
    });
}

#[test]
fn rsa_pss_2048_sha256() {
    rsa_pss("rsa_pss_2048_sha256_mgf1_32_test.json", Hash::Sha256);
}

#[test]
fn rsa_pss_2048_sha384() {
    rsa_pss("rsa_pss_2048_sha384_mgf1_48_test.json", Hash::Sha384);
}

#[test]
fn rsa_pss_4096_sha512() {
    rsa_pss("rsa_pss_4096_sha512_mgf1_64_test.json", Hash::Sha512);
}

/// A public JWK from a vector group, loaded the way the gateway loads JWKS entries.
fn key_from_jwk(jwk: &Value) -> Option<PublicKey> {
    let set = parse_jwks(
        serde_json::json!({ "keys": [jwk] }).to_string().as_bytes(),
        64,
    )
    .ok()?;
    Some(set.keys.into_iter().next()?.key)
}

/// Verifies three times with one key: P-256 and Ed25519 keys verify without their
/// fixed-base table on first use and with it (built on the second) after, and both paths
/// must give the vector's answer.
fn verify_with_and_without_table(
    alg: Alg,
    key: &PublicKey,
    msg: &[u8],
    sig: &[u8],
    t: &Value,
) -> bool {
    let first = verify_public(alg, key, msg, sig);
    let again: Vec<bool> = (0..2).map(|_| verify_public(alg, key, msg, sig)).collect();
    assert_eq!(
        again, [first; 2],
        "tcId {}: the key's table changed the answer",
        t["tcId"]
    );
    first
}

/// ECDSA P1363 vectors: the group's SEC1 point becomes a JWK loaded like a JWKS entry.
fn ecdsa(file: &str, crv: &str, alg: Alg) {
    run(file, |group, t| {
        let point = hex(group["publicKey"]["uncompressed"].as_str().unwrap());
        let half = (point.len() - 1) / 2;
        use base64::Engine as _;
        let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jwk = serde_json::json!({
            "kty": "EC", "crv": crv,
            "x": enc.encode(&point[1..1 + half]), "y": enc.encode(&point[1 + half..]),
        });
        let key = key_from_jwk(&jwk).expect("vector key");
        let (msg, sig) = (
            hex(t["msg"].as_str().unwrap()),
            hex(t["sig"].as_str().unwrap()),
        );
        Some(verify_with_and_without_table(alg, &key, &msg, &sig, t))
    });
}

#[test]
fn ecdsa_p256_sha256_p1363() {
    ecdsa(
        "ecdsa_secp256r1_sha256_p1363_test.json",
        "P-256",
        Alg::Es256,
    );
}

#[cfg(feature = "extra-curves")]
#[test]
fn ecdsa_p384_sha384_p1363() {
    ecdsa(
        "ecdsa_secp384r1_sha384_p1363_test.json",
        "P-384",
        Alg::Es384,
    );
}

#[cfg(feature = "extra-curves")]
#[test]
fn ecdsa_p521_sha512_p1363() {
    ecdsa(
        "ecdsa_secp521r1_sha512_p1363_test.json",
        "P-521",
        Alg::Es512,
    );
}

#[cfg(feature = "extra-curves")]
#[test]
fn ecdsa_secp256k1_sha256_p1363() {
    ecdsa(
        "ecdsa_secp256k1_sha256_p1363_test.json",
        "secp256k1",
        Alg::Es256k,
    );
}

#[test]
fn ed25519() {
    run("ed25519_test.json", |group, t| {
        let key = key_from_jwk(&group["publicKeyJwk"]).expect("vector key");
        let (msg, sig) = (
            hex(t["msg"].as_str().unwrap()),
            hex(t["sig"].as_str().unwrap()),
        );
        Some(verify_with_and_without_table(
            Alg::EdDsa,
            &key,
            &msg,
            &sig,
            t,
        ))
    });
}

/// Vectors whose expectation contradicts the contract or the vector file itself; each is
/// reported when skipped.
const CONTRACT_DEVIATIONS: [(&str, u64, &str); 6] = [
    ("json_web_signature_test.json", 367, "same JWS, byte for byte, as tcId 357 (valid) but marked invalid: the stored vector lost its padding"),
    ("json_web_signature_test.json", 370, "same JWS, byte for byte, as tcId 357 (valid) but marked invalid: the stored vector lost its padding"),
    ("json_web_signature_test.json", 372, "expects a decoder that skips '?' inside a segment; the contract requires strict base64url"),
    ("json_web_signature_test.json", 373, "expects a decoder that skips '?' inside a segment; the contract requires strict base64url"),
    // RFC 7520's ES512 example, twice; `rfc7520_es512_verifies_once_its_key_names_es512`
    // checks it.
    ("json_web_signature_test.json", 347, "its key is pinned to `alg: ES521`, which is no algorithm, and a key pinned to an unknown algorithm is never used"),
    ("json_web_signature_test.json", 351, "its key is pinned to `alg: ES521`, which is no algorithm, and a key pinned to an unknown algorithm is never used"),
];

/// JWS-level vectors: the header's `alg` and `kid` select a key from the group's key set
/// with the gateway's own rules (kty, `use`, key `alg`), then the signature is checked.
/// Vectors for algorithms the gateway does not offer are skipped (and counted).
fn jws(file: &str, hmac_from_group: bool) {
    run(file, |group, t| {
        let jws = t["jws"].as_str()?;
        let parts: Vec<&str> = jws.split('.').collect();
        if parts.len() != 3 {
            return Some(false);
        }
        if let Some(reason) = CONTRACT_DEVIATIONS
            .iter()
            .find(|(f, id, _)| *f == file && t["tcId"] == *id)
        {
            eprintln!("{file} tcId {}: not applicable: {}", t["tcId"], reason.2);
            return None;
        }
        // The gateway's own segment decoder (strict base64url).
        let (Ok(header), Ok(_payload), Ok(sig)) = (
            decode_segment(parts[0]),
            decode_segment(parts[1]),
            decode_segment(parts[2]),
        ) else {
            return Some(false);
        };
        let Ok(header) = serde_json::from_slice::<Value>(&header) else {
            return Some(false);
        };
        let alg = header["alg"].as_str().and_then(Alg::from_name);
        let Some(alg) = alg else {
            // Unsupported algorithms are refused by the gateway: fine for invalid vectors.
            return if t["result"] == "valid" {
                None
            } else {
                Some(false)
            };
        };
        let message = format!("{}.{}", parts[0], parts[1]);
        let keys = group.get("public").or(group.get("private")).unwrap();
        let keys: Vec<Value> = match keys.get("keys") {
            Some(Value::Array(k)) => k.clone(),
            _ => vec![keys.clone()],
        };
        if alg.family() == edgeguard::alg::KeyFamily::Hmac {
            if !hmac_from_group {
                // Symmetric keys inside a JWKS are never used (secrets come from config
                // only), so a "valid" HMAC-with-JWKS vector is refused by design.
                return if t["result"] == "valid" {
                    None
                } else {
                    Some(false)
                };
            }
            // HMAC secrets come from configuration: the group's one `oct` key of that alg.
            let secrets: Vec<Vec<u8>> = keys
                .iter()
                .filter(|k| k["kty"] == "oct" && k.get("alg").is_none_or(|a| a == alg.name()))
                .map(|k| b64(k["k"].as_str().unwrap()))
                .collect();
            return Some(
                secrets.len() == 1 && verify_hmac(alg, &secrets[0], message.as_bytes(), &sig),
            );
        }
        let set = match parse_jwks(
            serde_json::json!({ "keys": keys }).to_string().as_bytes(),
            64,
        ) {
            Ok(set) => set,
            Err(_) => return Some(false),
        };
        Some(match set.select(alg, header["kid"].as_str()) {
            Selection::Candidates(c) => c
                .iter()
                .any(|k| verify_public(alg, k, message.as_bytes(), &sig)),
            // RFC 7520's figures reuse a key marked `alg: PS256` for PS384/PS512; the
            // contract never uses a key whose `alg` disagrees, so those are refused by design.
            Selection::NoSuitableKey if t["result"] == "valid" => return None,
            _ => false,
        })
    });
}

/// RFC 7520 §4.3 (Wycheproof's tcIds 347 and 351): the ES512 JWS verifies with its P-521 key once
/// the key's `alg` names ES512, and not with the key as published (`ES521`).
#[cfg(feature = "extra-curves")]
#[test]
fn rfc7520_es512_verifies_once_its_key_names_es512() {
    let doc = vectors("json_web_signature_test.json");
    let (group, t) = doc["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["tests"].as_array().unwrap().iter().map(move |t| (g, t)))
        .find(|(_, t)| t["tcId"] == 347)
        .unwrap();
    let jws = t["jws"].as_str().unwrap();
    let (signed, sig) = jws.rsplit_once('.').unwrap();
    let sig = decode_segment(sig).unwrap();
    let published = group["public"].clone();
    assert_eq!(published["alg"], "ES521");
    let select = |jwk: &Value| {
        let set = parse_jwks(
            serde_json::json!({ "keys": [jwk] }).to_string().as_bytes(),
            64,
        );
        set.ok()
            .and_then(|set| match set.select(Alg::Es512, jwk["kid"].as_str()) {
                Selection::Candidates(c) => Some(c.into_iter().cloned().collect::<Vec<_>>()),
                _ => None,
            })
    };
    assert!(
        select(&published).is_none(),
        "a key pinned to ES521 was used"
    );
    let mut corrected = published;
    corrected["alg"] = "ES512".into();
    let keys = select(&corrected).expect("the P-521 key");
    assert!(keys
        .iter()
        .any(|k| verify_public(Alg::Es512, k, signed.as_bytes(), &sig)));
}

#[test]
fn json_web_signature() {
    jws("json_web_signature_test.json", true);
}

#[test]
fn json_web_key() {
    jws("json_web_key_test.json", false);
}
