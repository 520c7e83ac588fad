-- wrk script for scripts/bench.sh: the peer's wrk/tokens.lua (rotate `Authorization: Bearer`
-- tokens read from a file, requests pre-formatted in init()) plus a count of responses by
-- status class, so a run can tell 2xx from 401 from anything else.
--   wrk -t1 -c50 -d8s -s bench/wrk/status.lua http://127.0.0.1:18787 -- TOKENS_FILE [PATH]
-- Prints one line: WRKJSON {...same fields as tokens.lua..., "status": {...}}
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local reqs = {}
local n = 0
local i = 0
-- per-thread counters, read by done() through thread:get()
s2xx, s401, s4xx, s5xx, sother = 0, 0, 0, 0, 0

function init(args)
  local file = args[1]
  local path = args[2] or "/"
  if file == nil then
    error("usage: -- TOKENS_FILE [PATH]")
  end
  for line in io.lines(file) do
    if #line > 0 then
      n = n + 1
      reqs[n] = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. line })
    end
  end
  if n == 0 then
    error("no tokens in " .. file)
  end
  i = ((tid or 0) * 97) % n
end

function request()
  i = i + 1
  if i > n then
    i = 1
  end
  return reqs[i]
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    s2xx = s2xx + 1
  elseif status == 401 then
    s401 = s401 + 1
  elseif status >= 400 and status < 500 then
    s4xx = s4xx + 1
  elseif status >= 500 and status < 600 then
    s5xx = s5xx + 1
  else
    sother = sother + 1
  end
end

function done(summary, latency, requests)
  local c = { s2xx = 0, s401 = 0, s4xx = 0, s5xx = 0, sother = 0 }
  for _, t in ipairs(threads) do
    for k, _ in pairs(c) do
      c[k] = c[k] + (t:get(k) or 0)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f,"status":{"2xx":%d,"401":%d,"other_4xx":%d,"5xx":%d,"other":%d}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    c.s2xx, c.s401, c.s4xx, c.s5xx, c.sother))
end
