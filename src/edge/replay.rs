//! The DPoP replay ledger's I/O (its rules and wire are `policy::dpop::ledger`), both sides:
//! * [`ask`], the gateway's question to the proof's shard, bounded by
//!   `DPOP_REPLAY_TIMEOUT_MS`;
//! * the Durable Object itself ([`replay_open`], [`replay_fetch`], [`replay_alarm`]), one
//!   SQLite table per shard. js/replay.mjs is the class workerd instantiates; it holds no
//!   Rust object, only the state it is given, so a Wasm instance re-created after a trap
//!   serves the next call like the first (nothing points into the old instance's memory).

use super::clock::now_secs;
use super::js_error::js_error_text;
use crate::config::{LedgerFallback, LedgerSettings};
use crate::policy::dpop::ledger::{self, Answer, BINDING, ORIGIN};
use crate::policy::dpop::ProofId;
use futures_util::future::{select, Either};
use std::time::Duration;
use worker::wasm_bindgen::{self, prelude::wasm_bindgen, JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::worker_sys::{DurableObject, DurableObjectState};
use worker::{console_warn, js_sys, web_sys, Delay, Env, SqlStorageValue};
use worker::{SqlStorage, State, Storage};

/// Records `proof` in its shard and says whether it was first. Never fails: no answer in
/// time is [`Answer::Unavailable`], which `ledger::settle` turns into the configured
/// fallback (logged here when it is `isolate`, since the request then goes on).
pub async fn ask(env: &Env, settings: &LedgerSettings, proof: &ProofId, now: u64) -> Answer {
    let deadline = Delay::from(Duration::from_millis(settings.timeout_ms));
    let answer = match select(Box::pin(record(env, proof, now)), deadline).await {
        Either::Left((answer, _)) => answer,
        Either::Right(((), _)) => {
            Answer::Unavailable(format!("no answer within {} ms", settings.timeout_ms))
        }
    };
    if let (Answer::Unavailable(cause), LedgerFallback::Isolate) = (&answer, settings.fallback) {
        console_warn!(
            "{}",
            serde_json::json!({"event": "dpop_replay_unavailable", "fallback": "isolate", "cause": cause})
        );
    }
    answer
}

async fn record(env: &Env, proof: &ProofId, now: u64) -> Answer {
    let stub = env
        .durable_object(BINDING)
        .and_then(|ns| ns.id_from_name(&proof.shard())?.get_stub());
    let stub: DurableObject = match stub {
        // The runtime's stub itself: its fetch takes web_sys's Request, as the forward's does.
        Ok(stub) => stub.into_rpc(),
        Err(e) => return Answer::Unavailable(format!("{BINDING}: {e}")),
    };
    let sent = async {
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        let url = format!("{ORIGIN}{}", proof.record_path(now));
        let request = web_sys::Request::new_with_str_and_init(&url, &init)?;
        let response = JsFuture::from(stub.fetch_with_request(&request)?).await?;
        Ok::<_, JsValue>(response.unchecked_into::<web_sys::Response>().status())
    };
    match sent.await {
        Ok(status) => Answer::from_status(status),
        Err(e) => Answer::Unavailable(format!("{BINDING}: {}", js_error_text(e))),
    }
}

/// The object's constructor: the tables, created once per object (SQLite calls are
/// synchronous, so nothing can reach the object before it exists).
#[wasm_bindgen(js_name = replayOpen)]
pub fn replay_open(state: DurableObjectState) -> Result<(), JsValue> {
    State::from(state)
        .storage()
        .sql()
        .exec(ledger::SCHEMA, None)
        .map(drop)
        .map_err(js)
}

/// The object's fetch: `POST /record/<key>/<until>/<asked at>` answers [`ledger::FIRST`]
/// (recorded now) or [`ledger::SEEN`]; anything else (`ledger::parse_record_path`) is 400
/// and records nothing. Synchronous: SQLite calls are, and the alarm is set without waiting
/// (the object's output gate holds the answer until every write, the alarm's included, is
/// durable).
#[wasm_bindgen(js_name = replayFetch)]
pub fn replay_fetch(
    state: DurableObjectState,
    request: web_sys::Request,
) -> Result<web_sys::Response, JsValue> {
    let now = now_secs();
    let url = request.url();
    let parsed = url
        .strip_prefix(ORIGIN)
        .filter(|_| request.method() == "POST")
        .and_then(|path| ledger::parse_record_path(path, now));
    let Some(record) = parsed else {
        return status_response(400);
    };
    let state = State::from(state);
    let storage = state.storage();
    let sql = storage.sql();
    // One statement: the check and the record are one step.
    let first = sql
        .exec(
            ledger::RECORD,
            vec![
                record.key.into(),
                (record.until as i64).into(),
                (record.asked_at as i64).into(),
            ],
        )
        .map_err(js)?
        .rows_written()
        > 0;
    if first {
        set_alarm(&storage, &sql, record.until)?;
    }
    status_response(if first { ledger::FIRST } else { ledger::SEEN })
}

/// The object's alarm: deletes the rows whose window has passed, and runs again when the
/// earliest remaining one's has.
#[wasm_bindgen(js_name = replayAlarm)]
pub fn replay_alarm(state: DurableObjectState) -> Result<(), JsValue> {
    let state = State::from(state);
    let storage = state.storage();
    let sql = storage.sql();
    sql.exec(ledger::CLEAR_ALARM, None).map_err(js)?;
    let cut_off = ledger::expired_before(now_secs());
    sql.exec(ledger::EXPIRE, vec![(cut_off as i64).into()])
        .map_err(js)?;
    // Read raw (no serde: the one number it is).
    let earliest = sql
        .exec(ledger::EARLIEST, None)
        .map_err(js)?
        .raw()
        .next()
        .transpose()
        .map_err(js)?;
    if let Some(SqlStorageValue::Integer(until)) = earliest.as_deref().and_then(<[_]>::first) {
        set_alarm(&storage, &sql, (*until).max(0) as u64)?;
    }
    Ok(())
}

/// Sets the alarm for the first moment after `until` and the margin, unless one is set: the
/// alarm reschedules itself for the earliest row it leaves, and a row recorded with an
/// earlier window than the alarm's is only kept a little longer.
fn set_alarm(storage: &Storage, sql: &SqlStorage, until: u64) -> Result<(), JsValue> {
    let at = ledger::alarm_at_ms(until);
    let now_ms = js_sys::Date::now() as i64;
    sql.exec(
        ledger::FORGET_FAILED_ALARM,
        vec![ledger::overdue_before_ms(now_ms).into()],
    )
    .map_err(js)?;
    if sql
        .exec(ledger::NOTE_ALARM, vec![at.into()])
        .map_err(js)?
        .rows_written()
        == 0
    {
        return Ok(());
    }
    // Not awaited: see `replay_fetch`. A failure there is workerd's to report.
    let _ = storage.as_raw().set_alarm(
        js_sys::Date::new(&JsValue::from(at as f64)),
        js_sys::Object::new(),
    )?;
    Ok(())
}

/// A storage error as the JS exception workerd reports (its text; no Debug machinery).
fn js(e: worker::Error) -> JsValue {
    JsValue::from_str(&e.to_string())
}

fn status_response(status: u16) -> Result<web_sys::Response, JsValue> {
    let init = web_sys::ResponseInit::new();
    init.set_status(status);
    web_sys::Response::new_with_opt_str_and_init(None, &init)
}
