//! The JWKS cache settings (`JWKS_*_TTL_SECONDS`, `JWKS_MAX_STALE_SECONDS`,
//! `JWKS_REFETCH_COOLDOWN_SECONDS`) and the freshness they give a response.

/// Freshness rules for cached key sets (all in seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachePolicy {
    pub min_ttl: u64,
    pub max_ttl: u64,
    /// When the response says nothing usable about caching.
    pub default_ttl: u64,
    /// How long past freshness the last good set serves while the endpoint fails.
    pub max_stale: u64,
    /// Minimum interval between network fetches triggered by an unknown `kid`; also the cap
    /// of the back-off after failed fetches (`backoff_secs`).
    pub refetch_cooldown: u64,
}

impl CachePolicy {
    /// Freshness lifetime from a JWKS response's `Cache-Control`, clamped to
    /// `[min_ttl, max_ttl]`. `no-store`/`no-cache` mean "as short as allowed": refetching on
    /// every request would turn each token into a request to the issuer.
    pub fn ttl_from_cache_control(&self, header: Option<&str>) -> u64 {
        let mut ttl = None;
        for directive in header.unwrap_or_default().split(',') {
            let directive = directive.trim();
            let (name, value) = match directive.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                return self.min_ttl;
            }
            if name.eq_ignore_ascii_case("max-age") {
                // Malformed max-age: RFC 9111 §4.2.1 says treat the response as stale.
                ttl = Some(value.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0));
            }
        }
        ttl.unwrap_or(self.default_ttl)
            .clamp(self.min_ttl, self.max_ttl)
    }
}
