#!/usr/bin/env node
// Loopback stand-ins for scripts/demo.sh, both on 127.0.0.1:
//   - origin: answers every request with a JSON echo of it (method, URL, headers, body, and the
//     X-Auth-* identity headers the gateway added, with X-Auth-Claims decoded). Its answers carry
//     `X-Demo-Origin: edgeguard-demo`, so a client can tell they came through to the origin.
//   - JWKS: serves <jwks dir>/<name>.json at /jwks/<name>.json (Cache-Control: max-age=300).
//
// Usage: node scripts/demo-servers.mjs [--jwks-dir DIR] [--origin-port N] [--jwks-port N]
//                                      [--ready-file FILE]
// Ports default to 0 (a free port chosen by the kernel). When both servers listen, the ports
// are written to --ready-file as ORIGIN_PORT=<n> and JWKS_PORT=<n> lines and printed.
// Exits on SIGINT/SIGTERM, and when its parent process goes away.

import { createServer } from "node:http";
import { readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { values: opts } = parseArgs({
  options: {
    "jwks-dir": { type: "string", default: path.join(repoRoot, "fixtures", "jwks") },
    "origin-port": { type: "string", default: process.env.ORIGIN_PORT ?? "0" },
    "jwks-port": { type: "string", default: process.env.JWKS_PORT ?? "0" },
    "ready-file": { type: "string" },
  },
});
const HOST = "127.0.0.1";
const MAX_BODY = 1 << 20;

const log = (server, req, status) =>
  console.error(`[${server}] ${req.method} ${req.url} -> ${status}`);

function send(res, status, body, headers = {}) {
  const text = typeof body === "string" ? body : JSON.stringify(body, null, 2) + "\n";
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(res.req.method === "HEAD" ? undefined : text);
}

function decodeClaims(value) {
  if (typeof value !== "string") return undefined;
  try {
    return JSON.parse(Buffer.from(value, "base64url").toString("utf8"));
  } catch (e) {
    return { undecodable: String(e.message) };
  }
}

const origin = createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on("data", (c) => {
    size += c.length;
    if (size <= MAX_BODY) chunks.push(c);
  });
  req.on("end", () => {
    const h = req.headers;
    const echo = {
      origin: "edgeguard demo origin",
      method: req.method,
      url: req.url,
      identity: {
        subject: h["x-auth-subject"] ?? null,
        issuer: h["x-auth-issuer"] ?? null,
        claims: decodeClaims(h["x-auth-claims"]) ?? null,
      },
      headers: h,
      body: size ? Buffer.concat(chunks).toString("utf8") : null,
    };
    send(res, 200, echo, { "x-demo-origin": "edgeguard-demo", "cache-control": "no-store" });
    log("origin", req, 200);
  });
});

const jwksDir = path.resolve(opts["jwks-dir"]);
const jwks = createServer(async (req, res) => {
  const m = /^\/jwks\/([A-Za-z0-9_.-]+)\.json(?:\?.*)?$/.exec(req.url ?? "");
  let status = 404;
  if ((req.method === "GET" || req.method === "HEAD") && m && !m[1].startsWith(".")) {
    try {
      const body = await readFile(path.join(jwksDir, `${m[1]}.json`), "utf8");
      status = 200;
      send(res, 200, body, { "cache-control": "public, max-age=300" });
    } catch {
      // fall through to 404
    }
  }
  if (status === 404) send(res, 404, { error: "not_found" });
  log("jwks", req, status);
});

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(port), HOST, () => resolve(server.address().port));
  });
}

const originPort = await listen(origin, opts["origin-port"]);
const jwksPort = await listen(jwks, opts["jwks-port"]);

if (opts["ready-file"]) {
  const tmp = `${opts["ready-file"]}.tmp`;
  await writeFile(tmp, `ORIGIN_PORT=${originPort}\nJWKS_PORT=${jwksPort}\n`);
  await rename(tmp, opts["ready-file"]);
}
console.log(`origin: http://${HOST}:${originPort}/  (echoes requests as JSON)`);
console.log(`jwks:   http://${HOST}:${jwksPort}/jwks/<name>.json  (from ${jwksDir})`);

function stop() {
  origin.close();
  jwks.close();
  origin.closeAllConnections?.();
  jwks.closeAllConnections?.();
  process.exit(0);
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
// Do not outlive the script that started us (e.g. if it was killed with SIGKILL).
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stop();
}, 1000).unref();
