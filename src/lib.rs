//! edgeguard: a JWT authentication gateway for Cloudflare Workers.
//!
//! One folder per stage, each using only the ones before it (ARCHITECTURE.md; the order is
//! checked by tests/layers.rs): [`path`] (the request path read one safe way) → [`token`]
//! (extraction, the untrusted compact JWS, the principal) → [`config`] (issuers, vars,
//! routes) → [`verify`] (one file per signature family, inside Wasm) → [`keys`] (JWK
//! parsing, key sets, freshness, sources) → [`policy`] (routes, claims, DPoP) → [`decide`]
//! (the whole decision for one request: request parts + clock + caches + keys in memory →
//! verdict, and its wire format for the JS entry). Under them all: [`error`] (every failure,
//! mapped to HTTP in one place), [`alg`], [`json`] and [`bounded`]. All of it is pure and
//! runs natively under `cargo test`; only `edge` (the synchronous entry, the async path for
//! I/O, the JWKS fetcher) touches the Workers runtime, and it is compiled for wasm32 only.

#![forbid(unsafe_code)]

pub mod alg;
pub mod bounded;
pub mod config;
pub mod decide;
pub mod error;
pub mod json;
pub mod keys;
pub mod path;
pub mod policy;
pub mod token;
pub mod verify;

#[cfg(all(target_arch = "wasm32", feature = "worker-glue"))]
mod edge;

#[cfg(all(target_arch = "wasm32", feature = "worker-glue"))]
#[worker::event(fetch)]
async fn fetch(
    req: worker::web_sys::Request,
    env: worker::Env,
    ctx: worker::Context,
) -> worker::Result<worker::web_sys::Response> {
    Ok(edge::handle(req, env, ctx).await)
}

#[cfg(all(target_arch = "wasm32", feature = "worker-glue"))]
#[worker::event(start)]
fn start() {
    // No warm-up runs here: decisions and verifications run at start did not make the first
    // request cheaper (bench/probes/first-request-cpu.mjs), and cost start-up CPU.
    edge::preload_config();
}
