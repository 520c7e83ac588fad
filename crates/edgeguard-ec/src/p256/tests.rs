//! The field against a reference built from addition alone, the group against RustCrypto's
//! p256, and the edge cases of the formulas (equal, opposite and infinite operands).

use super::field::P;
use super::*;
use crate::field::mul_by_addition;
use crate::test_rng::Rng;
use p256::elliptic_curve::ff::PrimeField;
use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::point::AffineCoordinates;
use p256::{FieldBytes, ProjectivePoint, Scalar};

fn random_fe(rng: &mut Rng) -> Fe {
    loop {
        if let Some(fe) = Fe::from_be(&rng.bytes()) {
            return fe;
        }
    }
}

fn random_scalar(rng: &mut Rng) -> Scalar {
    <Scalar as Reduce<FieldBytes>>::reduce(&rng.bytes().into())
}

/// Edge values, then random ones.
fn samples(rng: &mut Rng, n: usize) -> Vec<Fe> {
    let mut v = vec![
        Fe::ZERO,
        Fe::ONE,
        Fe::p_minus(1),
        Fe::p_minus(2),
        Fe::new([0, 0, 0, 0, 0, 0, 0, 0x8000_0000]),
        Fe::new([0xffff_ffff; 8]).sub(&Fe::new(P)), // 2^256 - 1 - p
        Fe::new([0, 0, 0, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0, 0]),
    ];
    v.extend((0..n).map(|_| random_fe(rng)));
    v
}

#[test]
fn field_encoding_refuses_p_and_above() {
    assert_eq!(Fe::from_be(&Fe::new(P).to_be()), None);
    assert_eq!(Fe::from_be(&[0xff; 32]), None);
    let below = Fe::p_minus(1);
    assert_eq!(Fe::from_be(&below.to_be()), Some(below));
    let mut rng = Rng(1);
    for fe in samples(&mut rng, 100) {
        assert_eq!(Fe::from_be(&fe.to_be()), Some(fe));
    }
}

#[test]
fn field_addition_and_subtraction_wrap_at_p() {
    assert_eq!(Fe::p_minus(1).add(&Fe::ONE), Fe::ZERO);
    assert_eq!(Fe::p_minus(1).add(&Fe::p_minus(1)), Fe::p_minus(2));
    assert_eq!(Fe::ZERO.sub(&Fe::ONE), Fe::p_minus(1));
    assert_eq!(Fe::ONE.neg(), Fe::p_minus(1));
    assert_eq!(Fe::ZERO.neg(), Fe::ZERO);
    let mut rng = Rng(2);
    let v = samples(&mut rng, 200);
    for pair in v.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        assert_eq!(a.add(&b).sub(&b), a);
        assert_eq!(a.sub(&b).add(&b), a);
        assert_eq!(a.add(&b), b.add(&a));
        assert_eq!(a.add(&a.neg()), Fe::ZERO);
    }
}

#[test]
fn field_products_match_repeated_addition() {
    let mut rng = Rng(3);
    let v = samples(&mut rng, 300);
    for a in &v {
        for b in v.iter().take(12) {
            assert_eq!(a.mul(b), mul_by_addition(a, b), "{a:?} * {b:?}");
        }
        assert_eq!(a.square(), mul_by_addition(a, a), "{a:?}^2");
    }
    // (p - 1)^2 = 1
    assert_eq!(Fe::p_minus(1).square(), Fe::ONE);
}

#[test]
fn field_inverse_is_the_inverse() {
    let mut rng = Rng(4);
    for a in samples(&mut rng, 100) {
        if a.is_zero() {
            assert_eq!(a.invert(), Fe::ZERO);
        } else {
            assert_eq!(a.mul(&a.invert()), Fe::ONE, "{a:?}");
        }
    }
}

fn ours(p: &ProjectivePoint) -> Affine {
    let a = p.to_affine();
    Affine::from_xy(&a.x().into(), &a.y().into()).expect("p256's point is on the curve")
}

fn same_point(j: &Jacobian, p: &ProjectivePoint) -> bool {
    match j.to_affine() {
        None => bool::from(p256::elliptic_curve::Group::is_identity(p)),
        Some(a) => !bool::from(p256::elliptic_curve::Group::is_identity(p)) && a == ours(p),
    }
}

fn be(s: &Scalar) -> [u8; 32] {
    s.to_repr().into()
}

#[test]
fn the_generator_and_curve_match_p256s() {
    assert_eq!(ours(&ProjectivePoint::GENERATOR), Affine::GENERATOR);
    assert!(Affine::GENERATOR.is_on_curve());
}

