// The Worker's entry: a plain `{ fetch }` (no per-request class or Proxy) that hands the
// few request fields the decision reads to Rust in one synchronous call, then applies the
// verdict with the runtime's own Headers/Request (js/apply.mjs). Requests that need I/O
// (keys not in memory) go to the async Rust path, `#[event(fetch)]`.
import * as wasm from "./index.js";
import { apply } from "./apply.mjs";

// Which optional fields to read (src/decide/request.rs, `fields`); -1 until the configuration is
// loaded, and then every request takes the async path, which loads it.
const COOKIE = 1, OVERRIDES = 2, CORS = 4, TOKEN_HEADER = 8;
let need = -1;
let tokenHeader = ""; // the header TOKEN_HEADER names, read with the mask

const io = {
  // Called as a plain function: the runtime's fetch refuses another `this`.
  fetch: (url, init) => fetch(url, init),
  slow: (request, env, ctx) => wasm.fetch(request, env, ctx),
  badGateway: (cause) => wasm.badGateway(cause),
};

export default {
  fetch(request, env, ctx) {
    if (need < 0) {
      need = wasm.requestFields();
      tokenHeader = wasm.tokenHeaderName();
    }
    const h = request.headers;
    const f = need < 0 ? 0 : need;
    const verdict = wasm.decideRequest(
      request.method,
      request.url,
      h.get("authorization"),
      h.get("dpop"),
      f,
      f & COOKIE ? h.get("cookie") : null,
      f & OVERRIDES ? h.get("x-http-method-override") : null,
      f & OVERRIDES ? h.get("x-http-method") : null,
      f & OVERRIDES ? h.get("x-method-override") : null,
      f & CORS ? h.get("origin") : null,
      f & CORS ? h.get("access-control-request-method") : null,
      f & TOKEN_HEADER ? h.get(tokenHeader) : null,
      Date.now(),
    );
    return apply(verdict, request, env, ctx, io);
  },
};
