//! Where an issuer's keys come from, and what may replace what. Pure; `edge::fetcher` does the I/O.
//!
//! * A key set is bound to its source: the configured `jwks_uri`, or the discovery URL
//!   together with the `jwks_uri` it resolved to. A KV record from another source (another
//!   `jwks_uri`, discovery where a URI is configured or the reverse, or a record written
//!   before sources were recorded) is ignored, so a configuration change takes effect in
//!   every new isolate at once.
//! * A discovered `jwks_uri` has a freshness of its own, from the discovery response's
//!   `Cache-Control` with the clamps of key sets. Once it has run out, discovery runs again
//!   before keys are fetched; while rediscovery fails, the last `jwks_uri` serves within the
//!   stale window. Keys from a `jwks_uri` that discovery no longer names are dropped.
//! * A KV read never replaces what a network fetch installed while the read was under way.

use crate::config::cache_policy::CachePolicy;
use crate::config::{check_fetch_url, JwksSource};
use crate::error::JwksError;
use crate::json::parse_object;
use crate::keys::freshness::Freshness;
use crate::keys::{parse_jwks, KeySet};
use serde::Serialize;
use serde_json::{Map, Value};
use std::rc::Rc;
use url::Url;

/// The KV key of an issuer's record. The name stays `v1`: the record only gained fields.
pub fn kv_key(issuer: &str) -> String {
    format!("jwks:v1:{issuer}")
}

/// The KV record, one per issuer. Written with serde; read by `parse_record`.
#[derive(Serialize)]
struct KvRecord {
    fetched_at: u64,
    fresh_until: u64,
    /// The URL the JWKS was fetched from.
    jwks_uri: String,
    jwks: String,
    /// How `jwks_uri` was chosen; absent in records of older versions, which never match.
    #[serde(default)]
    source: Option<RecordSource>,
}

#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum RecordSource {
    /// `jwks_uri` is the issuer's configured one.
    Configured,
    /// `jwks_uri` was found by OIDC discovery at `discovery_url`, fresh as given.
    Discovery {
        discovery_url: String,
        fetched_at: u64,
        fresh_until: u64,
    },
}

/// A `jwks_uri` found by discovery, and until when it is fresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    pub jwks_uri: Url,
    pub freshness: Freshness,
}

/// A KV record that belongs to the configured source, re-validated.
#[derive(Debug)]
pub struct Loaded {
    pub keys: KeySet,
    pub freshness: Freshness,
    pub discovered: Option<Discovered>,
}

/// Reads a KV record for an issuer configured with `source`. KV content is re-validated like
/// a network response (it is only as trustworthy as whoever can write to the namespace), and
/// its times are clamped: not after `now`, fresh for at most `max_ttl`. The error says why a
/// record is not used.
pub fn read_record(
    text: &str,
    source: &JwksSource,
    now: u64,
    policy: &CachePolicy,
    max_keys: usize,
) -> Result<Loaded, &'static str> {
    let record = parse_record(text).ok_or("not a record")?;
    let discovered = match (source, &record.source) {
        (_, None) => return Err("no source (written by an older version)"),
        (JwksSource::Uri(uri), Some(RecordSource::Configured))
            if uri.as_str() == record.jwks_uri =>
        {
            None
        }
        (
            JwksSource::Discovery(well_known),
            Some(RecordSource::Discovery {
                discovery_url,
                fetched_at,
                fresh_until,
            }),
        ) if well_known.as_str() == discovery_url => {
            let jwks_uri = Url::parse(&record.jwks_uri).map_err(|_| "bad jwks_uri")?;
            check_fetch_url(&jwks_uri).map_err(|_| "bad jwks_uri")?;
            Some(Discovered {
                jwks_uri,
                freshness: clamped(*fetched_at, *fresh_until, now, policy),
            })
        }
        _ => return Err("source differs from the configuration"),
    };
    let keys = parse_jwks(record.jwks.as_bytes(), max_keys).map_err(|_| "not a usable JWKS")?;
    Ok(Loaded {
        keys,
        freshness: clamped(record.fetched_at, record.fresh_until, now, policy),
        discovered,
    })
}

