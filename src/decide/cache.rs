//! A bounded cache of token verdicts, so a token seen before costs a hash and a lookup
//! instead of a signature verification.
//!
//! * Keyed by SHA-256 of the whole token: a collision would be a forgery, so a fast
//!   non-cryptographic hash is not an option. The maps hold no token text; the memo below
//!   holds the text of at most [`KeyMemo::SLOTS`] tokens of at most [`KeyMemo::MAX_TOKEN`]
//!   bytes (isolate memory only, never logged, as the request itself).
//! * A verified token is served only while its `exp` (plus leeway) has not passed, and only
//!   while the issuer's key set is the one it was verified against: any change to that set
//!   (rotation, a removed key) drops the issuer's cached tokens by generation mismatch.
//! * A token refused after its signature was checked, for a reason that cannot change while
//!   the key set and configuration stay (see [`TokenError::is_final`]), is remembered too, in
//!   its own map: a client or an attacker replaying a forged or expired token pays a hash,
//!   not a verification, and such traffic can never evict verified tokens.
//! * Each map is [`Bounded`]: two generations of `capacity/2` entries.
//! * Hashing the token is about half of a cache hit's CPU in Wasm (SHA-256 of ~1 KB), so
//!   [`KeyMemo`] remembers the digest of a few hundred recently cached tokens, found by
//!   comparing the whole token: a token sent again costs a compare, not a hash. Only an
//!   exact match is served, so it can never turn one token into another's key.

use crate::alg::Alg;
use crate::bounded::{Bounded, Key};
use crate::error::TokenError;
use crate::token::Principal;
use sha2::{Digest, Sha256};
use std::rc::Rc;

pub type TokenKey = Key;

pub fn token_key(token: &str) -> TokenKey {
    Sha256::digest(token.as_bytes()).into()
}

/// A token's [`TokenKey`] as [`TokenCache::key`] found it: only that function makes one, so
/// the key is always the digest of the token it was asked for (hashed, or the memo's copy for
/// exactly that text), and [`TokenCache::remember`] can trust it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyed {
    key: TokenKey,
    memoized: bool,
}

impl Keyed {
    pub fn key(&self) -> &TokenKey {
        &self.key
    }

    /// True when the memo answered (no hash was computed).
    pub fn memoized(&self) -> bool {
        self.memoized
    }
}

/// Token text -> its [`TokenKey`], for recently cached tokens: direct-mapped (a slot per
/// token, chosen by its last bytes, which for a signed token are signature bytes), so a
/// lookup is one slot and one comparison whatever a client sends; a colliding token only
/// takes the slot over, and the next sender of the old one hashes again.
#[derive(Debug)]
struct KeyMemo {
    slots: Vec<Option<(Box<str>, TokenKey)>>,
}

impl KeyMemo {
    /// Slots (a power of two); with `MAX_TOKEN`, at most 1 MiB of token text.
    pub const SLOTS: usize = 256;
    /// Longer tokens are not memoised (hashed every time): typical JWTs are under 2 KB.
    pub const MAX_TOKEN: usize = 4096;

    /// No slots when `enabled` is false (caching is off).
    pub fn new(enabled: bool) -> Self {
        KeyMemo {
            slots: if enabled {
                vec![None; Self::SLOTS]
            } else {
                Vec::new()
            },
        }
    }

    fn slot(&self, token: &str) -> Option<usize> {
        if self.slots.is_empty() || token.len() > Self::MAX_TOKEN {
            return None;
        }
        let b = token.as_bytes();
        let tail = b[b.len().saturating_sub(8)..]
            .iter()
            .fold(b.len() as u64, |h, &x| (h << 8) | u64::from(x));
        Some((tail.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize % Self::SLOTS)
    }

    /// `token`'s key: from its slot when the slot holds exactly this token, else hashed.
    fn key(&self, token: &str) -> Keyed {
        if let Some(i) = self.slot(token) {
            if let Some((t, key)) = &self.slots[i] {
                if same_text(t, token) {
                    return Keyed {
                        key: *key,
                        memoized: true,
                    };
                }
            }
        }
        Keyed {
            key: token_key(token),
            memoized: false,
        }
    }

    /// Remembers `keyed` (from [`KeyMemo::key`] for this same `token`) as `token`'s key. A key
    /// the memo gave is already in its slot.
    fn remember(&mut self, token: &str, keyed: Keyed) {
        if keyed.memoized {
            return;
        }
        debug_assert_eq!(keyed.key, token_key(token), "a key for another token");
        if let Some(i) = self.slot(token) {
            self.slots[i] = Some((token.into(), keyed.key));
        }
    }
}

/// Equality that reads every byte whatever the first difference (the stored token is a
/// client's credential; the time of a comparison should not tell how much of it matched).
fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u64;
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        let x = u64::from_le_bytes(x.try_into().unwrap_or_default());
        let y = u64::from_le_bytes(y.try_into().unwrap_or_default());
        diff |= x ^ y;
    }
    for (x, y) in ra.iter().zip(rb) {
        diff |= u64::from(x ^ y);
    }
    diff == 0
}

