// bench/js-reject-log without its console.log: the same 401 built in JavaScript, no log
// line. Beside it, the in-isolate benchmark shows what the runtime charges for the one log
// line every refusal writes (edgeguard's included), apart from everything else.

/** edgeguard's 401 for a missing token (RFC 6750 challenge, JSON body). */
export function missingToken(env) {
  const realm = env.AUTH_REALM ?? "edgeguard";
  return new Response(JSON.stringify({ error: "missing_token", error_description: "bearer token required" }), {
    status: 401,
    headers: {
      "content-type": "application/json",
      "cache-control": "no-store",
      "www-authenticate": `Bearer realm="${realm}"`,
    },
  });
}

export default {
  fetch(request, env) {
    return missingToken(env);
  },
};
