//! Points of y^2 = x^3 - 3x + b over the field, in Jacobian coordinates (x = X/Z^2,
//! y = Y/Z^3; Z = 0 is the point at infinity), with the a = -3 formulas of the Explicit-
//! Formulas Database (dbl-2001-b, add-2007-bl, madd-2007-bl). Variable time: a verifier's
//! inputs are all public. The exceptional cases of the addition formulas (equal or
//! opposite inputs, infinity) are tested for and handled, not assumed away.

use crate::field::Fe;

/// b of the curve equation (SEC 2 2.4.2).
pub(crate) const B: Fe = Fe([
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
    x: Fe([
        0xd898_c296,
        0xf4a1_3945,
        0x2deb_33a0,
        0x7703_7d81,
        0x63a4_40f2,
        0xf8bc_e6e5,
        0xe12c_4247,
        0x6b17_d1f2,
    ]),
    y: Fe([
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
        let zinv = self.z.invert();
        let zinv2 = zinv.square();
        Some(Affine {
            x: self.x.mul(&zinv2),
            y: self.y.mul(&zinv2).mul(&zinv),
        })
    }
}

/// Bits per window of the fixed-base tables. 5 rather than 4: ~15 % less per verification
/// (a whole ES256 token in V8: 78 vs 92 µs, medians of 5 interleaved runs) for 53 KB
/// instead of 33 KB per key and a ~1 ms table build; 6 gained ~4 % more for 88 KB.
pub(crate) const W: usize = 5;
/// Multiples per table row: digits are in [-HALF, HALF).
pub(crate) const HALF: usize = 1 << (W - 1);
/// Windows covering 256 bits, plus one for the last carry when the top window is full.
pub(crate) const WINDOWS: usize = 256_usize.div_ceil(W) + (256 % W == 0) as usize;

/// Signed radix-2^W digits of a 256-bit scalar (big-endian): d_i in [-HALF, HALF) with
/// the scalar = sum of d_i * 2^(W i).
pub(crate) fn digits(scalar: &[u8; 32]) -> [i8; WINDOWS] {
    let limbs: [u32; 8] = core::array::from_fn(|i| {
        let at = 28 - 4 * i;
        u32::from_be_bytes([scalar[at], scalar[at + 1], scalar[at + 2], scalar[at + 3]])
    });
    let bits = |offset: usize| -> i16 {
        let (word, shift) = (offset / 32, offset % 32);
        let mut v = u64::from(limbs[word]) >> shift;
        if word + 1 < 8 {
            v |= u64::from(limbs[word + 1]) << (32 - shift);
        }
        (v & ((1 << W) - 1)) as i16
    };
    let mut out = [0i8; WINDOWS];
    let mut carry = 0i16;
    for (i, d) in out.iter_mut().enumerate() {
        let v = if i * W < 256 { bits(i * W) } else { 0 } + carry;
        carry = i16::from(v >= HALF as i16);
        *d = (v - (carry << W)) as i8;
    }
    debug_assert_eq!(carry, 0);
    out
}

/// `t[i][k] = (k + 1) * 2^(W i) * P` for k in 0..HALF, affine: a fixed-base table, so
/// that `u * P` is at most WINDOWS mixed additions and no doubling. WINDOWS * HALF * 64
/// bytes (W = 5: 52 * 16 * 64 = 53 KB).
#[derive(Clone)]
pub struct Table(Box<[[Affine; HALF]; WINDOWS]>);

impl Table {
    pub fn new(p: &Affine) -> Table {
        let mut jac = Vec::with_capacity(WINDOWS * HALF);
        let mut base = Jacobian::from(*p);
        for _ in 0..WINDOWS {
            for m in small_multiples(&base) {
                jac.push(m);
            }
            // 2^W * base = 2 * (HALF * base)
            base = jac[jac.len() - 1].double();
        }
        let affine = normalize(&jac);
        let mut t = Box::new([[*p; HALF]; WINDOWS]);
        for (i, row) in t.iter_mut().enumerate() {
            row.copy_from_slice(&affine[i * HALF..(i + 1) * HALF]);
        }
        Table(t)
    }

    /// `sum of d_i * t[i]` added into `acc`.
    fn add_into(&self, acc: Jacobian, digits: &[i8; WINDOWS]) -> Jacobian {
        self.0
            .iter()
            .zip(digits)
            .fold(acc, |acc, (row, &d)| match signed(row, d) {
                Some(p) => acc.add_affine(&p),
                None => acc,
            })
    }

    /// `a * G + b * Q` with both tables.
    pub fn lincomb(g: &Table, a: &[u8; 32], q: &Table, b: &[u8; 32]) -> Jacobian {
        let acc = g.add_into(Jacobian::INFINITY, &digits(a));
        q.add_into(acc, &digits(b))
    }

    /// `a * G + b * Q` without a table for Q (a key seen once, such as a DPoP proof's):
    /// Horner over the radix-2^W digits, G's multiples from the first row of its table.
    pub fn lincomb_untabled(g: &Table, a: &[u8; 32], q: &Affine, b: &[u8; 32]) -> Jacobian {
        let qm = small_multiples(&Jacobian::from(*q));
        let (da, db) = (digits(a), digits(b));
        let mut acc = Jacobian::INFINITY;
        for i in (0..WINDOWS).rev() {
            for _ in 0..W {
                acc = acc.double();
            }
            if let Some(p) = signed(&g.0[0], da[i]) {
                acc = acc.add_affine(&p);
            }
            if let Some(p) = signed(&qm, db[i]) {
                acc = acc.add(&p);
            }
        }
        acc
    }
}

/// `d * P` from `row = [1..=HALF] * P`; `None` for d = 0.
fn signed<T: Negate>(row: &[T; HALF], d: i8) -> Option<T> {
    let p = row.get(usize::from(d.unsigned_abs()).checked_sub(1)?)?;
    Some(if d < 0 { p.negate() } else { *p })
}

/// Points that can be negated (y to -y) and copied.
trait Negate: Copy {
    fn negate(&self) -> Self;
}

impl Negate for Affine {
    fn negate(&self) -> Affine {
        Affine::neg(self)
    }
}

impl Negate for Jacobian {
    fn negate(&self) -> Jacobian {
        Jacobian::neg(self)
    }
}

/// [1..=HALF] * p.
fn small_multiples(p: &Jacobian) -> [Jacobian; HALF] {
    let mut m = [*p; HALF];
    for k in 1..HALF {
        // (k + 1) p: a doubling when even (cheaper than an addition), else k p + p.
        m[k] = if k % 2 == 1 {
            m[k / 2].double()
        } else {
            m[k - 1].add(p)
        };
    }
    m
}

/// Affine forms of points none of which is infinity, with one inversion (Montgomery's
/// batch trick).
fn normalize(points: &[Jacobian]) -> Vec<Affine> {
    let mut prefix = Vec::with_capacity(points.len());
    let mut acc = Fe::ONE;
    for p in points {
        prefix.push(acc);
        acc = acc.mul(&p.z);
    }
    let mut inv = acc.invert();
    let mut out = vec![
        Affine {
            x: Fe::ZERO,
            y: Fe::ZERO
        };
        points.len()
    ];
    for (i, p) in points.iter().enumerate().rev() {
        let zinv = inv.mul(&prefix[i]);
        inv = inv.mul(&p.z);
        let zinv2 = zinv.square();
        out[i] = Affine {
            x: p.x.mul(&zinv2),
            y: p.y.mul(&zinv2).mul(&zinv),
        };
    }
    out
}
