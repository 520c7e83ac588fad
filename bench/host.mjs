#!/usr/bin/env node
// Hosts one module Worker for scripts/bench.sh: the e2e harness's Miniflare setup
// (tests/e2e/lib/gateway.mjs: real workerd, a direct socket on 127.0.0.1, in-memory KV
// JWKS_CACHE) on a fixed port, with ISSUERS and ORIGIN bound, until SIGTERM/SIGINT or
// --max-seconds (so a host the script lost track of still goes away).
//   node bench/host.mjs --script ENTRY.js --port N --issuers-file F --origin URL [--max-seconds N]
// Prints `READY <url> {"pid":...}` once the socket answers; bench.sh waits for that line.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { startGateway } from "../tests/e2e/lib/gateway.mjs";

const { values: o } = parseArgs({
  options: {
    script: { type: "string" },
    port: { type: "string" },
    "issuers-file": { type: "string" },
    origin: { type: "string" },
    "max-seconds": { type: "string", default: "3600" },
  },
});
if (!o.script || !o.port || !o["issuers-file"]) {
  console.error("usage: node bench/host.mjs --script ENTRY.js --port N --issuers-file F [--origin URL] [--max-seconds N]");
  process.exit(2);
}

let gateway;
let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  await gateway?.close().catch(() => {});
  process.exit(code);
}
process.on("SIGTERM", () => stop(0));
process.on("SIGINT", () => stop(0));
setTimeout(() => {
  console.error(`host.mjs: --max-seconds ${o["max-seconds"]} reached, stopping`);
  stop(0);
}, Number(o["max-seconds"]) * 1000);

try {
  gateway = await startGateway({
    script: o.script,
    port: Number(o.port),
    issuers: readFileSync(o["issuers-file"], "utf8").trim(),
    origin: o.origin,
    keepLogs: false,
  });
  console.log(`READY ${gateway.url} ${JSON.stringify({ pid: process.pid })}`);
} catch (err) {
  console.error("host.mjs: failed to start:", err?.stack ?? err);
  await stop(1);
}
