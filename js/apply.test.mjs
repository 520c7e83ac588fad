// The JS entry's only logic, js/apply.mjs, against the runtime's own Headers/Request/
// Response (node's, the same WHATWG classes workerd implements). The verdicts are written
// as src/decide/wire.rs encodes them (its tests pin the same strings from the Rust side).
import { test } from "node:test";
import assert from "node:assert/strict";
import { apply } from "./apply.mjs";

function recorder(overrides = {}) {
  const calls = { fetch: [], slow: [], badGateway: [] };
  const io = {
    fetch: (url, init) => {
      calls.fetch.push({ url, init });
      return Promise.resolve(new Response("from origin", { status: 201 }));
    },
    slow: (request, env, ctx) => {
      calls.slow.push({ request, env, ctx });
      return Promise.resolve(new Response("slow"));
    },
    badGateway: (cause) => {
      calls.badGateway.push(cause);
      return 'A\n502\n{"event":"rejected","status":502}\n1\ncontent-type\napplication/json\n{"error":"bad_gateway"}';
    },
    ...overrides,
  };
  return { io, calls };
}

const incoming = () =>
  new Request("https://api.test/a?b=1", {
    method: "POST",
    headers: { authorization: "Bearer t", "x-auth-subject": "mallory", "x-keep": "1" },
    body: "payload",
  });

test("forward: removals, then sets, on a copy of the request's headers", async () => {
  const { io, calls } = recorder();
  const request = incoming();
  const verdict = "F\nhttps://origin.test/a?b=1\n2\nx-auth-subject\nauthorization\nx-auth-subject\nalice\nx-auth-issuer\nhttps://i/\n";
  const response = await apply(verdict, request, {}, {}, io);
  assert.equal(response.status, 201);
  assert.equal(calls.fetch.length, 1);
  const { url, init } = calls.fetch[0];
  assert.equal(url, "https://origin.test/a?b=1");
  assert.equal(init.method, "POST");
  assert.equal(init.redirect, "manual");
  assert.equal(init.body, request.body, "the body stream is handed over, not read");
  assert.equal(init.headers.get("x-auth-subject"), "alice");
  assert.equal(init.headers.get("x-auth-issuer"), "https://i/");
  assert.equal(init.headers.get("authorization"), null);
  assert.equal(init.headers.get("x-keep"), "1");
  assert.equal(request.headers.get("x-auth-subject"), "mallory", "the incoming request is not edited");
});

test("forward with no edits keeps every header", async () => {
  const { io, calls } = recorder();
  await apply("F\nhttps://origin.test/\n0\n", incoming(), {}, {}, io);
  assert.equal(calls.fetch[0].init.headers.get("x-auth-subject"), "mallory");
});

test("answer: status, headers, a body with line breaks, and its log line", async (t) => {
  const logged = t.mock.method(console, "log", () => {});
  const { io, calls } = recorder();
  const verdict = 'A\n401\n{"event":"rejected"}\n2\nwww-authenticate\nBearer realm="r"\ncache-control\nno-store\n{\n"error":"x"}';
  const response = await apply(verdict, incoming(), {}, {}, io);
  assert.equal(response.status, 401);
  assert.equal(response.headers.get("www-authenticate"), 'Bearer realm="r"');
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.equal(await response.text(), '{\n"error":"x"}');
  assert.deepEqual(logged.mock.calls.map((c) => c.arguments), [['{"event":"rejected"}']]);
  assert.equal(calls.fetch.length, 0, "an answer never reaches the origin");
});

test("E: the same answer, its line logged as an error", async (t) => {
  const errors = t.mock.method(console, "error", () => {});
  const logged = t.mock.method(console, "log", () => {});
  const response = await apply('E\n500\n{"event":"rejected","status":500}\n0\n{"error":"server_error"}', incoming(), {}, {}, recorder().io);
  assert.equal(response.status, 500);
  assert.equal(await response.text(), '{"error":"server_error"}');
  assert.deepEqual(errors.mock.calls.map((c) => c.arguments), [['{"event":"rejected","status":500}']]);
  assert.equal(logged.mock.callCount(), 0);
});

