// Baseline column for scripts/bench-wasm.sh: the same fixture tokens verified with WebCrypto
// in node (what a JavaScript Worker such as the jose peer uses), awaited one at a time.
// Prints `name<TAB>microseconds per verification` (median of 15 batches of ~20 ms).
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "fixtures");
const jwks = JSON.parse(readFileSync(join(root, "jwks", "main.json"), "utf8")).keys;
const secret = Buffer.from(readFileSync(join(root, "keys", "hs-secret.txt"), "utf8").trim(), "base64url");
const subtle = globalThis.crypto.subtle;

const CASES = [
  ["RS256 (2048)", "valid-rs256", { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }],
  ["RS256 (3072)", "valid-rs256-3072", { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }],
  ["RS256 (4096)", "valid-rs256-4096", { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }],
  ["PS256 (2048)", "valid-ps256", { name: "RSA-PSS", hash: "SHA-256" }, { saltLength: 32 }],
  ["RS512 (2048)", "valid-rs512", { name: "RSASSA-PKCS1-v1_5", hash: "SHA-512" }],
  ["ES256", "valid-es256", { name: "ECDSA", namedCurve: "P-256" }, { hash: "SHA-256" }],
  ["EdDSA (Ed25519)", "valid-eddsa", { name: "Ed25519" }],
  ["HS256", "valid-hs256", { name: "HMAC", hash: "SHA-256" }],
  ["HS384", "valid-hs384", { name: "HMAC", hash: "SHA-384" }],
  ["HS512", "valid-hs512", { name: "HMAC", hash: "SHA-512" }],
];

for (const [label, file, importAlg, verifyExtra = {}] of CASES) {
  const token = readFileSync(join(root, "tokens", `${file}.jwt`), "utf8").trim();
  const [h, p, s] = token.split(".");
  const kid = JSON.parse(Buffer.from(h, "base64url")).kid;
  const key = importAlg.name === "HMAC"
    ? await subtle.importKey("raw", secret, importAlg, false, ["verify"])
    : await subtle.importKey("jwk", { ...jwks.find((k) => k.kid === kid), alg: undefined }, importAlg, false, ["verify"]);
  const data = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, "base64url");
  const algo = { ...importAlg, ...verifyExtra };
  const once = () => subtle.verify(algo, key, sig, data);
  if (!(await once())) throw new Error(`${label}: fixture does not verify with WebCrypto`);
  const run = async (n) => { for (let i = 0; i < n; i++) await once(); };
  let t = performance.now();
  await run(10);
  const per = (performance.now() - t) / 10;
  const batch = Math.max(1, Math.min(100000, Math.round(20 / per)));
  const samples = [];
  for (let k = 0; k < 15; k++) {
    t = performance.now();
    await run(batch);
    samples.push(((performance.now() - t) * 1000) / batch);
  }
  samples.sort((a, b) => a - b);
  console.log(`${label}\t${samples[7].toFixed(1)}`);
}
