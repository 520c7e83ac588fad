// A failing or demanding origin (issue 3): connection refused (502 JSON
// bad_gateway, logged), connection reset without an answer (502, sent once: no
// retry), a response cut off mid-body (no crash), a slow origin (passed
// through after its delay), a 20 MB response streamed (sha256 intact, first
// bytes at the client before the origin sent the rest), 1 MB and 10 MB POST
// bodies intact (with and without Content-Length), and a request body streamed
// to the origin rather than buffered.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import http from "node:http";
import {
  startOrigin, startJwksServer, startGateway, issuerItem, readJson, fixtureKey, mint, closedPort, sleep, waitFor, FIX_ISS,
  call, tcpUpload, assertEdgeError, assertForwarded, show,
} from "./lib/index.mjs";

const MB = 1024 * 1024;
let jwks, origin, gw, gwDown, rsa;
const closers = [];

before(async () => {
  jwks = await startJwksServer();
  jwks.set("/main.json", { json: readJson("jwks/main.json") });
  origin = await startOrigin();
  const issuers = [issuerItem(FIX_ISS, `${jwks.url}/main.json`)];
  gw = await startGateway({ issuers, origin });
  gwDown = await startGateway({ issuers, origin: `http://127.0.0.1:${await closedPort()}` });
  rsa = await fixtureKey("rsa2048-a");
});
after(async () => {
  for (const c of closers.reverse()) await c();
  await gw?.close();
  await gwDown?.close();
  await origin?.close();
  await jwks?.close();
});

const token = () => mint(rsa, { sub: "origin-tests" });
const jsonLines = (g) => g.logs.map((l) => { try { return JSON.parse(l); } catch { return null; } }).filter((x) => x && typeof x === "object");

/** Deterministic pseudo-random bytes (SHA-256 in counter mode), so both ends agree on a digest. */
function block(seed, i, size) {
  const out = Buffer.alloc(size);
  for (let off = 0, n = 0; off < size; off += 32, n++) {
    crypto.createHash("sha256").update(`${seed}:${i}:${n}`).digest().copy(out, off);
  }
  return out;
}

/**
 * GET through node:http, streaming: resolves with {status, headers, firstByteAt,
 * endAt, length, sha256, error} (error set if the body broke off).
 */
