//! The field against a reference built from addition alone, decoding and the group against
//! curve25519-dalek, and small-order points.

use super::field::{Fe, P};
use super::point::{Point, Table, B_ENCODED, D, D2, SQRT_M1};
use super::*;
use crate::field::mul_by_addition;
use crate::test_rng::Rng;
use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;

fn random_fe(rng: &mut Rng) -> Fe {
    loop {
        let mut b = rng.bytes();
        b[31] &= 0x7f;
        if let Some(fe) = Fe::from_le(&b) {
            return fe;
        }
    }
}

fn random_scalar(rng: &mut Rng) -> Scalar {
    Scalar::from_bytes_mod_order(rng.bytes())
}

fn small(v: u32) -> Fe {
    Fe::new([v, 0, 0, 0, 0, 0, 0, 0])
}

#[test]
fn constants_are_what_they_claim() {
    // d * 121666 = -121665, 2d = d + d, sqrt(-1)^2 = -1.
    assert_eq!(D.mul(&small(121_666)), small(121_665).neg());
    assert_eq!(D2, D.double());
    assert_eq!(SQRT_M1.square(), Fe::ONE.neg());
    assert_eq!(
        Point::decompress(&B_ENCODED).map(|b| b.compress()),
        Some(ED25519_BASEPOINT_POINT.compress().to_bytes())
    );
}

#[test]
fn field_encoding_refuses_p_and_above() {
    let mut p = Fe::new(P).to_le();
    assert_eq!(Fe::from_le(&p), None);
    p[0] -= 1;
    assert_eq!(Fe::from_le(&p), Some(Fe::p_minus(1)));
    assert_eq!(Fe::from_le(&[0xff; 32]), None);
}

#[test]
fn field_arithmetic_matches_references() {
    let mut rng = Rng(11);
    let mut v = vec![
        Fe::ZERO,
        Fe::ONE,
        Fe::p_minus(1),
        Fe::p_minus(2),
        Fe::p_minus(19),
        small(38),
    ];
    v.extend((0..300).map(|_| random_fe(&mut rng)));
    for a in &v {
        for b in v.iter().take(12) {
            assert_eq!(a.mul(b), mul_by_addition(a, b), "{a:?} * {b:?}");
            assert_eq!(a.add(b).sub(b), *a);
            assert_eq!(a.sub(b).add(b), *a);
        }
        assert_eq!(a.square(), mul_by_addition(a, a));
        assert_eq!(a.add(&a.neg()), Fe::ZERO);
        if !a.is_zero() {
            assert_eq!(a.mul(&a.invert()), Fe::ONE);
        }
    }
    assert_eq!(Fe::p_minus(1).add(&Fe::ONE), Fe::ZERO);
    assert_eq!(Fe::p_minus(1).square(), Fe::ONE);
}

/// What ed25519-dalek accepts as a key encoding after edgeguard's canonical check:
/// dalek decodes it and re-encodes it to the same bytes.
fn dalek_canonical(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    let p = CompressedEdwardsY(*bytes).decompress()?;
    (p.compress().to_bytes() == *bytes).then_some(p)
}

#[test]
fn decoding_agrees_with_dalek_on_canonical_encodings() {
    let mut rng = Rng(12);
    let mut cases: Vec<[u8; 32]> = (0..400).map(|_| rng.bytes()).collect();
    // y = p - 1 .. p + 18 and with the sign bit; y = 1 (identity) and y = -1 (order 2)
    // with and without the sign bit (x = 0: the sign bit is not canonical).
    for k in 0..20u8 {
        let mut y = Fe::new(P).to_le();
        y[0] = y[0].wrapping_add(k).wrapping_sub(1);
        cases.push(y);
        y[31] |= 0x80;
        cases.push(y);
    }
    for y in [Fe::ONE, Fe::ONE.neg()] {
        let mut b = y.to_le();
        cases.push(b);
        b[31] |= 0x80;
        cases.push(b);
    }
    cases.extend(EIGHT_TORSION.iter().map(|p| p.compress().to_bytes()));
    let mut decoded = 0;
    for bytes in cases {
        let ours = Point::decompress(&bytes);
        let theirs = dalek_canonical(&bytes);
        assert_eq!(ours.is_some(), theirs.is_some(), "{bytes:?}");
        if let (Some(ours), Some(theirs)) = (ours, theirs) {
            assert_eq!(ours.compress(), bytes);
            assert_eq!(ours.is_small_order(), theirs.is_small_order(), "{bytes:?}");
            decoded += 1;
        }
    }
    assert!(
        decoded > 150,
        "random encodings decode about half the time: {decoded}"
    );
}

