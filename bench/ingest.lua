-- wrk script for bench/ingest.sh: PagerDuty Events API v2 triggers to /v2/enqueue.
--
--   wrk -t2 -c64 -d60s --latency -s bench/ingest.lua http://127.0.0.1:PORT/v2/enqueue -- ROUTING_KEY [HOT_KEYS] [NEW_SHARE]
--
-- Each request gets its own body. With probability NEW_SHARE (default 0.5) the dedup key is
-- fresh ("new-THREAD-N": a new alert); otherwise it is one of HOT_KEYS (default 1,000) keys
-- shared by all threads ("hot-N": a repeat, deduplicated into the open alert).
-- Responses are counted by status; done() prints machine-readable "ingest.NAME VALUE" lines.

local threads = {}
local next_id = 0

-- Runs in the main Lua state, once per thread.
function setup(thread)
   next_id = next_id + 1
   thread:set("tid", next_id)
   table.insert(threads, thread)
end

-- Runs in each thread's own Lua state.
function init(args)
   routing_key = args[1] or error("usage: wrk ... -s ingest.lua URL -- ROUTING_KEY [HOT_KEYS] [NEW_SHARE]")
   hot_keys = tonumber(args[2]) or 1000
   new_share = tonumber(args[3]) or 0.5
   math.randomseed(os.time() * 1000 + tid)
   headers = { ["Content-Type"] = "application/json" }
   counter = 0
   sent_new, sent_hot = 0, 0
   -- Response counts, read by done() through thread:get.
   s202, s429, s4xx, s5xx, sother = 0, 0, 0, 0, 0
   first_other = 0
end

function request()
   counter = counter + 1
   local key
   if math.random() < new_share then
      key = "new-" .. tid .. "-" .. counter
      sent_new = sent_new + 1
   else
      key = "hot-" .. math.random(0, hot_keys - 1)
      sent_hot = sent_hot + 1
   end
   local body = '{"routing_key":"' .. routing_key .. '","event_action":"trigger","dedup_key":"' .. key
      .. '","payload":{"summary":"bench event ' .. key .. '","source":"bench","severity":"warning"}}'
   return wrk.format("POST", nil, headers, body)
end

-- Only the status is looked at: parsing bodies would spend the load generator's CPU (it shares
-- the machine with the server). New vs repeat among accepted events follows the sent shares.
function response(status)
   if status == 202 then
      s202 = s202 + 1
   elseif status == 429 then
      s429 = s429 + 1
   else
      if first_other == 0 then first_other = status end
      if status >= 500 then s5xx = s5xx + 1
      elseif status >= 400 then s4xx = s4xx + 1
      else sother = sother + 1 end
   end
end

function done(summary, latency, _)
   local names = { "s202", "s429", "s4xx", "s5xx", "sother", "sent_new", "sent_hot" }
   local total = {}
   for _, n in ipairs(names) do total[n] = 0 end
   local first_other = 0
   for _, t in ipairs(threads) do
      for _, n in ipairs(names) do total[n] = total[n] + (tonumber(t:get(n)) or 0) end
      local f = tonumber(t:get("first_other")) or 0
      if first_other == 0 then first_other = f end
   end
   local secs = summary.duration / 1e6
   local e = summary.errors
   local out = {
      { "duration_s", string.format("%.3f", secs) },
      { "responses", summary.requests },
      { "status_202", total.s202 },
      { "status_429", total.s429 },
      { "status_4xx_other", total.s4xx },
      { "status_5xx", total.s5xx },
      { "status_other", total.sother },
      { "first_unexpected_status", first_other },
      { "accepted_new", math.floor(total.s202 * total.sent_new / math.max(1, total.sent_new + total.sent_hot)) },
      { "accepted_repeat", total.s202 - math.floor(total.s202 * total.sent_new / math.max(1, total.sent_new + total.sent_hot)) },
      { "sent_new", total.sent_new },
      { "sent_repeat", total.sent_hot },
      { "socket_errors", e.connect + e.read + e.write + e.timeout },
      { "timeouts", e.timeout },
      { "accepted_per_s", string.format("%.1f", total.s202 / secs) },
      { "latency_p50_ms", string.format("%.2f", latency:percentile(50) / 1000) },
      { "latency_p99_ms", string.format("%.2f", latency:percentile(99) / 1000) },
      { "latency_max_ms", string.format("%.2f", latency.max / 1000) },
   }
   io.write("\n")
   for _, kv in ipairs(out) do io.write(string.format("ingest.%s %s\n", kv[1], tostring(kv[2]))) end
end
