//! JWKS documents as fetched from an issuer (hostile: any bytes up to JWKS_MAX_BYTES):
//! `jwks::parse_jwks`, key selection on what it accepts, and the `Cache-Control` parser
//! that sets the key set's lifetime.
#![no_main]

use edgeguard::alg::Alg;
use edgeguard::config::cache_policy::CachePolicy;
use edgeguard::keys::{parse_jwks, Selection};
use libfuzzer_sys::fuzz_target;

/// The documented defaults (config.rs).
const POLICY: CachePolicy = CachePolicy {
    min_ttl: 60,
    max_ttl: 3600,
    default_ttl: 600,
    max_stale: 86_400,
    refetch_cooldown: 30,
};
const MAX_KEYS: usize = 64;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = parse_jwks(data, MAX_KEYS) {
        assert!(!set.keys.is_empty() && set.keys.len() + set.skipped <= MAX_KEYS);
        // Every kid the document names, a kid it does not, and no kid, for every alg.
        let mut kids: Vec<Option<&str>> = set.keys.iter().map(|k| k.kid.as_deref()).collect();
        kids.truncate(8);
        kids.extend([None, Some("rsa2048-a"), Some("no-such-kid")]);
        for alg in Alg::ALL {
            for kid in &kids {
                match set.select(alg, *kid) {
                    Selection::Candidates(c) => assert!(!c.is_empty()),
                    Selection::UnknownKid => assert!(kid.is_some()),
                    Selection::Ambiguous => assert!(kid.is_none()),
                    Selection::NoSuitableKey => {}
                }
            }
        }
    }
    if let Ok(header) = std::str::from_utf8(data) {
        let ttl = POLICY.ttl_from_cache_control(Some(header));
        assert!((POLICY.min_ttl..=POLICY.max_ttl).contains(&ttl));
    }
});
