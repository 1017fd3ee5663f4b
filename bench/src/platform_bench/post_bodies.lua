-- wrk script: POST a stream of distinct bodies, read from a file with one body per line.
--
--   wrk ... -s post_bodies.lua <url> -- <bodies file> <content type> <threads>
--
-- Every request of a thread takes the next line; thread k starts k/threads of the way into the file, so the
-- threads do not send the same bodies in step. The requests are formatted once in init(), so the script adds
-- no work per request. response() is deliberately not defined: defining it makes wrk hand every response to
-- Lua; wrk itself counts statuses above 399 (summary.errors.status).
-- done() prints one line "WRK_RESULT {json}" that platform_bench.wrk parses; latencies are in microseconds.

local thread_count = 0

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
end

local requests = {}
local position = 1

function init(args)
  local path, content_type, threads = args[1], args[2], tonumber(args[3])
  wrk.method = "POST"
  wrk.headers["Content-Type"] = content_type
  for line in io.lines(path) do
    if #line > 0 then
      requests[#requests + 1] = wrk.format(nil, nil, nil, line)
    end
  end
  if #requests == 0 then
    error("no bodies in " .. path)
  end
  position = math.floor(thread_index * #requests / threads) % #requests + 1
end

function request()
  local r = requests[position]
  position = position % #requests + 1
  return r
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "errors": {"connect": %d, "read": %d, ' ..
    '"write": %d, "timeout": %d, "status": %d}, "latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, ' ..
    '"mean": %.1f}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