function streamGet(base, path, auth, { timeoutMs = 60000 } = {}) {
  const u = new URL(base + path);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, headers: { authorization: `Bearer ${auth}` }, timeout: timeoutMs }, (res) => {
      const hash = crypto.createHash("sha256");
      const out = { status: res.statusCode, headers: res.headers, firstByteAt: null, endAt: null, length: 0, sha256: null, error: null };
      res.on("data", (d) => {
        if (out.firstByteAt === null) out.firstByteAt = performance.now();
        out.length += d.length;
        hash.update(d);
      });
      const done = (error) => {
        if (out.endAt !== null) return;
        out.endAt = performance.now();
        out.error = error ?? null;
        out.sha256 = hash.digest("hex");
        resolve(out);
      };
      res.on("end", () => done());
      res.on("error", (e) => done(e));
      res.on("aborted", () => done(new Error("aborted")));
      res.on("close", () => done(res.complete ? undefined : new Error("closed before the end")));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

describe("origin unreachable or failing", () => {
  test("connection refused: GET and a POST declaring 1 MB (answered before its body is sent) -> 502 bad_gateway JSON, logged with a cause", async () => {
    const t = await token();
    const upload = () =>
      tcpUpload(gwDown.url, "/down", { size: MB, headers: { authorization: `Bearer ${t}`, "content-type": "application/octet-stream" } });
    const early = await upload();
    assert.ok(early.sent < MB, `the 502 came only after ${early.sent} of ${MB} body bytes`);
    for (const r of [await call(gwDown.url, "/down", { token: t }), early]) {
      assertEdgeError(r, 502, "bad_gateway");
      assert.equal(r.headers.get("www-authenticate"), null);
    }
    const ok = await waitFor(() => jsonLines(gwDown).find((x) => x.event === "rejected" && x.status === 502), 2000);
    assert.ok(ok, `no 502 log line: ${gwDown.logs.slice(-3).join(" | ")}`);
    assert.equal(typeof ok.reason, "string");
    assert.equal(typeof ok.cause, "string");
    for (const line of gwDown.logs) assert.ok(!line.includes(t.split(".")[2]), "token in a log line");
  });
  test("connection reset before any answer: GET and POST -> 502, the origin saw each request exactly once (no retry)", async () => {
    origin.route("/reset", (req) => req.socket.destroy());
    for (const method of ["GET", "POST", "PUT"]) {
      const before = origin.requests.filter((x) => x.path === "/reset").length;
      const t = await token();
      const r =
        method === "GET"
          ? await call(gw.url, "/reset", { token: t })
          : method === "POST"
            ? await call(gw.url, "/reset", { token: t, method, body: "x".repeat(1000) })
            : await tcpUpload(gw.url, "/reset", { method, size: MB, headers: { authorization: `Bearer ${t}` } });
      assertEdgeError(r, 502, "bad_gateway");
      await sleep(200);
      assert.equal(origin.requests.filter((x) => x.path === "/reset").length - before, 1, `${method} sent ${origin.requests.filter((x) => x.path === "/reset").length - before} times`);
    }
  });
  test("response cut off mid-body: the client sees a broken body, not a crash; the next request is fine", async () => {
    origin.route("/cut", (req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(4 * MB) });
      res.write(Buffer.alloc(MB, 1));
      setTimeout(() => res.socket.destroy(), 100);
    });
    const before = origin.count();
    const r = await streamGet(gw.url, "/cut", await token());
    assert.equal(r.status, 200);
    assert.ok(r.error || r.length < 4 * MB, `body of ${r.length} bytes arrived whole?`);
    assert.equal(origin.count() - before, 1, "forwarded more than once");
    assertForwarded(await call(gw.url, "/after-cut", { token: await token() }), "/after-cut");
  });
  test("origin 5xx with a JSON body is passed through as is (not rewritten to an edge error)", async () => {
    origin.route("/boom", (req, res) => {
      res.writeHead(503, { "content-type": "application/json", "retry-after": "5" });
      res.end('{"origin":"down"}');
    });
    const r = await call(gw.url, "/boom", { token: await token() });
    assert.equal(r.status, 503, show(r));
    assert.deepEqual(r.json, { origin: "down" });
    assert.equal(r.headers.get("retry-after"), "5");
  });
});

describe("slow origin", () => {
  test("2 s before the answer -> passed through (200 after the delay)", async () => {
    origin.route("/slow", async (req, res) => {
      await sleep(2000);
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("finally");
    });
    const r = await call(gw.url, "/slow", { token: await token() });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.text, "finally");
    assert.ok(r.ms >= 1900 && r.ms < 6000, `took ${r.ms} ms`);
  });
  test("headers at once, body 2 s later -> passed through", async () => {
    origin.route("/slow-body", async (req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.flushHeaders();
      await sleep(2000);
      res.end("late body");
    });
    const r = await call(gw.url, "/slow-body", { token: await token() });
    assert.equal(r.status, 200);
    assert.equal(r.text, "late body");
    assert.ok(r.ms >= 1900, `took ${r.ms} ms`);
  });
});

