//! edwards25519 for Ed25519 verification (RFC 8032 5.1.7, with the strict checks of
//! ed25519-dalek's `verify_strict`; see [`VerifyingKey::check`]).
//!
//! curve25519-dalek computes `[k](-A) + [s]B` with ~253 doublings (its
//! `vartime_double_scalar_mul_basepoint`), or with constant-time table lookups from its
//! `EdwardsBasepointTable`. Here a reused key gets a fixed-base table of Niels points, so a
//! verification is about 100 mixed additions of 8M each, looked up in variable time.

mod field;
mod point;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use point::{Point, Row, Table, B_ENCODED};

fn base_point() -> Point {
    // B's encoding is a valid point (tested); the identity would only make every check fail.
    Point::decompress(&B_ENCODED).unwrap_or(Point::IDENTITY)
}

fn base_row() -> &'static Row {
    static B: OnceLock<Row> = OnceLock::new();
    B.get_or_init(|| Row::new(&base_point()))
}

fn base_table() -> &'static Table {
    static B: OnceLock<Table> = OnceLock::new();
    B.get_or_init(|| Table::new(&base_point()))
}

/// An Ed25519 public key A: its encoding, -A, and the table of -A once the key has been
/// used twice (a JWKS key verifies many tokens; a DPoP proof's key, one).
pub struct VerifyingKey {
    encoded: [u8; 32],
    minus_a: Point,
    small_order: bool,
    used: AtomicBool,
    table: OnceLock<Table>,
}

impl Clone for VerifyingKey {
    fn clone(&self) -> VerifyingKey {
        VerifyingKey {
            encoded: self.encoded,
            minus_a: self.minus_a,
            small_order: self.small_order,
            used: AtomicBool::new(self.used.load(Ordering::Relaxed)),
            table: self.table.clone(),
        }
    }
}

impl core::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("VerifyingKey").field(&self.encoded).finish()
    }
}

impl VerifyingKey {
    /// From the RFC 8032 encoding; `None` unless it is canonical (y below p, no sign bit
    /// on x = 0) and decodes to a point. Points of small order decode: see
    /// [`VerifyingKey::is_small_order`].
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<VerifyingKey> {
        let a = Point::decompress(bytes)?;
        Some(VerifyingKey {
            encoded: *bytes,
            minus_a: a.neg(),
            small_order: a.is_small_order(),
            used: AtomicBool::new(false),
            table: OnceLock::new(),
        })
    }

    pub fn encoded(&self) -> &[u8; 32] {
        &self.encoded
    }

    /// Whether A is one of the eight points of order dividing 8.
    pub fn is_small_order(&self) -> bool {
        self.small_order
    }

    /// The group part of strict verification: `[s]B - [k]A` must encode to `r` and must not
    /// be of small order, and A must not be either. The caller has checked that s is
    /// canonical (below L) and computed k = SHA-512(R || A || M) mod L. Scalars are
    /// little-endian, as RFC 8032 encodes them.
    ///
    /// R itself is never decoded: an `r` that is not a canonical encoding of a point cannot
    /// equal a computed point's encoding, and when it does equal it, R is that point.
    pub fn check(&self, s: &[u8; 32], k: &[u8; 32], r: &[u8; 32]) -> bool {
        if self.small_order {
            return false;
        }
        let (s, k) = (big_endian(s), big_endian(k));
        let sum = match self.table.get() {
            Some(a) => Table::lincomb(base_table(), &s, a, &k),
            None if self.used.swap(true, Ordering::Relaxed) => {
                let a = self.table.get_or_init(|| Table::new(&self.minus_a));
                Table::lincomb(base_table(), &s, a, &k)
            }
            None => base_row().lincomb_untabled(&s, &self.minus_a, &k),
        };
        sum.compress() == *r && !sum.is_small_order()
    }
}

fn big_endian(le: &[u8; 32]) -> [u8; 32] {
    let mut be = *le;
    be.reverse();
    be
}

#[cfg(test)]
mod tests;
