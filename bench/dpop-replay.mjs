// What the fleet-wide DPoP replay ledger (DPOP_REPLAY) costs a request, end to end on this
// machine: build/ in workerd (Miniflare), loopback origin, one keep-alive connection per
// gateway, requests one at a time, interleaved row by row in each round. Rows:
//   * no binding, new proof               (this isolate's cache alone)
//   * DPOP_REPLAY, new proof              (+ one round trip to the proof's shard: "first")
//   * DPOP_REPLAY, replay to the same isolate   (refused from memory, no round trip)
//   * DPOP_REPLAY, replay to another isolate    (one round trip: "seen")
// Proofs are minted (jose) before each round, outside the timing. Locally the object runs in
// the same workerd process, so the round trip here is the platform's floor, not a
// production figure: in production add the network distance to the object's location.
//
//   node bench/dpop-replay.mjs [--rounds 300] [--out bench/results]
// Writes <out>/dpop-replay-<UTC date>.{md,json,svg} and prints the Markdown.
import http from "node:http";
import crypto from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SignJWT, generateKeyPair, exportJWK, calculateJwkThumbprint } from "jose";
import { startFixtureIssuer, startGateway, startFleet, mint } from "../tests/e2e/lib/index.mjs";

const { values: args } = parseArgs({ options: { rounds: { type: "string", default: "300" }, out: { type: "string", default: "bench/results" } } });
const rounds = Math.min(Math.max(Number(args.rounds) || 300, 20), 2000);
const DEADLINE = Date.now() + 180_000; // every loop below also stops here
const HOST = "api.bench.test";
const HTU = `http://${HOST}/orders`;
const log = (m) => console.error(`==> ${m}`);

const fixture = await startFixtureIssuer();
const pair = await generateKeyPair("ES256", { extractable: true });
const jwk = await exportJWK(pair.publicKey);
const token = await mint(fixture.rsa, { cnf: { jkt: await calculateJwkThumbprint(jwk) } }); // exp: 10 min, past the deadline
const ath = crypto.createHash("sha256").update(token).digest("base64url");
const proof = () =>
  new SignJWT({ htm: "GET", htu: HTU, iat: Math.floor(Date.now() / 1000), jti: crypto.randomUUID(), ath })
    .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk })
    .sign(pair.privateKey);

log("starting a gateway without the binding and two instances bound to one DPOP_REPLAY namespace");
const plain = await startGateway({ issuers: fixture.issuers, origin: fixture.origin, keepLogs: false });
const fleet = await startFleet({ issuers: fixture.issuers, origin: fixture.origin });

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function send(base, dpop) {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: u.hostname, port: u.port, path: "/orders", agent, timeout: 10_000,
      headers: { host: HOST, authorization: `DPoP ${token}`, dpop } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

const ROWS = [
  { id: "plain-new", label: "no binding, new proof", expect: 200 },
  { id: "ledger-new", label: "DPOP_REPLAY, new proof", expect: 200 },
  { id: "ledger-replay-here", label: "DPOP_REPLAY, replay to the same isolate", expect: 401 },
  { id: "ledger-replay-there", label: "DPOP_REPLAY, replay to another isolate", expect: 401 },
];
const samples = Object.fromEntries(ROWS.map((r) => [r.id, []]));
async function round(record) {
  const [p1, p2] = [await proof(), await proof()];
  const steps = [
    ["plain-new", plain.url, p1],
    ["ledger-new", fleet.urls[0], p2],
    ["ledger-replay-here", fleet.urls[0], p2],
    ["ledger-replay-there", fleet.urls[1], p2],
  ];
  for (const [id, url, p] of steps) {
    const r = await send(url, p);
    const row = ROWS.find((x) => x.id === id);
    if (r.status !== row.expect) throw new Error(`${row.label}: status ${r.status}, expected ${row.expect}`);
    if (record) samples[id].push(r.ms);
  }
}

let done = 0;
try {
  log("warm-up: 30 rounds");
  for (let i = 0; i < 30 && Date.now() < DEADLINE; i++) await round(false);
  log(`measuring: ${rounds} rounds (at most until the 3-minute deadline)`);
  for (; done < rounds && Date.now() < DEADLINE; done++) await round(true);
} finally {
  agent.destroy();
  await fleet.close();
  await plain.close();
  await fixture.close();
}

const q = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))];
};
const stats = ROWS.map((r) => ({ ...r, n: samples[r.id].length, p50: q(samples[r.id], 0.5), p90: q(samples[r.id], 0.9) }));
const base = stats[0].p50;
const date = new Date().toISOString().slice(0, 10);
const f = (x) => x.toFixed(3);
const md = [
  `# DPoP replay ledger: latency per request (${date})`,
  "",
  `\`node bench/dpop-replay.mjs --rounds ${rounds}\`: ${done} rounds, one request at a time, loopback, build/ in workerd (Miniflare). ` +
    "The object runs in the same workerd process: the round trip is the platform's floor; in production add the distance to the object's location.",
  "",
  "| request | n | p50 ms | p90 ms | p50 over \"no binding, new proof\" |",
  "| --- | ---: | ---: | ---: | ---: |",
  ...stats.map((s) => `| ${s.label} | ${s.n} | ${f(s.p50)} | ${f(s.p90)} | ${s === stats[0] ? "-" : `${s.p50 - base >= 0 ? "+" : ""}${f(s.p50 - base)}`} |`),
  "",
  `![p50 and p90 per request](dpop-replay-${date}.svg)`,
  "",
].join("\n");

function svg() {
  const W = 760, rowH = 44, left = 300, H = 50 + rowH * stats.length;
  const max = Math.max(...stats.map((s) => s.p90)) * 1.15;
  const x = (v) => left + (v / max) * (W - left - 70);
  const o = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="10" y="22" font-size="14" font-weight="bold">DPoP replay ledger: ms per request (bar p50, line to p90), ${date}</text>`];
  stats.forEach((s, i) => {
    const y = 40 + i * rowH;
    o.push(`<text x="10" y="${y + 20}" font-size="12">${s.label}</text>`);
    o.push(`<rect x="${left}" y="${y + 6}" width="${x(s.p50) - left}" height="20" fill="${s.id.startsWith("plain") ? "#999" : "#f38020"}"/>`);
    o.push(`<line x1="${x(s.p50)}" y1="${y + 16}" x2="${x(s.p90)}" y2="${y + 16}" stroke="#333"/>`);
    o.push(`<text x="${x(s.p90) + 6}" y="${y + 20}" font-size="11">${f(s.p50)} / ${f(s.p90)}</text>`);
  });
  o.push("</svg>");
  return o.join("\n");
}

mkdirSync(args.out, { recursive: true });
const name = join(args.out, `dpop-replay-${date}`);
writeFileSync(`${name}.md`, md);
writeFileSync(`${name}.json`, JSON.stringify({ date, rounds: done, stats }, null, 2));
writeFileSync(`${name}.svg`, svg());
console.log(md);
log(`wrote ${name}.{md,json,svg}`);
