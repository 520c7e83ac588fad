// Cargo's runner for wasm32-wasip1 test binaries: runs the Wasm test harness in V8 (node's
// WASI), the same engine workerd uses, so the verifiers are checked as compiled to Wasm.
// The Wycheproof vectors' directory is the only host directory the module can read.
//
// Usage (set by scripts/wasm-wycheproof.sh):
//   CARGO_TARGET_WASM32_WASIP1_RUNNER="node tests/wasi/run.mjs" cargo test --target wasm32-wasip1 ...
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const [wasmPath, ...args] = process.argv.slice(2);
if (!wasmPath) {
  console.error("usage: node tests/wasi/run.mjs <test.wasm> [test args]");
  process.exit(2);
}
// Default: the repository's copy, found from this file (cargo runs us from the package root,
// but nothing here should depend on the working directory).
const here = dirname(fileURLToPath(import.meta.url));
const vectors = resolve(process.env.WYCHEPROOF_DIR ?? resolve(here, "../vectors/wycheproof"));
const wasi = new WASI({
  version: "preview1",
  args: [wasmPath, ...args],
  env: { WYCHEPROOF_DIR: "/vectors" },
  preopens: { "/vectors": vectors },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(wasmPath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