#[test]
fn points_off_the_curve_or_out_of_range_are_refused() {
    let g = Affine::GENERATOR;
    let (x, y) = (g.x.to_be(), g.y.to_be());
    assert!(VerifyingKey::from_xy(&x, &y).is_some());
    let mut y1 = y;
    y1[31] ^= 1;
    assert!(VerifyingKey::from_xy(&x, &y1).is_none());
    assert!(VerifyingKey::from_xy(&[0; 32], &[0; 32]).is_none());
    // y + p encodes the same residue but is not canonical.
    let mut y_plus_p = [0u8; 32];
    let mut carry = 0u16;
    let p = Fe::new(P).0;
    let pb: Vec<u8> = (0..8).rev().flat_map(|i| p[i].to_be_bytes()).collect();
    for i in (0..32).rev() {
        let v = y[i] as u16 + pb[i] as u16 + carry;
        y_plus_p[i] = v as u8;
        carry = v >> 8;
    }
    if carry == 0 {
        assert!(VerifyingKey::from_xy(&x, &y_plus_p).is_none());
    }
    assert!(VerifyingKey::from_xy(&Fe::new(P).to_be(), &y).is_none());
}

#[test]
fn digits_recompose_the_scalar() {
    use crate::table::{HALF, W, WINDOWS};
    let mut rng = Rng(5);
    let mut cases = vec![[0u8; 32], [0xff; 32], [0x88; 32], [0x77; 32], N];
    cases.extend((0..200).map(|_| rng.bytes()));
    for s in cases {
        let d = crate::table::digits(&s);
        let half = HALF as i8;
        assert!(d.iter().all(|&x| (-half..half).contains(&x)), "{d:?}");
        // Recompose bit by bit (with signed carries) and compare with the scalar's bits.
        let mut bits = Vec::with_capacity(WINDOWS * W);
        let mut carry = 0i16;
        for &digit in &d {
            let mut v = digit as i16 + carry;
            for _ in 0..W {
                bits.push(v.rem_euclid(2) as u8);
                v = v.div_euclid(2);
            }
            carry = v;
        }
        assert_eq!(carry, 0);
        for (i, &bit) in bits.iter().enumerate() {
            let want = if i < 256 {
                (s[31 - i / 8] >> (i % 8)) & 1
            } else {
                0
            };
            assert_eq!(bit, want, "bit {i}");
        }
    }
}

/// `a G + b Q` on both paths (Q's table, and Horner without it) is `want`.
fn assert_both_paths(a: &Scalar, q: &Affine, b: &Scalar, want: &ProjectivePoint) {
    let q = Jacobian::from(*q);
    let table = Table::new(&q);
    let tabled = Table::lincomb(generator_table(), &be(a), &table, &be(b));
    assert!(same_point(&tabled, want));
    let untabled = generator_row().lincomb_untabled(&be(a), &q, &be(b));
    assert!(same_point(&untabled, want));
}

#[test]
fn double_scalar_multiplication_matches_p256() {
    let mut rng = Rng(6);
    for _ in 0..40 {
        let (a, b, k) = (
            random_scalar(&mut rng),
            random_scalar(&mut rng),
            random_scalar(&mut rng),
        );
        let q = ProjectivePoint::GENERATOR * k;
        let want = ProjectivePoint::GENERATOR * a + q * b;
        assert_both_paths(&a, &ours(&q), &b, &want);
    }
}

#[test]
fn exceptional_sums_are_handled() {
    let gen = Affine::GENERATOR;
    let neg_gen = ours(&(-ProjectivePoint::GENERATOR));
    let mut rng = Rng(7);
    for _ in 0..10 {
        let a = random_scalar(&mut rng);
        for (q, qp) in [
            (gen, ProjectivePoint::GENERATOR),
            (neg_gen, -ProjectivePoint::GENERATOR),
        ] {
            // b = a (Q = G: every addition of equal points doubles), b = -a (the sum is
            // infinity: opposite points cancel), b = 0 and a = 0.
            for b in [a, -a, Scalar::ZERO] {
                let want = ProjectivePoint::GENERATOR * a + qp * b;
                for (x, y) in [(a, b), (Scalar::ZERO, b)] {
                    let want = if x == a { want } else { qp * y };
                    assert_both_paths(&x, &q, &y, &want);
                }
            }
        }
    }
    let inf = Jacobian::INFINITY;
    assert!(inf.double().is_infinity());
    assert!(inf.add(&inf).is_infinity());
    let j = Jacobian::from(gen);
    assert!(j.add(&j.neg()).is_infinity());
    assert!(j.add_affine(&gen.neg()).is_infinity());
    assert_eq!(inf.add(&j).to_affine(), Some(gen));
    assert_eq!(j.add(&inf).to_affine(), Some(gen));
}

