#!/usr/bin/env node
// Bundles the JavaScript peer worker (jose) into a temp dir, to debug the
// harness before build/index.js exists:
//   EDGEGUARD_SCRIPT=$(node tests/e2e/lib/bundle-peer.mjs) node --test --test-concurrency=1 tests/e2e/
// The peer's choices differ from edgeguard's in places (no realm, no HS*, no
// vars, ...): expect failures.  --realm patches a copy of the source to add
// realm="edgeguard" to WWW-Authenticate so more of the harness gets exercised.
import { build } from "esbuild";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const args = process.argv.slice(2);
const entryArg = args.find((a) => !a.startsWith("--")) ?? "/work/shared/peer/jose-worker/src/index.js";
const dir = mkdtempSync(join(tmpdir(), "edgeguard-peer-"));
let entry = entryArg;
if (args.includes("--realm")) {
  let src = readFileSync(entryArg, "utf8");
  src = src.replace('{ "www-authenticate": "Bearer" }', `{ "www-authenticate": 'Bearer realm="edgeguard"' }`);
  src = src.replace('error_description="${description}"`', 'error_description="${description}", realm="edgeguard"`');
  entry = join(dir, "src.js");
  writeFileSync(entry, src);
}
const out = join(dir, "index.js");
await build({
  entryPoints: [entry],
  outfile: out,
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["module", "main"],
  // resolve jose from this repo's node_modules
  nodePaths: [join(root, "node_modules")],
  logLevel: "warning",
});
console.log(out);
