-- Shared by the wrk scenarios: token tables, per-thread partitions and the RESULT line.
local M = {}

local threads = {}
local counter = 0

function M.setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

-- Users of this thread: every nthreads-th entry, so two threads never write the same user.
function M.partition(all, tid, nthreads)
  local mine = {}
  for i = tid + 1, #all, nthreads do
    table.insert(mine, all[i])
  end
  return mine
end

function M.done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, errors, summary.errors.status))
end

return M
