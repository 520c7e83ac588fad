//! Revocation without a redeploy: the deny list an operator keeps in Workers KV (binding
//! `DENY_LIST`), beside the `DENY_JTI` / `DENY_SUB` vars. One KV key per entry, named
//! `jti:<value>` or `sub:<value>` (the claim's exact value; the KV value is free, e.g. why);
//! `wrangler kv key put` / `delete` edit it, with `--ttl` for entries that should lapse when
//! the token would have expired anyway.
//!
//! Each isolate lists the namespace when its copy is older than `DENY_LIST_TTL_SECONDS`
//! (`edge::deny_list`) and checks every verified token against that copy here: a token
//! revoked in KV is refused at most KV's propagation (about 60 s) plus that TTL later. The
//! list is read whole, never per token, so a new token costs no KV read.

use std::collections::HashSet;
use std::rc::Rc;

/// The entries one listing of the namespace found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DenyList {
    jti: HashSet<String>,
    sub: HashSet<String>,
    /// Key names that are neither `jti:` nor `sub:` (ignored; counted for the log line).
    ignored: usize,
}

impl DenyList {
    /// At most this many keys are read (100 KV list pages): more is refused as a whole (see
    /// [`Listing::push_page`]) rather than checked against part of it.
    pub const MAX_ENTRIES: usize = 100_000;

    /// The list from its KV key names.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> DenyList {
        let mut list = DenyList::default();
        for name in names {
            if let Some(v) = name.strip_prefix("jti:") {
                list.jti.insert(v.to_owned());
            } else if let Some(v) = name.strip_prefix("sub:") {
                list.sub.insert(v.to_owned());
            } else {
                list.ignored += 1;
            }
        }
        list
    }

    /// True when the token's `jti` or `sub` (exact, case-sensitive) is listed.
    pub fn denies(&self, jti: Option<&str>, sub: Option<&str>) -> bool {
        jti.is_some_and(|j| self.jti.contains(j)) || sub.is_some_and(|s| self.sub.contains(s))
    }

    /// Entries by kind: (`jti`, `sub`, ignored names).
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.jti.len(), self.sub.len(), self.ignored)
    }
}

/// The isolate's copy of the list and when it was read.
#[derive(Debug, Clone)]
pub struct DenySnapshot {
    pub list: Rc<DenyList>,
    pub fetched_at: u64,
}

impl DenySnapshot {
    /// Used without I/O while younger than `ttl` seconds (a clock that went back counts as
    /// fresh: the copy is not older than it was).
    pub fn is_fresh(&self, now: u64, ttl: u64) -> bool {
        now < self.fetched_at.saturating_add(ttl)
    }
}

/// The deny list as the decision sees it.
#[derive(Debug, Clone)]
pub enum DenyState {
    /// Fresh: check the token against it.
    Ready(Rc<DenyList>),
    /// Not held, or older than its TTL: only I/O can tell.
    Fetch,
    /// Reading it failed (the cause, for the log): the request is refused, never let
    /// through unchecked.
    Unavailable(String),
}

/// What an isolate knows of its listings of the namespace (kept by `edge::deny_list`).
#[derive(Debug, Default)]
pub struct ListingState {
    snapshot: Option<DenySnapshot>,
    /// When the listing under way started (a start time, so a cancelled request cannot
    /// leave it set for longer than a listing can take).
    listing_since: Option<u64>,
    /// When the last listing failed, and why (cleared by a success).
    failed: Option<(u64, String)>,
}

/// What a request that found the copy stale should do.
#[derive(Debug, Clone)]
pub enum Next {
    /// Check against this copy.
    Use(Rc<DenyList>),
    /// Refuse without asking KV: a listing failed this second.
    Refuse(String),
    /// List the namespace.
    List,
}

impl ListingState {
    /// The fresh copy, if any: what the synchronous path may use.
    pub fn fresh(&self, now: u64, ttl: u64) -> Option<Rc<DenyList>> {
        let snap = self.snapshot.as_ref()?;
        snap.is_fresh(now, ttl).then(|| snap.list.clone())
    }

