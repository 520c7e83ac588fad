//! RSA signature verification (RS256/384/512, PS256/384/512) specialised for Wasm.
//!
//! Why not the `rsa` crate: on `wasm32` its general-purpose big integers (allocating,
//! generic modpow) cost ~1.3 ms per RS256 verification in V8, ten times WebCrypto. A
//! verifier only ever does `s^e mod n` with a public `e` on public data, so it can use plain
//! variable-time Montgomery multiplication over 32-bit limbs, the widest product Wasm has
//! natively, with every per-key constant computed once when the JWKS is parsed. The
//! products are summed column by column without carry propagation (product scanning), so
//! on `wasm32` they run as SIMD dot products (`i64x2.extmul`, two 32 x 32 -> 64 bit
//! products per instruction; `simd128` is enabled on those functions only, which V8 and
//! so workerd support); other targets get the same algorithm in portable code. RS256 in
//! V8, scripts/bench-wasm.sh: ~140 µs with the former CIOS loop, ~55 µs now.
//!
//! The padding checks follow RFC 8017 exactly: PKCS#1 v1.5 compares against the one
//! canonical encoding (so no BER/garbage/short-padding variants), PSS is EMSA-PSS-VERIFY
//! with MGF1 and salt length = hash length (RFC 7518 §3.5). Both are checked against the
//! Wycheproof vectors in edgeguard's `tests/wycheproof.rs`.
//!
//! A crate of its own only so that it can be compiled for speed (opt-level 3) while the
//! gateway around it is compiled for size: Cargo chooses optimisation per crate, and this
//! Montgomery code is the one place in edgeguard's own code where opt-level 3 pays (at "z"
//! the SIMD helpers are not inlined: one 2048-bit `s^e` in V8 takes ~50 µs at 3, ~580 µs
//! at "z"). edgeguard plugs it into jwt-compact (`src/verify/rsa.rs`).
//! Verification only (a gateway never signs).

use sha2::{Digest, Sha256, Sha384, Sha512};

/// Limbs of the largest modulus accepted (4096 bits).
const MAX_LIMBS: usize = 128;
/// Zero words after every operand: the vector loops read whole groups of 4.
const PAD: usize = 4;
/// Stack scratch for one operand: `limbs` words, then zeros.
const BUF: usize = MAX_LIMBS + PAD;

/// Hash of an RSA JWS algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(data).to_vec(),
            Hash::Sha384 => Sha384::digest(data).to_vec(),
            Hash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }

    /// DER `DigestInfo` prefix (RFC 8017 §9.2 note 1), with the NULL parameters.
    fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            Hash::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            Hash::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            Hash::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }
}

/// Signature padding scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    Pkcs1v15,
    Pss,
}

/// An RSA public key with its Montgomery constants precomputed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaKey {
    /// Modulus, little-endian 32-bit limbs.
    n: Vec<u32>,
    /// `-n^-1 mod 2^32`.
    n0_inv: u32,
    /// `n`'s limbs in reverse order, then `PAD` zeros (the reduction's dot products).
    n_rev: Vec<u32>,
    /// `R^2 mod n` with `R = 2^(32 * limbs)` (converts into Montgomery form), its limbs in
    /// reverse order, then `PAD` zeros.
    r2_rev: Vec<u32>,
    /// Public exponent.
    e: u64,
    /// Modulus length in bytes (= signature length).
    k: usize,
    bits: usize,
}

/// Why a key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// Modulus shorter than the minimum, longer than 4096 bits, or even.
    Modulus,
    /// Exponent even, 1, or 2^32 and above.
    Exponent,
    /// The modulus has the ROCA fingerprint (CVE-2017-15361): its factors can be found.
    Roca,
}

