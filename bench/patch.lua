-- PATCH /api/v1/profiles/me with If-Match. Each thread writes its own users; the expected version of each is
-- 1 + the number of patches this thread sent it (every patch changes display_name), so If-Match is always right
-- as long as no request fails.
package.path = package.path .. ";" .. os.getenv("BENCH_DIR") .. "/?.lua"
local common = require("common")
local all = dofile(os.getenv("BENCH_WRITE_TOKENS"))
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
local mine, sent = {}, {}
local i = 0
setup = common.setup
done = common.done

function init(args)
  mine = common.partition(all, tid, nthreads)
end

local primed = false

request = function()
  -- wrk calls request() once on the first thread only to inspect it, and never sends that one: answer it
  -- with a harmless read, so it cannot advance a user's expected version.
  if not primed then
    primed = true
    return wrk.format("GET", "/health")
  end
  i = (i % #mine) + 1
  local n = (sent[i] or 0)
  sent[i] = n + 1
  return wrk.format("PATCH", "/api/v1/profiles/me", {
    ["Authorization"] = "Bearer " .. mine[i][2],
    ["Content-Type"] = "application/merge-patch+json",
    ["If-Match"] = '"' .. (n + 1) .. '"',
  }, '{"display_name":"bench ' .. n .. '"}')
end
