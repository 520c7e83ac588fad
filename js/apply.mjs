// Applies a verdict from the Wasm decision (src/decide/wire.rs documents the format). It only
// moves bytes: every decision, including every header name and value, comes from Rust.

/**
 * Turns `verdict` into the Response (or its promise) for `request`.
 * io.fetch(url, init): the runtime's fetch; io.slow(request, env, ctx): the async Rust
 * path; io.badGateway(cause): the Rust-built 502 for a forward the runtime refused, as a
 * verdict.
 */
export function apply(verdict, request, env, ctx, io) {
  if (verdict.charCodeAt(0) === 77) verdict = writePoint(verdict, env); // "M": a data point first
  switch (verdict.charCodeAt(0)) {
    case 70: // "F": forward
      try {
        return io.fetch(...forward(verdict, request)).catch((e) => answer(io.badGateway(String(e)), console.log));
      } catch (e) {
        return answer(io.badGateway(String(e)), console.log);
      }
    case 65: // "A": answer at the edge
      return answer(verdict, console.log);
    case 69: // "E": the same, logged as an error (the configuration does not load)
      return answer(verdict, console.error);
    case 83: // "S": needs I/O
      return io.slow(request, env, ctx);
    default:
      throw new Error("edgeguard: unknown verdict");
  }
}

/** F \n target \n r \n r names \n (name \n value)* : the arguments for fetch. */
function forward(verdict, request) {
  const p = verdict.split("\n"); // the last element is "" (every line ends with \n)
  const headers = new Headers(request.headers);
  const sets = 3 + Number(p[2]);
  for (let i = 3; i < sets; i++) headers.delete(p[i]);
  for (let i = sets; i + 1 < p.length; i += 2) headers.set(p[i], p[i + 1]);
  return [p[1], { method: request.method, headers, body: request.body, redirect: "manual" }];
}

/** A|E \n status \n log \n h \n (name \n value)*h \n body : the Response; `write` logs. */
function answer(verdict, write) {
  let at = 2;
  const line = () => {
    const end = verdict.indexOf("\n", at);
    if (end < 0) throw new Error("edgeguard: truncated verdict");
    const text = verdict.slice(at, end);
    at = end + 1;
    return text;
  };
  const status = Number(line());
  const log = line();
  if (log) write(log);
  // A plain object, converted by the runtime in one step (Rust sends each name once).
  const headers = {};
  for (let i = Number(line()); i > 0; i--) headers[line()] = line();
  return new Response(verdict.slice(at), { status, headers });
}

/**
 * M \n index \n blob*6 \n status \n rest: writes the data point to env.METRICS (Workers
 * Analytics Engine) and returns the rest, the verdict. Best effort, as Analytics Engine
 * itself is: a failed write is logged, never the request's failure.
 */
function writePoint(verdict, env) {
  const p = verdict.split("\n", 9);
  if (p.length < 9) throw new Error("edgeguard: truncated verdict");
  try {
    env.METRICS.writeDataPoint({ indexes: [p[1]], blobs: p.slice(2, 8), doubles: [Number(p[8])] });
  } catch (e) {
    console.error(JSON.stringify({ event: "metrics_write_failed", cause: String(e) }));
  }
  let at = 0;
  for (let i = 0; i < 9; i++) at = verdict.indexOf("\n", at) + 1;
  return verdict.slice(at);
}
