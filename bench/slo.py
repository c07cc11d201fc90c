"""SLO evaluation cost (issue 14): 1,000 availability SLOs, each on two of 1,000 monitors with
28 days of hourly rollups and an hour of raw results, evaluated once a minute by the SLO
evaluator. Target: under 5 % of one core.

The monitors (paused, so nothing is checked) and SLOs are created through the API; the history
is written straight into the SQLite database with the server stopped. The server is then
started and left alone for two evaluation passes; the bench reports the process' CPU over those
two minutes (everything the idle server does, so an upper bound) and the passes' own duration
from `opsdeck_slo_evaluation_seconds` on /metrics.

    python3 bench/slo.py BIN            # SLOS=1000
"""
import json, os, re, sqlite3, subprocess, sys, tempfile, time, uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kpi import call, free_port, start, stop  # noqa: E402
from monitors import cpu_ms  # noqa: E402

BIN = sys.argv[1]
SLOS = int(os.environ.get("SLOS", 1000))
HOUR_MS = 3_600_000


def seed(db_path, monitors, now_ms):
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    cols = "monitor_id, resolution, bucket, total, failures, degraded, maintenance, maint_failures, latency_sum, " + \
        ", ".join(f"h{i}" for i in range(17))
    marks = ", ".join("?" * (9 + 17))
    zeros = (0,) * 17
    hour = now_ms // HOUR_MS * HOUR_MS
    t0 = time.time()
    for h in range(28 * 24, -1, -1):
        bucket = hour - h * HOUR_MS
        rows = [(m, 3600, bucket, 60, (h + i) % 97 == 0, 0, 0, 0, 60 * 35.0) + zeros for i, m in enumerate(monitors)]
        db.executemany(f"INSERT INTO check_rollups ({cols}) VALUES ({marks})", rows)
    info = [r[1] for r in db.execute("PRAGMA table_info(check_results)")]
    raw = []
    for i, m in enumerate(monitors):
        for minute in range(60):
            raw.append({"id": uuid.uuid4().bytes, "monitor_id": m, "at": now_ms - minute * 60_000,
                        "status": "down" if (i + minute) % 50 == 0 else "up", "latency_ms": 35.0, "reason": ""})
    keys = [k for k in raw[0] if k in info]
    db.executemany(f"INSERT INTO check_results ({', '.join(keys)}) VALUES ({', '.join('?' * len(keys))})",
                   [tuple(r[k] for k in keys) for r in raw])
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    print(f"seeded {len(monitors) * (28 * 24 + 1):,} hourly rollups and {len(raw):,} raw results "
          f"in {time.time() - t0:.0f} s", flush=True)


def evaluations(port, token):
    body, _ = call(port, "GET", "/metrics", token)
    text = body.decode()
    num = lambda name: float((re.findall(rf"^{name} (\S+)$", text, re.M) or ["0"])[0])
    return num("opsdeck_slo_evaluation_seconds_sum"), num("opsdeck_slo_evaluation_seconds_count")


def main():
    work = tempfile.mkdtemp(prefix="opsdeck-slo-bench.")
    os.environ.update(OPSDECK_DATA_DIR=work, OPSDECK_LOG="warn")
    subprocess.run([BIN, "user", "add", "--username", "bench", "--role", "admin", "--password-stdin"],
                   input=b"bench password 123\n", check=True, stdout=subprocess.DEVNULL)
    token = subprocess.run([BIN, "token", "create", "--user", "bench", "--name", "bench"], check=True,
                           capture_output=True).stdout.decode().strip().splitlines()[-1]
    port = free_port()
    p = start(work, port)
    services = []
    for i in range(SLOS // 10):
        body, _ = call(port, "POST", "/api/v1/services", token, {"name": f"Service {i:03}"})
        services.append(json.loads(body)["id"])
    monitors = []
    for start_i in range(0, SLOS, 1000):
        batch = [{"name": f"check {i:05}", "service_id": services[i % len(services)], "type": "http",
                  "paused": True, "interval_seconds": 60, "settings": {"url": f"http://127.0.0.1:9/{i}"}}
                 for i in range(start_i, min(SLOS, start_i + 1000))]
        body, _ = call(port, "POST", "/api/v1/monitors/batch", token, {"monitors": batch})
        monitors += json.loads(body)["ids"]
    for i in range(SLOS):
        pair = [monitors[i], monitors[(i + 1) % len(monitors)]]
        call(port, "POST", "/api/v1/slos", token, {
            "name": f"SLO {i:04}", "service_id": services[i % len(services)], "target": 0.999,
            "sli": {"type": "availability", "monitor_ids": pair}, "window": {"rolling_days": 28}})
    stop(p)
    now_ms = int(time.time() * 1000)
    seed(os.path.join(work, "opsdeck.db"), [uuid.UUID(m).bytes for m in monitors], now_ms)

    p = start(work, port)
    # The first pass runs at start; measure from just after it over the next two.
    while evaluations(port, token)[1] < 1:
        time.sleep(0.5)
    cpu0, t0, (sum0, n0) = cpu_ms(p.pid), time.time(), evaluations(port, token)
    while evaluations(port, token)[1] < n0 + 2:
        time.sleep(1)
    cpu1, t1, (sum1, n1) = cpu_ms(p.pid), time.time(), evaluations(port, token)
    body, _ = call(port, "GET", "/api/v1/slos", token)
    sample = json.loads(body)["items"][0]
    stop(p)
    share = (cpu1 - cpu0) / ((t1 - t0) * 1000) * 100
    print(f"{SLOS:,} SLOs on {len(monitors):,} monitors; one SLO now: SLI {sample['sli_value']}, "
          f"burn 1h {sample['burn_rates']['1h']}")
    print(f"evaluation pass: {(sum1 - sum0) / max(n1 - n0, 1) * 1000:.0f} ms of wall time each ({n1 - n0:.0f} passes)")
    print(f"server CPU over {t1 - t0:.0f} s: {cpu1 - cpu0:.0f} ms = {share:.2f} % of one core (target < 5 %)")
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
