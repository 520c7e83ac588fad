//! P-256 (secp256r1) for ECDSA verification.
//!
//! RustCrypto's p256 0.14 multiplies field elements through crypto-bigint's generic
//! Montgomery code: ~150 ns per product in V8, so an ES256 verification cost ~250 µs even
//! with fixed-base tables. Here a product is 64 `i64.mul` and a Solinas reduction (~70 ns),
//! tables are affine with 5-bit windows (about 100 mixed additions of 7M + 4S per
//! verification, instead of 130 complete projective ones), and the final x check needs no
//! inversion. Scalars mod n and signature parsing stay in p256.
//!
//! Measured in V8 with a probe of this crate alone: a key's first use, without a table,
//! ~220 µs; building its table on the second use, ~1 ms; each use after that, ~73 µs
//! (`scripts/bench-wasm.sh` measures whole tokens, first use included).
//!
//! Variable time throughout: a verifier's inputs (key, signature, message) are public.

mod field;
mod point;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use field::Fe;
use point::{Affine, Jacobian, Row, Table};

/// The group order n, big-endian.
const N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

fn generator_row() -> &'static Row {
    static G: OnceLock<Row> = OnceLock::new();
    G.get_or_init(|| Row::new(&Jacobian::from(Affine::GENERATOR)))
}

fn generator_table() -> &'static Table {
    static G: OnceLock<Table> = OnceLock::new();
    G.get_or_init(|| Table::new(&Jacobian::from(Affine::GENERATOR)))
}

/// A P-256 public key: a point on the curve, and its fixed-base table once the key has
/// been used twice (a JWKS key is used for many tokens; a DPoP proof's key, once).
pub struct VerifyingKey {
    point: Affine,
    used: AtomicBool,
    table: OnceLock<Table>,
}

impl Clone for VerifyingKey {
    fn clone(&self) -> VerifyingKey {
        VerifyingKey {
            point: self.point,
            used: AtomicBool::new(self.used.load(Ordering::Relaxed)),
            table: self.table.clone(),
        }
    }
}

impl core::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("x", &self.point.x.to_be())
            .field("y", &self.point.y.to_be())
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// From big-endian affine coordinates; `None` unless both are below p and the point is
    /// on the curve (so not infinity; every point on P-256 is in its prime-order group).
    pub fn from_xy(x: &[u8; 32], y: &[u8; 32]) -> Option<VerifyingKey> {
        Some(VerifyingKey {
            point: Affine::from_xy(x, y)?,
            used: AtomicBool::new(false),
            table: OnceLock::new(),
        })
    }

    /// The last steps of ECDSA verification (SEC 1 4.1.4, 5-7): R = u1 G + u2 Q must not be
    /// infinity, and x(R) mod n must equal r. The caller computes u1 = z/s and u2 = r/s
    /// mod n and has checked 0 < r, s < n. Scalars are big-endian, below n.
    pub fn check(&self, u1: &[u8; 32], u2: &[u8; 32], r: &[u8; 32]) -> bool {
        let sum = match self.table.get() {
            Some(q) => Table::lincomb(generator_table(), u1, q, u2),
            None if self.used.swap(true, Ordering::Relaxed) => {
                let q = self
                    .table
                    .get_or_init(|| Table::new(&Jacobian::from(self.point)));
                Table::lincomb(generator_table(), u1, q, u2)
            }
            None => generator_row().lincomb_untabled(u1, &Jacobian::from(self.point), u2),
        };
        x_matches(&sum, r)
    }
}

/// Whether x(R) mod n == r for R = (X : Y : Z), without inverting Z: x(R) is below p < 2n,
/// so x(R) mod n == r means x(R) is r or r + n (the latter only if below p), and x(R) == c
/// means X == c * Z^2.
fn x_matches(sum: &Jacobian, r: &[u8; 32]) -> bool {
    // r below n is the caller's check too; an r outside it must not match x(R) itself.
    if sum.is_infinity() || r >= &N {
        return false;
    }
    let Some(rf) = Fe::from_be(r) else {
        return false;
    };
    let zz = sum.z.square();
    if rf.mul(&zz) == sum.x {
        return true;
    }
    match add_be(r, &N).and_then(|rn| Fe::from_be(&rn)) {
        Some(rn) => rn.mul(&zz) == sum.x,
        None => false,
    }
}

/// a + b for big-endian 256-bit numbers; `None` on overflow.
fn add_be(a: &[u8; 32], b: &[u8; 32]) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let v = a[i] as u16 + b[i] as u16 + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    (carry == 0).then_some(out)
}

#[cfg(test)]
mod tests;