/// Reads a KV record: a strict JSON object (`json::parse_object`) with the members
/// `write_record` writes, each of its type (other members are ignored; `source` may be
/// absent or null). Read by hand, not by a serde derive: `RecordSource` is internally
/// tagged, and deserializing it (and a `KvRecord` from text, a second instance of
/// serde_json's parser) costs Wasm size.
fn parse_record(text: &str) -> Option<KvRecord> {
    fn number(m: &Map<String, Value>, name: &str) -> Option<u64> {
        m.get(name)?.as_u64()
    }
    fn string(m: &Map<String, Value>, name: &str) -> Option<String> {
        m.get(name)?.as_str().map(str::to_owned)
    }
    let record = parse_object(text.as_bytes()).ok()?;
    let source = match record.get("source") {
        None | Some(Value::Null) => None,
        Some(Value::Object(s)) => Some(match s.get("kind")?.as_str()? {
            "configured" => RecordSource::Configured,
            "discovery" => RecordSource::Discovery {
                discovery_url: string(s, "discovery_url")?,
                fetched_at: number(s, "fetched_at")?,
                fresh_until: number(s, "fresh_until")?,
            },
            _ => return None,
        }),
        Some(_) => return None,
    };
    Some(KvRecord {
        fetched_at: number(&record, "fetched_at")?,
        fresh_until: number(&record, "fresh_until")?,
        jwks_uri: string(&record, "jwks_uri")?,
        jwks: string(&record, "jwks")?,
        source,
    })
}

fn clamped(fetched_at: u64, fresh_until: u64, now: u64, policy: &CachePolicy) -> Freshness {
    let fetched_at = fetched_at.min(now);
    Freshness {
        fetched_at,
        fresh_until: fresh_until.min(fetched_at.saturating_add(policy.max_ttl)),
    }
}

/// The KV record for a JWKS (`raw`) fetched from `source`, or `None` when the source is not
/// known well enough to bind the record to it (discovery without a discovered `jwks_uri`).
pub fn write_record(
    source: &JwksSource,
    discovered: Option<&Discovered>,
    freshness: Freshness,
    raw: String,
) -> Option<String> {
    let (jwks_uri, source) = match (source, discovered) {
        (JwksSource::Uri(uri), _) => (uri, RecordSource::Configured),
        (JwksSource::Discovery(well_known), Some(d)) => (
            &d.jwks_uri,
            RecordSource::Discovery {
                discovery_url: well_known.to_string(),
                fetched_at: d.freshness.fetched_at,
                fresh_until: d.freshness.fresh_until,
            },
        ),
        _ => return None,
    };
    serde_json::to_string(&KvRecord {
        fetched_at: freshness.fetched_at,
        fresh_until: freshness.fresh_until,
        jwks_uri: jwks_uri.to_string(),
        jwks: raw,
        source: Some(source),
    })
    .ok()
}

/// Where to fetch keys from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UriPlan {
    Use(Url),
    /// Run discovery first; if it fails, `fallback` (the last discovered `jwks_uri`, still
    /// within the stale window) may be used.
    Discover {
        well_known: Url,
        fallback: Option<Url>,
    },
}

pub fn plan_uri(
    source: &JwksSource,
    discovered: Option<&Discovered>,
    now: u64,
    policy: &CachePolicy,
) -> Result<UriPlan, JwksError> {
    match source {
        JwksSource::Uri(uri) => Ok(UriPlan::Use(uri.clone())),
        JwksSource::Discovery(well_known) => Ok(match discovered {
            Some(d) if d.freshness.is_fresh(now) => UriPlan::Use(d.jwks_uri.clone()),
            _ => UriPlan::Discover {
                well_known: well_known.clone(),
                fallback: discovered
                    .filter(|d| d.freshness.is_usable(now, policy))
                    .map(|d| d.jwks_uri.clone()),
            },
        }),
        JwksSource::None => Err(JwksError::Invalid("issuer has no JWKS (HMAC only)")),
    }
}

