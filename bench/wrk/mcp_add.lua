-- wrk script: POST a JSON-RPC tools/call `add` with a bearer token.
--   BENCH_TOKENS  file with one token per line ("" or unset: no Authorization)
--   BENCH_BODY    file with the request body
-- With several tokens, each wrk thread cycles through its own disjoint slice
-- of the list, so two threads never send the same token back to back (the
-- "unique" mode relies on this to miss the gateway's token cache).
-- done() prints one line, "BENCH_RESULT key=value ...", that bench/run parses.

local thread_count = 0
function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
end

local function read_lines(path)
  local lines = {}
  local f = assert(io.open(path, "r"))
  for line in f:lines() do
    if #line > 0 then lines[#lines + 1] = line end
  end
  f:close()
  return lines
end

local function read_all(path)
  local f = assert(io.open(path, "r"))
  local data = f:read("*a")
  f:close()
  return data
end

local requests = {}
local next_index = 1

function init(args)
  local body = read_all(os.getenv("BENCH_BODY"))
  local headers = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
  }
  local session = os.getenv("BENCH_SESSION") or ""
  if session ~= "" then headers["Mcp-Session-Id"] = session end
  local tokens_path = os.getenv("BENCH_TOKENS") or ""
  if tokens_path == "" then
    requests[1] = wrk.format("POST", nil, headers, body)
    return
  end
  local tokens = read_lines(tokens_path)
  local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
  local index = thread_index or 0
  -- Disjoint slices, one per thread; a single token is shared by everyone.
  local first, last = 1, #tokens
  if #tokens >= threads and #tokens > 1 then
    local per = math.floor(#tokens / threads)
    first = index * per + 1
    last = first + per - 1
  end
  for i = first, last do
    headers["Authorization"] = "Bearer " .. tokens[i]
    requests[#requests + 1] = wrk.format("POST", nil, headers, body)
  end
end

function request()
  local r = requests[next_index]
  next_index = next_index + 1
  if next_index > #requests then next_index = 1 end
  return r
end

function done(summary, latency, requests_)
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d " ..
    "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
end