impl RsaKey {
    /// Builds a key from big-endian `n` and `e` (JWK `n`/`e` decoded), refusing moduli
    /// shorter than `min_bits` (RFC 7518 §3.3 asks for 2048).
    pub fn from_be(n: &[u8], e: &[u8], min_bits: usize) -> Result<RsaKey, KeyError> {
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        // At most 4096 bits (as the `rsa` crate allows by default): a JWKS cannot make
        // one verification arbitrarily expensive.
        if n.is_empty() || n.len() > 512 || n[n.len() - 1] & 1 == 0 {
            return Err(KeyError::Modulus);
        }
        let bits = n.len() * 8 - n[0].leading_zeros() as usize;
        if bits < min_bits {
            return Err(KeyError::Modulus);
        }
        if e.is_empty() || e.len() > 4 {
            return Err(KeyError::Exponent);
        }
        let e = e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        if e < 3 || e & 1 == 0 {
            return Err(KeyError::Exponent);
        }
        let limbs = to_limbs(n, n.len().div_ceil(4));
        if has_roca_fingerprint(&limbs) {
            return Err(KeyError::Roca);
        }
        let n0_inv = inv_mod_2_32(limbs[0]).wrapping_neg();
        let mut n_rev = vec![0u32; limbs.len() + PAD];
        reverse_into(&limbs, &mut n_rev);
        let mut r2_rev = vec![0u32; limbs.len() + PAD];
        reverse_into(&r_squared(&limbs), &mut r2_rev);
        Ok(RsaKey {
            k: n.len(),
            n: limbs,
            n0_inv,
            n_rev,
            r2_rev,
            e,
            bits,
        })
    }

    pub fn bits(&self) -> usize {
        self.bits
    }

    /// RSAVP1: `s^e mod n`, as `k` big-endian bytes; `None` if `s >= n` (RFC 8017 §5.2.2).
    ///
    /// Left-to-right square and multiply over the (public, odd) exponent: for e = 65537,
    /// one multiplication into Montgomery form, 16 squarings and one multiplication by the
    /// plain `s`, which also leaves Montgomery form (`(x R) s R^-1 = x s`). No allocation
    /// but the input and output byte strings; all scratch is on the stack.
    fn public_op(&self, signature: &[u8]) -> Option<Vec<u8>> {
        if signature.len() != self.k {
            return None;
        }
        let len = self.n.len();
        let mut s = [0u32; BUF];
        be_into_limbs(signature, &mut s[..len]);
        if !less_than(&s[..len], &self.n) {
            return None;
        }
        let mut s_rev = [0u32; BUF];
        reverse_into(&s[..len], &mut s_rev);
        let mut x = [0u32; BUF];
        self.mont_mul(&s, &self.r2_rev, &mut x);
        let mut x_rev = [0u32; BUF];
        reverse_into(&x[..len], &mut x_rev);
        let mut acc = x;
        let mut tmp = [0u32; BUF];
        let top = 63 - self.e.leading_zeros();
        for bit in (0..top).rev() {
            self.mont_sqr(&acc, &mut tmp);
            std::mem::swap(&mut acc, &mut tmp);
            if (self.e >> bit) & 1 == 1 {
                // e is odd: the last step multiplies by the plain s, out of Montgomery form.
                let b = if bit == 0 { &s_rev } else { &x_rev };
                self.mont_mul(&acc, b, &mut tmp);
                std::mem::swap(&mut acc, &mut tmp);
            }
        }
        Some(from_limbs(&acc[..len], self.k))
    }

    /// Montgomery product `a * b * R^-1 mod n`, product scanning with the reduction
    /// interleaved (FIPS, Koç et al. 1996): column `k` of `a * b + m * n` is two dot products
    /// (`a` against `b` reversed, `m` against `n` reversed), whose 64-bit products are summed
    /// without carry propagation (see [`dot2`]), so they vectorise. `a`, `b_rev` (b's limbs
    /// in reverse order) and the result use the first `limbs` words of their buffers; the
    /// rest must be zero (the vector loop reads up to 3 words past a dot product's end).
    /// Inputs below `n`, result below `n`. Variable time: only ever applied to public data.
    #[cfg_attr(target_arch = "wasm32", target_feature(enable = "simd128"))]
    fn mont_mul(&self, a: &[u32], b_rev: &[u32], out: &mut [u32]) {
        let s = self.n.len();
        let n_rev = &self.n_rev[..];
        let mut m = [0u32; BUF];
        let mut carry = 0u64;
        for k in 0..2 * s - 1 {
            let (lo, count, y) = column_span(k, s);
            let (sum_lo, sum_hi) = dot2(&a[lo..], &b_rev[y..], &m[lo..], &n_rev[y..], count);
            carry = self.column(k, s, sum_lo, sum_hi, carry, &mut m, out);
        }
        self.finish(s, carry, out);
    }

