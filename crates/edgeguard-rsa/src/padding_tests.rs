//! The two encodings checked on their own, with encoded messages built here from RFC 8017
//! (§9.2 for PKCS #1 v1.5, §9.1.1 for PSS): each valid one is accepted, and every single
//! defect in it is refused. The Wycheproof files (tests/wycheproof.rs at the root) cover the
//! same through whole signatures; these name the rule each case breaks.

use super::*;

const MESSAGE: &[u8] = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9";
const HASHES: [Hash; 3] = [Hash::Sha256, Hash::Sha384, Hash::Sha512];

/// EMSA-PKCS1-v1_5 of `MESSAGE` in `em_len` bytes: `00 01 FF.. 00 DigestInfo H`.
fn pkcs1v15_em(hash: Hash, em_len: usize) -> Vec<u8> {
    let t: Vec<u8> = [hash.digest_info_prefix(), &hash.digest(MESSAGE)].concat();
    let mut em = vec![0x00, 0x01];
    em.resize(em_len - t.len() - 1, 0xff);
    em.push(0x00);
    em.extend_from_slice(&t);
    em
}

#[test]
fn pkcs1v15_accepts_the_encoding_and_nothing_else() {
    for hash in HASHES {
        let m_hash = hash.digest(MESSAGE);
        let good = pkcs1v15_em(hash, 256);
        assert!(pkcs1v15_matches(&good, hash, &m_hash), "{hash:?}");
        let refused = |em: &[u8], why: &str| {
            assert!(!pkcs1v15_matches(em, hash, &m_hash), "{hash:?}: {why}");
        };
        let edit = |i: usize, b: u8| {
            let mut em = good.clone();
            em[i] = b;
            em
        };
        let t_len = hash.digest_info_prefix().len() + hash.len();
        let sep = good.len() - t_len - 1;
        refused(&edit(0, 0x01), "first byte not 00");
        refused(&edit(1, 0x02), "block type 2 (encryption padding)");
        refused(&edit(1, 0x00), "block type 0");
        refused(&edit(2, 0xfe), "a padding byte not FF");
        refused(&edit(sep - 1, 0x00), "the separator one byte early");
        refused(&edit(sep, 0xff), "no separator");
        // Every byte of the DigestInfo: OID, lengths, the NULL parameters.
        for i in 0..hash.digest_info_prefix().len() {
            refused(
                &edit(sep + 1 + i, good[sep + 1 + i] ^ 0x01),
                "DigestInfo altered",
            );
        }
        refused(
            &edit(good.len() - 1, good[good.len() - 1] ^ 0x80),
            "another hash",
        );
        // The DigestInfo without its NULL parameters (a second DER spelling some signers
        // used): RFC 8017 §9.2 note 2 lets verifiers accept it; we refuse every
        // spelling but one.
        let prefix = hash.digest_info_prefix();
        let mut no_null = vec![prefix[0], prefix[1] - 2, prefix[2], prefix[3] - 2];
        no_null.extend_from_slice(&prefix[4..15]);
        no_null.extend_from_slice(&prefix[17..]);
        let mut em = vec![0x00, 0x01];
        em.resize(256 - no_null.len() - hash.len() - 1, 0xff);
        em.push(0x00);
        em.extend_from_slice(&no_null);
        em.extend_from_slice(&m_hash);
        refused(&em, "DigestInfo without NULL");
        // Another hash's DigestInfo with this hash's value length: the OID decides.
        for other in HASHES.into_iter().filter(|o| *o != hash) {
            refused(&pkcs1v15_em(other, 256), "another algorithm's DigestInfo");
        }
        // Fewer than 8 padding bytes (§9.2 step 5 asks for at least 8).
        refused(&pkcs1v15_em(hash, t_len + 10), "7 padding bytes");
        assert!(
            pkcs1v15_matches(&pkcs1v15_em(hash, t_len + 11), hash, &m_hash),
            "8 padding bytes"
        );
        // Garbage after the hash (the classic lax parser's hole): same length, hash moved.
        let mut shifted = good.clone();
        shifted.remove(2);
        shifted.push(0x00);
        refused(&shifted, "a byte after the hash");
    }
}

/// EMSA-PSS-ENCODE of `MESSAGE` (MGF1 with the same hash), `em_bits` bits, salt `salt`.
fn pss_em(hash: Hash, em_bits: usize, salt: &[u8]) -> Vec<u8> {
    let h_len = hash.len();
    let em_len = em_bits.div_ceil(8);
    let m_prime = [&[0u8; 8][..], &hash.digest(MESSAGE), salt].concat();
    let h = hash.digest(&m_prime);
    let db_len = em_len - h_len - 1;
    let mut db = vec![0u8; db_len - salt.len() - 1];
    db.push(0x01);
    db.extend_from_slice(salt);
    let mask = mgf1(hash, &h, db_len);
    db.iter_mut().zip(&mask).for_each(|(d, m)| *d ^= m);
    db[0] &= 0xffu8 >> (8 * em_len - em_bits);
    [db, h, vec![0xbc]].concat()
}

/// The encoded message as the public operation returns it: modulus-sized, so one zero
/// byte in front when `em_bits` is a multiple of 8.
fn padded(em: Vec<u8>, mod_bits: usize) -> Vec<u8> {
    let k = mod_bits.div_ceil(8);
    [vec![0u8; k - em.len()], em].concat()
}

