#!/usr/bin/env node
// Bundles the JavaScript jose Worker (bench/jose-worker, or another entry given as the
// argument) into a temp dir, to debug the harness before build/index.js exists:
//   EDGEGUARD_SCRIPT=$(node tests/e2e/lib/bundle-peer.mjs) node --test --test-concurrency=1 tests/e2e/
// That Worker covers only what the benchmark needs (no HS*, routes, vars, DPoP, ...): expect
// failures. --realm adds realm="edgeguard" to its WWW-Authenticate challenges so more of the
// harness gets exercised.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { WORKERS, bundleWorker } from "../../../bench/build-workers.mjs";

const args = process.argv.slice(2);
const entry = resolve(args.find((a) => !a.startsWith("--")) ?? WORKERS["jose-worker"]);
const dir = mkdtempSync(join(tmpdir(), "edgeguard-peer-"));
const realm = args.includes("--realm") ? "edgeguard" : undefined;
console.log(await bundleWorker(entry, join(dir, "index.js"), { minify: false, realm }));