    /// Montgomery square `a * a * R^-1 mod n`: as [`RsaKey::mont_mul`], but each column's
    /// symmetric products `a_i a_j` (`i < j`) are summed once and doubled.
    #[cfg_attr(target_arch = "wasm32", target_feature(enable = "simd128"))]
    fn mont_sqr(&self, a: &[u32], out: &mut [u32]) {
        let s = self.n.len();
        let n_rev = &self.n_rev[..];
        let mut a_rev = [0u32; BUF];
        reverse_into(&a[..s], &mut a_rev);
        let mut m = [0u32; BUF];
        let mut carry = 0u64;
        for k in 0..2 * s - 1 {
            let (lo, count, y) = column_span(k, s);
            // The pairs i < k - i.
            let half = k.div_ceil(2).saturating_sub(lo);
            let (sq_lo, sq_hi) = dot_exact(&a[lo..], &a_rev[y..], half);
            let (mut sum_lo, mut sum_hi) = (2 * sq_lo, 2 * sq_hi);
            if k % 2 == 0 {
                let d = u64::from(a[k / 2]) * u64::from(a[k / 2]);
                sum_lo += d & 0xffff_ffff;
                sum_hi += d >> 32;
            }
            let (red_lo, red_hi) = dot1(&m[lo..], &n_rev[y..], count);
            carry = self.column(k, s, sum_lo + red_lo, sum_hi + red_hi, carry, &mut m, out);
        }
        self.finish(s, carry, out);
    }

    /// Closes column `k` whose products sum to `sum_lo + 2^32 sum_hi` (each below 2^41):
    /// below `s` it picks the reduction multiplier `m_k` that zeroes the column's low word,
    /// from `s` on it emits result word `k - s`. Returns the carry into column `k + 1`.
    #[inline(always)]
    #[allow(
        clippy::too_many_arguments,
        reason = "the column's running sums stay in locals (registers) in the hot loop"
    )]
    fn column(
        &self,
        k: usize,
        s: usize,
        sum_lo: u64,
        sum_hi: u64,
        carry: u64,
        m: &mut [u32],
        out: &mut [u32],
    ) -> u64 {
        let t = sum_lo + carry;
        if k < s {
            let mk = (t as u32).wrapping_mul(self.n0_inv);
            m[k] = mk;
            let t2 = (t & 0xffff_ffff) + u64::from(mk) * u64::from(self.n[0]);
            sum_hi + (t >> 32) + (t2 >> 32)
        } else {
            out[k - s] = t as u32;
            sum_hi + (t >> 32)
        }
    }

    /// Last word and the final conditional subtraction (the sum is below `2n`).
    #[inline(always)]
    fn finish(&self, s: usize, carry: u64, out: &mut [u32]) {
        out[s - 1] = carry as u32;
        let out = &mut out[..s];
        if carry >> 32 != 0 || !less_than(out, &self.n) {
            sub_in_place(out, &self.n);
        }
    }

    /// Verifies `signature` over `message` with the given padding and hash.
    pub fn verify(&self, padding: Padding, hash: Hash, message: &[u8], signature: &[u8]) -> bool {
        let Some(em) = self.public_op(signature) else {
            return false;
        };
        let m_hash = hash.digest(message);
        match padding {
            Padding::Pkcs1v15 => pkcs1v15_matches(&em, hash, &m_hash),
            Padding::Pss => pss_matches(&em, self.bits - 1, hash, &m_hash),
        }
    }
}

/// EMSA-PKCS1-v1_5: `00 01 FF..FF 00 DigestInfo H`, compared as a whole.
fn pkcs1v15_matches(em: &[u8], hash: Hash, m_hash: &[u8]) -> bool {
    let prefix = hash.digest_info_prefix();
    let t_len = prefix.len() + m_hash.len();
    if em.len() < t_len + 11 {
        return false;
    }
    let ps_len = em.len() - t_len - 3;
    em[0] == 0
        && em[1] == 1
        && em[2..2 + ps_len].iter().all(|b| *b == 0xff)
        && em[2 + ps_len] == 0
        && &em[3 + ps_len..3 + ps_len + prefix.len()] == prefix
        && &em[em.len() - m_hash.len()..] == m_hash
}