fn be(s: &Scalar) -> [u8; 32] {
    let mut b = s.to_bytes();
    b.reverse();
    b
}

/// `x B + y Q` on both paths (Q's table, and Horner without it) encodes to `want`.
fn assert_both_paths(x: &Scalar, q: &Point, y: &Scalar, want: [u8; 32]) {
    let table = Table::new(q);
    assert_eq!(
        Table::lincomb(base_table(), &be(x), &table, &be(y)).compress(),
        want
    );
    assert_eq!(
        base_row().lincomb_untabled(&be(x), q, &be(y)).compress(),
        want
    );
}

#[test]
fn double_scalar_multiplication_matches_dalek() {
    let mut rng = Rng(13);
    for _ in 0..30 {
        let (x, y, k) = (
            random_scalar(&mut rng),
            random_scalar(&mut rng),
            random_scalar(&mut rng),
        );
        let q = ED25519_BASEPOINT_POINT * k;
        let want = (ED25519_BASEPOINT_POINT * x + q * y).compress().to_bytes();
        let ours_q = Point::decompress(&q.compress().to_bytes()).unwrap();
        assert_both_paths(&x, &ours_q, &y, want);
    }
    // Sums that cancel: x B + (-x) B is the identity, on both paths.
    let x = random_scalar(&mut rng);
    let base = Point::decompress(&B_ENCODED).unwrap();
    assert_both_paths(&x, &base, &-x, Point::IDENTITY.compress());
}

#[test]
fn small_order_points_are_recognised() {
    let base = Point::decompress(&B_ENCODED).unwrap();
    for t in EIGHT_TORSION {
        let ours = Point::decompress(&t.compress().to_bytes()).unwrap();
        assert!(ours.is_small_order());
        let mixed = (ED25519_BASEPOINT_POINT + t).compress().to_bytes();
        assert!(!Point::decompress(&mixed).unwrap().is_small_order());
        let key = VerifyingKey::from_bytes(&t.compress().to_bytes()).unwrap();
        assert!(key.is_small_order());
        // A small-order key verifies nothing, not even R = identity, S = 0.
        assert!(!key.check(&[0; 32], &[0; 32], &Point::IDENTITY.compress()));
    }
    assert!(!base.is_small_order());
}

#[test]
fn check_accepts_a_real_signature_only_and_tables_a_reused_key() {
    // s = r + k a for A = a B, R = r B (the signing equation), for arbitrary k.
    let mut rng = Rng(14);
    let a = random_scalar(&mut rng);
    let key =
        VerifyingKey::from_bytes(&(ED25519_BASEPOINT_POINT * a).compress().to_bytes()).unwrap();
    for round in 0..4 {
        let (r, k) = (random_scalar(&mut rng), random_scalar(&mut rng));
        let big_r = (ED25519_BASEPOINT_POINT * r).compress().to_bytes();
        let s = r + k * a;
        assert!(key.check(&s.to_bytes(), &k.to_bytes(), &big_r));
        assert_eq!(key.table.get().is_some(), round >= 1);
        assert!(!key.check(&(s + Scalar::ONE).to_bytes(), &k.to_bytes(), &big_r));
        assert!(!key.check(&s.to_bytes(), &(k + Scalar::ONE).to_bytes(), &big_r));
        let mut other_r = big_r;
        other_r[0] ^= 1;
        assert!(!key.check(&s.to_bytes(), &k.to_bytes(), &other_r));
    }
    // R of small order: s = k a + t for a torsion point... cannot satisfy [s]B = R + [k]A
    // with R small order unless R is the identity: s = k a, R = identity.
    let k = random_scalar(&mut rng);
    let s = k * a;
    assert!(!key.check(&s.to_bytes(), &k.to_bytes(), &Point::IDENTITY.compress()));
}

#[test]
fn the_base_row_is_its_tables_first_row() {
    assert_eq!(base_row().0, base_table().0[0]);
}
