// js/replay.mjs, the DPoP replay ledger's Durable Object class, against a stand-in for the
// Rust exports: it must pass the object's own state and the request through untouched,
// open the tables once per object, and return what Rust returns (the real exports answer
// synchronously; workerd takes a value or a promise alike, and the fakes return promises).
import { test } from "node:test";
import assert from "node:assert/strict";
import { replayClass } from "./replay.mjs";

function fakeWasm() {
  const calls = [];
  return {
    calls,
    replayOpen: (state) => calls.push(["open", state]),
    replayFetch: (state, request) => {
      calls.push(["fetch", state, request]);
      return Promise.resolve(new Response(null, { status: 201 }));
    },
    replayAlarm: (state) => {
      calls.push(["alarm", state]);
      return Promise.resolve();
    },
  };
}

test("the constructor opens the table with the object's state, once", () => {
  const wasm = fakeWasm();
  const DpopReplay = replayClass(wasm);
  const state = { id: "shard-3" };
  const object = new DpopReplay(state, { SOME: "env" });
  assert.deepEqual(wasm.calls, [["open", state]]);
  assert.equal(object.state, state);
});

test("fetch and alarm hand the same state (and the request) to Rust and return its result", async () => {
  const wasm = fakeWasm();
  const DpopReplay = replayClass(wasm);
  const state = { id: "shard-a" };
  const object = new DpopReplay(state);
  const request = new Request("https://dpop-replay.invalid/record/00/1", { method: "POST" });
  const response = await object.fetch(request);
  assert.equal(response.status, 201);
  assert.equal(await object.alarm(), undefined);
  assert.deepEqual(wasm.calls.slice(1), [["fetch", state, request], ["alarm", state]]);
});

test("two objects keep their own state", async () => {
  const wasm = fakeWasm();
  const DpopReplay = replayClass(wasm);
  const [a, b] = [new DpopReplay({ id: "a" }), new DpopReplay({ id: "b" })];
  await b.fetch(new Request("https://x.invalid/"));
  await a.alarm();
  assert.deepEqual(wasm.calls.slice(2).map(([what, state]) => [what, state.id]), [["fetch", "b"], ["alarm", "a"]]);
});

test("an error thrown by Rust reaches workerd unchanged", () => {
  const DpopReplay = replayClass({
    replayOpen: () => {
      throw new Error("no SQLite storage: the migration needs new_sqlite_classes");
    },
  });
  assert.throws(() => new DpopReplay({}), /new_sqlite_classes/);
});
