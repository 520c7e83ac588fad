//! Points of y^2 = x^3 - 3x + b over the field, in Jacobian coordinates (x = X/Z^2,
//! y = Y/Z^3; Z = 0 is the point at infinity), with the a = -3 formulas of the Explicit-
//! Formulas Database (dbl-2001-b, add-2007-bl, madd-2007-bl). Variable time: a verifier's
//! inputs are all public. The exceptional cases of the addition formulas (equal or
//! opposite inputs, infinity) are tested for and handled, not assumed away.

use super::field::Fe;
use crate::table::{batch_invert, Curve, Group, Negate};

/// b of the curve equation (SEC 2 2.4.2).
pub(crate) const B: Fe = Fe::new([
    0x27d2_604b,
    0x3bce_3c3e,
    0xcc53_b0f6,
    0x651d_06b0,
    0x7698_86bc,
    0xb3eb_bd55,
    0xaa3a_93e7,
    0x5ac6_35d8,
]);

/// The generator (SEC 2 2.4.2); a test checks it against p256's.
const G: Affine = Affine {
    x: Fe::new([
        0xd898_c296,
        0xf4a1_3945,
        0x2deb_33a0,
        0x7703_7d81,
        0x63a4_40f2,
        0xf8bc_e6e5,
        0xe12c_4247,
        0x6b17_d1f2,
    ]),
    y: Fe::new([
        0x37bf_51f5,
        0xcbb6_4068,
        0x6b31_5ece,
        0x2bce_3357,
        0x7c0f_9e16,
        0x8ee7_eb4a,
        0xfe1a_7f9b,
        0x4fe3_42e2,
    ]),
};

/// A point on the curve other than infinity, in affine coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Affine {
    pub(crate) x: Fe,
    pub(crate) y: Fe,
}

impl Affine {
    /// From big-endian coordinates: `None` unless both are below p and the point is on
    /// the curve (which also excludes infinity, having no affine form).
    pub fn from_xy(x: &[u8; 32], y: &[u8; 32]) -> Option<Affine> {
        let (x, y) = (Fe::from_be(x)?, Fe::from_be(y)?);
        let p = Affine { x, y };
        p.is_on_curve().then_some(p)
    }

    pub const GENERATOR: Affine = G;

    /// y^2 == x^3 - 3x + b
    pub(crate) fn is_on_curve(&self) -> bool {
        let (x, y) = (self.x, self.y);
        let three_x = x.double().add(&x);
        y.square() == x.square().mul(&x).sub(&three_x).add(&B)
    }