/// EMSA-PSS-VERIFY (RFC 8017 §9.1.2) with MGF1 of the same hash and salt length = hLen.
fn pss_matches(em_full: &[u8], em_bits: usize, hash: Hash, m_hash: &[u8]) -> bool {
    let h_len = hash.len();
    let s_len = h_len;
    let em_len = em_bits.div_ceil(8);
    // When modBits - 1 is a multiple of 8 the encoded message is one byte shorter than the
    // modulus, and that leading byte must be zero.
    let (lead, em) = em_full.split_at(em_full.len() - em_len);
    if lead.iter().any(|b| *b != 0) || em_len < h_len + s_len + 2 || em[em_len - 1] != 0xbc {
        return false;
    }
    let db_len = em_len - h_len - 1;
    let (masked_db, rest) = em.split_at(db_len);
    let h = &rest[..h_len];
    let zero_bits = 8 * em_len - em_bits;
    let top_mask = (0xffu16 >> zero_bits) as u8;
    if masked_db[0] & !top_mask != 0 {
        return false;
    }
    let mut db = mgf1(hash, h, db_len);
    db.iter_mut().zip(masked_db).for_each(|(d, m)| *d ^= m);
    db[0] &= top_mask;
    let ps_len = em_len - h_len - s_len - 2;
    if db[..ps_len].iter().any(|b| *b != 0) || db[ps_len] != 1 {
        return false;
    }
    let salt = &db[db_len - s_len..];
    let mut m_prime = Vec::with_capacity(8 + h_len + s_len);
    m_prime.extend_from_slice(&[0u8; 8]);
    m_prime.extend_from_slice(m_hash);
    m_prime.extend_from_slice(salt);
    hash.digest(&m_prime) == h
}

fn mgf1(hash: Hash, seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + hash.len());
    let mut counter = 0u32;
    while out.len() < len {
        let mut input = seed.to_vec();
        input.extend_from_slice(&counter.to_be_bytes());
        out.extend_from_slice(&hash.digest(&input));
        counter += 1;
    }
    out.truncate(len);
    out
}

/// ROCA (CVE-2017-15361): Infineon-generated primes are `k * M + (65537^a mod M)` with `M`
/// the product of the first primes, so for every small prime `r` dividing `M` the modulus
/// mod `r` lies in the subgroup generated by 65537. Every RSA key size's `M` contains the
/// primes up to 167; a random modulus passes all of these tests with negligible probability.
fn has_roca_fingerprint(n: &[u32]) -> bool {
    const PRIMES: [u32; 38] = [
        3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
        97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
    ];
    PRIMES.iter().all(|&r| {
        let residue = n.iter().rev().fold(0u64, |acc, limb| {
            ((acc << 32) | u64::from(*limb)) % u64::from(r)
        });
        let g = 65537 % u64::from(r);
        let mut x = 1u64;
        for _ in 0..r {
            if x == residue {
                return true;
            }
            x = x * g % u64::from(r);
        }
        false
    })
}

fn strip_leading_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    &b[first..]
}

/// Column `k` of an `s`-limb product: the products `x_i y_(k-i)` for `i` in
/// `lo..lo + count`, i.e. `x[lo..]` against `y_rev[y..]` (y's limbs reversed).
#[inline(always)]
fn column_span(k: usize, s: usize) -> (usize, usize, usize) {
    let lo = k.saturating_sub(s - 1);
    (lo, k.min(s - 1) + 1 - lo, s - 1 + lo - k)
}

/// Big-endian bytes into little-endian limbs (`out` zeroed, long enough).
fn be_into_limbs(be: &[u8], out: &mut [u32]) {
    for (i, byte) in be.iter().rev().enumerate() {
        out[i / 4] |= u32::from(*byte) << (8 * (i % 4));
    }
}

/// `x`'s limbs in reverse order into the start of `out`.
fn reverse_into(x: &[u32], out: &mut [u32]) {
    for (o, v) in out[..x.len()].iter_mut().zip(x.iter().rev()) {
        *o = *v;
    }
}

/// The sums of one column's dot products. A 2048-bit column adds up to 128 products of
/// 64 bits, more than a `u64` holds, and propagating carries product by product would
/// serialise the loop. So each kernel adds the products modulo 2^64 (`full`) and, apart,
/// their high words (`hi`, below 2^40): the exact sum is `lo + 2^32 hi` with
/// `lo = full - 2^32 hi mod 2^64`, the sum of the low words, also below 2^40.
#[inline(always)]
fn split_sum(full: u64, hi: u64) -> (u64, u64) {
    (full.wrapping_sub(hi << 32), hi)
}

