-- GET /api/v1/profiles/me, rotating over the users' tokens.
package.path = package.path .. ";" .. os.getenv("BENCH_DIR") .. "/?.lua"
local common = require("common")
local users = dofile(os.getenv("BENCH_TOKENS"))
local i = 0
setup = common.setup
done = common.done

function init(args)
  i = common.slot(tid) * 997
end

request = function()
  i = (i % #users) + 1
  return wrk.format("GET", "/api/v1/profiles/me", { ["Authorization"] = "Bearer " .. users[i][2] })
end
