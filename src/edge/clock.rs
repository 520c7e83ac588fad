//! The runtime clock, the one the decision is given (it is injected everywhere else).

use worker::js_sys;

/// Seconds since the epoch from the runtime clock (on Workers it only moves on I/O).
pub(crate) fn now_secs() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}
