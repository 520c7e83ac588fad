// The floor for an answer at the edge with its log line: a JavaScript module Worker that
// answers every request with edgeguard's 401 for a missing token (RFC 6750 challenge, JSON
// body) and writes one JSON log line of the same shape. Against the JS passthrough, it
// shows what the runtime charges for a Response built in JS plus one console.log; against
// bench/js-reject (the same 401, no line), what the console.log alone costs.
import { missingToken } from "../js-reject/index.js";

export default {
  fetch(request, env) {
    console.log(JSON.stringify({ event: "rejected", iss: null, kid: null, reason: "missing_token", status: 401 }));
    return missingToken(env);
  },
};
