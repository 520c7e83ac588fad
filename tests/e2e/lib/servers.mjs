// Loopback HTTP servers for the end-to-end tests: a recording origin, a JWKS
// server whose per-path behaviour the test controls, and helpers.  Every server
// listens on 127.0.0.1, port 0 (random).
import http from "node:http";
import crypto from "node:crypto";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function listen(server, port = 0) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve(server.address().port);
    });
  });
}

function closeServer(server) {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** A port on 127.0.0.1 that nothing listens on (connection refused). */
export async function closedPort() {
  const s = http.createServer();
  const port = await listen(s);
  await closeServer(s);
  return port;
}

/**
 * Origin that records every request: {method, path, query, url, headers,
 * rawHeaders, bodyLength, sha256}.  Default answer: 200 JSON echo of the
 * record.  `origin.route(pathname, (req, res, record) => ...)` overrides one
 * path.
 */
export async function startOrigin() {
  const requests = [];
  const routes = new Map();
  const server = http.createServer({ maxHeaderSize: 1 << 20 }, async (req, res) => {
    const u = new URL(req.url, "http://origin.invalid");
    let body;
    try {
      body = await readBody(req);
    } catch {
      body = Buffer.alloc(0);
    }
    const record = {
      method: req.method,
      url: req.url,
      path: u.pathname,
      query: u.search,
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      bodyLength: body.length,
      sha256: crypto.createHash("sha256").update(body).digest("hex"),
      bodyText: body.length <= 65536 ? body.toString("utf8") : null,
    };
    requests.push(record);
    const handler = routes.get(u.pathname);
    if (handler) return handler(req, res, record);
    res.writeHead(200, { "content-type": "application/json", "x-origin": "echo" });
    res.end(JSON.stringify(record));
  });
  const port = await listen(server);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    route(path, handler) {
      routes.set(path, handler);
    },
    count() {
      return requests.length;
    },
    last() {
      return requests[requests.length - 1];
    },
    /** How many times a header name occurs in a recorded request's raw headers. */
    headerCount(record, name) {
      return record.rawHeaders.filter((x, i) => i % 2 === 0 && x.toLowerCase() === name.toLowerCase()).length;
    },
    close: () => closeServer(server),
  };
}

/**
 * JWKS / discovery server.  `jwks.set(pathname, behaviour)` where behaviour is
 *   { json, body, status = 200, contentType, cacheControl, headers, delayMs,
 *     chunked, reset, fn }
 *   json:     object served as JSON (Content-Length set unless chunked)
 *   body:     raw string/Buffer body instead of json
 *   reset:    destroy the socket without answering
 *   fn:       (req, res) => void, full control
 * Paths without a behaviour answer 404.  `stop()` closes the listener
 * (connection refused); `start()` listens again on the same port.
 * Every request is counted per pathname (`hits(path)`) and recorded.
 */
export async function startJwksServer() {
  const behaviours = new Map();
  const hitCounts = new Map();
  const requests = [];
  const sockets = new Set();
  const handler = async (req, res) => {
    const u = new URL(req.url, "http://jwks.invalid");
    hitCounts.set(u.pathname, (hitCounts.get(u.pathname) ?? 0) + 1);
    requests.push({ method: req.method, path: u.pathname, query: u.search, headers: req.headers, at: Date.now() });
    const b = behaviours.get(u.pathname);
    if (!b) {
      res.writeHead(404, { "content-type": "text/plain" });
      return res.end("not found");
    }
    if (b.delayMs) await sleep(b.delayMs);
    if (b.reset) return req.socket.destroy();
    if (b.fn) return b.fn(req, res);
    const body = Buffer.from(b.json !== undefined ? JSON.stringify(b.json) : (b.body ?? ""));
    const headers = { "content-type": b.contentType ?? (b.json !== undefined ? "application/json" : "text/plain"), ...(b.headers ?? {}) };
    if (b.cacheControl) headers["cache-control"] = b.cacheControl;
    if (!b.chunked) headers["content-length"] = String(body.length);
    res.writeHead(b.status ?? 200, headers);
    if (b.chunked) {
      // Several writes without Content-Length: Transfer-Encoding: chunked.
      const step = Math.max(1, Math.ceil(body.length / 4));
      for (let i = 0; i < body.length; i += step) res.write(body.subarray(i, i + step));
      return res.end();
    }
    res.end(body);
  };
  let server = http.createServer(handler);
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const port = await listen(server);
  const api = {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    set(path, behaviour) {
      behaviours.set(path, behaviour);
    },
    get(path) {
      return behaviours.get(path);
    },
    hits(path) {
      return hitCounts.get(path) ?? 0;
    },
    totalHits() {
      let n = 0;
      for (const v of hitCounts.values()) n += v;
      return n;
    },
    /** Connection refused from now on. */
    async stop() {
      for (const s of sockets) s.destroy();
      await closeServer(server);
    },
    /** Listen again on the same port. */
    async start() {
      if (server.listening) return;
      server = http.createServer(handler);
      server.on("connection", (s) => {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
      });
      await listen(server, port);
    },
    close: () => api.stop(),
  };
  return api;
}

/** Poll `cond()` every 50 ms until true or `timeoutMs` passes; returns the last value. */
export async function waitFor(cond, timeoutMs = 3000) {
  const end = Date.now() + timeoutMs;
  let v = await cond();
  while (!v && Date.now() < end) {
    await sleep(50);
    v = await cond();
  }
  return v;
}

/**
 * Sleeps until just after the next wall-clock second boundary, so a short
 * burst of requests falls within one whole second (the worker may count
 * cooldowns in whole unix seconds).
 */
export async function alignToSecond(offsetMs = 30) {
  await sleep(1000 - (Date.now() % 1000) + offsetMs);
}

/**
 * The most fetches of a failing endpoint the worker's back-off allows in `ms` (README,
 * JWKS_REFETCH_COOLDOWN_SECONDS: 1 s after the first failure, doubling). The worker counts
 * whole seconds, so a wait of d seconds can be as short as d - 1: the k-th retry needs more
 * than 1 + 3 + ... + (2^(k-1) - 1) = 2^k - 1 - k seconds. Exact while the doubled wait stays
 * under the cap (about the first 25 s with the default 30 s).
 */
export function maxFetchesWithBackoff(ms) {
  let retries = 1;
  while (2 ** (retries + 1) - 1 - (retries + 1) < ms / 1000) retries++;
  return 1 + retries;
}

export { sleep };
