// The in-isolate benchmark's driver (bench/in-isolate.mjs copies it next to a copy of the
// Worker under test, as ./target/): the main module of one workerd isolate, it imports the
// target's entry module and calls its fetch handler many times per HTTP request it gets, so
// the host can read workerd's CPU time around one batch and divide by the batch size.
//
//   POST /load   {jwks?: {url: json}, tokens: {workload: [token...]}}  (not measured; merges)
//   POST /batch?workload=W&offset=I&n=N  -> {n, status: {code: count}, origin, jwks, constructed}
//
// The network is replaced inside the isolate: globalThis.fetch answers the JWKS URLs from
// memory and everything else (the origin) with a canned 1 KiB 200, so neither the network nor
// an origin's CPU is in the figure. The ISSUERS and ORIGIN the host binds point at a port
// nothing listens on: a request that got past this fetch would fail (503/502), not pass.
import * as target from "./target/index.js";

const CANNED = "x".repeat(1024);
const MAX_BATCH = 100_000;
const MAX_BATCH_MS = 60_000; // a batch that takes longer than this is cut short (and reported)

const state = { jwks: new Map(), tokens: {}, origin: 0, jwksCalls: 0, constructed: 0 };

globalThis.fetch = async function benchFetch(input, init) {
  const url = typeof input === "string" ? input : input instanceof Request ? input.url : String(input);
  const jwks = state.jwks.get(url);
  if (jwks !== undefined) {
    state.jwksCalls++;
    return new Response(jwks, { status: 200, headers: { "content-type": "application/json" } });
  }
  state.origin++;
  // a forwarded body (none in this benchmark) is read as an origin would read it
  const body = input instanceof Request ? input.body : init?.body;
  if (body) await new Response(body).arrayBuffer();
  return new Response(CANNED, { status: 200, headers: { "content-type": "text/plain" } });
};

// What workerd does with a module Worker's default export: a class (workers-rs: a Proxy
// around a WorkerEntrypoint subclass) is constructed per request with (ctx, env) and its
// fetch(request) called; an object's fetch is called with (request, env, ctx).
const entry = target.default;
const isClass = typeof entry === "function";
function handle(request, env, ctx) {
  if (isClass) {
    state.constructed++;
    return new entry(ctx, env).fetch(request);
  }
  return entry.fetch(request, env, ctx);
}

function authHeaders(token) {
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

async function batch(url, env, ctx) {
  const workload = url.searchParams.get("workload");
  const n = Number(url.searchParams.get("n"));
  const offset = Number(url.searchParams.get("offset") ?? 0);
  if (!Number.isInteger(n) || n < 1 || n > MAX_BATCH) return Response.json({ error: `n must be 1..${MAX_BATCH}` }, { status: 400 });
  const tokens = workload === "none" ? null : state.tokens[workload];
  if (tokens === undefined) return Response.json({ error: `no tokens loaded for ${workload}` }, { status: 400 });
  // one token: reused every time; a list: token offset+i, which the host never asks twice
  if (tokens && tokens.length > 1 && offset + n > tokens.length) {
    return Response.json({ error: `${workload}: ${tokens.length} tokens, asked for ${offset}+${n}` }, { status: 400 });
  }
  const status = {};
  const before = { origin: state.origin, jwks: state.jwksCalls, constructed: state.constructed };
  const start = Date.now();
  let done = 0;
  for (; done < n; done++) {
    const token = tokens === null ? undefined : tokens.length === 1 ? tokens[0] : tokens[offset + done];
    const request = new Request("https://gateway.bench.test/items/42?page=1", { headers: authHeaders(token) });
    const response = await handle(request, env, ctx);
    await response.arrayBuffer(); // workerd would stream it to the client
    status[response.status] = (status[response.status] ?? 0) + 1;
    // workerd's clock advances only across I/O (KV here), so this may never fire: the
    // host's request timeout is the bound that always holds; this one reports a partial batch
    if (Date.now() - start > MAX_BATCH_MS) break;
  }
  return Response.json({
    n: done,
    status,
    origin: state.origin - before.origin,
    jwks: state.jwksCalls - before.jwks,
    constructed: state.constructed - before.constructed,
    isClass,
  });
}

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (request.method === "POST" && url.pathname === "/load") {
      const { jwks, tokens } = await request.json();
      if (jwks) state.jwks = new Map(Object.entries(jwks));
      Object.assign(state.tokens, tokens);
      return Response.json({ ok: true, isClass });
    }
    if (request.method === "POST" && url.pathname === "/batch") return batch(url, env, ctx);
    return new Response("POST /load or /batch\n", { status: 404 });
  },
};