/// `sum x_i y_i + u_i v_i` over `i < count`, as [`split_sum`]'s `(lo, hi)`. Each slice
/// must have `count` rounded up to a multiple of 4 words, the words past `count` making
/// zero products (x or y zero, and u or v zero).
#[cfg(target_arch = "wasm32")]
#[target_feature(enable = "simd128")]
#[inline]
fn dot2(x: &[u32], y: &[u32], u: &[u32], v: &[u32], count: usize) -> (u64, u64) {
    let r = count.next_multiple_of(4);
    let (x, y, u, v) = (&x[..r], &y[..r], &u[..r], &v[..r]);
    let mut acc = simd::ZERO;
    for i in (0..r).step_by(4) {
        // SAFETY: i + 4 <= r (r is a multiple of 4), the length of all four slices.
        #[allow(
            unsafe_code,
            reason = "unchecked SIMD loads: the bounds are checked once above"
        )]
        let (a, b, c, d) = unsafe { (load4(x, i), load4(y, i), load4(u, i), load4(v, i)) };
        acc = simd::mul_add(a, b, acc);
        acc = simd::mul_add(c, d, acc);
    }
    let (full, hi) = simd::lanes(acc);
    split_sum(full, hi)
}

/// [`dot2`] with one pair of operands.
#[cfg(target_arch = "wasm32")]
#[target_feature(enable = "simd128")]
#[inline]
fn dot1(x: &[u32], y: &[u32], count: usize) -> (u64, u64) {
    let r = count.next_multiple_of(4);
    let (full, hi) = simd::dot(&x[..r], &y[..r]);
    split_sum(full, hi)
}

/// `sum x_i y_i` over exactly `i < count` (no padding needed), as [`split_sum`]'s `(lo, hi)`.
#[cfg(target_arch = "wasm32")]
#[target_feature(enable = "simd128")]
#[inline]
fn dot_exact(x: &[u32], y: &[u32], count: usize) -> (u64, u64) {
    let (x, y) = (&x[..count], &y[..count]);
    let r = count & !3;
    let (mut full, mut hi) = simd::dot(&x[..r], &y[..r]);
    for (a, b) in x[r..].iter().zip(&y[r..]) {
        let p = u64::from(*a) * u64::from(*b);
        full = full.wrapping_add(p);
        hi += p >> 32;
    }
    split_sum(full, hi)
}

/// The vector steps of the dot products: two `u64` lanes of products modulo 2^64 and two of
/// their high words (i64x2.extmul gives two 32 x 32 -> 64 bit products per instruction).
#[cfg(target_arch = "wasm32")]
mod simd {
    use core::arch::wasm32::*;

    pub(super) const ZERO: (v128, v128) = (u64x2(0, 0), u64x2(0, 0));

    /// `acc` plus the four products of `a` and `b`'s lanes.
    #[target_feature(enable = "simd128")]
    #[inline]
    pub(super) fn mul_add(a: v128, b: v128, acc: (v128, v128)) -> (v128, v128) {
        let p0 = u64x2_extmul_low_u32x4(a, b);
        let p1 = u64x2_extmul_high_u32x4(a, b);
        let full = u64x2_add(acc.0, u64x2_add(p0, p1));
        let hi = u64x2_add(acc.1, u64x2_add(u64x2_shr(p0, 32), u64x2_shr(p1, 32)));
        (full, hi)
    }

    /// `(full, hi)` of `x . y` (lengths equal, a multiple of 4).
    #[target_feature(enable = "simd128")]
    #[inline]
    pub(super) fn dot(x: &[u32], y: &[u32]) -> (u64, u64) {
        assert!(x.len() % 4 == 0 && y.len() >= x.len());
        let mut acc = ZERO;
        for i in (0..x.len()).step_by(4) {
            // SAFETY: i + 4 <= x.len() <= y.len() (checked above).
            #[allow(
                unsafe_code,
                reason = "unchecked SIMD loads: the bounds are checked once above"
            )]
            let (a, b) = unsafe { (super::load4(x, i), super::load4(y, i)) };
            acc = mul_add(a, b, acc);
        }
        lanes(acc)
    }

    /// Sums the lanes: `(full, hi)`.
    #[target_feature(enable = "simd128")]
    #[inline]
    pub(super) fn lanes(acc: (v128, v128)) -> (u64, u64) {
        let (full, hi) = acc;
        (
            u64x2_extract_lane::<0>(full).wrapping_add(u64x2_extract_lane::<1>(full)),
            u64x2_extract_lane::<0>(hi) + u64x2_extract_lane::<1>(hi),
        )
    }
}

