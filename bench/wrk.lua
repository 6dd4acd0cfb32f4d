-- One wrk script for every endpoint, the app's and the baseline's alike.
--
-- Read from the environment (set by bench/run.py):
--   BENCH_PATHS    file with one request per line; requests cycle through them, each wrk
--                  thread starting at a different offset. A line is a path, optionally
--                  followed by a tab and that request's body (empty: BENCH_BODY) and by a
--                  tab and its bearer token (Authorization header)
--   BENCH_METHOD   GET (default) or POST
--   BENCH_BODY     request body (POST), sent as application/json
--   BENCH_HEADERS  extra headers, one "Name: value" per line
--   BENCH_IDEMPOTENCY_PREFIX  when set, every request gets its own Idempotency-Key:
--                  the prefix (new for each wrk run), the thread's number and a counter
-- done() prints one line "BENCH_JSON {...}" with the exact numbers run.py parses
-- (latency in microseconds), beside wrk's own --latency report.

local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
local headers = {}
for line in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^\n]+") do
  local name, value = string.match(line, "^([^:]+):%s*(.*)$")
  if name then
    headers[name] = value
  end
end
if body == "" then
  body = nil
end
local key_prefix = os.getenv("BENCH_IDEMPOTENCY_PREFIX") or ""

-- Each request: {path, body or nil, token or nil}.
local paths = {}
local file = assert(io.open(assert(os.getenv("BENCH_PATHS"), "BENCH_PATHS unset"), "r"))
for line in file:lines() do
  if line ~= "" then
    local fields = {}
    for item in string.gmatch(line .. "\t", "([^\t]*)\t") do
      fields[#fields + 1] = item
    end
    local line_body = fields[2]
    if line_body == nil or line_body == "" then
      line_body = body
    end
    local token = fields[3]
    if token == "" then
      token = nil
    end
    paths[#paths + 1] = {fields[1], line_body, token}
  end
end
file:close()
assert(#paths > 0, "BENCH_PATHS lists no path")

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_no", counter)
  threads[#threads + 1] = thread
end

local position = 0
local sent = 0

function init(args)
  -- Threads start far apart in the list, so that they do not ask for the same rows.
  position = math.floor(((thread_no or 1) - 1) * #paths / 2)
end

function request()
  position = position % #paths + 1
  local item = paths[position]
  local these = {}
  for name, value in pairs(headers) do
    these[name] = value
  end
  if item[2] then
    these["Content-Type"] = "application/json"
  end
  if item[3] then
    these["Authorization"] = "Bearer " .. item[3]
  end
  if key_prefix ~= "" then
    sent = sent + 1
    these["Idempotency-Key"] = key_prefix .. "-" .. (thread_no or 1) .. "-" .. sent
  end
  return wrk.format(method, item[1], these, item[2])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean
  ))
end
