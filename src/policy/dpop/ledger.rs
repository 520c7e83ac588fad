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
/// How far the asking isolate's clock, read when its decision began, may be from the
/// object's when the record arrives (skew plus the request's own I/O before the ask); the
/// object refuses (400) a record outside it. Rows are kept this long past their window, so
/// no record the object admits can find the row of a window it still counts as open deleted:
/// a row goes at `until < now - MARGIN`, and an admitted asker's clock is past `now -
/// MARGIN`, so past `until` too, and its own check already refuses that proof as stale.
pub const MARGIN_SECS: u64 = 60;

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

    /// The path of the request that records it, asked by a decision that began at `now`:
    /// `/record/<key, 64 hex>/<until>/<now>`.
    pub fn record_path(&self, now: u64) -> String {
        let mut path = String::with_capacity(8 + 64 + 2 + 40);
        path.push_str("/record/");
        for b in self.key {
            let _ = write!(path, "{b:02x}");
        }
        let _ = write!(path, "/{}/{now}", self.until);
        path
    }
}

/// A record request as the object admits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// 64 lower-case hex digits, as [`ProofId::record_path`] writes them.
    pub key: &'a str,
    /// The window's last second.
    pub until: u64,
    /// The asking decision's clock: a row whose window ends before it counts as absent.
    pub asked_at: u64,
}

/// A record request as the object reads it at `now`: `None` for anything but
/// [`ProofId::record_path`]'s shape, for a window that ends more than [`MAX_AHEAD_SECS`]
/// after `now`, and for an asker's clock more than [`MARGIN_SECS`] from `now`.
pub fn parse_record_path(path: &str, now: u64) -> Option<Record<'_>> {
    let mut parts = path.strip_prefix("/record/")?.split('/');
    let (key, until, asked_at) = (parts.next()?, parts.next()?, parts.next()?);
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if parts.next().is_some() || key.len() != 64 || !key.bytes().all(hex) {
        return None;
    }
    let number = |text: &str| -> Option<u64> {
        let digits =
            !text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit());
        digits.then(|| text.parse().ok()).flatten()
    };
    let (until, asked_at) = (number(until)?, number(asked_at)?);
    let admitted =
        until <= now.saturating_add(MAX_AHEAD_SECS) && asked_at.abs_diff(now) <= MARGIN_SECS;
    admitted.then_some(Record {
        key,
        until,
        asked_at,
    })
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
/// Records `?1` until `?2`, unless a row for it is still inside its window at `?3`, the
/// asker's clock (a row whose window the asker has passed counts as absent, as in
/// [`ReplayCache`]: a new proof reusing the `jti`). It writes a row exactly when the proof
/// is first.
pub const RECORD: &str = "INSERT INTO proofs (key, until) VALUES (?1, ?2) \
     ON CONFLICT (key) DO UPDATE SET until = excluded.until WHERE proofs.until < ?3";
/// Forgets a noted alarm due before `?1` ([`overdue_before_ms`]): it failed (a `setAlarm`
/// that was refused, retries that ran out), and a note of it must not keep the next one
/// from being set.
pub const FORGET_FAILED_ALARM: &str = "DELETE FROM alarm WHERE at < ?1";
/// Notes an alarm at `?1` (ms) unless one is set: it writes a row exactly when the caller
/// is to set it.
pub const NOTE_ALARM: &str =
    "INSERT INTO alarm (at) SELECT ?1 WHERE NOT EXISTS (SELECT 1 FROM alarm)";
/// Forgets the alarm (it is running).
pub const CLEAR_ALARM: &str = "DELETE FROM alarm";
/// Deletes the rows whose window ended before `?1` ([`expired_before`]).
pub const EXPIRE: &str = "DELETE FROM proofs WHERE until < ?1";
/// The earliest end of a window still held (no row: NULL).
pub const EARLIEST: &str = "SELECT MIN(until) FROM proofs";

/// At the object's `now`, the rows whose window ended before this are deleted: it keeps them
/// [`MARGIN_SECS`] past their window.
pub fn expired_before(now: u64) -> u64 {
    now.saturating_sub(MARGIN_SECS)
}

/// At the object's `now_ms`, a noted alarm due before this has failed: a minute overdue.
pub fn overdue_before_ms(now_ms: i64) -> i64 {
    now_ms.saturating_sub(60_000)
}

/// When the object's alarm should run to delete a row held until `until`: the first
/// millisecond after its window and the margin.
pub fn alarm_at_ms(until: u64) -> i64 {
    let after = until.saturating_add(MARGIN_SECS).saturating_add(1);
    i64::try_from(after.saturating_mul(1000)).unwrap_or(i64::MAX)
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
        let path = p.record_path(now - 2);
        assert_eq!(path.len(), "/record/".len() + 64 + 1 + 10 + 1 + 10);
        let record = parse_record_path(&path, now).expect("parses");
        assert_eq!((record.until, record.asked_at), (now + 360, now - 2));
        assert_eq!(record.key, &path[8..72]);
        assert!(record.key.starts_with("ab5a5a"));
        let key = record.key.to_owned();
        let ok = |until: u64, asked: u64| format!("/record/{key}/{until}/{asked}");
        for bad in [
            String::new(),
            "/record/".into(),
            format!("/record/{key}"),
            format!("/record/{key}/1"),
            format!("/record/{key}/1/"),
            format!("/record/{}/1/{now}", &key[1..]),
            format!("/record/{}/1/{now}", key.to_uppercase()),
            format!("/record/{key}0/1/{now}"),
            format!("/record/{key}/-1/{now}"),
            format!("/record/{key}/1/{now}/2"),
            format!("/record/{key}/+1/{now}"),
            format!("/record/{key}/99999999999999999999/{now}"),
            format!("/other/{key}/1/{now}"),
            // A window far beyond any proof's.
            ok(now + MAX_AHEAD_SECS + 1, now),
            // An asker whose clock is off by more than the margin (or whose request took
            // that long to arrive).
            ok(now, now - MARGIN_SECS - 1),
            ok(now, now + MARGIN_SECS + 1),
        ] {
            assert_eq!(parse_record_path(&bad, now), None, "{bad}");
        }
        for good in [
            ok(now + MAX_AHEAD_SECS, now),
            ok(1, now - MARGIN_SECS),
            ok(1, now + MARGIN_SECS),
        ] {
            assert!(parse_record_path(&good, now).is_some(), "{good}");
        }
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
    fn the_alarm_runs_just_after_the_window_and_the_margin() {
        assert_eq!(alarm_at_ms(1_700_000_000), 1_700_000_061_000);
        // The alarm deletes the row it runs for: its window ended before the cut-off then.
        let until = 1_700_000_000;
        let at_secs = (alarm_at_ms(until) / 1000) as u64;
        assert!(until < expired_before(at_secs));
        assert_eq!(expired_before(at_secs - 1), until);
        assert_eq!(expired_before(5), 0);
        assert_eq!(overdue_before_ms(1_000_060_000), 1_000_000_000);
        assert_eq!(alarm_at_ms(u64::MAX), i64::MAX);
    }
}
