// js/pack.mjs, the copy of a request's fields into Wasm memory, against a real
// WebAssembly.Memory (so a grown memory detaches views as it does in workerd). What is
// written must read back as the same strings, in order, at the lengths given; Rust's side
// of the format is src/decide/request.rs (`unpack`, with its own tests).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Pack } from "./pack.mjs";

/** A grow function over one Memory, as wasm.scratch behaves: a view at a fixed offset. */
function memoryScratch() {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 16 });
  const calls = [];
  const grow = (size) => {
    calls.push(size);
    const pages = Math.ceil((64 + size) / 65536);
    if (memory.buffer.byteLength < pages * 65536) memory.grow(pages - memory.buffer.byteLength / 65536);
    return new Uint8Array(memory.buffer, 64, size);
  };
  return { memory, grow, calls };
}

const decoder = new TextDecoder("utf-8", { fatal: true });

function readBack(view, lens) {
  let at = 0;
  return Array.from(lens, (n) => {
    if (n < 0) return null;
    const s = decoder.decode(view.subarray(at, at + n));
    at += n;
    return s;
  });
}

function written(fields, pack = new Pack(memoryScratch().grow)) {
  const lens = new Int32Array(fields.length);
  pack.write(fields, lens);
  return { lens: Array.from(lens), back: readBack(pack.view, lens) };
}

test("ASCII fields are written back to back, absent ones as -1", () => {
  const fields = ["GET", "https://api.test/a?q=1", null, "", "Bearer a.b.c", null];
  const { lens, back } = written(fields);
  assert.deepEqual(lens, [3, 22, -1, 0, 12, -1]);
  assert.deepEqual(back, fields);
});

test("wider characters are written field by field at their UTF-8 lengths", () => {
  // é: 2 bytes, ☃: 3, 😀: 4 (two UTF-16 units).
  const fields = ["GET", "https://api.test/é?q=☃", null, "k=\u{1F600}", "tail"];
  const { lens, back } = written(fields);
  assert.deepEqual(lens, [3, 25, -1, 6, 4]);
  assert.deepEqual(back, fields);
});

test("a lone surrogate is written as U+FFFD, as the runtime's encoder writes it", () => {
  const { lens, back } = written(["GET", "a\uD800b"]);
  assert.deepEqual(lens, [3, 5]);
  assert.deepEqual(back, ["GET", "a\uFFFDb"]);
});

test("the worst case fits: three bytes for every UTF-16 unit", () => {
  const { grow, calls } = memoryScratch();
  const wide = "☃".repeat(1000);
  const { lens, back } = written([wide, "GET"], new Pack(grow));
  assert.deepEqual(lens, [3000, 3]);
  assert.deepEqual(back, [wide, "GET"]);
  assert.deepEqual(calls, [3009]);
});

test("the buffer is asked for again only when it is too small or its memory has grown", () => {
  const { memory, grow, calls } = memoryScratch();
  const pack = new Pack(grow);
  const lens = new Int32Array(1);
  pack.write(["0123456789"], lens);
  pack.write(["0123456789"], lens); // same size: the view is reused
  pack.write(["01234"], lens);
  assert.deepEqual(calls, [30]);
  pack.write(["0123456789a"], lens); // larger: asked again
  assert.deepEqual(calls, [30, 33]);
  memory.grow(1); // detaches every view of the old buffer: it reads as empty
  assert.equal(pack.view.length, 0);
  pack.write(["x"], lens);
  assert.deepEqual(calls, [30, 33, 3]);
  assert.deepEqual(readBack(pack.view, lens), ["x"]);
});

test("each request writes from the start of the buffer, over the last one", () => {
  const pack = new Pack(memoryScratch().grow);
  written(["a-longer-first-request", "é"], pack);
  const { lens, back } = written(["GET", "/x"], pack);
  assert.deepEqual(lens, [3, 2]);
  assert.deepEqual(back, ["GET", "/x"]);
});

test("reset forgets a view of a memory that is no longer the module's", () => {
  // A re-instantiated module has a new memory; the old one's view stays readable.
  const first = memoryScratch();
  let current = first.grow;
  const pack = new Pack((size) => current(size));
  const lens = new Int32Array(1);
  pack.write(["abc"], lens);
  const second = memoryScratch();
  current = second.grow;
  pack.write(["abc"], lens);
  assert.deepEqual(second.calls, [], "without reset the old view is still used");
  pack.reset();
  pack.write(["abc"], lens);
  assert.deepEqual(second.calls, [9]);
  assert.equal(pack.view.buffer, second.memory.buffer);
});