#[test]
fn pss_accepts_the_encoding_and_nothing_else() {
    // 2048 bits: em_bits 2047, one top bit masked; 2049: em_bits 2048, a leading zero byte.
    for (hash, mod_bits) in HASHES
        .into_iter()
        .flat_map(|h| [(h, 2048), (h, 2049), (h, 3072)])
    {
        let em_bits = mod_bits - 1;
        let h_len = hash.len();
        let m_hash = hash.digest(MESSAGE);
        let salt: Vec<u8> = (0..h_len as u8)
            .map(|i| i.wrapping_mul(37) ^ 0x5a)
            .collect();
        let good = padded(pss_em(hash, em_bits, &salt), mod_bits);
        let case = format!("{hash:?}, {mod_bits} bits");
        assert!(pss_matches(&good, em_bits, hash, &m_hash), "{case}");
        let refused = |em: &[u8], why: &str| {
            assert!(!pss_matches(em, em_bits, hash, &m_hash), "{case}: {why}");
        };
        let last = good.len() - 1;
        let edit = |i: usize, f: fn(u8) -> u8| {
            let mut em = good.clone();
            em[i] = f(em[i]);
            em
        };
        refused(&edit(last, |_| 0xbd), "trailer not BC");
        refused(&edit(last, |_| 0xcc), "trailer CC (the X9.31 trailer)");
        refused(&edit(last - 1, |b| b ^ 1), "H altered");
        let lead = good.len() - em_bits.div_ceil(8);
        refused(&edit(lead + 5, |b| b ^ 1), "masked DB altered");
        // The bits above em_bits must be zero in the encoded message.
        let top_free = 8 * em_bits.div_ceil(8) - em_bits;
        if top_free > 0 {
            refused(&edit(lead, |b| b | 0x80), "a bit above emBits set");
        }
        if lead > 0 {
            refused(&edit(0, |_| 0x01), "leading byte not zero");
        }
        // Salt lengths other than hLen (JWA RFC 7518 §3.5 fixes it to the hash size).
        for s_len in [0, 20, h_len - 1, h_len + 1] {
            let other = padded(pss_em(hash, em_bits, &vec![0x42; s_len]), mod_bits);
            refused(&other, &format!("salt of {s_len} bytes"));
        }
        // The 01 separator and the zero padding before it, through the mask.
        let db_at = |i: usize, f: fn(u8) -> u8| {
            let em = &good[lead..];
            let h = &em[em.len() - h_len - 1..em.len() - 1];
            let db_len = em.len() - h_len - 1;
            let mask = mgf1(hash, h, db_len);
            let mut db: Vec<u8> = em[..db_len].iter().zip(&mask).map(|(m, k)| m ^ k).collect();
            db[0] &= 0xffu8 >> top_free;
            db[i] = f(db[i]);
            db.iter_mut().zip(&mask).for_each(|(d, k)| *d ^= k);
            db[0] &= 0xffu8 >> top_free;
            let mut out = good.clone();
            out[lead..lead + db_len].copy_from_slice(&db);
            out
        };
        let db_len = em_bits.div_ceil(8) - h_len - 1;
        let sep = db_len - h_len - 1;
        assert_eq!(
            db_at(sep, |b| b),
            good,
            "{case}: db_at rebuilds the message"
        );
        refused(&db_at(sep, |_| 0x02), "separator not 01");
        refused(&db_at(sep, |_| 0x00), "no separator");
        refused(&db_at(sep - 1, |_| 0x01), "separator one byte early");
        refused(&db_at(1, |_| 0x80), "a padding byte not zero");
        refused(&db_at(db_len - 1, |b| b ^ 1), "salt altered");
        // Another message, and another hash for the same bytes.
        assert!(
            !pss_matches(&good, em_bits, hash, &hash.digest(b"other")),
            "{case}: other message"
        );
    }
}

#[test]
fn a_signature_not_below_the_modulus_is_refused_at_full_size() {
    // 2048-bit odd modulus (top bit set, not a ROCA fingerprint: checked by from_be).
    let mut n = vec![0u8; 256];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for b in n.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    n[0] |= 0x80;
    n[255] |= 1;
    let key = RsaKey::from_be(&n, &[1, 0, 1], 2048).expect("a valid 2048-bit modulus");
    let add = |v: &[u8], k: u8| {
        let mut out = v.to_vec();
        let mut carry = k as u16;
        for b in out.iter_mut().rev() {
            let s = *b as u16 + carry;
            *b = s as u8;
            carry = s >> 8;
        }
        out
    };
    let mut n_minus_1 = n.clone();
    n_minus_1[255] -= 1;
    assert!(key.public_op(&n_minus_1).is_some(), "n - 1 is in range");
    assert!(key.public_op(&n).is_none(), "s = n");
    assert!(key.public_op(&add(&n, 1)).is_none(), "s = n + 1");
    assert!(key.public_op(&[0xff; 256]).is_none(), "s = 2^2048 - 1");
    assert!(key.public_op(&n[1..]).is_none(), "one byte short");
    assert!(
        key.public_op(&[&[0u8][..], &n_minus_1].concat()).is_none(),
        "one byte long"
    );
}
