-- GET /api/v1/users/{id}/addresses/defaults with one service token, rotating over the user ids.
package.path = package.path .. ";" .. os.getenv("BENCH_DIR") .. "/?.lua"
local common = require("common")
local users = dofile(os.getenv("BENCH_TOKENS"))
local service = dofile(os.getenv("BENCH_SERVICE_TOKEN"))[1][2]
local i = 0
setup = common.setup
done = common.done

function init(args)
  i = common.slot(tid) * 997
end

request = function()
  i = (i % #users) + 1
  return wrk.format("GET", "/api/v1/users/" .. users[i][1] .. "/addresses/defaults",
    { ["Authorization"] = "Bearer " .. service })
end
