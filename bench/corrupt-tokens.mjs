#!/usr/bin/env node
// Attack traffic for scripts/bench.sh: copies a token file (one JWT per line), changing one
// base64url character of each signature three quarters of the way in (inside RSA's
// signature, inside the middle bytes of ECDSA's `s` and of Ed25519's little-endian `S`, so
// both stay in range; the same change benches/verify.rs makes). Same length, still valid
// base64url, header and claims untouched (right iss, kid, alg, exp): every token looks valid
// and the verifier has to do the whole signature computation before refusing it.
//   node bench/corrupt-tokens.mjs IN_FILE OUT_FILE
import { readFileSync, writeFileSync } from "node:fs";

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: node bench/corrupt-tokens.mjs IN_FILE OUT_FILE");
  process.exit(2);
}
const out = [];
for (const token of readFileSync(input, "utf8").split("\n").filter(Boolean)) {
  const sigStart = token.lastIndexOf(".") + 1;
  if (sigStart <= 0 || sigStart >= token.length) throw new Error("not a compact JWS: " + token.slice(0, 20));
  const at = sigStart + Math.floor(((token.length - sigStart) * 3) / 4);
  out.push(token.slice(0, at) + (token[at] === "A" ? "B" : "A") + token.slice(at + 1));
}
if (new Set(out).size !== out.length) throw new Error("corrupted tokens are not distinct");
writeFileSync(output, out.join("\n") + "\n");
console.log(`corrupted ${out.length} signatures: ${output}`);
