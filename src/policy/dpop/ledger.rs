//! The fleet-wide DPoP replay ledger (RFC 9449 §11.1). With a `DPOP_REPLAY` Durable Object
//! binding, a proof that this isolate has not seen is recorded in one of [`SHARDS`]
//! objects, and the object says whether some isolate recorded it first. This isolate's
//! [`ReplayCache`] stays in front, so a replay to the same isolate costs no round trip.
//!
//! Pure: the wire between gateway and object (one path, one status), the shard a proof
//! belongs to, what an answer means for the request, and the object's SQL and expiry
//! schedule. The I/O, on both sides, is `edge::replay`.

use super::{ProofId, ReplayCache};
use crate::config::LedgerFallback;
use crate::error::{DpopError, Rejection};
use std::fmt::Write as _;

/// The Durable Object namespace binding.
pub const BINDING: &str = "DPOP_REPLAY";
/// The origin of the gateway's requests to the object (never resolved: a stub's fetch goes
/// to the object whatever the URL).
pub const ORIGIN: &str = "https://dpop-replay.invalid";
/// Objects the proofs are spread over, by the first hex digit of their key (a SHA-256, so
/// evenly): one object is not every DPoP request's bottleneck.
pub const SHARDS: u8 = 16;
/// The object's answer for a proof it records now.
pub const FIRST: u16 = 201;
/// The object's answer for a proof recorded before, still inside its window.
pub const SEEN: u16 = 409;
/// The object refuses (400) a record whose window ends further ahead of its own clock than
/// this: no proof's does (`DPOP_MAX_AGE_SECONDS` ≤ 3600, leeway ≤ 600, `iat` at most leeway
/// ahead), so such a record is a bug or not ours, and must not fill storage for long.
pub const MAX_AHEAD_SECS: u64 = 86_400;

/// What the ledger said about one proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Recorded now: no isolate presented it before.
    First,
    /// Recorded before, within its window: a replay.
    Seen,
    /// No usable answer (the cause, for the log): the object threw, answered something
    /// else, or not within `DPOP_REPLAY_TIMEOUT_MS`.
    Unavailable(String),
}

impl Answer {
    /// The answer a status of the object's response means.
    pub fn from_status(status: u16) -> Answer {
        match status {
            FIRST => Answer::First,
            SEEN => Answer::Seen,
            other => Answer::Unavailable(format!("{BINDING} answered {other}")),
        }
    }
}

impl ProofId {
    /// The name of the object that holds this proof.
    pub fn shard(&self) -> String {
        format!("dpop-replay-{:x}", self.key[0] >> 4)
    }

    /// The path of the request that records it: `/record/<key, 64 hex>/<until>`.
    pub fn record_path(&self) -> String {
        let mut path = String::with_capacity(8 + 64 + 1 + 20);
        path.push_str("/record/");
        for b in self.key {
            let _ = write!(path, "{b:02x}");
        }
        let _ = write!(path, "/{}", self.until);
        path
    }
}

/// A record request as the object reads it: the key (64 lower-case hex digits, as
/// [`ProofId::record_path`] writes it) and the window's last second; `None` for anything
/// else, and for a window that ends more than [`MAX_AHEAD_SECS`] after `now`.
pub fn parse_record_path(path: &str, now: u64) -> Option<(&str, u64)> {
    let (key, until) = path.strip_prefix("/record/")?.split_once('/')?;
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if key.len() != 64 || !key.bytes().all(hex) {
        return None;
    }
    if until.is_empty() || until.len() > 20 || !until.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let until: u64 = until.parse().ok()?;
    (until <= now.saturating_add(MAX_AHEAD_SECS)).then_some((key, until))
}

/// What the ledger's answer means for the request. The proof is recorded in this
/// isolate's cache whenever it now counts as used, so a second try here is refused without
/// asking again; with `closed` and no answer, it is not (nothing used it).
pub fn settle(
    proof: &ProofId,
    answer: &Answer,
    fallback: LedgerFallback,
    replay: &mut ReplayCache,
) -> Result<(), Rejection> {
    match (answer, fallback) {
        (Answer::First, _) | (Answer::Unavailable(_), LedgerFallback::Isolate) => {
            replay.record(proof);
            Ok(())
        }
        (Answer::Seen, _) => {
            replay.record(proof);
            Err(Rejection::InvalidDpop(DpopError::Replayed))
        }
        (Answer::Unavailable(cause), LedgerFallback::Closed) => {
            Err(Rejection::DpopReplayUnavailable(cause.clone()))
        }
    }
}

/// The object's tables: one row per proof until its window has passed (`WITHOUT ROWID`: the
/// key is the row), and the time of the alarm set to delete the earliest, if one is (kept
/// here so that recording a proof needs no asynchronous `getAlarm`).
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS proofs (key TEXT PRIMARY KEY, until INTEGER NOT NULL) WITHOUT ROWID; \
     CREATE INDEX IF NOT EXISTS proofs_until ON proofs (until); \
     CREATE TABLE IF NOT EXISTS alarm (at INTEGER NOT NULL)";
/// Records `?1` until `?2`, unless a row for it is still inside its window at `?3` (an
/// expired row the alarm has not deleted yet counts as absent, as in [`ReplayCache`]). It
/// writes a row exactly when the proof is first.
pub const RECORD: &str = "INSERT INTO proofs (key, until) VALUES (?1, ?2) \
     ON CONFLICT (key) DO UPDATE SET until = excluded.until WHERE proofs.until < ?3";
