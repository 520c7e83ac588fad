// The floor for an answer at the edge with its log line: a JavaScript module Worker that
// answers every request with edgeguard's 401 for a missing token (RFC 6750 challenge, JSON
// body) and writes one JSON log line of the same shape. Against the JS passthrough, it
// shows what the runtime charges for a Response built in JS plus one console.log.
export default {
  fetch(request, env) {
    const realm = env.AUTH_REALM ?? "edgeguard";
    console.log(JSON.stringify({ event: "rejected", iss: null, kid: null, reason: "missing_token", status: 401 }));
    return new Response(JSON.stringify({ error: "missing_token", error_description: "bearer token required" }), {
      status: 401,
      headers: {
        "content-type": "application/json",
        "cache-control": "no-store",
        "www-authenticate": `Bearer realm="${realm}"`,
      },
    });
  },
};
