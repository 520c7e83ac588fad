// The benchmark's floor: a JavaScript module Worker that authenticates nothing and only
// forwards, so its cost is what workerd, the socket and the origin cost any Worker.
// It forwards like edgeguard does: with ORIGIN set, the request's path and query go to that
// base; without it, to the request's own URL (route mode). Redirects reach the client as is.
export default {
  fetch(request, env) {
    let target = request.url;
    if (env.ORIGIN) {
      const { pathname, search } = new URL(request.url);
      target = env.ORIGIN.replace(/\/+$/, "") + pathname + search;
    }
    return fetch(target, { method: request.method, headers: request.headers, body: request.body, redirect: "manual" });
  },
};
