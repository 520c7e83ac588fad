//! Points of edwards25519 (-x^2 + y^2 = 1 + d x^2 y^2) in extended coordinates (x = X/Z,
//! y = Y/Z, xy = T/Z), with the a = -1 formulas of Hisil-Wong-Carter-Dawson as the
//! Explicit-Formulas Database gives them (dbl-2008-hwcd, add-2008-hwcd-3 and its mixed
//! form). For this curve they are complete: no exceptional inputs.

use super::field::Fe;
use crate::table::{batch_invert, Curve, Group, Negate};

/// d = -121665/121666.
pub(crate) const D: Fe = Fe::new([
    0x1359_78a3,
    0x75eb_4dca,
    0x4141_d8ab,
    0x0070_0a4d,
    0x7779_e898,
    0x8cc7_4079,
    0x2b6f_fe73,
    0x5203_6cee,
]);

/// 2d.
pub(crate) const D2: Fe = Fe::new([
    0x26b2_f159,
    0xebd6_9b94,
    0x8283_b156,
    0x00e0_149a,
    0xeef3_d130,
    0x198e_80f2,
    0x56df_fce7,
    0x2406_d9dc,
]);

/// A square root of -1: 2^((p-1)/4).
pub(crate) const SQRT_M1: Fe = Fe::new([
    0x4a0e_a0b0,
    0xc4ee_1b27,
    0xad2f_e478,
    0x2f43_1806,
    0x3dfb_d7a7,
    0x2b4d_0099,
    0x4fc1_df0b,
    0x2b83_2480,
]);

/// The base point B's encoding (RFC 8032 5.1: y = 4/5, x even).
pub(crate) const B_ENCODED: [u8; 32] = {
    let mut b = [0x66u8; 32];
    b[0] = 0x58;
    b
};

#[derive(Clone, Copy, Debug)]
pub struct Point {
    pub(crate) x: Fe,
    pub(crate) y: Fe,
    pub(crate) z: Fe,
    pub(crate) t: Fe,
}

/// An affine point as additions want it: (y + x, y - x, 2d x y).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Niels {
    y_plus_x: Fe,
    y_minus_x: Fe,
    xy2d: Fe,
}

impl Niels {
    fn neg(&self) -> Niels {
        Niels {
            y_plus_x: self.y_minus_x,
            y_minus_x: self.y_plus_x,
            xy2d: self.xy2d.neg(),
        }
    }
}

impl Point {
    pub const IDENTITY: Point = Point {
        x: Fe::ZERO,
        y: Fe::ONE,
        z: Fe::ONE,
        t: Fe::ZERO,
    };

    /// RFC 8032 5.1.3 decoding, canonical encodings only: `None` when y is not below p,
    /// when no x exists, or when x = 0 comes with the sign bit set.
    pub fn decompress(bytes: &[u8; 32]) -> Option<Point> {
        let sign = bytes[31] >> 7 == 1;
        let mut y_bytes = *bytes;
        y_bytes[31] &= 0x7f;
        let y = Fe::from_le(&y_bytes)?;
        let yy = y.square();
        let u = yy.sub(&Fe::ONE);
        let v = D.mul(&yy).add(&Fe::ONE);
        // x = u v^3 (u v^7)^((p-5)/8), then fixed up by sqrt(-1) if that squares to -u/v.
        let v3 = v.square().mul(&v);
        let v7 = v3.square().mul(&v);
        let mut x = u.mul(&v3).mul(&u.mul(&v7).pow_p58());
        let vxx = v.mul(&x.square());
        if vxx == u.neg() {
            x = x.mul(&SQRT_M1);
        } else if vxx != u {
            return None;
        }
        if x.is_zero() && sign {
            return None;
        }
        if x.is_odd() != sign {
            x = x.neg();
        }
        Some(Point {
            x,
            y,
            z: Fe::ONE,
            t: x.mul(&y),
        })
    }