    /// `deadline` is how long a listing may take (seconds). While another request of the
    /// isolate lists, a copy is still used up to that long past its TTL (one listing at a
    /// time, not one per request); after a failed listing it never is: requests are refused
    /// without asking KV again for the rest of that second, and while a new listing runs.
    pub fn next(&self, now: u64, ttl: u64, deadline: u64) -> Next {
        if let Some(list) = self.fresh(now, ttl) {
            return Next::Use(list);
        }
        let listing = self
            .listing_since
            .is_some_and(|t| now <= t.saturating_add(deadline));
        if listing {
            match &self.failed {
                None => {
                    if let Some(list) = self.fresh(now, ttl.saturating_add(deadline)) {
                        return Next::Use(list);
                    }
                }
                // After a failure, the listing under way tells; meanwhile, its cause.
                Some((_, cause)) => return Next::Refuse(cause.clone()),
            }
        }
        match &self.failed {
            Some((at, cause)) if now <= *at => Next::Refuse(cause.clone()),
            _ => Next::List,
        }
    }

    pub fn started(&mut self, now: u64) {
        self.listing_since = Some(now);
    }

    /// Records a listing's outcome; for a success, also whether the counts changed (worth
    /// a log line).
    pub fn finished(&mut self, now: u64, listed: Result<DenyList, String>) -> (DenyState, bool) {
        self.listing_since = None;
        match listed {
            Ok(list) => {
                let list = Rc::new(list);
                let changed = self
                    .snapshot
                    .as_ref()
                    .is_none_or(|old| old.list.counts() != list.counts());
                self.snapshot = Some(DenySnapshot {
                    list: list.clone(),
                    fetched_at: now,
                });
                self.failed = None;
                (DenyState::Ready(list), changed)
            }
            Err(cause) => {
                // The copy stays for the record, but `next` no longer serves it past its TTL.
                self.failed = Some((now, cause.clone()));
                (DenyState::Unavailable(cause), false)
            }
        }
    }
}

/// The key names of a listing in progress, page by page.
#[derive(Debug, Default)]
pub struct Listing {
    names: Vec<String>,
}

impl Listing {
    /// Adds one page; an error once the listing holds more than [`DenyList::MAX_ENTRIES`].
    pub fn push_page(&mut self, names: impl IntoIterator<Item = String>) -> Result<(), String> {
        self.names.extend(names);
        if self.names.len() > DenyList::MAX_ENTRIES {
            return Err(format!(
                "more than {} keys in DENY_LIST",
                DenyList::MAX_ENTRIES
            ));
        }
        Ok(())
    }

