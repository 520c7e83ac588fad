//! Forwards every request to `ORIGIN` + path + query with the same method, headers and
//! streamed body, and returns the origin's response untouched: what edgeguard does on a
//! request it lets through, minus everything that decides whether to let it through.

use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{event, js_sys, web_sys, Context, Env, Result};

#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, _ctx: Context) -> Result<web_sys::Response> {
    let origin = env.var("ORIGIN")?.to_string();
    let request_url = req.url();
    let url = url_path_and_query(&request_url);
    let init = web_sys::RequestInit::new();
    init.set_method(&req.method());
    init.set_headers(&req.headers());
    init.set_redirect(web_sys::RequestRedirect::Manual);
    if let Some(body) = req.body() {
        init.set_body(&body);
    }
    let target = format!("{}{}", origin.trim_end_matches('/'), url);
    let outbound = web_sys::Request::new_with_str_and_init(&target, &init).map_err(err)?;
    let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let response = JsFuture::from(global.fetch_with_request(&outbound))
        .await
        .map_err(err)?;
    Ok(response.unchecked_into())
}

/// "/path?query" of an absolute URL (the request URL is always absolute in a Worker).
fn url_path_and_query(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    url[after_scheme..]
        .find('/')
        .map_or("/", |i| &url[after_scheme + i..])
}

fn err(e: JsValue) -> worker::Error {
    worker::Error::JsError(e.as_string().unwrap_or_else(|| format!("{e:?}")))
}