    /// The RFC 8032 encoding (one inversion).
    pub fn compress(&self) -> [u8; 32] {
        let zinv = self.z.invert();
        let (x, y) = (self.x.mul(&zinv), self.y.mul(&zinv));
        let mut out = y.to_le();
        out[31] |= u8::from(x.is_odd()) << 7;
        out
    }

    pub fn is_identity(&self) -> bool {
        self.x.is_zero() && self.y == self.z
    }

    /// Whether 8P is the identity (the eight points of order dividing 8).
    pub fn is_small_order(&self) -> bool {
        self.double().double().double().is_identity()
    }

    pub fn neg(&self) -> Point {
        Point {
            x: self.x.neg(),
            y: self.y,
            z: self.z,
            t: self.t.neg(),
        }
    }

    /// 2P (dbl-2008-hwcd with a = -1).
    pub fn double(&self) -> Point {
        let a = self.x.square();
        let b = self.y.square();
        let c = self.z.square().double();
        let e = self.x.add(&self.y).square().sub(&a).sub(&b);
        let g = b.sub(&a); // D + B with D = -A
        let f = g.sub(&c);
        let h = a.add(&b).neg(); // D - B
        Point {
            x: e.mul(&f),
            y: g.mul(&h),
            z: f.mul(&g),
            t: e.mul(&h),
        }
    }

    /// P + Q (add-2008-hwcd-3).
    pub fn add(&self, q: &Point) -> Point {
        let a = self.y.sub(&self.x).mul(&q.y.sub(&q.x));
        let b = self.y.add(&self.x).mul(&q.y.add(&q.x));
        let c = self.t.mul(&D2).mul(&q.t);
        let d = self.z.mul(&q.z).double();
        sum(a, b, c, d)
    }

    /// P + Q for an affine Q given as (y + x, y - x, 2d x y).
    pub fn add_niels(&self, q: &Niels) -> Point {
        let a = self.y.sub(&self.x).mul(&q.y_minus_x);
        let b = self.y.add(&self.x).mul(&q.y_plus_x);
        let c = self.t.mul(&q.xy2d);
        let d = self.z.double();
        sum(a, b, c, d)
    }
}

/// The shared tail of both additions.
fn sum(a: Fe, b: Fe, c: Fe, d: Fe) -> Point {
    let (e, f, g, h) = (b.sub(&a), d.sub(&c), d.add(&c), b.add(&a));
    Point {
        x: e.mul(&f),
        y: g.mul(&h),
        z: f.mul(&g),
        t: e.mul(&h),
    }
}

/// edwards25519 for the fixed-base tables: extended sums, Niels entries (W = 5: 52 * 16 *
/// 96 bytes = 80 KB per table).
pub struct Ed25519;

impl Curve for Ed25519 {
    type Point = Point;
    type Entry = Niels;
    const IDENTITY: Point = Point::IDENTITY;

    fn add_entry(acc: &Point, entry: &Niels) -> Point {
        acc.add_niels(entry)
    }

    fn entries(points: &[Point]) -> Vec<Niels> {
        let zs: Vec<Fe> = points.iter().map(|p| p.z).collect();
        points
            .iter()
            .zip(batch_invert(&zs))
            .map(|(p, zinv)| {
                let (x, y) = (p.x.mul(&zinv), p.y.mul(&zinv));
                Niels {
                    y_plus_x: y.add(&x),
                    y_minus_x: y.sub(&x),
                    xy2d: x.mul(&y).mul(&D2),
                }
            })
            .collect()
    }
}

pub type Table = crate::table::Table<Ed25519>;
pub type Row = crate::table::Row<Ed25519>;

impl Negate for Niels {
    fn negate(&self) -> Niels {
        self.neg()
    }
}

impl Negate for Point {
    fn negate(&self) -> Point {
        self.neg()
    }
}

impl Group for Point {
    fn double(&self) -> Point {
        Point::double(self)
    }

    fn add(&self, other: &Point) -> Point {
        Point::add(self, other)
    }
}
