-- wrk script: POST /get-online-features for ENTITIES random keys in [0, KEYS) and every
-- feature of FEATURE_VIEW, plus the references in EXTRA (comma-separated) and, when REQUEST
-- names a request value, a random number of it per entity (environment variables; see
-- bench/serving.py and bench/on_demand.py).
local entities = tonumber(os.getenv("ENTITIES") or "1")
local keys = tonumber(os.getenv("KEYS") or "1000000")
local view = os.getenv("FEATURE_VIEW") or "driver_stats"
local features = tonumber(os.getenv("FEATURES") or "10")
local join_key = os.getenv("JOIN_KEY") or "driver_id"
local extra = os.getenv("EXTRA") or ""
local request_value = os.getenv("REQUEST") or ""

local names = {}
for i = 0, features - 1 do names[#names + 1] = '"' .. view .. ':f' .. i .. '"' end
for name in string.gmatch(extra, "[^,]+") do names[#names + 1] = '"' .. name .. '"' end
local prefix = '{"features": [' .. table.concat(names, ",") .. '], "entities": {"' .. join_key .. '": ['

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

-- Requests are drawn from a pool made once per thread, so building them costs the load
-- generator (which shares the machine with the server) almost nothing per request.
local pool, next_request = {}, 0

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
  for r = 1, 10000 do
    local ids = {}
    for i = 1, entities do ids[i] = math.random(0, keys - 1) end
    local body = prefix .. table.concat(ids, ",") .. "]"
    if request_value ~= "" then
      local values = {}
      for i = 1, entities do values[i] = string.format("%.6f", math.random()) end
      body = body .. ', "' .. request_value .. '": [' .. table.concat(values, ",") .. "]"
    end
    pool[r] = wrk.format(nil, "/get-online-features", nil, body .. "}}")
  end
end

function request()
  next_request = next_request % #pool + 1
  return pool[next_request]
end

function done(summary, latency, requests)
  io.write(string.format('{"requests": %d, "duration_s": %.3f, "errors": %d, "non2xx": %d, ' ..
      '"p50_us": %d, "p99_us": %d, "p999_us": %d}\n', summary.requests,
      summary.duration / 1e6, summary.errors.connect + summary.errors.read + summary.errors.write +
      summary.errors.timeout, summary.errors.status, latency:percentile(50),
      latency:percentile(99), latency:percentile(99.9)))
end