describe("large bodies", () => {
  test("20 MB response streamed in chunks arrives intact (sha256), first bytes before the origin sent the rest", async () => {
    const CHUNK = 256 * 1024;
    const N = (20 * MB) / CHUNK;
    const sent = { sha256: null, restStartedAt: null, finishedAt: null };
    origin.route("/big", async (req, res) => {
      const hash = crypto.createHash("sha256");
      res.writeHead(200, { "content-type": "application/octet-stream" }); // chunked: no Content-Length
      const first = block("big", 0, CHUNK);
      hash.update(first);
      res.write(first);
      await sleep(1000);
      sent.restStartedAt = performance.now();
      for (let i = 1; i < N; i++) {
        const b = block("big", i, CHUNK);
        hash.update(b);
        if (!res.write(b)) await new Promise((r) => res.once("drain", r));
      }
      sent.sha256 = hash.digest("hex");
      sent.finishedAt = performance.now();
      res.end();
    });
    const r = await streamGet(gw.url, "/big", await token());
    assert.equal(r.status, 200);
    assert.equal(r.error, null);
    assert.equal(r.length, 20 * MB);
    assert.equal(r.sha256, sent.sha256, "body changed on the way");
    assert.ok(r.firstByteAt < sent.restStartedAt, `first byte at the client ${Math.round(r.firstByteAt - sent.restStartedAt)} ms after the origin resumed: buffered?`);
    assert.ok(sent.restStartedAt - r.firstByteAt > 500, `first byte only ${Math.round(sent.restStartedAt - r.firstByteAt)} ms before the rest`);
  });
  for (const size of [MB, 10 * MB]) {
    test(`${size / MB} MB POST body arrives intact (Content-Length), and chunked without one`, async () => {
      const body = crypto.randomBytes(size);
      const digest = crypto.createHash("sha256").update(body).digest("hex");
      const r = await call(gw.url, "/upload", { token: await token(), method: "POST", body, headers: { "content-type": "application/octet-stream" }, timeoutMs: 60000 });
      const rec = assertForwarded(r, "/upload");
      assert.equal(rec.bodyLength, size);
      assert.equal(rec.sha256, digest);
      assert.equal(rec.headers["content-length"], String(size));
      // a ReadableStream body: sent chunked
      const chunks = [];
      for (let i = 0; i < size; i += 256 * 1024) chunks.push(body.subarray(i, i + 256 * 1024));
      const stream = new ReadableStream({
        pull(c) {
          const next = chunks.shift();
          if (next) c.enqueue(next);
          else c.close();
        },
      });
      const r2 = await call(gw.url, "/upload-chunked", { token: await token(), method: "PUT", body: stream, timeoutMs: 60000 });
      const rec2 = assertForwarded(r2, "/upload-chunked");
      assert.equal(rec2.bodyLength, size);
      assert.equal(rec2.sha256, digest);
    });
  }
  test("a request body is streamed to the origin: its first bytes arrive before the client sent the rest", async () => {
    // an origin that notes when body bytes arrive (the recording origin reads the whole body first)
    const seen = { firstBodyAt: null, length: 0, sha: crypto.createHash("sha256"), done: null };
    const server = http.createServer((req, res) => {
      req.on("data", (d) => {
        if (seen.firstBodyAt === null) seen.firstBodyAt = performance.now();
        seen.length += d.length;
        seen.sha.update(d);
      });
      req.on("end", () => {
        seen.done = seen.sha.digest("hex");
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("ok");
      });
    });
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    closers.push(() => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }));
    const g = await startGateway({ issuers: [issuerItem(FIX_ISS, `${jwks.url}/main.json`)], origin: `http://127.0.0.1:${server.address().port}` });
    closers.push(() => g.close());
    const first = block("up", 0, 64 * 1024);
    const rest = Array.from({ length: 16 }, (_, i) => block("up", i + 1, 64 * 1024));
    const digest = crypto.createHash("sha256").update(Buffer.concat([first, ...rest])).digest("hex");
    const u = new URL(g.url);
    const t = await token();
    let restSentAt = null;
    const status = await new Promise((resolve, reject) => {
      const req = http.request({ host: u.hostname, port: u.port, path: "/stream-up", method: "POST", headers: { authorization: `Bearer ${t}`, "content-type": "application/octet-stream" } }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode));
      });
      req.on("error", reject);
      req.write(first);
      setTimeout(() => {
        restSentAt = performance.now();
        for (const b of rest) req.write(b);
        req.end();
      }, 1000);
    });
    assert.equal(status, 200);
    assert.equal(seen.length, 17 * 64 * 1024);
    assert.equal(seen.done, digest);
    assert.ok(seen.firstBodyAt !== null && seen.firstBodyAt < restSentAt, `the origin saw the first body bytes ${Math.round(seen.firstBodyAt - restSentAt)} ms after the client sent the rest: buffered?`);
  });
});