/// What one isolate holds for one issuer: its key set and, with discovery, the `jwks_uri`.
#[derive(Debug, Default)]
pub struct IssuerKeys {
    keys: Option<(Rc<KeySet>, Freshness)>,
    discovered: Option<Discovered>,
    /// Bumped whenever `keys` is replaced; cached verified tokens remember it, so a new key
    /// set (a rotation, a removed key) invalidates them.
    generation: u64,
    /// Bumped by every install, so a KV read can tell whether anything came in meanwhile.
    epoch: u64,
}

/// Taken before a KV read: [`IssuerKeys::install_loaded`] refuses the record if anything was
/// installed since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

impl IssuerKeys {
    pub fn keys(&self) -> Option<&(Rc<KeySet>, Freshness)> {
        self.keys.as_ref()
    }

    /// The key set if it may still serve (fresh, or stale within `max_stale`).
    pub fn usable(&self, now: u64, policy: &CachePolicy) -> Option<Rc<KeySet>> {
        self.keys
            .as_ref()
            .filter(|(_, f)| f.is_usable(now, policy))
            .map(|(k, _)| k.clone())
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn discovered(&self) -> Option<&Discovered> {
        self.discovered.as_ref()
    }

    pub fn ticket(&self) -> Ticket {
        Ticket(self.epoch)
    }

    /// Keys fetched from the network: the newest there are.
    pub fn install_fetched(&mut self, keys: Rc<KeySet>, freshness: Freshness) {
        self.keys = Some((keys, freshness));
        self.generation += 1;
        self.epoch += 1;
    }

    /// A discovery result. If it names another `jwks_uri`, the keys from the old one go.
    pub fn install_discovered(&mut self, discovered: Discovered) {
        let moved = self
            .discovered
            .as_ref()
            .is_some_and(|d| d.jwks_uri != discovered.jwks_uri);
        if moved && self.keys.take().is_some() {
            self.generation += 1;
        }
        self.discovered = Some(discovered);
        self.epoch += 1;
    }

    /// A KV record read since `ticket`; installed only if nothing was installed meanwhile
    /// (it would roll a newer key set back). Returns whether it was installed.
    pub fn install_loaded(&mut self, ticket: Ticket, loaded: Loaded) -> bool {
        if ticket != self.ticket() {
            return false;
        }
        self.keys = Some((Rc::new(loaded.keys), loaded.freshness));
        self.discovered = loaded.discovered;
        self.generation += 1;
        self.epoch += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::tests::policy;
    use serde_json::json;

    const MAIN: &str = include_str!("../../fixtures/jwks/main.json");
    const ROTATED: &str = include_str!("../../fixtures/jwks/rotated.json");
    const WELL_KNOWN: &str = "https://idp.test/.well-known/openid-configuration";

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn configured(uri: &str) -> JwksSource {
        JwksSource::Uri(url(uri))
    }

    fn discovery() -> JwksSource {
        JwksSource::Discovery(url(WELL_KNOWN))
    }

    fn fresh(from: u64, ttl: u64) -> Freshness {
        Freshness {
            fetched_at: from,
            fresh_until: from + ttl,
        }
    }

    fn discovered(uri: &str, freshness: Freshness) -> Discovered {
        Discovered {
            jwks_uri: url(uri),
            freshness,
        }
    }

    fn read(text: &str, source: &JwksSource, now: u64) -> Result<Loaded, &'static str> {
        read_record(text, source, now, &policy(), 64)
    }

    #[test]
    fn a_record_serves_only_the_source_it_came_from() {
        let a = configured("https://idp.test/keys-a");
        let record = write_record(&a, None, fresh(1000, 600), MAIN.into()).unwrap();
        let loaded = read(&record, &a, 1100).unwrap();
        assert_eq!(loaded.keys.keys.len(), 5);
        assert_eq!(loaded.freshness, fresh(1000, 600));
        assert_eq!(loaded.discovered, None);
        // The operator changed jwks_uri, or switched to discovery: not ours any more.
        let b = configured("https://idp.test/keys-b");
        assert_eq!(
            read(&record, &b, 1100).unwrap_err(),
            "source differs from the configuration"
        );
        assert!(read(&record, &discovery(), 1100).is_err());
    }

    #[test]
    fn a_discovery_record_carries_the_resolved_uri_and_its_freshness() {
        let d = discovered("https://keys.idp.test/jwks", fresh(900, 300));
        let record = write_record(&discovery(), Some(&d), fresh(1000, 600), MAIN.into()).unwrap();
        let loaded = read(&record, &discovery(), 1100).unwrap();
        assert_eq!(loaded.discovered, Some(d));
        // Another discovery URL (the issuer changed) or a configured jwks_uri equal to the
        // discovered one: not the same source.
        let other =
            JwksSource::Discovery(url("https://other.test/.well-known/openid-configuration"));
        assert!(read(&record, &other, 1100).is_err());
        assert!(read(&record, &configured("https://keys.idp.test/jwks"), 1100).is_err());
        // Discovery with nothing discovered cannot be bound to a source: not written.
        assert!(write_record(&discovery(), None, fresh(1000, 600), MAIN.into()).is_none());
    }

    #[test]
    fn a_record_of_an_older_version_never_matches() {
        let old = json!({
            "fetched_at": 1000, "fresh_until": 1600,
            "jwks_uri": "https://idp.test/keys-a", "jwks": MAIN,
        })
        .to_string();
        let err = read(&old, &configured("https://idp.test/keys-a"), 1100).unwrap_err();
        assert_eq!(err, "no source (written by an older version)");
        assert!(read(&old, &discovery(), 1100).is_err());
    }

    #[test]
    fn hostile_records_are_refused_or_clamped() {
        let d = discovered("https://keys.idp.test/jwks", fresh(900, 300));
        let good: serde_json::Value = serde_json::from_str(
            &write_record(&discovery(), Some(&d), fresh(1000, 600), MAIN.into()).unwrap(),
        )
        .unwrap();
        let with = |path: &[&str], v: serde_json::Value| {
            let mut r = good.clone();
            let mut at = &mut r;
            for p in &path[..path.len() - 1] {
                at = &mut at[*p];
            }
            at[path[path.len() - 1]] = v;
            r.to_string()
        };
        for (path, v) in [
            (&["jwks"][..], json!("<html>")),
            (&["jwks"], json!(r#"{"keys":[]}"#)),
            (&["jwks_uri"], json!("http://attacker.example/jwks")),
            (&["jwks_uri"], json!("not a url")),
            (&["fresh_until"], json!(-1)),
            (&["source", "kind"], json!("other")),
            (&["source", "kind"], json!(1)),
            (&["source"], json!("discovery")),
            (&["source"], json!({})),
            (&["source", "discovery_url"], json!(1)),
            (&["source", "fetched_at"], json!("900")),
            (&["fetched_at"], json!("1000")),
            (&["fetched_at"], json!(1000.5)),
            (&["fetched_at"], json!(null)),
            (&["jwks"], json!(1)),
            (&["jwks_uri"], json!(["https://keys.idp.test/jwks"])),
        ] {
            assert!(
                read(&with(path, v.clone()), &discovery(), 1100).is_err(),
                "{path:?} = {v}"
            );
        }
        for text in [
            "",
            "null",
            "[]",
            "{}",
            "{\"fetched_at\":1,\"fetched_at\":2}",
        ] {
            assert!(read(text, &discovery(), 1100).is_err(), "{text}");
        }
        // Members the record does not have are ignored; a null `source` is an absent one.
        assert!(read(&with(&["extra"], json!([1])), &discovery(), 1100).is_ok());
        assert_eq!(
            read(&with(&["source"], json!(null)), &discovery(), 1100).unwrap_err(),
            "no source (written by an older version)"
        );
        // Fresh "forever" or written "in the future": at most max_ttl from now.
        let forever = with(&["fresh_until"], json!(u64::MAX));
        assert_eq!(
            read(&forever, &discovery(), 1100).unwrap().freshness,
            fresh(1000, 3600)
        );
        let future = with(&["fetched_at"], json!(u64::MAX));
        let f = read(&future, &discovery(), 1100).unwrap().freshness;
        assert_eq!(f.fetched_at, 1100);
        assert!(f.fresh_until <= 1100 + 3600);
        let sticky = with(&["source", "fresh_until"], json!(u64::MAX));
        let d = read(&sticky, &discovery(), 1100)
            .unwrap()
            .discovered
            .unwrap();
        assert_eq!(d.freshness, fresh(900, 3600));
    }

    #[test]
    fn a_stale_discovered_uri_is_resolved_again_and_serves_only_within_the_stale_window() {
        let p = policy();
        let d = discovered("https://keys.idp.test/jwks", fresh(1000, 300));
        let plan = |d: Option<&Discovered>, now| plan_uri(&discovery(), d, now, &p).unwrap();
        assert_eq!(plan(Some(&d), 1299), UriPlan::Use(d.jwks_uri.clone()));
        assert_eq!(
            plan(Some(&d), 1300),
            UriPlan::Discover {
                well_known: url(WELL_KNOWN),
                fallback: Some(d.jwks_uri.clone())
            }
        );
        assert_eq!(
            plan(Some(&d), 1300 + 86_400),
            UriPlan::Discover {
                well_known: url(WELL_KNOWN),
                fallback: None
            }
        );
        assert_eq!(
            plan(None, 1000),
            UriPlan::Discover {
                well_known: url(WELL_KNOWN),
                fallback: None
            }
        );
        let a = configured("https://idp.test/keys-a");
        assert_eq!(
            plan_uri(&a, None, 1000, &p).unwrap(),
            UriPlan::Use(url("https://idp.test/keys-a"))
        );
        assert!(plan_uri(&JwksSource::None, None, 1000, &p).is_err());
    }

    fn loaded(jwks: &str, freshness: Freshness, d: Option<Discovered>) -> Loaded {
        Loaded {
            keys: parse_jwks(jwks.as_bytes(), 64).unwrap(),
            freshness,
            discovered: d,
        }
    }

    #[test]
    fn a_kv_read_that_completes_after_a_network_fetch_does_not_roll_keys_back() {
        let mut state = IssuerKeys::default();
        // Request A starts a KV read; request B fetches from the network meanwhile.
        let ticket = state.ticket();
        let newer = Rc::new(parse_jwks(ROTATED.as_bytes(), 64).unwrap());
        state.install_fetched(newer.clone(), fresh(2000, 600));
        let generation = state.generation();
        // A's (older) record arrives: refused.
        assert!(!state.install_loaded(ticket, loaded(MAIN, fresh(1000, 600), None)));
        let (keys, f) = state.keys().unwrap();
        assert!(Rc::ptr_eq(keys, &newer));
        assert_eq!(*f, fresh(2000, 600));
        assert_eq!(state.generation(), generation);
        // A rediscovery counts as an install too.
        let mut state = IssuerKeys::default();
        let ticket = state.ticket();
        let new_uri = discovered("https://keys.idp.test/new", fresh(2000, 300));
        state.install_discovered(new_uri.clone());
        let old_uri = discovered("https://keys.idp.test/old", fresh(1000, 300));
        assert!(!state.install_loaded(ticket, loaded(MAIN, fresh(1000, 600), Some(old_uri))));
        assert_eq!(state.discovered(), Some(&new_uri));
        // With nothing installed in between, the record is taken.
        let mut state = IssuerKeys::default();
        let ticket = state.ticket();
        assert!(state.install_loaded(ticket, loaded(MAIN, fresh(1000, 600), None)));
        assert_eq!(state.generation(), 1);
        assert!(state.usable(1000 + 600 + 86_399, &policy()).is_some());
        assert!(state.usable(1000 + 600 + 86_400, &policy()).is_none());
    }

    #[test]
    fn keys_from_a_jwks_uri_that_discovery_no_longer_names_are_dropped() {
        let mut state = IssuerKeys::default();
        let old = discovered("https://keys.idp.test/old", fresh(1000, 300));
        assert!(state.install_loaded(
            state.ticket(),
            loaded(MAIN, fresh(1000, 600), Some(old.clone()))
        ));
        // Rediscovery naming the same jwks_uri keeps the keys.
        state.install_discovered(discovered("https://keys.idp.test/old", fresh(1300, 300)));
        assert!(state.keys().is_some());
        assert_eq!(state.generation(), 1);
        // Another jwks_uri: the old keys go (and cached tokens with the generation).
        state.install_discovered(discovered("https://keys.idp.test/new", fresh(1600, 300)));
        assert!(state.keys().is_none());
        assert_eq!(state.generation(), 2);
    }
}