/// Words `i..i + 4` of `x` as a vector. Unchecked: the dot products check their bounds
/// once, not per load (in V8 the per-load checks cost ~8% of an RSA verification).
///
/// # Safety
/// `i + 4 <= x.len()`.
#[cfg(target_arch = "wasm32")]
#[inline(always)]
#[allow(unsafe_code, reason = "the unchecked load itself (see above)")]
unsafe fn load4(x: &[u32], i: usize) -> core::arch::wasm32::v128 {
    debug_assert!(i + 4 <= x.len());
    // SAFETY: in bounds (the caller's contract); v128 loads need no alignment.
    unsafe { core::ptr::read_unaligned(x.as_ptr().add(i).cast()) }
}

/// Portable [`dot2`] (native builds and tests): reads exactly `count` words.
#[cfg(not(target_arch = "wasm32"))]
fn dot2(x: &[u32], y: &[u32], u: &[u32], v: &[u32], count: usize) -> (u64, u64) {
    let (a, b) = dot_exact(x, y, count);
    let (c, d) = dot_exact(u, v, count);
    (a + c, b + d)
}

/// Portable [`dot1`].
#[cfg(not(target_arch = "wasm32"))]
fn dot1(x: &[u32], y: &[u32], count: usize) -> (u64, u64) {
    dot_exact(x, y, count)
}

/// Portable [`dot_exact`].
#[cfg(not(target_arch = "wasm32"))]
#[inline(always)]
fn dot_exact(x: &[u32], y: &[u32], count: usize) -> (u64, u64) {
    let (mut full, mut hi) = (0u64, 0u64);
    for (a, b) in x[..count].iter().zip(&y[..count]) {
        let p = u64::from(*a) * u64::from(*b);
        full = full.wrapping_add(p);
        hi += p >> 32;
    }
    split_sum(full, hi)
}

/// Big-endian bytes to `len` little-endian limbs (bytes must fit).
fn to_limbs(be: &[u8], len: usize) -> Vec<u32> {
    let mut limbs = vec![0u32; len];
    for (i, byte) in be.iter().rev().enumerate() {
        limbs[i / 4] |= u32::from(*byte) << (8 * (i % 4));
    }
    limbs
}

fn from_limbs(limbs: &[u32], k: usize) -> Vec<u8> {
    (0..k)
        .rev()
        .map(|i| (limbs[i / 4] >> (8 * (i % 4))) as u8)
        .collect()
}

fn less_than(a: &[u32], b: &[u32]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x < y;
        }
    }
    false
}

fn sub_in_place(a: &mut [u32], b: &[u32]) {
    let mut borrow = 0i64;
    for (x, y) in a.iter_mut().zip(b) {
        let v = i64::from(*x) - i64::from(*y) - borrow;
        *x = v as u32;
        borrow = i64::from(v < 0);
    }
}

/// Inverse of an odd `x` modulo 2^32 by Newton iteration (each step doubles the bits).
fn inv_mod_2_32(x: u32) -> u32 {
    let mut y = x; // correct to 3 bits for odd x
    for _ in 0..5 {
        y = y.wrapping_mul(2u32.wrapping_sub(x.wrapping_mul(y)));
    }
    y
}

/// `R^2 mod n` by doubling 1 modulo n, 2 * 32 * limbs times (once per key).
fn r_squared(n: &[u32]) -> Vec<u32> {
    let mut r = vec![0u32; n.len()];
    r[0] = 1;
    for _ in 0..(64 * n.len()) {
        let mut carry = 0u32;
        for limb in r.iter_mut() {
            let next = *limb >> 31;
            *limb = (*limb << 1) | carry;
            carry = next;
        }
        if carry != 0 || !less_than(&r, n) {
            sub_in_place(&mut r, n);
        }
    }
    r
}

