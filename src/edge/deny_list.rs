//! The KV deny list's I/O (the entries and their rules are `policy::deny`): the isolate's
//! copy, and listing the `DENY_LIST` namespace again when the copy is older than
//! `DENY_LIST_TTL_SECONDS`.
//!
//! * One listing at a time per isolate: while one runs, other requests use the copy they
//!   have (at most one TTL and one listing old); only a request with no copy at all lists
//!   too.
//! * A listing is bounded in time (`JWKS_TIMEOUT_MS`, the deadline every fetch here has) and
//!   in size ([`DenyList::MAX_ENTRIES`]). When it fails, the request is refused (503), never
//!   served from a copy past its TTL: the operator asked for revocations to hold within it.

use crate::config::Config;
use crate::policy::deny::{DenyList, DenySnapshot, DenyState, Listing};
use futures_util::future::{select, Either};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use worker::{console_log, console_warn, Delay, Env};

/// The binding the deny list is read from.
pub const BINDING: &str = "DENY_LIST";

#[derive(Default)]
struct State {
    snapshot: Option<DenySnapshot>,
    /// When the listing under way started (a start time, so a cancelled request cannot
    /// leave it set for longer than a listing can take).
    listing_since: Option<u64>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// The copy in memory, when it is fresh: what the synchronous path may use.
pub fn fresh(now: u64, ttl: u64) -> DenyState {
    STATE.with(|s| match &s.borrow().snapshot {
        Some(snap) if snap.is_fresh(now, ttl) => DenyState::Ready(snap.list.clone()),
        _ => DenyState::Fetch,
    })
}

/// The list for a request that found the copy stale or missing: listed again, unless a
/// listing is already under way and a copy exists.
pub async fn refresh(env: &Env, config: &Config, now: u64) -> DenyState {
    let deadline_secs = config.fetch.timeout_ms.div_ceil(1000);
    let other = STATE.with(|s| {
        let s = s.borrow();
        let listing = s
            .listing_since
            .is_some_and(|t| now <= t.saturating_add(deadline_secs));
        listing.then(|| s.snapshot.as_ref().map(|snap| snap.list.clone()))
    });
    if let Some(Some(list)) = other {
        return DenyState::Ready(list);
    }
    STATE.with(|s| s.borrow_mut().listing_since = Some(now));
    let listed = list_with_deadline(env, config.fetch.timeout_ms).await;
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.listing_since = None;
        match listed {
            Ok(list) => {
                let list = Rc::new(list);
                let changed = s
                    .snapshot
                    .as_ref()
                    .is_none_or(|old| old.list.counts() != list.counts());
                if changed {
                    let (jti, sub, ignored) = list.counts();
                    console_log!(
                        "{}",
                        serde_json::json!({"event": "deny_list_loaded", "jti": jti, "sub": sub, "ignored_keys": ignored})
                    );
                }
                s.snapshot = Some(DenySnapshot {
                    list: list.clone(),
                    fetched_at: now,
                });
                DenyState::Ready(list)
            }
            Err(cause) => {
                console_warn!(
                    "{}",
                    serde_json::json!({"event": "deny_list_read_failed", "cause": cause})
                );
                DenyState::Unavailable(cause)
            }
        }
    })
}

async fn list_with_deadline(env: &Env, timeout_ms: u64) -> Result<DenyList, String> {
    let deadline = Delay::from(Duration::from_millis(timeout_ms));
    match select(Box::pin(list_all(env)), deadline).await {
        Either::Left((listed, _)) => listed,
        Either::Right(((), _)) => Err(format!("listing timed out after {timeout_ms} ms")),
    }
}

/// Every key of the namespace, page by page (1000 names a page), up to the cap.
async fn list_all(env: &Env) -> Result<DenyList, String> {
    let kv = env
        .kv(BINDING)
        .map_err(|e| format!("{BINDING} is not a KV namespace: {e}"))?;
    let mut listing = Listing::default();
    let mut cursor: Option<String> = None;
    // One page more than the cap needs, so a larger namespace is told apart.
    for _ in 0..=DenyList::MAX_ENTRIES / 1000 {
        let mut request = kv.list();
        if let Some(c) = cursor.take() {
            request = request.cursor(c);
        }
        let page = request
            .execute()
            .await
            .map_err(|e| format!("KV list failed: {e}"))?;
        listing.push_page(page.keys.into_iter().map(|k| k.name))?;
        match page.cursor {
            Some(next) if !page.list_complete => cursor = Some(next),
            _ => return Ok(listing.finish()),
        }
    }
    Err(format!(
        "more than {} keys in {BINDING}",
        DenyList::MAX_ENTRIES
    ))
}