#[derive(Debug, Clone)]
struct Entry {
    principal: Rc<Principal>,
    /// Unix seconds after which the entry must not be served (`exp` + leeway).
    valid_until: f64,
    /// The issuer's key-set generation the signature was checked against.
    generation: u64,
}

/// A token refused after verification, as remembered (with what its log line needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: TokenError,
    /// The configured issuer the token was checked against.
    pub issuer: String,
    pub kid: Option<String>,
    /// The algorithm it was checked with (for metrics).
    pub alg: Alg,
}

#[derive(Debug, Clone)]
struct Refused {
    refusal: Refusal,
    /// The issuer's key-set generation the token was refused under.
    generation: u64,
}

/// What the cache knows about a token.
#[derive(Debug, Clone)]
pub enum Verdict {
    Verified(Rc<Principal>),
    Refused(Refusal),
}

#[derive(Debug)]
pub struct TokenCache {
    verified: Bounded<Entry>,
    refused: Bounded<Refused>,
    memo: KeyMemo,
}

impl TokenCache {
    /// At most `capacity` verified tokens and `capacity` refused ones; 0 disables caching.
    pub fn new(capacity: usize) -> Self {
        TokenCache {
            verified: Bounded::new(capacity),
            refused: Bounded::new(capacity),
            memo: KeyMemo::new(capacity > 0),
        }
    }

    /// `token`'s cache key (SHA-256, or the memo's copy of it).
    pub fn key(&self, token: &str) -> Keyed {
        self.memo.key(token)
    }

    /// Lets `token`'s next lookup skip the hash. For tokens this cache answered or has just
    /// taken in, with the [`Keyed`] that [`TokenCache::key`] gave for this same token.
    pub fn remember(&mut self, token: &str, keyed: Keyed) {
        self.memo.remember(token, keyed);
    }

