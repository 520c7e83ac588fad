//! A bounded cache of token verdicts, so a token seen before costs a hash and a lookup
//! instead of a signature verification.
//!
//! * Keyed by SHA-256 of the whole token: a collision would be a forgery, so a fast
//!   non-cryptographic hash is not an option, and no token text is kept in memory.
//! * A verified token is served only while its `exp` (plus leeway) has not passed, and only
//!   while the issuer's key set is the one it was verified against: any change to that set
//!   (rotation, a removed key) drops the issuer's cached tokens by generation mismatch.
//! * A token refused after its signature was checked, for a reason that cannot change while
//!   the key set and configuration stay (see [`TokenError::is_final`]), is remembered too, in
//!   its own map: a client or an attacker replaying a forged or expired token pays a hash,
//!   not a verification, and such traffic can never evict verified tokens.
//! * Each map is [`Bounded`]: two generations of `capacity/2` entries.

use crate::error::TokenError;
use crate::token::Principal;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::rc::Rc;

pub type TokenKey = [u8; 32];

pub fn token_key(token: &str) -> TokenKey {
    Sha256::digest(token.as_bytes()).into()
}

/// A map of at most `capacity` entries keyed by a 32-byte digest, with O(1) eviction: two
/// generations of `capacity/2`; when the current one is full it becomes the previous one and
/// the old previous is dropped (an approximate LRU: a hit in the previous generation moves
/// the entry back to the current one). Capacity 0 keeps nothing.
#[derive(Debug)]
pub struct Bounded<V> {
    current: HashMap<TokenKey, V>,
    previous: HashMap<TokenKey, V>,
    half: usize,
}

impl<V> Bounded<V> {
    pub fn new(capacity: usize) -> Self {
        Bounded {
            current: HashMap::new(),
            previous: HashMap::new(),
            half: capacity.div_ceil(2),
        }
    }

    pub fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Looks `key` up without reordering.
    pub fn peek(&self, key: &TokenKey) -> Option<&V> {
        self.current.get(key).or_else(|| self.previous.get(key))
    }

    /// Looks `key` up, moving an entry found in the previous generation to the current one.
    pub fn get(&mut self, key: &TokenKey) -> Option<&V> {
        if !self.current.contains_key(key) {
            let v = self.previous.remove(key)?;
            self.insert(*key, v);
        }
        self.current.get(key)
    }

    pub fn insert(&mut self, key: TokenKey, value: V) {
        if self.half == 0 {
            return;
        }
        if self.current.len() >= self.half && !self.current.contains_key(&key) {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(key, value);
    }

    pub fn remove(&mut self, key: &TokenKey) {
        self.current.remove(key);
        self.previous.remove(key);
    }
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
}

impl TokenCache {
    /// At most `capacity` verified tokens and `capacity` refused ones; 0 disables caching.
    pub fn new(capacity: usize) -> Self {
        TokenCache {
            verified: Bounded::new(capacity),
            refused: Bounded::new(capacity),
        }
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
        })
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
        assert_ne!(token_key("a.b.c"), token_key("a.b.d"));
    }

    fn refusal(error: TokenError) -> Refusal {
        Refusal {
            error,
            issuer: "i".into(),
            kid: Some("k1".into()),
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