/// u1 G + u2 Q with x(R) mod n = r, as the caller computes them.
fn signature_parts(rng: &mut Rng, q: &ProjectivePoint) -> ([u8; 32], [u8; 32], [u8; 32]) {
    let (u1, u2) = (random_scalar(rng), random_scalar(rng));
    let x = (ProjectivePoint::GENERATOR * u1 + q * &u2).to_affine().x();
    let r = <Scalar as Reduce<FieldBytes>>::reduce(&x);
    (be(&u1), be(&u2), be(&r))
}

#[test]
fn check_accepts_the_right_r_only_and_tables_a_reused_key() {
    let mut rng = Rng(8);
    let q = ProjectivePoint::GENERATOR * random_scalar(&mut rng);
    let a = ours(&q);
    let key = VerifyingKey::from_xy(&a.x.to_be(), &a.y.to_be()).unwrap();
    for round in 0..4 {
        let (u1, u2, r) = signature_parts(&mut rng, &q);
        assert!(key.check(&u1, &u2, &r));
        // The first use builds no table; the second builds it, used from then on.
        assert_eq!(key.table.get().is_some(), round >= 1);
        let mut wrong = r;
        wrong[31] ^= 1;
        assert!(!key.check(&u1, &u2, &wrong));
        assert!(!key.check(&u2, &u1, &r));
    }
    assert!(key.table.get().is_some());
}

#[test]
fn an_x_above_n_matches_r_as_x_minus_n() {
    // A point whose x lies in [n, p): then r = x - n. Found by trying x = n + i until
    // x^3 - 3x + b is a square (p = 3 mod 4: the root is its (p + 1)/4-th power).
    let n = Fe::from_be(&N).unwrap();
    for i in 1u32..200 {
        let x = n.add(&Fe::new([i, 0, 0, 0, 0, 0, 0, 0]));
        let rhs = x.square().mul(&x).sub(&x.double().add(&x)).add(&point::B);
        let y = pow_p_plus_1_over_4(&rhs);
        if y.square() != rhs {
            continue;
        }
        // Scaled by some Z, as a sum would come out of the additions.
        let z = Fe::new([7, 1, 2, 3, 4, 5, 6, 7]);
        let z2 = z.square();
        let sum = Jacobian {
            x: x.mul(&z2),
            y: y.mul(&z2).mul(&z),
            z,
        };
        let r = Fe::new([i, 0, 0, 0, 0, 0, 0, 0]).to_be();
        assert!(x_matches(&sum, &r));
        assert!(!x_matches(&sum, &x.to_be()), "x itself is not below n");
        let mut other = r;
        other[31] ^= 2;
        assert!(!x_matches(&sum, &other));
        return;
    }
    panic!("no point with x in [n, n + 200)");
}

fn pow_p_plus_1_over_4(a: &Fe) -> Fe {
    // (p + 1) / 4 = 2^254 - 2^222 + 2^190 + 2^94, by square-and-multiply over its bits.
    let mut e = [0u32; 8];
    e[7] = 0x4000_0000;
    let sub = |e: &mut [u32; 8], bit: usize| {
        let mut borrow = 1u64 << (bit % 32);
        for w in e.iter_mut().skip(bit / 32) {
            let v = (*w as u64).wrapping_sub(borrow);
            *w = v as u32;
            borrow = (v >> 63) & 1;
        }
    };
    let add = |e: &mut [u32; 8], bit: usize| {
        let mut carry = 1u64 << (bit % 32);
        for w in e.iter_mut().skip(bit / 32) {
            let v = *w as u64 + carry;
            *w = v as u32;
            carry = v >> 32;
        }
    };
    sub(&mut e, 222);
    add(&mut e, 190);
    add(&mut e, 94);
    let mut acc = Fe::ONE;
    for i in (0..256).rev() {
        acc = acc.square();
        if (e[i / 32] >> (i % 32)) & 1 == 1 {
            acc = acc.mul(a);
        }
    }
    acc
}

#[test]
fn the_generator_row_is_its_tables_first_row() {
    assert_eq!(generator_row().0, generator_table().0[0]);
}
