//! edgeguard: a JWT authentication gateway for Cloudflare Workers.
//!
//! The pipeline, one module per stage: [`config`] → [`extract`] → [`token`] (untrusted) →
//! [`jwks`] (keys; [`source`]: where they come from) → [`verify`] (signature, in Wasm, with
//! jwt-compact) → [`policy`] (claims) → [`forward`]. [`decide`] runs the whole pipeline for
//! one request (request parts + clock + caches + keys in memory → verdict) and [`wire`]
//! encodes its verdict for the JS entry (js/shim.mjs). [`error`] maps every failure to HTTP
//! in one place. These are pure and run natively under `cargo test`; only `edge` (the
//! synchronous entry and the async path for I/O) and `fetcher` (JWKS over the network and
//! KV) touch the Workers runtime, and they are compiled for wasm32 only.

pub mod alg;
#[cfg(feature = "extra-curves")]
pub mod alg_ec;
pub mod cache;
pub mod config;
pub mod decide;
pub mod dpop;
pub mod ed25519;
pub mod error;
pub mod es256_fast;
pub mod extract;
pub mod forward;
pub mod json;
pub mod jwks;
pub mod path;
pub mod pipeline;
pub mod policy;
pub mod route;
pub mod rsa_fast;
pub mod source;
pub mod token;
pub mod verify;
pub mod warm;
pub mod wire;

#[cfg(all(target_arch = "wasm32", feature = "worker-glue"))]
mod edge;
#[cfg(all(target_arch = "wasm32", feature = "worker-glue"))]
mod fetcher;

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
    // One fixture configuration for both warm-ups (parsing it is itself part of the warm-up).
    if let Some(config) = warm::fixture_config() {
        warm::run(&config);
        edge::warm_up(config);
    }
    edge::preload_config();
}
