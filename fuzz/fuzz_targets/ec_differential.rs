//! crates/edgeguard-ec against the RustCrypto `p256` and `curve25519-dalek` references, on
//! inputs the fuzzer picks: key decoding of arbitrary bytes (P-256 `x, y`; an Ed25519
//! encoding), and the verification equation with scalars taken from the input, on both of a
//! key's paths (its first use without a table, then with it).
#![no_main]

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::scalar::Scalar as EdScalar;
use edgeguard_ec::{ed25519, p256 as ec256};
use libfuzzer_sys::fuzz_target;
use p256::elliptic_curve::ff::PrimeField;
use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::point::AffineCoordinates;
use p256::elliptic_curve::Group;
use p256::{FieldBytes, ProjectivePoint, Scalar};

fn chunk(data: &[u8], i: usize) -> [u8; 32] {
    data[1 + 32 * i..33 + 32 * i].try_into().unwrap_or([0; 32])
}

fn reduce(bytes: [u8; 32]) -> Scalar {
    <Scalar as Reduce<FieldBytes>>::reduce(&bytes.into())
}

fn p256_case(data: &[u8]) {
    // Decoding: ours accepts exactly the points p256 accepts.
    let (x, y) = (chunk(data, 0), chunk(data, 1));
    let mut sec1 = [4u8; 65];
    sec1[1..33].copy_from_slice(&x);
    sec1[33..].copy_from_slice(&y);
    let theirs = p256::PublicKey::from_sec1_bytes(&sec1).is_ok();
    assert_eq!(ec256::VerifyingKey::from_xy(&x, &y).is_some(), theirs);

    // The equation: Q = k G, R = u1 G + u2 Q; check(u1, u2, x(R) mod n) on both paths.
    let (k, u1, u2) = (
        reduce(chunk(data, 0)),
        reduce(chunk(data, 1)),
        reduce(chunk(data, 2)),
    );
    let q = ProjectivePoint::GENERATOR * k;
    if bool::from(q.is_identity()) {
        return;
    }
    let qa = q.to_affine();
    let key = ec256::VerifyingKey::from_xy(&qa.x().into(), &qa.y().into()).expect("p256's point");
    let sum = ProjectivePoint::GENERATOR * u1 + q * u2;
    let (u1, u2) = (u1.to_repr().into(), u2.to_repr().into());
    if bool::from(sum.is_identity()) {
        for _ in 0..3 {
            assert!(!key.check(&u1, &u2, &[0; 32]) && !key.check(&u1, &u2, &[1; 32]));
        }
        return;
    }
    let r = reduce(sum.to_affine().x().into());
    let (r, wrong) = (r.to_repr().into(), (r + Scalar::ONE).to_repr().into());
    for _ in 0..3 {
        assert!(key.check(&u1, &u2, &r));
        assert!(!key.check(&u1, &u2, &wrong));
    }
}

fn ed25519_case(data: &[u8]) {
    // Decoding: ours accepts exactly the canonical encodings dalek decodes.
    let bytes = chunk(data, 0);
    let theirs = CompressedEdwardsY(bytes)
        .decompress()
        .filter(|p| p.compress().to_bytes() == bytes);
    let ours = ed25519::VerifyingKey::from_bytes(&bytes);
    assert_eq!(ours.is_some(), theirs.is_some());
    if let (Some(ours), Some(theirs)) = (ours, theirs) {
        assert_eq!(ours.is_small_order(), theirs.is_small_order());
    }

    // The equation: A = a B, R = r B, s = r + k a; check(s, k, R) on both paths.
    let a = EdScalar::from_bytes_mod_order(chunk(data, 1));
    let (r, k) = (
        EdScalar::from_bytes_mod_order(chunk(data, 2)),
        EdScalar::from_bytes_mod_order(chunk(data, 3)),
    );
    let big_a = ED25519_BASEPOINT_POINT * a;
    let key = ed25519::VerifyingKey::from_bytes(&big_a.compress().to_bytes()).expect("a point");
    let big_r = (ED25519_BASEPOINT_POINT * r).compress().to_bytes();
    let s = r + k * a;
    // a = 0 (a small-order key) or r = 0 (R the identity, small order) verifies nothing.
    let valid = a != EdScalar::ZERO && r != EdScalar::ZERO;
    for _ in 0..3 {
        assert_eq!(key.check(&s.to_bytes(), &k.to_bytes(), &big_r), valid);
        assert!(!key.check(&(s + EdScalar::ONE).to_bytes(), &k.to_bytes(), &big_r));
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 1 + 4 * 32 {
        return;
    }
    if data[0] & 1 == 0 {
        p256_case(data);
    } else {
        ed25519_case(data);
    }
});
