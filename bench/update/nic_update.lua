-- wrk script for bench/update/run.py: DynDNS2 updates against pweb-node.
--
--   wrk -t T -c C -d D -s nic_update.lua http://127.0.0.1:PORT -- AUTHFILE AGENT DEVICES OFFSET T OUTFILE
--
-- AUTHFILE: one line per user, "NAME<TAB>Basic BASE64" (precomputed by run.py).
-- Request number i (i = OFFSET + thread + k * T, k = 0, 1, ...) updates
-- device  dev = i % (U * DEVICES)  named  d(dev // U).NAME.AGENT, NAME = the user on
-- line (dev % U) + 1 of AUTHFILE, U = number of users (run.py: line k+1 is uk)
-- to the IPv4 address ip(i) = 10.0.0.0 + i + 1 (so i < 2^24 - 1). Every request
-- carries an address its device never had before, so every correct answer is
-- "good 10.x.y.z"; the address in the answer maps back to i, and thus to the
-- device (wrk's response() callback does not say which request it answers).
-- done() writes OUTFILE: summary, latency percentiles, answer counts, the first
-- few unexpected answers, and per device the highest request number that was
-- sent and the highest one acknowledged with "good".

local users = {}        -- { {name=, auth=}, ... }
local agent, devices, offset, nthreads
local ndev, next_i
-- globals of a thread's state: tid (set by setup()), outfile (read by done())

-- per-thread state (read by done() through thread:get)
sent_max = {}           -- dev -> highest i sent
acked_max = {}          -- dev -> highest i acknowledged "good"
good = 0
other = 0
bad_samples = {}        -- first few unexpected answers
sent = 0

local threads = {}

local function load_users(path)
  local out = {}
  local f = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  for line in f:lines() do
    local name, auth = line:match("^(%S+)\t(.+)$")
    if name then out[#out + 1] = { name = name, auth = auth } end
  end
  f:close()
  assert(#out > 0, "no users in " .. path)
  return out
end

local function parse_args(args)
  assert(#args >= 6, "usage: -- AUTHFILE AGENT DEVICES OFFSET THREADS OUTFILE")
  users = load_users(args[1])
  agent = args[2]
  devices = tonumber(args[3])
  offset = tonumber(args[4])
  nthreads = tonumber(args[5])
  outfile = args[6]
end

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  parse_args(args)
  tid = tid or 0
  ndev = #users * devices
  next_i = offset + tid
end

local function ip_of(i)
  local n = i + 1
  return string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
end

local function i_of(a, b, c)
  return a * 65536 + b * 256 + c - 1
end

function request()
  local i = next_i
  next_i = next_i + nthreads
  local dev = i % ndev
  local u = dev % #users
  local user = users[u + 1]
  local path = "/nic/update?hostname=d" .. math.floor(dev / #users) .. "." .. user.name .. "." .. agent ..
               "&myip=" .. ip_of(i)
  sent = sent + 1
  sent_max[dev] = i
  return wrk.format("GET", path, { ["Authorization"] = user.auth, ["User-Agent"] = "pweb-bench/1" })
end

function response(status, headers, body)
  local a, b, c
  if status == 200 and body then
    a, b, c = body:match("^good 10%.(%d+)%.(%d+)%.(%d+)%s*$")
  end
  if a then
    good = good + 1
    local i = i_of(tonumber(a), tonumber(b), tonumber(c))
    local dev = i % ndev
    local prev = acked_max[dev]
    if prev == nil or i > prev then acked_max[dev] = i end
  else
    other = other + 1
    if #bad_samples < 5 then
      bad_samples[#bad_samples + 1] = tostring(status) .. " " .. tostring(body):sub(1, 200):gsub("[\r\n]", " ")
    end
  end
end

function done(summary, latency, requests)
  local f = assert(io.open(threads[1]:get("outfile"), "w"))
  f:write(string.format("duration_us %d\n", summary.duration))
  f:write(string.format("requests %d\n", summary.requests))
  f:write(string.format("bytes %d\n", summary.bytes))
  f:write(string.format("errors_connect %d\nerrors_read %d\nerrors_write %d\nerrors_status %d\nerrors_timeout %d\n",
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status,
    summary.errors.timeout))
  f:write(string.format("latency_min_us %d\nlatency_mean_us %.1f\nlatency_max_us %d\nlatency_stdev_us %.1f\n",
    latency.min, latency.mean, latency.max, latency.stdev))
  for _, p in ipairs({ 50, 75, 90, 99, 99.9 }) do
    f:write(string.format("latency_p%s_us %d\n", tostring(p), latency:percentile(p)))
  end
  local tgood, tother, tsent = 0, 0, 0
  local smax, amax = {}, {}
  for _, t in ipairs(threads) do
    tgood = tgood + t:get("good")
    tother = tother + t:get("other")
    tsent = tsent + t:get("sent")
    for dev, i in pairs(t:get("sent_max")) do
      if smax[dev] == nil or i > smax[dev] then smax[dev] = i end
    end
    for dev, i in pairs(t:get("acked_max")) do
      if amax[dev] == nil or i > amax[dev] then amax[dev] = i end
    end
    for _, s in ipairs(t:get("bad_samples")) do
      f:write("bad " .. s .. "\n")
    end
  end
  f:write(string.format("good %d\nother %d\nsent %d\n", tgood, tother, tsent))
  for dev, i in pairs(smax) do
    f:write(string.format("dev %d %d %d\n", dev, i, amax[dev] or -1))
  end
  f:close()
end