/// Notes an alarm at `?1` (ms) unless one is set: it writes a row exactly when the caller
/// is to set it.
pub const NOTE_ALARM: &str =
    "INSERT INTO alarm (at) SELECT ?1 WHERE NOT EXISTS (SELECT 1 FROM alarm)";
/// Forgets the alarm (it is running).
pub const CLEAR_ALARM: &str = "DELETE FROM alarm";
/// Deletes the rows whose window has passed at `?1`.
pub const EXPIRE: &str = "DELETE FROM proofs WHERE until < ?1";
/// The earliest end of a window still held (no row: NULL).
pub const EARLIEST: &str = "SELECT MIN(until) FROM proofs";

/// When the object's alarm should run to delete a row held until `until`: the first
/// millisecond after its window.
pub fn alarm_at_ms(until: u64) -> i64 {
    i64::try_from(until.saturating_add(1).saturating_mul(1000)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proof(first: u8, until: u64) -> ProofId {
        let mut key = [0x5a; 32];
        key[0] = first;
        ProofId { key, until }
    }

    /// Every shard is reached and none beyond `SHARDS`: the name is the key's first digit.
    #[test]
    fn proofs_spread_over_sixteen_shards_by_their_first_hex_digit() {
        let names: std::collections::BTreeSet<String> =
            (0..=255u8).map(|b| proof(b, 0).shard()).collect();
        assert_eq!(names.len(), SHARDS as usize);
        assert_eq!(proof(0x00, 0).shard(), "dpop-replay-0");
        assert_eq!(proof(0xf3, 0).shard(), "dpop-replay-f");
        assert_eq!(proof(0x3f, 0).shard(), proof(0x30, 0).shard());
    }

    /// The path the gateway writes is the one the object reads back, and only it.
    #[test]
    fn the_record_path_round_trips_and_nothing_else_parses() {
        let now = 1_700_000_000;
        let p = proof(0xab, now + 360);
        let path = p.record_path();
        assert_eq!(path.len(), "/record/".len() + 64 + 1 + 10);
        let (key, until) = parse_record_path(&path, now).expect("parses");
        assert_eq!(until, now + 360);
        assert_eq!(key, &path[8..72]);
        assert!(key.starts_with("ab5a5a"));
        let key = key.to_owned();
        for bad in [
            String::new(),
            "/record/".into(),
            format!("/record/{key}"),
            format!("/record/{key}/"),
            format!("/record/{}/1", &key[1..]),
            format!("/record/{}/1", key.to_uppercase()),
            format!("/record/{key}0/1"),
            format!("/record/{key}/-1"),
            format!("/record/{key}/1/2"),
            format!("/record/{key}/+1"),
            format!("/record/{key}/99999999999999999999"),
            format!("/other/{key}/1"),
            // A window far beyond any proof's.
            format!("/record/{key}/{}", now + MAX_AHEAD_SECS + 1),
        ] {
            assert_eq!(parse_record_path(&bad, now), None, "{bad}");
        }
        assert!(
            parse_record_path(&format!("/record/{key}/{}", now + MAX_AHEAD_SECS), now).is_some()
        );
    }

    #[test]
    fn statuses_other_than_first_and_seen_are_no_answer() {
        assert_eq!(Answer::from_status(201), Answer::First);
        assert_eq!(Answer::from_status(409), Answer::Seen);
        for status in [200, 400, 404, 500, 503] {
            assert!(
                matches!(Answer::from_status(status), Answer::Unavailable(ref c) if c.contains(&status.to_string())),
                "{status}"
            );
        }
    }

    /// Each answer under each fallback: what the request gets, and whether this isolate
    /// now refuses the proof without asking.
    #[test]
    fn settling_an_answer_records_the_proof_whenever_it_counts_as_used() {
        use LedgerFallback::*;
        let down = Answer::Unavailable("timed out".into());
        let cases: [(&Answer, LedgerFallback, Result<(), Rejection>, bool); 6] = [
            (&Answer::First, Closed, Ok(()), true),
            (&Answer::First, Isolate, Ok(()), true),
            (
                &Answer::Seen,
                Closed,
                Err(Rejection::InvalidDpop(DpopError::Replayed)),
                true,
            ),
            (
                &Answer::Seen,
                Isolate,
                Err(Rejection::InvalidDpop(DpopError::Replayed)),
                true,
            ),
            (
                &down,
                Closed,
                Err(Rejection::DpopReplayUnavailable("timed out".into())),
                false,
            ),
            (&down, Isolate, Ok(()), true),
        ];
        for (answer, fallback, expected, recorded) in cases {
            let p = proof(0x11, 100);
            let mut replay = ReplayCache::new(16);
            assert_eq!(
                settle(&p, answer, fallback, &mut replay),
                expected,
                "{answer:?} {fallback:?}"
            );
            assert_eq!(replay.seen(&p.key, 50), recorded, "{answer:?} {fallback:?}");
        }
    }

    #[test]
    fn the_alarm_runs_just_after_the_window() {
        assert_eq!(alarm_at_ms(1_700_000_000), 1_700_000_001_000);
        assert_eq!(alarm_at_ms(u64::MAX), i64::MAX);
    }
}