test("answer without a log line logs nothing", async (t) => {
  const logged = t.mock.method(console, "log", () => {});
  const response = await apply("A\n200\n\n0\n{}", incoming(), {}, {}, recorder().io);
  assert.equal(response.status, 200);
  assert.equal(logged.mock.callCount(), 0);
});

test("S hands the request, env and ctx to the async path", async () => {
  const { io, calls } = recorder();
  const request = incoming();
  const env = { ISSUERS: "[]" };
  const ctx = { waitUntil() {} };
  assert.equal(await (await apply("S", request, env, ctx, io)).text(), "slow");
  assert.deepEqual(calls.slow, [{ request, env, ctx }]);
});

test("a forward the runtime refuses becomes Rust's 502", async (t) => {
  t.mock.method(console, "log", () => {});
  const rejected = recorder({ fetch: () => Promise.reject(new TypeError("connection refused")) });
  const response = await apply("F\nhttps://origin.test/\n0\n", incoming(), {}, {}, rejected.io);
  assert.equal(response.status, 502);
  assert.deepEqual(rejected.calls.badGateway, ["TypeError: connection refused"]);

  const thrown = recorder({
    fetch: () => {
      throw new TypeError("bad header");
    },
  });
  assert.equal((await apply("F\nhttps://origin.test/\n0\n", incoming(), {}, {}, thrown.io)).status, 502);
  assert.deepEqual(thrown.calls.badGateway, ["TypeError: bad header"]);
});

test("an unknown or truncated verdict throws instead of forwarding", async (t) => {
  t.mock.method(console, "log", () => {});
  const { io, calls } = recorder();
  assert.throws(() => apply("X", incoming(), {}, {}, io), /unknown verdict/);
  assert.throws(() => apply("", incoming(), {}, {}, io), /unknown verdict/);
  assert.throws(() => apply("A\n401\n", incoming(), {}, {}, io), /truncated verdict/);
  assert.equal(calls.fetch.length, 0);
});

/** A METRICS binding that records what it is given (Analytics Engine's writeDataPoint). */
function dataset() {
  const points = [];
  return { points, env: { METRICS: { writeDataPoint: (p) => points.push(p) } } };
}

const POINT = "M\nhttps://i.test/\nrejected\nbad_signature\nhttps://i.test/\nRS256\nhit\n\n401\n";

test("M: the data point goes to env.METRICS, then the verdict after it is applied", async (t) => {
  t.mock.method(console, "log", () => {});
  const { points, env } = dataset();
  const { io, calls } = recorder();
  const response = await apply(`${POINT}A\n401\n{"event":"rejected"}\n0\n{"error":"invalid_token"}`, incoming(), env, {}, io);
  assert.equal(response.status, 401);
  assert.equal(await response.text(), '{"error":"invalid_token"}');
  assert.deepEqual(points, [{
    indexes: ["https://i.test/"],
    blobs: ["rejected", "bad_signature", "https://i.test/", "RS256", "hit", ""],
    doubles: [401],
  }]);
  // In front of a forward too.
  const forwarded = await apply("M\n-\nforwarded\nanonymous\n\n\n\n\n0\nF\nhttps://origin.test/a\n0\n", incoming(), env, {}, io);
  assert.equal(forwarded.status, 201);
  assert.equal(calls.fetch[0].url, "https://origin.test/a");
  assert.deepEqual(points[1].blobs, ["forwarded", "anonymous", "", "", "", ""]);
});

test("M: a failing write is logged and the request still gets its answer", async (t) => {
  const errors = t.mock.method(console, "error", () => {});
  t.mock.method(console, "log", () => {});
  const env = { METRICS: { writeDataPoint() { throw new Error("dataset full"); } } };
  const response = await apply(`${POINT}A\n401\n\n0\n{}`, incoming(), env, {}, recorder().io);
  assert.equal(response.status, 401);
  assert.match(errors.mock.calls[0].arguments[0], /metrics_write_failed.*dataset full/);
  // A truncated point is a broken verdict: thrown, nothing forwarded.
  const { io, calls } = recorder();
  assert.throws(() => apply("M\n-\nforwarded\n", incoming(), env, {}, io), /truncated verdict/);
  assert.equal(calls.fetch.length, 0);
});