#[cfg(test)]
mod padding_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_mod_2_32() {
        for x in [1u32, 3, 0x1234_5677, u32::MAX, 65537] {
            assert_eq!(x.wrapping_mul(inv_mod_2_32(x)), 1);
        }
    }

    #[test]
    fn small_modulus_round_trip() {
        // n = 3233 = 61 * 53, e = 17: 65^17 mod 3233 = 2790 (the textbook example).
        let key = RsaKey::from_be(&3233u16.to_be_bytes(), &[17], 0).unwrap();
        assert_eq!(
            key.public_op(&65u16.to_be_bytes()).unwrap(),
            2790u16.to_be_bytes().to_vec()
        );
        assert_eq!(key.public_op(&[0, 0]).unwrap(), vec![0, 0]);
        assert_eq!(key.public_op(&[0, 1]).unwrap(), vec![0, 1]);
        // s >= n is refused.
        assert!(key.public_op(&3233u16.to_be_bytes()).is_none());
        assert!(key.public_op(&[0x0c]).is_none(), "wrong length");
    }

    #[test]
    fn weak_or_malformed_keys_are_refused() {
        let n2048 = [0xffu8; 256];
        assert!(RsaKey::from_be(&n2048, &[1, 0, 1], 2048).is_ok());
        assert_eq!(
            RsaKey::from_be(&n2048[..128], &[1, 0, 1], 2048),
            Err(KeyError::Modulus)
        );
        let mut even = n2048;
        even[255] = 0xfe;
        assert_eq!(
            RsaKey::from_be(&even, &[1, 0, 1], 2048),
            Err(KeyError::Modulus)
        );
        assert_eq!(RsaKey::from_be(&n2048, &[1], 2048), Err(KeyError::Exponent));
        assert_eq!(RsaKey::from_be(&n2048, &[2], 2048), Err(KeyError::Exponent));
        assert_eq!(RsaKey::from_be(&n2048, &[], 2048), Err(KeyError::Exponent));
    }

    /// xorshift64*: deterministic test data without a dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u32 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
        }
    }

    /// Reference Montgomery product (CIOS, the implementation before product scanning).
    fn mont_mul_cios(key: &RsaKey, a: &[u32], b: &[u32]) -> Vec<u32> {
        let s = key.n.len();
        let n = &key.n;
        let mut t = vec![0u32; s + 2];
        for &ai in &a[..s] {
            let ai = u64::from(ai);
            let mut carry = 0u64;
            for (tj, &bj) in t[..s].iter_mut().zip(&b[..s]) {
                let v = u64::from(*tj) + ai * u64::from(bj) + carry;
                *tj = v as u32;
                carry = v >> 32;
            }
            let v = u64::from(t[s]) + carry;
            t[s] = v as u32;
            t[s + 1] = (v >> 32) as u32;
            let m = u64::from(t[0].wrapping_mul(key.n0_inv));
            let mut carry = (u64::from(t[0]) + m * u64::from(n[0])) >> 32;
            for j in 1..s {
                let v = u64::from(t[j]) + m * u64::from(n[j]) + carry;
                t[j - 1] = v as u32;
                carry = v >> 32;
            }
            let v = u64::from(t[s]) + carry;
            t[s - 1] = v as u32;
            t[s] = t[s + 1] + (v >> 32) as u32;
        }
        let mut out = t[..s].to_vec();
        if t[s] != 0 || !less_than(&out, n) {
            sub_in_place(&mut out, n);
        }
        out
    }

    fn buf(x: &[u32]) -> [u32; BUF] {
        let mut b = [0u32; BUF];
        b[..x.len()].copy_from_slice(x);
        b
    }

    fn rev_buf(x: &[u32]) -> [u32; BUF] {
        let mut b = [0u32; BUF];
        reverse_into(x, &mut b);
        b
    }

    /// A random odd modulus of `limbs` limbs (top bit set unless `full` is false), with
    /// some all-ones or all-zeros limbs to reach the carry edge cases.
    fn random_key(rng: &mut Rng, limbs: usize, full: bool) -> RsaKey {
        let mut n: Vec<u32> = (0..limbs)
            .map(|i| match rng.next() % 8 {
                0 if i > 0 => u32::MAX,
                1 if i > 0 && i + 1 < limbs => 0,
                _ => rng.next(),
            })
            .collect();
        if full {
            n[limbs - 1] |= 0x8000_0000;
        } else {
            n[limbs - 1] = (n[limbs - 1] >> 7).max(1);
        }
        n[0] |= 1;
        let be: Vec<u8> = n.iter().rev().flat_map(|l| l.to_be_bytes()).collect();
        // Random moduli may carry the ROCA fingerprint only with negligible probability.
        RsaKey::from_be(&be, &[1, 0, 1], 0).unwrap()
    }

    /// A value below `n`: random, or one of the edge values 0, 1, n - 1, n - 2, R - 1 mod n.
    fn operand(rng: &mut Rng, key: &RsaKey, kind: u32) -> Vec<u32> {
        let s = key.n.len();
        let mut one = vec![0u32; s];
        one[0] = 1;
        match kind {
            0 => vec![0u32; s],
            1 => one,
            2 | 3 => {
                let mut x = key.n.clone();
                sub_in_place(&mut x, &one);
                if kind == 3 {
                    sub_in_place(&mut x, &one);
                }
                x
            }
            4 => {
                let mut x = vec![u32::MAX; s];
                while !less_than(&x, &key.n) {
                    sub_in_place(&mut x, &key.n);
                }
                x
            }
            _ => {
                let mut x: Vec<u32> = (0..s).map(|_| rng.next()).collect();
                while !less_than(&x, &key.n) {
                    x[s - 1] >>= 1;
                }
                x
            }
        }
    }

    #[test]
    fn product_scanning_matches_cios_and_squaring_matches_multiplication() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for limbs in [1usize, 2, 3, 4, 5, 7, 8, 9, 31, 64, 65, 96, 127, 128] {
            for round in 0..6 {
                let key = random_key(&mut rng, limbs, round % 3 != 2);
                for (ka, kb) in [
                    (0, 5),
                    (1, 5),
                    (2, 2),
                    (2, 3),
                    (3, 4),
                    (4, 4),
                    (5, 5),
                    (5, 2),
                ] {
                    let a = operand(&mut rng, &key, ka);
                    let b = operand(&mut rng, &key, kb);
                    let expect = mont_mul_cios(&key, &a, &b);
                    let mut out = [0u32; BUF];
                    key.mont_mul(&buf(&a), &rev_buf(&b), &mut out);
                    assert_eq!(&out[..limbs], &expect[..], "mul, {limbs} limbs, {ka}/{kb}");
                    assert!(out[limbs..].iter().all(|w| *w == 0));
                    let expect = mont_mul_cios(&key, &a, &a);
                    let mut sq = [0u32; BUF];
                    key.mont_sqr(&buf(&a), &mut sq);
                    assert_eq!(&sq[..limbs], &expect[..], "sqr, {limbs} limbs, {ka}");
                    let mut mul = [0u32; BUF];
                    key.mont_mul(&buf(&a), &rev_buf(&a), &mut mul);
                    assert_eq!(sq, mul, "sqr vs mul, {limbs} limbs, {ka}");
                }
            }
        }
    }

    /// `s^e mod n` by the reference CIOS product, square and multiply.
    fn public_op_reference(key: &RsaKey, s: &[u32]) -> Vec<u32> {
        let len = key.n.len();
        let mut r2 = key.r2_rev[..len].to_vec();
        r2.reverse();
        let x = mont_mul_cios(key, s, &r2);
        let mut acc = x.clone();
        for bit in (0..63 - key.e.leading_zeros()).rev() {
            acc = mont_mul_cios(key, &acc, &acc);
            if (key.e >> bit) & 1 == 1 {
                acc = mont_mul_cios(key, &acc, &x);
            }
        }
        let mut one = vec![0u32; len];
        one[0] = 1;
        mont_mul_cios(key, &acc, &one)
    }

    #[test]
    fn public_op_matches_reference_for_several_exponents() {
        let mut rng = Rng(42);
        for limbs in [1usize, 2, 17, 64, 96, 128] {
            let base = random_key(&mut rng, limbs, true);
            let n_be = from_limbs(&base.n, base.k);
            for e in [3u32, 17, 65537, 0xffff_ffff, 0x8000_0001] {
                let key = RsaKey::from_be(&n_be, &e.to_be_bytes(), 0).unwrap();
                for kind in [0, 1, 2, 4, 5, 5] {
                    let s = operand(&mut rng, &key, kind);
                    let got = key.public_op(&from_limbs(&s, key.k)).unwrap();
                    let want = from_limbs(&public_op_reference(&key, &s), key.k);
                    assert_eq!(got, want, "{limbs} limbs, e = {e}, operand {kind}");
                }
            }
        }
    }
}
