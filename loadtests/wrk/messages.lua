-- wrk script: POST one chat message per request, spread over pre-created sessions.
--
--   wrk -t2 -c100 -d20s --latency -s loadtests/wrk/messages.lua http://127.0.0.1:8000 \
--       -- TARGETS_FILE [BODY_FIELD] [TEXT] [THREADS]
--
-- TARGETS_FILE has one line per session: "<session id> <bearer key or ->". Each
-- request goes to POST /v1/sessions/<id>/messages with {"<BODY_FIELD>": "<TEXT>"}
-- (BODY_FIELD "text" for Orchestra and the bare app, "message" for the LangGraph
-- peer), cycling over the sessions. THREADS (wrk's -t, default 2) splits the
-- session list into one equal slice per thread to start from. done() prints one
-- line "WRK_JSON {...}" with the counts, latency percentiles (microseconds) and
-- the HTTP status histogram, which loadtests/bench/load.py parses.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local requests_list = {}
local idx = 0
statuses = {}  -- global: done() reads it per thread with thread:get

local function json_escape(s)
  return (s:gsub('\\', '\\\\'):gsub('"', '\\"'))
end

function init(args)
  local path = args[1]
  if path == nil then
    error("messages.lua needs a targets file: wrk ... -s messages.lua URL -- FILE")
  end
  local field = args[2] or "text"
  local text = args[3] or "what services do you have?"
  local body = string.format('{"%s": "%s"}', json_escape(field), json_escape(text))
  for line in io.lines(path) do
    local sid, key = line:match("^(%S+)%s*(%S*)")
    if sid ~= nil then
      local headers = { ["Content-Type"] = "application/json" }
      if key ~= nil and key ~= "" and key ~= "-" then
        headers["Authorization"] = "Bearer " .. key
      end
      table.insert(requests_list,
        wrk.format("POST", "/v1/sessions/" .. sid .. "/messages", headers, body))
    end
  end
  if #requests_list == 0 then
    error("no sessions in " .. path)
  end
  -- Threads start an equal slice apart so they do not march over the same
  -- sessions: two requests of one session at once wait for each other (the
  -- session serializes them), which would measure the overlap, not the server.
  local nthreads = tonumber(args[4] or "2")
  idx = math.floor(tid * #requests_list / nthreads) % #requests_list
  statuses = {}
end

function request()
  idx = idx % #requests_list + 1
  return requests_list[idx]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    local st = thread:get("statuses")
    if st ~= nil then
      for code, n in pairs(st) do
        merged[code] = (merged[code] or 0) + n
      end
    end
  end
  local parts = {}
  for code, n in pairs(merged) do
    table.insert(parts, string.format('"%d": %d', code, n))
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, '
    .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
    .. '"latency_us": {"min": %d, "mean": %.1f, "max": %d, "stdev": %.1f, '
    .. '"p50": %d, "p90": %d, "p95": %d, "p99": %d}, "statuses": {%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency.stdev,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), table.concat(parts, ", ")))
end
