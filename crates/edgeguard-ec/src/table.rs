//! What both curves' fixed-base tables share: the window width, signed digits of a scalar,
//! a row's small multiples and the signed lookup into a row.

use crate::wide::limbs_from_be;

/// Bits per window of the fixed-base tables. 5 rather than 4: ~15 % less per verification
/// (a whole ES256 token in V8: 78 vs 92 µs, medians of 5 interleaved runs) for 53 KB
/// instead of 33 KB per P-256 key and a ~1 ms table build; 6 gained ~4 % more for 88 KB.
pub(crate) const W: usize = 5;
/// Multiples per table row: digits are in [-HALF, HALF).
pub(crate) const HALF: usize = 1 << (W - 1);
/// Windows covering 256 bits, plus one for the last carry when the top window is full.
pub(crate) const WINDOWS: usize = 256_usize.div_ceil(W) + (256 % W == 0) as usize;

/// Signed radix-2^W digits of a 256-bit scalar (big-endian): d_i in [-HALF, HALF) with
/// the scalar = sum of d_i * 2^(W i).
pub(crate) fn digits(scalar: &[u8; 32]) -> [i8; WINDOWS] {
    let limbs = limbs_from_be(scalar);
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

/// Points that can be negated.
pub(crate) trait Negate: Copy {
    fn negate(&self) -> Self;
}

/// Points with the group law (in some projective form).
pub(crate) trait Group: Negate {
    fn double(&self) -> Self;
    fn add(&self, other: &Self) -> Self;
}

/// `d * P` from `row = [1..=HALF] * P`; `None` for d = 0.
pub(crate) fn signed<T: Negate>(row: &[T; HALF], d: i8) -> Option<T> {
    let p = row.get(usize::from(d.unsigned_abs()).checked_sub(1)?)?;
    Some(if d < 0 { p.negate() } else { *p })
}

/// [1..=HALF] * p.
pub(crate) fn small_multiples<P: Group>(p: &P) -> [P; HALF] {
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

/// What a field offers batch inversion.
pub(crate) trait Field: Copy {
    const ONE: Self;
    fn mul(&self, other: &Self) -> Self;
    fn invert(&self) -> Self;
}

/// The inverses of non-zero elements with one inversion (Montgomery's batch trick).
pub(crate) fn batch_invert<F: Field>(elements: &[F]) -> Vec<F> {
    let mut prefix = Vec::with_capacity(elements.len());
    let mut acc = F::ONE;
    for e in elements {
        prefix.push(acc);
        acc = acc.mul(e);
    }
    let mut inv = acc.invert();
    let mut out = vec![F::ONE; elements.len()];
    for (i, e) in elements.iter().enumerate().rev() {
        out[i] = inv.mul(&prefix[i]);
        inv = inv.mul(e);
    }
    out
}

/// A curve's two point forms, as its fixed-base tables use them.
pub(crate) trait Curve {
    /// Projective points, which sums accumulate in.
    type Point: Group;
    /// Affine points in the form a mixed addition takes.
    type Entry: Negate;
    const IDENTITY: Self::Point;
    fn add_entry(acc: &Self::Point, entry: &Self::Entry) -> Self::Point;
    /// The entries of points none of which is the identity (one inversion for all).
    fn entries(points: &[Self::Point]) -> Vec<Self::Entry>;
}

/// `t[i][k] = (k + 1) * 2^(W i) * P` for k in 0..HALF: a fixed-base table, so that
/// `u * P` is at most WINDOWS mixed additions and no doubling.
pub(crate) struct Table<C: Curve>(pub(crate) Box<[[C::Entry; HALF]; WINDOWS]>);

impl<C: Curve> Clone for Table<C> {
    fn clone(&self) -> Self {
        Table(self.0.clone())
    }
}

impl<C: Curve> Table<C> {
    pub(crate) fn new(p: &C::Point) -> Table<C> {
        let mut points = Vec::with_capacity(WINDOWS * HALF);
        let mut base = *p;
        for _ in 0..WINDOWS {
            points.extend(small_multiples(&base));
            // 2^W * base = 2 * (HALF * base)
            base = points[points.len() - 1].double();
        }
        let entries = C::entries(&points);
        let mut t = Box::new([[entries[0]; HALF]; WINDOWS]);
        for (row, chunk) in t.iter_mut().zip(entries.chunks_exact(HALF)) {
            row.copy_from_slice(chunk);
        }
        Table(t)
    }

    /// `sum of d_i * t[i]` added into `acc`.
    fn add_into(&self, acc: C::Point, digits: &[i8; WINDOWS]) -> C::Point {
        self.0
            .iter()
            .zip(digits)
            .fold(acc, |acc, (row, &d)| match signed(row, d) {
                Some(e) => C::add_entry(&acc, &e),
                None => acc,
            })
    }

    /// `a * G + b * Q` with both tables (scalars big-endian, below 2^256).
    pub(crate) fn lincomb(g: &Self, a: &[u8; 32], q: &Self, b: &[u8; 32]) -> C::Point {
        let acc = g.add_into(C::IDENTITY, &digits(a));
        q.add_into(acc, &digits(b))
    }
}

/// `[1..=HALF] * P` as entries: the first row of P's table, which is all a verification
/// without tables needs of the generator. Building it costs HALF point operations, not a
/// whole table's ~1 ms, so an isolate that never reuses a key never builds G's table.
pub(crate) struct Row<C: Curve>(pub(crate) [C::Entry; HALF]);

impl<C: Curve> Row<C> {
    pub(crate) fn new(p: &C::Point) -> Row<C> {
        let entries = C::entries(&small_multiples(p));
        Row(core::array::from_fn(|i| entries[i]))
    }

    /// `a * G + b * Q` for this row's G without a table for Q (a key seen once, such as a
    /// DPoP proof's): Horner over the digits.
    pub(crate) fn lincomb_untabled(&self, a: &[u8; 32], q: &C::Point, b: &[u8; 32]) -> C::Point {
        let qm = small_multiples(q);
        let (da, db) = (digits(a), digits(b));
        let mut acc = C::IDENTITY;
        for i in (0..WINDOWS).rev() {
            for _ in 0..W {
                acc = acc.double();
            }
            if let Some(e) = signed(&self.0, da[i]) {
                acc = C::add_entry(&acc, &e);
            }
            if let Some(p) = signed(&qm, db[i]) {
                acc = acc.add(&p);
            }
        }
        acc
    }
}
