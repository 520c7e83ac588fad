// What the benchmarks read from /proc about the workerd processes Miniflare spawns (Linux only).
import { readFileSync, readdirSync } from "node:fs";

/** PIDs of this process's direct children named workerd (Miniflare spawns one per instance). */
export function workerdChildren(parent = process.pid) {
  const pids = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === parent && comm.startsWith("workerd")) pids.push(Number(d));
    } catch {
      // the process went away while we looked
    }
  }
  return pids;
}

/** On-CPU time of all the process's threads, in µs, from the scheduler (ns resolution). */
export function schedUs(pid) {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread ended between readdir and read
    }
  }
  return ns / 1000;
}
