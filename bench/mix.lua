-- 90 % GET /api/v1/profiles/me over the read users, 10 % PATCH with If-Match over this thread's write users.
package.path = package.path .. ";" .. os.getenv("BENCH_DIR") .. "/?.lua"
local common = require("common")
local readers = dofile(os.getenv("BENCH_TOKENS"))
local all = dofile(os.getenv("BENCH_WRITE_TOKENS"))
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
local mine, sent = {}, {}
local r, w, k = 0, 0, 0
setup = common.setup
done = common.done

function init(args)
  mine = common.partition(all, tid, nthreads)
  r = common.slot(tid) * 997
end

local primed = false

request = function()
  -- wrk calls request() once on the first thread only to inspect it, and never sends that one: answer it
  -- with a harmless read, so it cannot advance a user's expected version.
  if not primed then
    primed = true
    return wrk.format("GET", "/health")
  end
  k = k + 1
  if k % 10 ~= 0 then
    r = (r % #readers) + 1
    return wrk.format("GET", "/api/v1/profiles/me", { ["Authorization"] = "Bearer " .. readers[r][2] })
  end
  w = (w % #mine) + 1
  local n = (sent[w] or 0)
  sent[w] = n + 1
  return wrk.format("PATCH", "/api/v1/profiles/me", {
    ["Authorization"] = "Bearer " .. mine[w][2],
    ["Content-Type"] = "application/merge-patch+json",
    ["If-Match"] = '"' .. (n + 1) .. '"',
  }, '{"display_name":"mix ' .. n .. '"}')
end
