// Self time of a V8 CPU profile, by part (Rust/Wasm, edgeguard's JS, runtime natives, ...)
// and by function, as the profile probes print it. `isOurs(url)`: a frame of edgeguard's
// bundle; `extra(f)`: another part for a frame (or undefined).
export function printSelfTime(p, { header, isOurs, ours, extra = () => undefined, top = 20 }) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const counts = new Map();
  for (const s of p.samples) counts.set(s, (counts.get(s) || 0) + 1);
  const parts = new Map();
  const fns = new Map();
  let total = 0;
  for (const [i, c] of counts) {
    const f = byId.get(i).callFrame;
    const name = f.functionName || "(anonymous)";
    const part = /::|dlmalloc|multivalue shim|js-to-wasm|wasm-to-js/.test(name)
      ? "Rust/Wasm"
      : isOurs(f.url)
        ? ours
        : extra(f) ??
          (["(idle)", "(program)", "(garbage collector)"].includes(name) ? name : "runtime natives (Request, Response, Headers, ...)");
    parts.set(part, (parts.get(part) || 0) + c);
    const key = isOurs(f.url) ? `${name} (index.js ${f.lineNumber + 1}:${f.columnNumber + 1})` : name;
    fns.set(key, (fns.get(key) || 0) + c);
    total += c;
  }
  const pct = (v) => `${((100 * v) / total).toFixed(1).padStart(5)} %`;
  console.log(`${header}${total} samples (50 µs interval), self time:`);
  for (const [k, v] of [...parts].sort((a, b) => b[1] - a[1])) console.log(`${pct(v)}  ${k}`);
  console.log("busiest functions:");
  for (const [k, v] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k.slice(0, 110)}`);
}
