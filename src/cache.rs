//! A bounded cache of verified tokens, so a token seen before costs a hash and a lookup
//! instead of a signature verification.
//!
//! * Keyed by SHA-256 of the whole token: a collision would be a forgery, so a fast
//!   non-cryptographic hash is not an option, and no token text is kept in memory.
//! * An entry is served only while its `exp` (plus leeway) has not passed, and only while
//!   the issuer's key set is the one it was verified against: any change to that set
//!   (rotation, a removed key) drops the issuer's cached tokens by generation mismatch.
//! * Bounded by two generations of `capacity/2` entries: when the current map is full it
//!   becomes the previous one and the old previous is dropped (approximate LRU, O(1)).

use crate::token::Principal;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::rc::Rc;

pub type TokenKey = [u8; 32];

pub fn token_key(token: &str) -> TokenKey {
    Sha256::digest(token.as_bytes()).into()
}

#[derive(Debug, Clone)]
struct Entry {
    principal: Rc<Principal>,
    /// Unix seconds after which the entry must not be served (`exp` + leeway).
    valid_until: f64,
    /// The issuer's key-set generation the signature was checked against.
    generation: u64,
}

#[derive(Debug, Default)]
pub struct TokenCache {
    current: HashMap<TokenKey, Entry>,
    previous: HashMap<TokenKey, Entry>,
    half: usize,
}

impl TokenCache {
    /// `capacity` 0 disables caching.
    pub fn new(capacity: usize) -> Self {
        TokenCache {
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

    /// Returns the cached principal if it is still valid at `now` and `generation` gives the
    /// issuer's current key-set generation (`None`: keys not fresh, so take the slow path).
    pub fn get(
        &mut self,
        key: &TokenKey,
        now: u64,
        generation: impl Fn(&str) -> Option<u64>,
    ) -> Option<Rc<Principal>> {
        let entry = match self.current.get(key) {
            Some(e) => e.clone(),
            None => {
                let e = self.previous.remove(key)?;
                self.put(*key, e.clone());
                e
            }
        };
        let live = (now as f64) < entry.valid_until;
        if live && generation(&entry.principal.issuer) == Some(entry.generation) {
            Some(entry.principal)
        } else {
            self.current.remove(key);
            None
        }
    }

    pub fn insert(
        &mut self,
        key: TokenKey,
        principal: Rc<Principal>,
        leeway: u64,
        generation: u64,
    ) {
        if self.half == 0 {
            return;
        }
        let valid_until = principal.expires_at + leeway as f64;
        self.put(
            key,
            Entry {
                principal,
                valid_until,
                generation,
            },
        );
    }

    fn put(&mut self, key: TokenKey, entry: Entry) {
        if self.current.len() >= self.half && !self.current.contains_key(&key) {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(key, entry);
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
        assert!(c.get(&k, 1059, |_| Some(1)).is_some());
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
}
