-- wrk script for bench/alertmanager.sh: Alertmanager API v2 posts (POST /api/v2/alerts), the way
-- Prometheus sends to an Alertmanager.
--
--   wrk -t1 -c1 -d20s --latency -s bench/alertmanager.lua http://127.0.0.1:PORT/api/v2/alerts -- KEY BATCH
--
-- Each request carries BATCH (default 100) alerts that have never been sent before (distinct
-- `instance` labels: every alert is a new one, the costly case). Responses are counted by status;
-- done() prints machine-readable "am.NAME VALUE" lines, where `alerts_ok` is alerts in 200s.

local threads = {}
local next_id = 0

function setup(thread)
   next_id = next_id + 1
   thread:set("tid", next_id)
   table.insert(threads, thread)
end

function init(args)
   local key = args[1] or error("usage: wrk ... -s alertmanager.lua URL -- KEY [BATCH]")
   batch = tonumber(args[2]) or 100
   headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key }
   counter = 0
   ok, s429, other, first_other = 0, 0, 0, 0
end

function request()
   local parts = {}
   for i = 1, batch do
      counter = counter + 1
      parts[i] = '{"labels":{"alertname":"BenchDiskFull","severity":"warning","job":"node","instance":"host-'
         .. tid .. '-' .. counter .. ':9100"},"annotations":{"summary":"Disk 95% full on host-' .. tid .. '-'
         .. counter .. '"},"generatorURL":"http://prometheus:9090/graph?g0.expr=disk"}'
   end
   return wrk.format("POST", nil, headers, "[" .. table.concat(parts, ",") .. "]")
end

function response(status)
   if status == 200 then
      ok = ok + 1
   elseif status == 429 then
      s429 = s429 + 1
   else
      if first_other == 0 then first_other = status end
      other = other + 1
   end
end

function done(summary, latency, _)
   local t_ok, t_429, t_other, first, b = 0, 0, 0, 0, 0
   for _, t in ipairs(threads) do
      t_ok = t_ok + (tonumber(t:get("ok")) or 0)
      t_429 = t_429 + (tonumber(t:get("s429")) or 0)
      t_other = t_other + (tonumber(t:get("other")) or 0)
      if first == 0 then first = tonumber(t:get("first_other")) or 0 end
      b = tonumber(t:get("batch")) or b
   end
   local secs = summary.duration / 1e6
   local e = summary.errors
   local out = {
      { "duration_s", string.format("%.3f", secs) },
      { "requests_ok", t_ok },
      { "alerts_ok", t_ok * b },
      { "status_429", t_429 },
      { "status_other", t_other },
      { "first_unexpected_status", first },
      { "socket_errors", e.connect + e.read + e.write + e.timeout },
      { "alerts_per_s", string.format("%.1f", t_ok * b / secs) },
      { "latency_p50_ms", string.format("%.2f", latency:percentile(50) / 1000) },
      { "latency_p99_ms", string.format("%.2f", latency:percentile(99) / 1000) },
      { "latency_max_ms", string.format("%.2f", latency.max / 1000) },
   }
   io.write("\n")
   for _, kv in ipairs(out) do io.write(string.format("am.%s %s\n", kv[1], tostring(kv[2]))) end
end
