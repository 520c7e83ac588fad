//! A map with a fixed bound and O(1) eviction, for the isolate's per-request memories (the
//! verified-token cache, the DPoP replay cache).

use std::collections::HashMap;

/// The key of a [`Bounded`] map: a SHA-256 digest.
pub type Key = [u8; 32];

/// A map of at most `capacity` entries keyed by a 32-byte digest, with O(1) eviction: two
/// generations of `capacity/2`; when the current one is full it becomes the previous one and
/// the old previous is dropped (an approximate LRU: a hit in the previous generation moves
/// the entry back to the current one). Capacity 0 keeps nothing.
#[derive(Debug)]
pub struct Bounded<V> {
    current: HashMap<Key, V>,
    previous: HashMap<Key, V>,
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
