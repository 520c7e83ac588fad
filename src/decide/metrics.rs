//! One Workers Analytics Engine data point per final decision (the `METRICS` binding), as
//! Envoy's `jwt_authn` stats give operators per-outcome counters. Pure: the decision fills an
//! [`Observation`], the edge says where the keys came from, and `Verdict::data_point` builds
//! the point ([`DataPoint::of`]); the JS entry or the async path writes it. Without the binding nothing is observed
//! and no point is built.
//!
//! Schema (README "Metrics"): `index1` the issuer (or `-`); `blob1` outcome (`forwarded`,
//! `rejected`, `metadata`), `blob2` reason (`ok`, `anonymous`, or the refusal's code), `blob3`
//! issuer, `blob4` algorithm, `blob5` verified-token cache (`hit`, `miss`), `blob6` key
//! source (`memory`, `kv`, `network`); `double1` the status answered at the edge (0: forwarded).
//! Blobs that do not apply are empty. Only configured issuer names are written (for a
//! refusal, the configured issuer the token's `iss` names, verified or not): an `iss` that
//! names none never becomes a blob or an index, so a client cannot grow the cardinality.

use crate::alg::Alg;
use crate::config::Config;

/// What one decision saw, for its data point. Filled only when `enabled`.
#[derive(Debug, Default)]
pub struct Observation {
    pub enabled: bool,
    /// The configured issuer the token was matched to.
    pub issuer: Option<String>,
    pub alg: Option<Alg>,
    /// `Some(true)`: the verdict came from the verified-token cache; `Some(false)`: the
    /// token was checked now.
    pub cache_hit: Option<bool>,
    /// The token was checked with the issuer's JWKS during this decision.
    pub used_keys: bool,
    /// The refusal's code (`Rejection::reason` up to its first `:`, so no free text).
    pub reason: Option<String>,
    /// The answer is the protected-resource metadata document.
    pub metadata: bool,
    /// A token was found and forwarded with its identity.
    pub authenticated: bool,
}

impl Observation {
    pub fn for_config(config: &Config) -> Self {
        Observation {
            enabled: config.metrics,
            ..Observation::default()
        }
    }

    /// Notes the issuer a token was matched to, if it is a configured one.
    pub fn issuer(&mut self, config: &Config, issuer: &str) {
        if self.enabled && config.issuer(issuer).is_some() {
            self.issuer = Some(issuer.to_owned());
        }
    }

    pub fn reason(&mut self, reason: &str) {
        if self.enabled {
            let code = reason.split(':').next().unwrap_or(reason);
            self.reason = Some(code.to_owned());
        }
    }
}

/// Where the keys of a decision that used them came from, ordered by how far the request
/// went for them (a request that fetched keys and then was refused a rate-limited refetch
/// still used fetched keys: keep the maximum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeySource {
    /// Fresh in isolate memory (the synchronous path, always).
    Memory,
    /// Loaded from the `JWKS_CACHE` KV namespace for this request.
    Kv,
    /// Fetched from the issuer for this request (or by another request it waited for).
    Network,
}

impl KeySource {
    fn name(self) -> &'static str {
        match self {
            KeySource::Memory => "memory",
            KeySource::Kv => "kv",
            KeySource::Network => "network",
        }
    }
}

/// Analytics Engine's limit on an index, in bytes.
const MAX_INDEX_BYTES: usize = 96;

/// One data point: `indexes: [index]`, `blobs`, `doubles: [status]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPoint {
    pub index: String,
    pub blobs: [String; 6],
    pub status: u16,
}

impl DataPoint {
    /// The point for a final decision: `answered` is the status of an answer at the edge,
    /// `None` for a forward (`None` overall when the observation is not enabled).
    pub fn of(answered: Option<u16>, seen: &Observation, keys: KeySource) -> Option<DataPoint> {
        if !seen.enabled {
            return None;
        }
        let (outcome, reason, status) = match answered {
            None => {
                let reason = if seen.authenticated {
                    "ok"
                } else {
                    "anonymous"
                };
                ("forwarded", reason.to_owned(), 0)
            }
            Some(status) if seen.metadata => ("metadata", String::new(), status),
            Some(status) => ("rejected", seen.reason.clone().unwrap_or_default(), status),
        };
        let issuer = seen.issuer.as_deref().map(one_line).unwrap_or_default();
        let cache = match seen.cache_hit {
            Some(true) => "hit",
            Some(false) => "miss",
            None => "",
        };
        let keys = if seen.used_keys { keys.name() } else { "" };
        Some(DataPoint {
            index: if issuer.is_empty() {
                "-".to_owned()
            } else {
                truncate(&issuer, MAX_INDEX_BYTES).to_owned()
            },
            blobs: [
                outcome.to_owned(),
                reason,
                issuer,
                seen.alg.map_or("", Alg::name).to_owned(),
                cache.to_owned(),
                keys.to_owned(),
            ],
            status,
        })
    }
}

