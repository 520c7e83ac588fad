// The KV deny list (README "Revocation without a redeploy"): with a DENY_LIST KV binding,
// a key `jti:<value>` or `sub:<value>` revokes matching tokens, cached ones included, within
// DENY_LIST_TTL_SECONDS (1 s here) of the write and with no redeploy; deleting the key lets
// them through again. The vars keep working beside it, a gateway without the binding is
// unchanged, and a binding that cannot be listed refuses (503) instead of letting tokens
// through unchecked. KV is Miniflare's, written through its API as `wrangler kv key put`
// would; tokens are minted by jose.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  startFixtureIssuer, startGateway, mint,
  call, assertEdgeError, assertForwarded, assertInvalidToken, notForwarded, waitFor, show, tempKvDir, ROOT,
} from "./lib/index.mjs";

const TTL_SECONDS = 1;
// Past the TTL on a clock of whole seconds (the copy's age is counted in seconds).
const PAST_TTL_MS = TTL_SECONDS * 1000 + 1100;

let fixture, origin, rsa, gw, issuers;

before(async () => {
  fixture = await startFixtureIssuer();
  ({ origin, rsa, issuers } = fixture);
  gw = await startGateway({
    issuers,
    origin,
    kvNamespaces: ["DENY_LIST"],
    vars: { DENY_LIST_TTL_SECONDS: String(TTL_SECONDS), DENY_JTI: '["var-revoked"]' },
  });
});
after(async () => {
  await gw?.close();
  await fixture?.close();
});

const token = (jti, sub = "deny-user") => mint(rsa, { jti, sub });

async function revoked(g, path, t) {
  const r = await notForwarded(origin, () => call(g.url, path, { token: t }));
  assertInvalidToken(r);
  assert.equal(r.json.error_description, "token revoked", show(r));
  return r;
}

describe("DENY_LIST (KV)", () => {
  test("a jti written to KV is refused after the TTL, cached token included; deleting it lets it through again", async () => {
    const t = await token("kv-jti-1");
    const other = await token("kv-jti-2");
    assertForwarded(await call(gw.url, "/a", { token: t }), "/a");
    const kv = await gw.kv("DENY_LIST");
    await kv.put("jti:kv-jti-1", "stolen laptop, ticket 4711");
    await sleep(PAST_TTL_MS);
    await revoked(gw, "/a", t);
    assertForwarded(await call(gw.url, "/b", { token: other }), "/b");
    const line = await waitFor(() => gw.logs.find((l) => l.includes('"reason":"revoked"')));
    assert.ok(line, gw.logs.join("\n"));
    assert.ok(!line.includes(t), "the token is never logged");
    await kv.delete("jti:kv-jti-1");
    await sleep(PAST_TTL_MS);
    assertForwarded(await call(gw.url, "/a", { token: t }), "/a");
  });

  test("a sub written to KV refuses every token of that subject, never-seen ones too", async () => {
    const kv = await gw.kv("DENY_LIST");
    await kv.put("sub:deny-user-2", "");
    await sleep(PAST_TTL_MS);
    await revoked(gw, "/s1", await token("s-1", "deny-user-2"));
    await revoked(gw, "/s2", await token("s-2", "deny-user-2"));
    // Exact values only: another subject, or the same value as a jti, passes.
    assertForwarded(await call(gw.url, "/s3", { token: await token("deny-user-2", "deny-user-3") }), "/s3");
    await kv.delete("sub:deny-user-2");
  });

  test("the DENY_JTI var still works beside the binding", async () => {
    await revoked(gw, "/v", await token("var-revoked"));
  });

  test("each listing that changes the counts logs them (no values)", async () => {
    const kv = await gw.kv("DENY_LIST");
    await kv.put("jti:counted", "");
    await kv.put("note:not-an-entry", "");
    await sleep(PAST_TTL_MS);
    assertForwarded(await call(gw.url, "/c", { token: await token("c-1") }), "/c");
    const line = await waitFor(() =>
      gw.logs.find((l) => l.includes('"event":"deny_list_loaded"') && l.includes('"jti":1') && l.includes('"ignored_keys":1')),
    );
    assert.ok(line, gw.logs.join("\n"));
    assert.ok(!line.includes("counted"), line);
    await kv.delete("jti:counted");
    await kv.delete("note:not-an-entry");
  });
});

