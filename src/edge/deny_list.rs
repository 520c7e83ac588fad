//! The KV deny list's I/O (the entries and their rules are `policy::deny`): the isolate's
//! copy, and listing the `DENY_LIST` namespace again when the copy is older than
//! `DENY_LIST_TTL_SECONDS`.
//!
//! * One listing at a time per isolate: while one runs, other requests use the copy it will
//!   replace, at most one listing's deadline past its TTL; a request with no copy lists too.
//! * A listing is bounded in time (`JWKS_TIMEOUT_MS`, the deadline every fetch here has) and
//!   in size ([`DenyList::MAX_ENTRIES`]). When it fails, requests are refused (503) and no
//!   copy past its TTL is used again until a listing succeeds; for the rest of that second,
//!   and while the next listing runs, they are refused without asking KV (`ListingState::next`).

use crate::config::Config;
use crate::policy::deny::{DenyList, DenyState, Listing, ListingState, Next};
use futures_util::future::{select, Either};
use std::cell::RefCell;
use std::time::Duration;
use worker::{console_log, console_warn, Delay, Env};

/// The binding the deny list is read from.
pub const BINDING: &str = "DENY_LIST";

/// Pages read at most in one listing (KV pages hold up to 1000 keys; they may come short).
const MAX_PAGES: usize = 1000;

thread_local! {
    static STATE: RefCell<ListingState> = RefCell::new(ListingState::default());
}

/// The copy in memory, when it is fresh: what the synchronous path may use.
pub fn fresh(now: u64, ttl: u64) -> DenyState {
    STATE
        .with(|s| s.borrow().fresh(now, ttl))
        .map_or(DenyState::Fetch, DenyState::Ready)
}

/// The list for a request that found the copy stale or missing (`ListingState::next` says
/// whether to list, to use the copy a listing under way will replace, or to refuse).
pub async fn refresh(env: &Env, config: &Config, now: u64) -> DenyState {
    let deadline_secs = config.fetch.timeout_ms.div_ceil(1000);
    match STATE.with(|s| {
        s.borrow()
            .next(now, config.deny_list_ttl_secs, deadline_secs)
    }) {
        Next::Use(list) => return DenyState::Ready(list),
        Next::Refuse(cause) => return DenyState::Unavailable(cause),
        Next::List => {}
    }
    STATE.with(|s| s.borrow_mut().started(now));
    let listed = list_with_deadline(env, config.fetch.timeout_ms).await;
    let (state, changed) = STATE.with(|s| s.borrow_mut().finished(now, listed));
    match &state {
        DenyState::Ready(list) if changed => {
            let (jti, sub, ignored) = list.counts();
            console_log!(
                "{}",
                serde_json::json!({"event": "deny_list_loaded", "jti": jti, "sub": sub, "ignored_keys": ignored})
            );
        }
        DenyState::Unavailable(cause) => console_warn!(
            "{}",
            serde_json::json!({"event": "deny_list_read_failed", "cause": cause})
        ),
        _ => {}
    }
    state
}

async fn list_with_deadline(env: &Env, timeout_ms: u64) -> Result<DenyList, String> {
    let deadline = Delay::from(Duration::from_millis(timeout_ms));
    match select(Box::pin(list_all(env)), deadline).await {
        Either::Left((listed, _)) => listed,
        Either::Right(((), _)) => Err(format!("listing timed out after {timeout_ms} ms")),
    }
}

/// Every key of the namespace, page by page, up to the cap.
async fn list_all(env: &Env) -> Result<DenyList, String> {
    let kv = env
        .kv(BINDING)
        .map_err(|e| format!("{BINDING} is not a KV namespace: {e}"))?;
    let mut listing = Listing::default();
    let mut cursor: Option<String> = None;
    // The cap on keys is `Listing`'s; this only bounds the loop (the deadline, its time).
    for _ in 0..MAX_PAGES {
        let mut request = kv.list();
        if let Some(c) = cursor.take() {
            request = request.cursor(c);
        }
        let page = request
            .execute()
            .await
            .map_err(|e| format!("KV list failed: {e}"))?;
        listing.push_page(page.keys.into_iter().map(|k| k.name))?;
        if page.list_complete {
            return Ok(listing.finish());
        }
        // Incomplete without a cursor: the rest cannot be read, and part of a list is none.
        cursor = Some(
            page.cursor
                .ok_or("KV list: an incomplete page without a cursor")?,
        );
    }
    Err(format!("{BINDING}: no end after {MAX_PAGES} pages"))
}
