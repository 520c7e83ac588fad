//! When to fetch a key set again: freshness from `Cache-Control` (clamped by the
//! configured [`CachePolicy`]), serving stale keys while the endpoint fails, back-off, and
//! the rate limit on refetches for unknown `kid`s. Pure; `edge::fetcher` does the I/O.

use crate::config::cache_policy::CachePolicy;

/// When a cached set was fetched and until when it is fresh (unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    pub fetched_at: u64,
    pub fresh_until: u64,
}

impl Freshness {
    pub fn is_fresh(&self, now: u64) -> bool {
        now < self.fresh_until
    }

    /// Still allowed to serve when a refresh fails.
    pub fn is_usable(&self, now: u64, policy: &CachePolicy) -> bool {
        now < self.fresh_until.saturating_add(policy.max_stale)
    }

    /// KV `expirationTtl` so an entry outlives its freshness by the stale window (KV's
    /// minimum is 60 s).
    pub fn kv_ttl(&self, now: u64, policy: &CachePolicy) -> u64 {
        self.fresh_until
            .saturating_add(policy.max_stale)
            .saturating_sub(now)
            .max(60)
    }
}

/// May an unknown `kid` trigger a network fetch now? At most one per cooldown per issuer,
/// counted from the last fetch attempt of any kind, so a flood of random `kid`s costs the
/// issuer one request per cooldown, not one per token.
pub fn may_refetch(last_attempt: Option<u64>, now: u64, policy: &CachePolicy) -> bool {
    last_attempt.is_none_or(|t| now >= t.saturating_add(policy.refetch_cooldown))
}

/// How long after the last of `failures` consecutive failed fetches no new fetch is made:
/// 1 s, 2 s, 4 s, ... capped by `refetch_cooldown`, and never less than 1 s, so even a
/// cooldown of 0 cannot let every request reach a failing endpoint. 0 after a success.
pub fn backoff_secs(failures: u32, policy: &CachePolicy) -> u64 {
    match failures {
        0 => 0,
        n => (1u64 << (n - 1).min(63)).min(policy.refetch_cooldown.max(1)),
    }
}

/// Why keys are wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Normal request: cached keys while fresh.
    Current,
    /// The token's `kid` is unknown: fetch again if the cooldown allows.
    Refetch,
}

/// What the fetcher knows about one issuer when a request arrives.
#[derive(Debug, Clone, Copy, Default)]
pub struct FetchState {
    pub cached: Option<Freshness>,
    /// Last network attempt of any kind (unix seconds).
    pub last_attempt: Option<u64>,
    /// When the most recent attempt ended, if it failed.
    pub last_failure: Option<u64>,
    /// Consecutive failed attempts (0 after a success).
    pub failures: u32,
    /// Another request of this isolate is fetching right now.
    pub in_flight: bool,
}

impl FetchState {
    /// Before this time (unix seconds) no fetch is made: the back-off after failures.
    pub fn backoff_until(&self, policy: &CachePolicy) -> Option<u64> {
        self.last_failure
            .map(|t| t.saturating_add(backoff_secs(self.failures, policy)))
    }
}

/// Serve what is cached, go to the network, or neither?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    UseCached,
    Fetch,
    /// Nothing usable, and another request of this isolate is fetching: watch for its result
    /// instead of fetching too.
    AwaitOther,
    /// Nothing usable, and the endpoint failed less than the back-off ago: no fetch, 503.
    BackOff,
}

/// The cache policy in one place:
/// * fresh keys are used as they are;
/// * expired keys are refreshed, unless another request is already at it or the back-off
///   after failed attempts is running (then the stale set serves, within `max_stale`);
/// * an unknown `kid` refetches at most once per cooldown since the last attempt;
/// * with nothing usable, a fetch is made unless one is in flight (its result is awaited)
///   or the back-off is running (503 without any I/O): a failing endpoint costs the issuer
///   one request per back-off step, not one per request naming it.
pub fn decide(state: &FetchState, want: Want, now: u64, policy: &CachePolicy) -> Decision {
    let backing_off = state.backoff_until(policy).is_some_and(|t| now < t);
    let Some(f) = state.cached.filter(|f| f.is_usable(now, policy)) else {
        return if state.in_flight {
            Decision::AwaitOther
        } else if backing_off {
            Decision::BackOff
        } else {
            Decision::Fetch
        };
    };
    if state.in_flight || backing_off {
        return Decision::UseCached;
    }
    let fetch = match want {
        Want::Current => !f.is_fresh(now),
        Want::Refetch => may_refetch(state.last_attempt, now, policy),
    };
    if fetch {
        Decision::Fetch
    } else {
        Decision::UseCached
    }
}
