-- wrk script for bench/alertmanager.sh, in one of two shapes:
--
--   api      Alertmanager API v2 posts (POST /api/v2/alerts), the way Prometheus sends to an
--            Alertmanager: every request carries BATCH (default 100) alerts.
--   webhook  Alertmanager webhook notifications (POST /integrations/KEY/alertmanager), the way an
--            Alertmanager in front of Opsdeck notifies: one group of 1 to BATCH alerts each
--            (uniform, seeded per thread). Run one connection per thread (-tN -cN), so each
--            answer belongs to the thread's last request.
--
--   wrk -t1 -c1 -d20s --latency -s bench/alertmanager.lua http://127.0.0.1:PORT/api/v2/alerts -- KEY BATCH
--   wrk -t2 -c2 -d20s --latency -s bench/alertmanager.lua URL/integrations/KEY/alertmanager -- KEY BATCH webhook
--
-- Every alert is new (distinct `instance` labels and fingerprints: the costly case). Responses
-- are counted by status; done() prints machine-readable "am.NAME VALUE" lines, where
-- `alerts_ok` is the alerts of 200/202 answers.

local threads = {}
local next_id = 0

function setup(thread)
   next_id = next_id + 1
   thread:set("tid", next_id)
   table.insert(threads, thread)
end

function init(args)
   local key = args[1] or error("usage: wrk ... -s alertmanager.lua URL -- KEY [BATCH] [api|webhook]")
   batch = tonumber(args[2]) or 100
   webhook = args[3] == "webhook"
   headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key }
   counter, group, sent = 0, 0, 0
   ok, alerts_ok, s429, other, first_other = 0, 0, 0, 0, 0
   math.randomseed(tid)
end

local function alert()
   counter = counter + 1
   local inst = "host-" .. tid .. "-" .. counter
   local a = '{"labels":{"alertname":"BenchDiskFull","severity":"warning","job":"node","instance":"'
      .. inst .. ':9100"},"annotations":{"summary":"Disk 95% full on ' .. inst .. '"},'
      .. '"generatorURL":"http://prometheus:9090/graph?g0.expr=disk"'
   if webhook then
      a = a .. ',"status":"firing","startsAt":"2026-11-29T10:00:00Z","endsAt":"0001-01-01T00:00:00Z",'
         .. '"fingerprint":"' .. string.format("%08x%08x", tid, counter) .. '"'
   end
   return a .. "}"
end

function request()
   sent = webhook and math.random(1, batch) or batch
   local parts = {}
   for i = 1, sent do parts[i] = alert() end
   local alerts = "[" .. table.concat(parts, ",") .. "]"
   if not webhook then
      return wrk.format("POST", nil, headers, alerts)
   end
   group = group + 1
   local body = '{"version":"4","groupKey":"{}:{g=\\"' .. tid .. '-' .. group .. '\\"}","truncatedAlerts":0,'
      .. '"status":"firing","receiver":"opsdeck","groupLabels":{"alertname":"BenchDiskFull"},'
      .. '"commonLabels":{"alertname":"BenchDiskFull","severity":"warning"},"commonAnnotations":{},'
      .. '"externalURL":"http://alertmanager:9093","alerts":' .. alerts .. '}'
   return wrk.format("POST", nil, headers, body)
end

function response(status)
   if status == 200 or status == 202 then
      ok = ok + 1
      alerts_ok = alerts_ok + sent
   elseif status == 429 then
      s429 = s429 + 1
   else
      if first_other == 0 then first_other = status end
      other = other + 1
   end
end

function done(summary, latency, _)
   local t_ok, t_alerts, t_429, t_other, first = 0, 0, 0, 0, 0
   for _, t in ipairs(threads) do
      t_ok = t_ok + (tonumber(t:get("ok")) or 0)
      t_alerts = t_alerts + (tonumber(t:get("alerts_ok")) or 0)
      t_429 = t_429 + (tonumber(t:get("s429")) or 0)
      t_other = t_other + (tonumber(t:get("other")) or 0)
      if first == 0 then first = tonumber(t:get("first_other")) or 0 end
   end
   local secs = summary.duration / 1e6
   local e = summary.errors
   local out = {
      { "duration_s", string.format("%.3f", secs) },
      { "requests_ok", t_ok },
      { "alerts_ok", t_alerts },
      { "status_429", t_429 },
      { "status_other", t_other },
      { "first_unexpected_status", first },
      { "socket_errors", e.connect + e.read + e.write + e.timeout },
      { "alerts_per_s", string.format("%.1f", t_alerts / secs) },
      { "latency_p50_ms", string.format("%.2f", latency:percentile(50) / 1000) },
      { "latency_p99_ms", string.format("%.2f", latency:percentile(99) / 1000) },
      { "latency_max_ms", string.format("%.2f", latency.max / 1000) },
   }
   io.write("\n")
   for _, kv in ipairs(out) do io.write(string.format("am.%s %s\n", kv[1], tostring(kv[2]))) end
end