    pub fn finish(self) -> DenyList {
        DenyList::from_names(self.names.iter().map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_name_a_claim_and_its_exact_value() {
        let list = DenyList::from_names([
            "jti:3f1c-revoked",
            "sub:user-4711",
            "sub:",
            "JTI:upper-case-prefix",
            "iss:https://i/",
            "jti",
        ]);
        assert!(list.denies(Some("3f1c-revoked"), None));
        assert!(list.denies(None, Some("user-4711")));
        assert!(list.denies(Some("other"), Some("user-4711")));
        // An empty `sub` claim is listed by `sub:` (exact value), nothing else is.
        assert!(list.denies(None, Some("")));
        assert!(!list.denies(Some("3F1C-REVOKED"), Some("User-4711")));
        assert!(!list.denies(Some("3f1c-revoked "), None));
        assert!(!list.denies(Some("user-4711"), Some("3f1c-revoked")));
        assert!(!list.denies(Some("upper-case-prefix"), None));
        assert!(!list.denies(None, None));
        assert_eq!(list.counts(), (1, 2, 3));
    }

    #[test]
    fn a_value_may_hold_colons_and_any_text() {
        let list = DenyList::from_names(["sub:auth0|abc:def", "jti:ü-ß"]);
        assert!(list.denies(None, Some("auth0|abc:def")));
        assert!(list.denies(Some("ü-ß"), None));
        assert!(!list.denies(None, Some("auth0|abc")));
    }

    #[test]
    fn a_snapshot_is_fresh_for_its_ttl() {
        let s = DenySnapshot {
            list: Rc::new(DenyList::default()),
            fetched_at: 1000,
        };
        assert!(s.is_fresh(1000, 30));
        assert!(s.is_fresh(1029, 30));
        assert!(!s.is_fresh(1030, 30));
        assert!(s.is_fresh(900, 30), "a clock that went back");
        assert!(!s.is_fresh(1000, 0), "TTL 0 never serves from memory");
        let far = DenySnapshot {
            list: Rc::new(DenyList::default()),
            fetched_at: u64::MAX - 1,
        };
        assert!(far.is_fresh(u64::MAX - 1, 30), "no overflow");
    }

    fn use_of(next: Next) -> Option<Rc<DenyList>> {
        match next {
            Next::Use(list) => Some(list),
            _ => None,
        }
    }

    #[test]
    fn a_stale_copy_serves_only_while_another_listing_runs_and_never_after_a_failure() {
        let (ttl, deadline) = (30, 5);
        let mut state = ListingState::default();
        assert!(
            matches!(state.next(0, ttl, deadline), Next::List),
            "nothing held"
        );
        state.started(0);
        // Another request while the first listing runs, no copy yet: it lists too.
        assert!(matches!(state.next(0, ttl, deadline), Next::List));
        let (ready, changed) = state.finished(1, Ok(DenyList::from_names(["jti:a"])));
        assert!(matches!(ready, DenyState::Ready(_)) && changed);
        assert!(state.fresh(30, ttl).is_some() && state.fresh(31, ttl).is_none());
        assert!(use_of(state.next(30, ttl, deadline)).is_some(), "fresh");
        assert!(
            matches!(state.next(31, ttl, deadline), Next::List),
            "stale, nobody listing"
        );

        state.started(31);
        let during = use_of(state.next(33, ttl, deadline)).expect("the copy, while listing");
        assert!(during.denies(Some("a"), None));
        assert!(
            matches!(state.next(37, ttl, deadline), Next::List),
            "the listing outlived its deadline: not waited for"
        );
        // KV fails: refused for the rest of that second, then listed again; the old copy is
        // never served again, however many listings are under way.
        let (failed, _) = state.finished(33, Err("KV list failed: down".into()));
        assert!(matches!(failed, DenyState::Unavailable(_)));
        assert!(matches!(state.next(33, ttl, deadline), Next::Refuse(c) if c.contains("down")));
        assert!(matches!(state.next(34, ttl, deadline), Next::List));
        state.started(34);
        assert!(
            matches!(state.next(35, ttl, deadline), Next::Refuse(_)),
            "after a failure, no copy past its TTL while another listing runs: refused"
        );
        assert!(
            matches!(state.next(40, ttl, deadline), Next::List),
            "that listing outlived its deadline"
        );
        // A success clears the failure and the counts did not change: no log line.
        let (_, changed) = state.finished(36, Ok(DenyList::from_names(["jti:b"])));
        assert!(!changed);
        assert!(use_of(state.next(36, ttl, deadline)).is_some());
    }

    #[test]
    fn a_listing_larger_than_the_cap_is_refused_whole() {
        let mut listing = Listing::default();
        let page = |from: usize| (from..from + 1000).map(|i| format!("jti:{i}"));
        for p in 0..DenyList::MAX_ENTRIES / 1000 {
            listing.push_page(page(p * 1000)).unwrap();
        }
        let mut full = Listing::default();
        full.names.clone_from(&listing.names);
        let list = full.finish();
        assert_eq!(list.counts(), (DenyList::MAX_ENTRIES, 0, 0));
        assert!(list.denies(Some("99999"), None));
        let e = listing.push_page(["jti:one-more".to_owned()]).unwrap_err();
        assert!(e.contains("100000"), "{e}");
    }
}
