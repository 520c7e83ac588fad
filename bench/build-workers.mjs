#!/usr/bin/env node
// Bundles the benchmark's JavaScript Workers (bench/js-passthrough, bench/jose-worker,
// bench/js-reject-log, bench/js-reject) into
// single ES modules, minified as `wrangler deploy --minify` would upload them, so their
// sizes compare with edgeguard's build/:
//   node bench/build-workers.mjs --out DIR    -> DIR/js-passthrough/index.js, DIR/jose-worker/index.js
// `bundleWorker` is also used by tests/e2e/lib/bundle-peer.mjs. jose comes from the
// repository's node_modules (versions pinned by package-lock.json).
import { build } from "esbuild";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const WORKERS = {
  "js-passthrough": join(here, "js-passthrough", "index.js"),
  "jose-worker": join(here, "jose-worker", "index.js"),
  "js-reject-log": join(here, "js-reject-log", "index.js"),
  "js-reject": join(here, "js-reject", "index.js"),
};

/** Bundles `entry` into `outfile`; `realm` sets the jose Worker's WWW-Authenticate realm. */
export async function bundleWorker(entry, outfile, { minify = true, realm } = {}) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    // the resolution conditions wrangler uses for Workers (jose's WebCrypto build)
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    nodePaths: [join(here, "..", "node_modules")],
    define: realm ? { JOSE_WORKER_REALM: JSON.stringify(realm) } : {},
    minify,
    legalComments: "none",
    logLevel: "warning",
  });
  return outfile;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf("--out");
  if (i < 0 || !process.argv[i + 1]) {
    console.error("usage: node bench/build-workers.mjs --out DIR [--no-minify]");
    process.exit(2);
  }
  const out = resolve(process.argv[i + 1]);
  const minify = !process.argv.includes("--no-minify");
  for (const [name, entry] of Object.entries(WORKERS)) {
    console.log(await bundleWorker(entry, join(out, name, "index.js"), { minify }));
  }
}