    pub(crate) fn neg(&self) -> Affine {
        Affine {
            x: self.x,
            y: self.y.neg(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Jacobian {
    pub(crate) x: Fe,
    pub(crate) y: Fe,
    pub(crate) z: Fe,
}

impl From<Affine> for Jacobian {
    fn from(p: Affine) -> Jacobian {
        Jacobian {
            x: p.x,
            y: p.y,
            z: Fe::ONE,
        }
    }
}

impl Jacobian {
    pub const INFINITY: Jacobian = Jacobian {
        x: Fe::ONE,
        y: Fe::ONE,
        z: Fe::ZERO,
    };

    pub fn is_infinity(&self) -> bool {
        self.z.is_zero()
    }

    /// 2P (dbl-2001-b). Infinity doubles to infinity (Z3 = 2YZ = 0); no point of odd
    /// order has Y = 0.
    pub fn double(&self) -> Jacobian {
        let delta = self.z.square();
        let gamma = self.y.square();
        let beta = self.x.mul(&gamma);
        let t = self.x.sub(&delta).mul(&self.x.add(&delta));
        let alpha = t.double().add(&t);
        let beta4 = beta.double().double();
        let x3 = alpha.square().sub(&beta4.double());
        let z3 = self.y.add(&self.z).square().sub(&gamma).sub(&delta);
        let gamma2_8 = gamma.square().double().double().double();
        let y3 = alpha.mul(&beta4.sub(&x3)).sub(&gamma2_8);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// P + Q for an affine Q (madd-2007-bl).
    pub fn add_affine(&self, q: &Affine) -> Jacobian {
        if self.is_infinity() {
            return Jacobian::from(*q);
        }
        let z1z1 = self.z.square();
        let u2 = q.x.mul(&z1z1);
        let s2 = q.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&self.x);
        let r = s2.sub(&self.y).double();
        if h.is_zero() {
            // Same x: P = Q (double) or P = -Q (infinity).
            return if r.is_zero() {
                self.double()
            } else {
                Jacobian::INFINITY
            };
        }
        let hh = h.square();
        let i = hh.double().double();
        let j = h.mul(&i);
        let v = self.x.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.double());
        let y3 = r.mul(&v.sub(&x3)).sub(&self.y.mul(&j).double());
        let z3 = self.z.add(&h).square().sub(&z1z1).sub(&hh);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// P + Q (add-2007-bl).
    pub fn add(&self, q: &Jacobian) -> Jacobian {
        if self.is_infinity() {
            return *q;
        }
        if q.is_infinity() {
            return *self;
        }
        let z1z1 = self.z.square();
        let z2z2 = q.z.square();
        let u1 = self.x.mul(&z2z2);
        let u2 = q.x.mul(&z1z1);
        let s1 = self.y.mul(&q.z).mul(&z2z2);
        let s2 = q.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&u1);
        let r = s2.sub(&s1).double();
        if h.is_zero() {
            return if r.is_zero() {
                self.double()
            } else {
                Jacobian::INFINITY
            };
        }
        let i = h.double().square();
        let j = h.mul(&i);
        let v = u1.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.double());
        let y3 = r.mul(&v.sub(&x3)).sub(&s1.mul(&j).double());
        let z3 = self.z.add(&q.z).square().sub(&z1z1).sub(&z2z2).mul(&h);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    pub(crate) fn neg(&self) -> Jacobian {
        Jacobian {
            x: self.x,
            y: self.y.neg(),
            z: self.z,
        }
    }

    /// The affine form; `None` for infinity.
    #[cfg(test)]
    pub fn to_affine(self) -> Option<Affine> {
        if self.is_infinity() {
            return None;
        }
        Some(self.affine_given(&self.z.invert()))
    }

    /// The affine form, given 1/Z (one inversion may serve many points: `P256::entries`).
    fn affine_given(&self, zinv: &Fe) -> Affine {
        let zinv2 = zinv.square();
        Affine {
            x: self.x.mul(&zinv2),
            y: self.y.mul(&zinv2).mul(zinv),
        }
    }
}

/// P-256 for the fixed-base tables: Jacobian sums, affine entries (W = 5: 52 * 16 * 64
/// bytes = 53 KB per table).
pub struct P256;

impl Curve for P256 {
    type Point = Jacobian;
    type Entry = Affine;
    const IDENTITY: Jacobian = Jacobian::INFINITY;

    fn add_entry(acc: &Jacobian, entry: &Affine) -> Jacobian {
        acc.add_affine(entry)
    }

    fn entries(points: &[Jacobian]) -> Vec<Affine> {
        let zs: Vec<Fe> = points.iter().map(|p| p.z).collect();
        points
            .iter()
            .zip(batch_invert(&zs))
            .map(|(p, zinv)| p.affine_given(&zinv))
            .collect()
    }
}

pub type Table = crate::table::Table<P256>;
pub type Row = crate::table::Row<P256>;

impl Negate for Affine {
    fn negate(&self) -> Affine {
        self.neg()
    }
}

impl Negate for Jacobian {
    fn negate(&self) -> Jacobian {
        self.neg()
    }
}

impl Group for Jacobian {
    fn double(&self) -> Jacobian {
        Jacobian::double(self)
    }

    fn add(&self, other: &Jacobian) -> Jacobian {
        Jacobian::add(self, other)
    }
}
