// HTTP client + assertions shared by the e2e tests.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import http from "node:http";
import net from "node:net";

/**
 * Request to the gateway.  opts: {token (string or promise), auth, method, headers, body, timeoutMs}
 * Redirects are not followed.  Returns {status, headers, text, json, ms}.
 */
export async function call(base, path = "/", opts = {}) {
  const { auth, method = "GET", headers = {}, body, timeoutMs = 15000 } = opts;
  const token = await opts.token; // a string, or a promise of one
  const h = new Headers(headers);
  if (auth !== undefined) h.set("authorization", auth);
  else if (token !== undefined) h.set("authorization", `Bearer ${token}`);
  const t0 = Date.now();
  const res = await fetch(base + path, {
    method,
    headers: h,
    body,
    redirect: "manual",
    signal: AbortSignal.timeout(timeoutMs),
    ...(body && typeof body.getReader === "function" ? { duplex: "half" } : {}),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, text, json, ms: Date.now() - t0 };
}

/**
 * Raw request with node:http, for header shapes fetch cannot send: an array
 * value sends the header once per element ({authorization: [a, b]}); a Host
 * header may be set.
 */
export function rawCall(base, path, rawHeaders, { method = "GET", timeoutMs = 15000 } = {}) {
  const u = new URL(base + path);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: rawHeaders, timeout: timeoutMs },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json = null;
          try {
            json = JSON.parse(text);
          } catch {}
          const headers = new Headers();
          for (let i = 0; i < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
          resolve({ status: res.statusCode, headers, text, json });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Request over a bare TCP socket: the request line goes out byte for byte
 * (`//admin`, `/./x`, `/a;b`, `..%2F`), which fetch and node:http would
 * normalise or refuse. headers: {name: value}. Resolves as soon as the whole
 * response is in (workerd keeps the connection open despite `connection:
 * close`), else when the server closes. Returns {status, headers, text, json}.
 */
export function tcpCall(base, target, { method = "GET", headers = {}, host, timeoutMs = 15000 } = {}) {
  const u = new URL(base);
  // `host`: another Host than base's (the same gateway under another name).
  const lines = [`${method} ${target} HTTP/1.1`, `host: ${host ?? u.host}`, "connection: close"];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  const request = `${lines.join("\r\n")}\r\n\r\n`;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: u.hostname, port: Number(u.port) });
    const chunks = [];
    let done = false;
    const finish = (fn, value) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      fn(value);
    };
    const timer = setTimeout(() => finish(reject, new Error(`timeout after ${timeoutMs} ms: ${method} ${target.slice(0, 80)}`)), timeoutMs);
    socket.on("connect", () => socket.write(request, "latin1"));
    socket.on("data", (c) => {
      chunks.push(c);
      const response = parseHttpResponse(Buffer.concat(chunks), method, false);
      if (response) finish(resolve, response);
    });
    socket.on("error", (e) => finish(reject, e));
    socket.on("close", () => {
      try {
        finish(resolve, parseHttpResponse(Buffer.concat(chunks), method, true));
      } catch (e) {
        finish(reject, e);
      }
    });
  });
}

/**
 * An upload the gateway may answer before it has read it (an unreachable origin): over a
 * bare TCP socket, the head declares `size` bytes, the first `first` go out at once, and
 * the rest only if no whole response has come after `waitMs`. So the client never writes
 * into a connection the server is closing after an early answer; with fetch, such a write
 * fails the request (EPIPE / "other side closed") even though the answer had arrived,
 * depending on timing. Resolves with the response and `sent`, the body bytes written.
 */
