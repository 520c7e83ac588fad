// The Worker's entry: a plain `{ fetch }` (no per-request class or Proxy) that hands the
// few request fields the decision reads to Rust in one synchronous call, then applies the
// verdict with the runtime's own Headers/Request (js/apply.mjs). Requests that need I/O
// (keys not in memory) go to the async Rust path, `#[event(fetch)]`.
import * as wasm from "./index.js";
import { apply } from "./apply.mjs";
import { Pack } from "./pack.mjs";
import { replayClass } from "./replay.mjs";

// Which optional fields to read (src/decide/request.rs, `fields`); -1 until the configuration is
// loaded, and then every request takes the async path, which loads it.
const COOKIE = 1, OVERRIDES = 2, CORS = 4, TOKEN_HEADER = 8;
let need = -1;
let tokenHeader = ""; // the header TOKEN_HEADER names, read with the mask
const pack = new Pack((size) => wasm.scratch(size));
// Reused by every request: no array to allocate per request.
const fields = new Array(11).fill(null);
const lens = new Int32Array(11);

const io = {
  // Called as a plain function: the runtime's fetch refuses another `this`.
  fetch: (url, init) => fetch(url, init),
  slow: (request, env, ctx) => wasm.fetch(request, env, ctx),
  badGateway: (cause) => wasm.badGateway(cause),
};

// The DPoP replay ledger's Durable Object (used only with a DPOP_REPLAY binding).
export const DpopReplay = replayClass(wasm);

export default {
  fetch(request, env, ctx) {
    if (need < 0) {
      need = wasm.requestFields();
      tokenHeader = wasm.tokenHeaderName();
    }
    const h = request.headers;
    const f = need < 0 ? 0 : need;
    // In RequestParts::unpack's order (src/decide/request.rs).
    fields[0] = request.method;
    fields[1] = request.url;
    fields[2] = h.get("authorization");
    fields[3] = h.get("dpop");
    fields[4] = f & COOKIE ? h.get("cookie") : null;
    fields[5] = f & OVERRIDES ? h.get("x-http-method-override") : null;
    fields[6] = f & OVERRIDES ? h.get("x-http-method") : null;
    fields[7] = f & OVERRIDES ? h.get("x-method-override") : null;
    fields[8] = f & CORS ? h.get("origin") : null;
    fields[9] = f & CORS ? h.get("access-control-request-method") : null;
    fields[10] = f & TOKEN_HEADER ? h.get(tokenHeader) : null;
    pack.write(fields, lens);
    const verdict = wasm.decideRequest(
      lens[0], lens[1], lens[2], lens[3], f, lens[4], lens[5], lens[6], lens[7], lens[8], lens[9],
      lens[10], Date.now(),
    );
    if (verdict.charCodeAt(0) === 83) pack.reset(); // "S" (see Pack.reset)
    return apply(verdict, request, env, ctx, io);
  },
};