/// A configured issuer as one line (the wire format is line-based; an issuer with a line
/// break would be a strange configuration, not a reason to lose the point).
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled() -> Observation {
        Observation {
            enabled: true,
            ..Observation::default()
        }
    }

    #[test]
    fn nothing_is_built_unless_enabled() {
        let off = Observation::default();
        assert_eq!(DataPoint::of(Some(401), &off, KeySource::Memory), None);
        assert_eq!(DataPoint::of(None, &off, KeySource::Kv), None);
    }

    #[test]
    fn a_refusal_names_its_code_issuer_alg_and_cache() {
        let mut seen = enabled();
        seen.issuer = Some("https://login.test/".into());
        seen.alg = Some(Alg::Es256);
        seen.cache_hit = Some(true);
        seen.reason("bad_signature");
        let point = DataPoint::of(Some(401), &seen, KeySource::Network).unwrap();
        assert_eq!(point.index, "https://login.test/");
        assert_eq!(
            point.blobs,
            [
                "rejected",
                "bad_signature",
                "https://login.test/",
                "ES256",
                "hit",
                ""
            ]
            .map(String::from),
            "no key source: a cache hit used no keys"
        );
        assert_eq!(point.status, 401);
    }

    #[test]
    fn reasons_keep_only_their_code() {
        let mut seen = enabled();
        seen.reason("jwks_unavailable: fetch failed: https://i.test/jwks timed out");
        assert_eq!(seen.reason.as_deref(), Some("jwks_unavailable"));
        seen.reason("forbidden: missing scope read");
        assert_eq!(seen.reason.as_deref(), Some("forbidden"));
    }

    #[test]
    fn a_forward_is_ok_or_anonymous_with_where_the_keys_came_from() {
        let mut seen = enabled();
        seen.authenticated = true;
        seen.used_keys = true;
        seen.cache_hit = Some(false);
        let point = DataPoint::of(None, &seen, KeySource::Kv).unwrap();
        assert_eq!(point.blobs[0], "forwarded");
        assert_eq!(point.blobs[1], "ok");
        assert_eq!(point.blobs[4], "miss");
        assert_eq!(point.blobs[5], "kv");
        assert_eq!((point.index.as_str(), point.status), ("-", 0));
        let point = DataPoint::of(None, &enabled(), KeySource::Memory).unwrap();
        assert_eq!(point.blobs[1], "anonymous");
        assert_eq!(point.blobs[5], "");
    }

    #[test]
    fn a_key_source_that_went_further_wins() {
        assert!(KeySource::Memory < KeySource::Kv && KeySource::Kv < KeySource::Network);
        assert_eq!(
            KeySource::Network.max(KeySource::Memory),
            KeySource::Network
        );
    }

    #[test]
    fn the_metadata_document_is_its_own_outcome() {
        let mut seen = enabled();
        seen.metadata = true;
        let point = DataPoint::of(Some(200), &seen, KeySource::Memory).unwrap();
        assert_eq!((point.blobs[0].as_str(), point.status), ("metadata", 200));
    }

    #[test]
    fn the_index_fits_analytics_engine_and_every_field_is_one_line() {
        let mut seen = enabled();
        let long = format!("https://{}é/\n", "a".repeat(94));
        seen.issuer = Some(long);
        let point = DataPoint::of(Some(403), &seen, KeySource::Memory).unwrap();
        assert!(
            point.index.len() <= MAX_INDEX_BYTES,
            "{}",
            point.index.len()
        );
        assert!(point.index.starts_with("https://aaa"));
        assert!(
            point.blobs.iter().all(|b| !b.contains('\n')),
            "{:?}",
            point.blobs
        );
    }
}
