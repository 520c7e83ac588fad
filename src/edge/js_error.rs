//! JS exceptions as log text, for the glue's two ways out (the forward, the replay ledger).

use worker::wasm_bindgen::JsValue;

/// A JS exception as text for a log line: a thrown string as is, anything else as the
/// runtime prints it.
pub(crate) fn js_error_text(e: JsValue) -> String {
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}