    pub fn len(&self) -> usize {
        self.verified.len() + self.refused.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cached verdict if it still holds at `now` and `generation` gives the issuer's
    /// current key-set generation (`None`: keys not fresh, so take the slow path).
    pub fn get(
        &mut self,
        key: &TokenKey,
        now: u64,
        generation: impl Fn(&str) -> Option<u64>,
    ) -> Option<Verdict> {
        if let Some(entry) = self.verified.get(key).cloned() {
            let live = (now as f64) < entry.valid_until;
            if live && generation(&entry.principal.issuer) == Some(entry.generation) {
                return Some(Verdict::Verified(entry.principal));
            }
            self.verified.remove(key);
            return None;
        }
        let entry = self.refused.get(key)?;
        if generation(&entry.refusal.issuer) == Some(entry.generation) {
            return Some(Verdict::Refused(entry.refusal.clone()));
        }
        // Another key set (or keys not fresh): the token may verify now, e.g. a key that
        // signed it was published late. Decide again on the slow path.
        self.refused.remove(key);
        None
    }

    pub fn insert(
        &mut self,
        key: TokenKey,
        principal: Rc<Principal>,
        leeway: u64,
        generation: u64,
    ) {
        let valid_until = principal.expires_at + leeway as f64;
        self.verified.insert(
            key,
            Entry {
                principal,
                valid_until,
                generation,
            },
        );
    }

    /// Remembers a refusal; only errors that [`TokenError::is_final`] are kept.
    pub fn insert_refusal(&mut self, key: TokenKey, refusal: Refusal, generation: u64) {
        if refusal.error.is_final() {
            self.refused.insert(
                key,
                Refused {
                    refusal,
                    generation,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn principal(iss: &str, exp: f64) -> Rc<Principal> {
        Rc::new(Principal {
            subject: Some("u".into()),
            issuer: iss.into(),
            claims_b64: "e30".into(),
            claims: Map::new(),
            expires_at: exp,
            alg: crate::alg::Alg::Rs256,
            resource_audience: false,
        })
    }

    /// Two tokens of one length and the same last bytes (so the same memo slot), one byte
    /// apart.
    const SLOT_TWIN: (&str, &str) = (
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJlLWJ5dGVz",
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiIn0.c2lnbmF0dXJlLWJ5dGVz",
    );

    #[test]
    fn the_memo_answers_only_for_exactly_the_remembered_token() {
        let t = SLOT_TWIN.0;
        let mut m = KeyMemo::new(true);
        let first = m.key(t);
        assert!(!first.memoized() && *first.key() == token_key(t));
        m.remember(t, first);
        let again = m.key(t);
        assert!(again.memoized(), "answered from the memo");
        assert_eq!(again.key(), first.key());
        // Same length and last bytes (so the same slot), one byte different: hashed.
        let other = SLOT_TWIN.1;
        assert_eq!(m.slot(other), m.slot(t));
        let k = m.key(other);
        assert!(!k.memoized() && *k.key() == token_key(other));
        // Each position, including the tail after the last whole 8-byte chunk.
        for i in 0..t.len() {
            let mut b = t.as_bytes().to_vec();
            b[i] ^= 1;
            let changed = String::from_utf8(b).unwrap();
            let k = m.key(&changed);
            assert!(!k.memoized() && *k.key() == token_key(&changed), "byte {i}");
        }
        assert!(!m.key(&t[..t.len() - 1]).memoized());
        // A token taking the slot over: the old one is hashed again.
        m.remember(other, k);
        assert!(m.key(other).memoized());
        assert!(!m.key(t).memoized());
        assert_eq!(*m.key(t).key(), token_key(t));
        // Not kept: tokens over MAX_TOKEN, and anything when caching is off.
        let long = format!("{}.{}", "a".repeat(KeyMemo::MAX_TOKEN), "b");
        m.remember(&long, m.key(&long));
        assert!(!m.key(&long).memoized());
        let mut off = KeyMemo::new(false);
        off.remember(t, off.key(t));
        assert!(!off.key(t).memoized());
    }

    #[test]
    fn the_cache_uses_the_memo_for_tokens_it_holds() {
        let mut c = TokenCache::new(10);
        let t = "a.b.c";
        let k = c.key(t);
        c.insert(*k.key(), principal("i", 1000.0), 0, 1);
        c.remember(t, k);
        let again = c.key(t);
        assert!(again.memoized());
        assert!(c.get(again.key(), 10, |_| Some(1)).is_some());
    }

    #[test]
    fn serves_until_exp_plus_leeway_only() {
        let mut c = TokenCache::new(10);
        let k = token_key("a.b.c");
        c.insert(k, principal("i", 1000.0), 60, 1);
        assert!(matches!(
            c.get(&k, 1059, |_| Some(1)),
            Some(Verdict::Verified(_))
        ));
        assert!(c.get(&k, 1060, |_| Some(1)).is_none());
        // Expired entries are dropped, not kept around.
        assert!(c.get(&k, 0, |_| Some(1)).is_none());
    }

    #[test]
    fn a_new_key_set_revokes_cached_tokens() {
        let mut c = TokenCache::new(10);
        let k = token_key("a.b.c");
        c.insert(k, principal("i", 5000.0), 0, 1);
        assert!(c.get(&k, 100, |_| Some(2)).is_none());
        assert!(
            c.get(&k, 100, |_| Some(1)).is_none(),
            "entry was dropped on mismatch"
        );
    }

    #[test]
    fn stale_keys_force_the_slow_path() {
        let mut c = TokenCache::new(10);
        let k = token_key("a.b.c");
        c.insert(k, principal("i", 5000.0), 0, 1);
        assert!(c.get(&k, 100, |_| None).is_none());
    }

    #[test]
    fn size_stays_bounded() {
        let mut c = TokenCache::new(100);
        for i in 0..10_000 {
            c.insert(token_key(&i.to_string()), principal("i", 5000.0), 0, 1);
            assert!(c.len() <= 100);
        }
        // Recent entries survive.
        assert!(c.get(&token_key("9999"), 1, |_| Some(1)).is_some());
        assert!(c.get(&token_key("0"), 1, |_| Some(1)).is_none());
    }

    #[test]
    fn capacity_zero_disables() {
        let mut c = TokenCache::new(0);
        let k = token_key("a.b.c");
        c.insert(k, principal("i", 5000.0), 0, 1);
        assert!(c.is_empty());
        assert!(c.get(&k, 1, |_| Some(1)).is_none());
    }

    #[test]
    fn different_tokens_do_not_share_entries() {
        let mut c = TokenCache::new(10);
        let t = SLOT_TWIN.0;
        let k = c.key(t);
        c.insert(*k.key(), principal("i", 1000.0), 0, 1);
        c.remember(t, k);
        // One byte apart, same length and last bytes: the memo slot the cached token is in.
        let other = SLOT_TWIN.1;
        assert_eq!(c.memo.slot(other), c.memo.slot(t));
        assert!(c.get(c.key(other).key(), 10, |_| Some(1)).is_none());
        assert!(c.get(c.key(t).key(), 10, |_| Some(1)).is_some());
    }

    fn refusal(error: TokenError) -> Refusal {
        Refusal {
            error,
            issuer: "i".into(),
            kid: Some("k1".into()),
            alg: Alg::Rs256,
        }
    }

    #[test]
    fn a_refused_token_is_remembered_under_its_key_set_only() {
        let mut c = TokenCache::new(10);
        let k = token_key("a.b.forged");
        c.insert_refusal(k, refusal(TokenError::BadSignature), 7);
        match c.get(&k, 1, |_| Some(7)) {
            Some(Verdict::Refused(r)) => assert_eq!(r, refusal(TokenError::BadSignature)),
            other => panic!("expected a refusal, got {other:?}"),
        }
        // A new key set may accept it: dropped.
        assert!(c.get(&k, 1, |_| Some(8)).is_none());
        assert!(c.get(&k, 1, |_| Some(7)).is_none(), "dropped on mismatch");
        // Keys not fresh: the slow path decides again.
        c.insert_refusal(k, refusal(TokenError::BadSignature), 7);
        assert!(c.get(&k, 1, |_| None).is_none());
    }

    #[test]
    fn only_final_refusals_are_remembered() {
        let mut c = TokenCache::new(10);
        for (i, e) in [
            TokenError::NotYetValid,
            TokenError::IssuedInFuture,
            TokenError::UnknownKid,
            TokenError::Revoked,
        ]
        .into_iter()
        .enumerate()
        {
            c.insert_refusal(token_key(&i.to_string()), refusal(e), 1);
        }
        assert!(c.is_empty());
        c.insert_refusal(token_key("x"), refusal(TokenError::Expired), 1);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn refusals_never_evict_verified_tokens() {
        let mut c = TokenCache::new(4);
        let good = token_key("good");
        c.insert(good, principal("i", 5000.0), 0, 1);
        for i in 0..1000 {
            c.insert_refusal(
                token_key(&i.to_string()),
                refusal(TokenError::BadSignature),
                1,
            );
        }
        assert!(matches!(
            c.get(&good, 1, |_| Some(1)),
            Some(Verdict::Verified(_))
        ));
        assert!(c.len() <= 8);
    }

    #[test]
    fn bounded_promotes_on_get_and_keeps_its_bound() {
        let mut b = Bounded::new(4);
        for i in 0u8..3 {
            b.insert([i; 32], i);
        }
        // [0],[1] rotated to previous when [2] arrived; a get brings [0] back.
        assert_eq!(b.get(&[0; 32]), Some(&0));
        assert_eq!(b.peek(&[0; 32]), Some(&0));
        for i in 10u8..20 {
            b.insert([i; 32], i);
            assert!(b.len() <= 4);
        }
        assert_eq!(b.peek(&[19; 32]), Some(&19));
        assert_eq!(b.peek(&[0; 32]), None);
        let mut off = Bounded::new(0);
        off.insert([1; 32], 1);
        assert!(off.is_empty());
    }
}
