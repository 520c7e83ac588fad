use super::*;
use crate::keys::parse_entry;
use crate::verify::eddsa::Ed25519Key;
use jwt_compact::{Algorithm, AlgorithmSignature};
use serde_json::Value;

const MESSAGES: [&[u8]; 3] = [b"", b"eyJhbGciOiJFZERTQSJ9.e30", b"any other message"];

fn key(jwk: Value) -> PublicKey {
    parse_entry(&jwk).expect("usable key").key
}

/// The Ed25519 identity point (y = 1): small order, so `[k]A` is the identity for every
/// message hash `k`.
const IDENTITY: [u8; 32] = {
    let mut b = [0u8; 32];
    b[0] = 1;
    b
};

#[test]
fn the_identity_key_verifies_no_message() {
    // R = identity, S = 0 satisfies cofactorless [S]B = R + [k]A for A = identity, for
    // every message; strict verification refuses the small-order key and R.
    let key = PublicKey::Ed25519(Ed25519Key::from_bytes(&IDENTITY).unwrap());
    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(&IDENTITY);
    for message in MESSAGES {
        assert!(!verify_public(Alg::EdDsa, &key, message, &signature));
    }
}

/// `n - s` for a raw `r || s` signature over a group of order `n` (big-endian).
pub(crate) fn negate_s(signature: &[u8], n: &[u8]) -> Vec<u8> {
    let half = signature.len() / 2;
    let (r, s) = signature.split_at(half);
    let mut out = r.to_vec();
    let mut negated = vec![0u8; half];
    let mut borrow = 0i16;
    for i in (0..half).rev() {
        let d = n[i] as i16 - s[i] as i16 - borrow;
        borrow = i16::from(d < 0);
        negated[i] = d.rem_euclid(256) as u8;
    }
    assert_eq!(borrow, 0, "s < n");
    out.extend_from_slice(&negated);
    out
}

/// A valid signature and its `(r, n - s)` twin both verify (the JOSE rule: no low-S
/// requirement), and exactly one of the two is high-S; a tampered one still fails.
fn high_and_low_s_both_verify(alg: Alg, key: &PublicKey, message: &[u8], sig: &[u8], n: &[u8]) {
    let twin = negate_s(sig, n);
    let half = sig.len() / 2;
    assert_ne!(sig[half..], twin[half..]);
    assert!(verify_public(alg, key, message, sig), "{alg:?} original");
    assert!(verify_public(alg, key, message, &twin), "{alg:?} n - s");
    let mut tampered = twin.clone();
    tampered[half + 3] ^= 1;
    assert!(
        !verify_public(alg, key, message, &tampered),
        "{alg:?} tampered"
    );
    assert!(
        !verify_public(alg, key, b"another message", &twin),
        "{alg:?} other msg"
    );
}

pub(crate) const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
#[cfg(feature = "extra-curves")]
const P384_N: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";
#[cfg(feature = "extra-curves")]
const P521_N: &str = "01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409";
#[cfg(feature = "extra-curves")]
const SECP256K1_N: &str = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

pub(crate) fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[cfg(feature = "extra-curves")]
fn ec_jwk(crv: &str, sec1_uncompressed: &[u8]) -> Value {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use serde_json::json;
    let half = (sec1_uncompressed.len() - 1) / 2;
    json!({
        "kty": "EC", "crv": crv,
        "x": URL_SAFE_NO_PAD.encode(&sec1_uncompressed[1..1 + half]),
        "y": URL_SAFE_NO_PAD.encode(&sec1_uncompressed[1 + half..]),
    })
}

#[test]
fn es256_accepts_high_s() {
    use jwt_compact::alg::Es256;
    use jwt_compact::jwk::JsonWebKey;
    use serde::Deserialize;
    let private: Value =
        serde_json::from_str(include_str!("../../fixtures/keys/p256-a.private.jwk.json")).unwrap();
    let signer =
        <Es256 as Algorithm>::SigningKey::try_from(&JsonWebKey::deserialize(&private).unwrap())
            .unwrap();
    let mut public = private.clone();
    public.as_object_mut().unwrap().remove("d");
    let key = key(public);
    for message in MESSAGES {
        let sig = Es256.sign(&signer, message).as_bytes().to_vec();
        high_and_low_s_both_verify(Alg::Es256, &key, message, &sig, &hex(P256_N));
    }
}

#[cfg(feature = "extra-curves")]
#[test]
fn es384_es512_and_es256k_accept_high_s() {
    use p384::ecdsa::signature::Signer;
    let p384 = p384::ecdsa::SigningKey::from_slice(&[7u8; 48]).unwrap();
    // A P-521 scalar is 66 bytes below an order of 2^521 and a bit: the first byte is 0 or 1.
    let mut d521 = [7u8; 66];
    d521[0] = 1;
    let p521 = p521::ecdsa::SigningKey::from_slice(&d521).unwrap();
    // k256 signs low-S; the twin is the high-S one its own verifier refuses.
    let k256 = k256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    type Sign<'a> = &'a dyn Fn(&[u8]) -> Vec<u8>;
    let cases: [(Alg, &str, Vec<u8>, Sign, &str); 3] = [
        (
            Alg::Es384,
            "P-384",
            p384.verifying_key()
                .to_encoded_point(false)
                .as_bytes()
                .to_vec(),
            &|m| Signer::<p384::ecdsa::Signature>::sign(&p384, m).to_vec(),
            P384_N,
        ),
        (
            Alg::Es512,
            "P-521",
            p521::ecdsa::VerifyingKey::from(&p521)
                .to_encoded_point(false)
                .as_bytes()
                .to_vec(),
            &|m| Signer::<p521::ecdsa::Signature>::sign(&p521, m).to_vec(),
            P521_N,
        ),
        (
            Alg::Es256k,
            "secp256k1",
            k256.verifying_key()
                .to_encoded_point(false)
                .as_bytes()
                .to_vec(),
            &|m| Signer::<k256::ecdsa::Signature>::sign(&k256, m).to_vec(),
            SECP256K1_N,
        ),
    ];
    for (alg, crv, point, sign, n) in cases {
        let key = key(ec_jwk(crv, &point));
        for message in MESSAGES {
            high_and_low_s_both_verify(alg, &key, message, &sign(message), &hex(n));
        }
    }
}
