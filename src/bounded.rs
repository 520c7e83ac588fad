//! A map with a fixed bound and O(1) eviction, for the isolate's per-request memories (the
//! verified-token cache, the DPoP replay cache).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::OnceLock;

/// The key of a [`Bounded`] map: a SHA-256 digest.
pub type Key = [u8; 32];

/// A map of at most `capacity` entries keyed by a 32-byte digest, with O(1) eviction: two
/// generations of `capacity/2`; when the current one is full it becomes the previous one and
/// the old previous is dropped (an approximate LRU: a hit in the previous generation moves
/// the entry back to the current one). Capacity 0 keeps nothing.
#[derive(Debug)]
pub struct Bounded<V> {
    current: HashMap<Key, V, SecretKeyed>,
    previous: HashMap<Key, V, SecretKeyed>,
    half: usize,
}

impl<V> Bounded<V> {
    pub fn new(capacity: usize) -> Self {
        Bounded {
            current: HashMap::with_hasher(SecretKeyed),
            previous: HashMap::with_hasher(SecretKeyed),
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
    pub fn peek(&self, key: &Key) -> Option<&V> {
        self.current.get(key).or_else(|| self.previous.get(key))
    }

    /// Looks `key` up, moving an entry found in the previous generation to the current one.
    pub fn get(&mut self, key: &Key) -> Option<&V> {
        if !self.current.contains_key(key) {
            let v = self.previous.remove(key)?;
            self.insert(*key, v);
        }
        self.current.get(key)
    }

    pub fn insert(&mut self, key: Key, value: V) {
        if self.half == 0 {
            return;
        }
        if self.current.len() >= self.half && !self.current.contains_key(&key) {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(key, value);
    }

    pub fn remove(&mut self, key: &Key) {
        self.current.remove(key);
        self.previous.remove(key);
    }
}

/// The hasher of every [`Bounded`] map: SipHash-2-4 under a secret key drawn once per
/// isolate.
///
/// Why not std's `RandomState`: on wasm32-unknown-unknown std has no entropy source, so its
/// SipHash keys are fixed and public. The keys here are digests of client input (a token, a
/// DPoP proof's `jti`): with public hash keys, someone grinding tokens offline could pick
/// digests that share the map's buckets, and every lookup would walk them all.
///
/// The secret is drawn on first use, not when a map is made: maps are made at isolate
/// start, where workerd refuses random values, and first hashed while serving a request,
/// where it allows them. Once drawn it never changes, so a map never sees two hashes of one
/// key. Should the runtime refuse anyway, [`FALLBACK`] is used for the isolate's life: the
/// maps stay correct (they compare whole keys), only as open to bucket grinding as std's.
#[derive(Debug, Clone, Copy, Default)]
pub struct SecretKeyed;

/// The keys used when no random ones can be drawn (std's fixed keys are no better).
const FALLBACK: (u64, u64) = (0x736f_6d65_7073_6575, 0x646f_7261_6e64_6f6d);

static SECRET: OnceLock<(u64, u64)> = OnceLock::new();

fn secret() -> (u64, u64) {
    *SECRET.get_or_init(|| {
        let mut bytes = [0u8; 16];
        match getrandom::getrandom(&mut bytes) {
            Ok(()) => {
                let (k0, k1) = bytes.split_at(8);
                let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
                (word(k0), word(k1))
            }
            Err(_) => FALLBACK,
        }
    })
}

impl BuildHasher for SecretKeyed {
    #[allow(
        deprecated,
        reason = "std's only keyable hasher (SipHash-2-4), stable API; `DefaultHasher`, its replacement, cannot be keyed"
    )]
    type Hasher = std::hash::SipHasher;

    #[allow(deprecated, reason = "see `Hasher`")]
    fn build_hasher(&self) -> Self::Hasher {
        let (k0, k1) = secret();
        std::hash::SipHasher::new_with_keys(k0, k1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> Key {
        let mut k = [0u8; 32];
        k[0] = n;
        k
    }

    /// One key always hashes the same (the secret is drawn once), so a map finds what it holds.
    #[test]
    fn the_secret_is_drawn_once() {
        let first = SecretKeyed.hash_one(key(1));
        assert_eq!(SecretKeyed.hash_one(key(1)), first);
        assert_eq!(secret(), secret());
        assert_ne!(SecretKeyed.hash_one(key(2)), first);
    }

    /// Natively the secret is random: neither the fallback nor std's fixed keys.
    #[test]
    fn the_secret_is_random_where_the_platform_has_entropy() {
        assert_ne!(secret(), FALLBACK);
        // The same SipHash-2-4 under the public keys (0, 0).
        #[allow(deprecated, reason = "the hasher SecretKeyed keys")]
        let public = std::hash::BuildHasherDefault::<std::hash::SipHasher>::default();
        assert_ne!(SecretKeyed.hash_one(key(7)), public.hash_one(key(7)));
    }
}