describe("without the binding, or with one that cannot be listed", () => {
  test("no DENY_LIST binding: KV entries elsewhere change nothing, DENY_LIST_TTL_SECONDS is inert", async () => {
    const plain = await startGateway({ issuers, origin, vars: { DENY_LIST_TTL_SECONDS: "1" } });
    try {
      const t = await token("unbound-1");
      assertForwarded(await call(plain.url, "/u", { token: t }), "/u");
      assert.ok(!plain.logs.some((l) => l.includes("deny_list")), plain.logs.join("\n"));
    } finally {
      await plain.close();
    }
  });

  test("DENY_LIST bound to something that is not KV -> 503 temporarily_unavailable, nothing forwarded, logged", async () => {
    const broken = await startGateway({ issuers, origin, r2Buckets: ["DENY_LIST"] });
    try {
      const r = await notForwarded(origin, () => call(broken.url, "/x", { token: token("broken-1") }));
      assertEdgeError(r, 503, "temporarily_unavailable");
      assert.equal(r.json.error_description, "revocation list unavailable", show(r));
      assert.ok(r.headers.get("retry-after"), show(r));
      const line = await waitFor(() => broken.logs.find((l) => l.includes("deny_list_unavailable")));
      assert.ok(line, broken.logs.join("\n"));
      // A request without a token needs no listing: the usual 401, not the 503.
      const none = await notForwarded(origin, () => call(broken.url, "/none"));
      assert.equal(none.status, 401, show(none));
      assert.equal(none.json.error, "missing_token", show(none));
    } finally {
      await broken.close();
    }
  });
});

describe("scripts/deny.sh", () => {
  // wrangler's local mode writes the namespace where a gateway started with the same
  // persistence directory and namespace id reads it: the script's entries, end to end.
  test("add revokes in a gateway reading the same (local) namespace; remove lets the token through", { timeout: 120_000 }, async () => {
    const kv = tempKvDir();
    try {
      const config = join(kv.dir, "wrangler.toml");
      writeFileSync(config, 'name = "deny-e2e"\ncompatibility_date = "2025-09-01"\n[[kv_namespaces]]\nbinding = "DENY_LIST"\nid = "deny-list-e2e"\n');
      const deny = (...args) =>
        execFileSync(join(ROOT, "scripts", "deny.sh"), [...args, "--local"], {
          env: { ...process.env, WRANGLER_FLAGS: `--config ${config} --persist-to ${join(kv.dir, "state")}` },
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
          timeout: 60_000,
        });
      const t = await token("script-jti");
      deny("add", "jti", "script-jti", "e2e");
      const listed = deny("list");
      assert.ok(listed.includes("jti:script-jti"), listed);
      const start = () =>
        startGateway({ issuers, origin, kvNamespaces: { DENY_LIST: "deny-list-e2e" }, kvPersist: join(kv.dir, "state", "v3", "kv") });
      let g = await start();
      try {
        await revoked(g, "/script", t);
      } finally {
        await g.close();
      }
      deny("remove", "jti", "script-jti");
      g = await start();
      try {
        assertForwarded(await call(g.url, "/script", { token: t }), "/script");
      } finally {
        await g.close();
      }
    } finally {
      kv.cleanup();
    }
  });

  test("refuses a kind other than jti/sub, an empty value, a TTL under KV's 60 s minimum and option-like values, before running wrangler", () => {
    const cases = [
      ["add", "iss", "x"], ["add", "jti", ""], ["add", "jti", "x", "--ttl", "59"], ["remove", "jti"], ["frobnicate"],
      ["add", "jti", "-x"], ["add", "jti", "x", "--", "-reason"], ["list", "--ttl", "60"],
    ];
    for (const args of cases) {
      let failed;
      try {
        execFileSync(join(ROOT, "scripts", "deny.sh"), args, {
          env: { ...process.env, WRANGLER: "false" },
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
        });
      } catch (e) {
        failed = e;
      }
      assert.ok(failed, `${args.join(" ")} should fail`);
      assert.notEqual(failed.status, 0);
      assert.match(failed.stderr, /Usage: scripts\/deny.sh/, failed.stderr);
    }
  });
});
