//! RSA signature verification (RS256/384/512, PS256/384/512) specialised for Wasm.
//!
//! Why not the `rsa` crate: on `wasm32` its general-purpose big integers (allocating,
//! generic modpow) cost ~1.3 ms per RS256 verification in V8, ten times WebCrypto. A
//! verifier only ever does `s^e mod n` with a public `e` on public data, so it can use plain
//! variable-time Montgomery multiplication (CIOS) over 32-bit limbs, the widest product
//! Wasm has natively, with every per-key constant computed once when the JWKS is parsed.
//!
//! The padding checks follow RFC 8017 exactly: PKCS#1 v1.5 compares against the one
//! canonical encoding (so no BER/garbage/short-padding variants), PSS is EMSA-PSS-VERIFY
//! with MGF1 and salt length = hash length (RFC 7518 §3.5). Both are checked against the
//! Wycheproof vectors in edgeguard's `tests/wycheproof.rs`.
//!
//! A crate of its own only so that it can be compiled for speed (opt-level 3) while the
//! gateway around it is compiled for size: Cargo chooses optimisation per crate, and this
//! Montgomery loop is the one place in edgeguard's own code where opt-level 3 pays (RS256
//! in V8: 134 µs at 3, 180 µs at "z"). edgeguard plugs it into jwt-compact (`rsa_fast`).
//! Verification only (a gateway never signs).

use sha2::{Digest, Sha256, Sha384, Sha512};

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
    /// `R^2 mod n` with `R = 2^(32 * limbs)`: converts into Montgomery form.
    r2: Vec<u32>,
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
        let r2 = r_squared(&limbs);
        Ok(RsaKey {
            k: n.len(),
            n: limbs,
            n0_inv,
            r2,
            e,
            bits,
        })
    }

    pub fn bits(&self) -> usize {
        self.bits
    }

    /// RSAVP1: `s^e mod n`, as `k` big-endian bytes; `None` if `s >= n` (RFC 8017 §5.2.2).
    fn public_op(&self, signature: &[u8]) -> Option<Vec<u8>> {
        if signature.len() != self.k {
            return None;
        }
        let s = to_limbs(signature, self.n.len());
        if !less_than(&s, &self.n) {
            return None;
        }
        let len = self.n.len();
        let mut t = vec![0u32; len + 2];
        let mut s_mont = vec![0u32; len];
        self.mont_mul_into(&s, &self.r2, &mut t, &mut s_mont);
        // Left-to-right square and multiply over the (public) exponent.
        let mut acc = s_mont.clone();
        let mut tmp = vec![0u32; len];
        let top = 63 - self.e.leading_zeros();
        for bit in (0..top).rev() {
            self.mont_mul_into(&acc, &acc, &mut t, &mut tmp);
            std::mem::swap(&mut acc, &mut tmp);
            if (self.e >> bit) & 1 == 1 {
                self.mont_mul_into(&acc, &s_mont, &mut t, &mut tmp);
                std::mem::swap(&mut acc, &mut tmp);
            }
        }
        let mut one = vec![0u32; len];
        one[0] = 1;
        let mut m = vec![0u32; len];
        self.mont_mul_into(&acc, &one, &mut t, &mut m);
        Some(from_limbs(&m, self.k))
    }

    /// Montgomery product `a * b * R^-1 mod n` (CIOS, Koç et al. 1996) into `out`, using
    /// `t` (`limbs + 2` words) as scratch. Variable time: only ever applied to public data.
    /// Slices are re-borrowed at their exact lengths first so the compiler can drop the
    /// bounds checks from the inner loops (they matter in Wasm).
    fn mont_mul_into(&self, a: &[u32], b: &[u32], t: &mut [u32], out: &mut [u32]) {
        let s = self.n.len();
        let (n, a, b, t, out) = (
            &self.n[..s],
            &a[..s],
            &b[..s],
            &mut t[..s + 2],
            &mut out[..s],
        );
        t.fill(0);
        for &ai in a {
            let ai = u64::from(ai);
            let mut carry = 0u64;
            for (tj, &bj) in t[..s].iter_mut().zip(b) {
                let v = u64::from(*tj) + ai * u64::from(bj) + carry;
                *tj = v as u32;
                carry = v >> 32;
            }
            let v = u64::from(t[s]) + carry;
            t[s] = v as u32;
            t[s + 1] = (v >> 32) as u32;

            let m = u64::from(t[0].wrapping_mul(self.n0_inv));
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
        out.copy_from_slice(&t[..s]);
        if t[s] != 0 || !less_than(out, n) {
            sub_in_place(out, n);
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
}
