-- Shared by the wrk scenarios: token tables, per-thread partitions and the RESULT line.
local M = {}

-- Several wrk processes may load one data set at once (the two-instance run of bench/run.sh: one wrk process
-- per service instance, each with its own threads): this process is BENCH_PART (0-based) of BENCH_PARTS,
-- default 0 of 1. Its threads take slots part * nthreads .. part * nthreads + nthreads - 1 of
-- parts * nthreads, so no two threads of any process share a slot.
local part = tonumber(os.getenv("BENCH_PART") or "0")
local parts = tonumber(os.getenv("BENCH_PARTS") or "1")
local threads_per_part = tonumber(os.getenv("BENCH_THREADS") or "2")

-- The slot of thread `tid` over every wrk process: where its rotation over the readers starts.
function M.slot(tid)
  return part * threads_per_part + tid
end

local threads = {}
local counter = 0

function M.setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

-- Users of this thread: every (nthreads * parts)-th entry from its slot, so two threads, of this wrk process
-- or of another one started with another BENCH_PART, never write the same user.
function M.partition(all, tid, nthreads)
  local mine = {}
  for i = part * nthreads + tid + 1, #all, nthreads * parts do
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