export function tcpUpload(base, target, { method = "POST", headers = {}, size, first = 64 * 1024, waitMs = 5000, timeoutMs = 20000 } = {}) {
  const u = new URL(base);
  const lines = [`${method} ${target} HTTP/1.1`, `host: ${u.host}`, "connection: close", `content-length: ${size}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  const head = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
  const body = crypto.randomBytes(size);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: u.hostname, port: Number(u.port) });
    const chunks = [];
    let sent = 0;
    let response = null;
    let done = false;
    const finish = (fn, value) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(rest);
      socket.destroy();
      fn(value);
    };
    const timer = setTimeout(() => finish(reject, new Error(`timeout after ${timeoutMs} ms: ${method} ${target}`)), timeoutMs);
    let rest;
    socket.on("connect", () => {
      sent = Math.min(first, size);
      socket.write(Buffer.concat([head, body.subarray(0, sent)]));
      rest = setTimeout(() => {
        if (response || done) return;
        socket.write(body.subarray(sent));
        sent = size;
      }, waitMs);
    });
    socket.on("data", (c) => {
      chunks.push(c);
      response = parseHttpResponse(Buffer.concat(chunks), method, false);
      if (response) finish(resolve, { ...response, sent });
    });
    socket.on("error", (e) => finish(reject, e));
    socket.on("close", () => {
      try {
        finish(resolve, { ...parseHttpResponse(Buffer.concat(chunks), method, true), sent });
      } catch (e) {
        finish(reject, e);
      }
    });
  });
}

/**
 * A whole HTTP/1.1 response (Content-Length, chunked or close-delimited), or
 * null while it is incomplete. `closed`: the server has closed the connection,
 * so what arrived is all there is (an incomplete head is then an error).
 */
function parseHttpResponse(buf, method, closed) {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) {
    if (!closed) return null;
    throw new Error(`no complete response head: ${JSON.stringify(buf.toString("latin1").slice(0, 200))}`);
  }
  const [statusLine, ...headerLines] = buf.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  const headers = new Headers();
  for (const line of headerLines) {
    const i = line.indexOf(":");
    headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  let body = buf.subarray(end + 4);
  if (method === "HEAD" || status === 204 || status === 304) body = Buffer.alloc(0);
  else if (/\bchunked\b/i.test(headers.get("transfer-encoding") ?? "")) {
    const parts = [];
    let at = 0;
    for (;;) {
      const eol = body.indexOf("\r\n", at);
      if (eol < 0) return closed ? finishBody(Buffer.concat(parts), status, headers) : null;
      const size = parseInt(body.subarray(at, eol).toString("latin1"), 16);
      if (!(size > 0)) break;
      if (!closed && body.length < eol + 2 + size + 2) return null;
      parts.push(body.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else if (headers.has("content-length")) {
    const length = Number(headers.get("content-length"));
    if (!closed && body.length < length) return null;
    body = body.subarray(0, length);
  } else if (!closed) return null;
  return finishBody(body, status, headers);
}

function finishBody(body, status, headers) {
  const text = body.toString("utf8");
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status, headers, text, json };
}

/** Parses `Bearer a="b", c="d"` into {scheme, params}. */
export function parseWwwAuthenticate(value) {
  if (value == null) return null;
  const m = /^\s*(\S+)\s*(.*)$/.exec(value);
  const params = {};
  const re = /([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*"((?:[^"\\]|\\.)*)"/g;
  let x;
  while ((x = re.exec(m[2]))) params[x[1]] = x[2];
  return { scheme: m[1], params, raw: value };
}

const show = (r) => `status ${r.status}, www-authenticate ${JSON.stringify(r.headers.get("www-authenticate"))}, body ${r.text.slice(0, 300)}`;

/** Every edge answer: JSON {error, error_description}, application/json, no-store. */
export function assertEdgeError(r, status, error) {
  assert.equal(r.status, status, `expected ${status}: ${show(r)}`);
  assert.match(r.headers.get("content-type") ?? "", /^application\/json\b/i, `content-type: ${show(r)}`);
  assert.match(r.headers.get("cache-control") ?? "", /\bno-store\b/i, `cache-control: ${show(r)}`);
  assert.ok(r.json && typeof r.json === "object", `JSON body: ${show(r)}`);
  assert.equal(r.json.error, error, `body error: ${show(r)}`);
  assert.equal(typeof r.json.error_description, "string", `error_description: ${show(r)}`);
}

export function assertMissingToken(r, realm = "edgeguard") {
  assertEdgeError(r, 401, "missing_token");
  const w = parseWwwAuthenticate(r.headers.get("www-authenticate"));
  assert.ok(w, `WWW-Authenticate present: ${show(r)}`);
  assert.equal(w.scheme, "Bearer", show(r));
  assert.equal(w.params.realm, realm, show(r));
  assert.ok(!("error" in w.params) && !/error\s*=/.test(w.raw), `no error= attribute: ${show(r)}`);
}

export function assertInvalidToken(r, realm = "edgeguard") {
  assertEdgeError(r, 401, "invalid_token");
  const w = parseWwwAuthenticate(r.headers.get("www-authenticate"));
  assert.ok(w, `WWW-Authenticate present: ${show(r)}`);
  assert.equal(w.scheme, "Bearer", show(r));
  assert.equal(w.params.error, "invalid_token", show(r));
  assert.equal(typeof w.params.error_description, "string", show(r));
  assert.equal(w.params.realm, realm, show(r));
}

export function assertInvalidRequest(r, realm = "edgeguard") {
  assertEdgeError(r, 400, "invalid_request");
  const w = parseWwwAuthenticate(r.headers.get("www-authenticate"));
  assert.ok(w, `WWW-Authenticate present: ${show(r)}`);
  assert.equal(w.scheme, "Bearer", show(r));
  assert.equal(w.params.error, "invalid_request", show(r));
  assert.equal(typeof w.params.error_description, "string", show(r));
  assert.equal(w.params.realm, realm, show(r));
}

export function assertUnavailable(r, retryAfter = "30") {
  assertEdgeError(r, 503, "temporarily_unavailable");
  assert.equal(r.headers.get("retry-after"), String(retryAfter), `Retry-After: ${show(r)}`);
}

/**
 * Runs `fn()` (a request) and asserts the origin recorded nothing during it.
 * Returns fn's result.
 */
export async function notForwarded(origin, fn) {
  const before = origin.count();
  const r = await fn();
  // The origin would have seen the request before the response came back; a
  // short grace period still catches anything sent in the background.
  await new Promise((res) => setTimeout(res, 20));
  assert.equal(origin.count(), before, `origin received ${origin.count() - before} request(s) for a rejected call: ${r?.status !== undefined ? show(r) : ""}`);
  return r;
}

/** The gateway forwarded to the echo origin and answered 200. Returns the origin's record. */
export function assertForwarded(r, path) {
  assert.equal(r.status, 200, `expected 200 from origin: ${show(r)}`);
  assert.ok(r.json && r.json.method, `origin echo body: ${show(r)}`);
  if (path !== undefined) assert.equal(r.json.path, path);
  return r.json;
}

export { show };
