-- POST one chat request body over and over; print a JSON summary line when done.
--
-- Environment: BENCH_BODY (path of the JSON request body), BENCH_KEY (API key sent as
-- "Authorization: Bearer ..."; may be empty), BENCH_HEADERS (optional extra request
-- headers, one "Name: value" per line). bench/load.py reads the line starting with
-- "BENCH_JSON " from wrk's stdout.

local file = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("BENCH_KEY") or ""
if key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end
for line in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^\r\n]+") do
  local name, value = string.match(line, "^%s*([^:%s]+)%s*:%s*(.-)%s*$")
  if name then
    wrk.headers[name] = value
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
