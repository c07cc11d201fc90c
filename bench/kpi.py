"""The KPI dashboard and the monthly report over a large history (issue 14): 20,000 monitors in
200 services with a year of daily rollups, 100,000 incidents and their alerts over the year.

Services and monitors (paused, so nothing is checked) are created through the API; the history
is then written straight into the SQLite database with the server stopped, as a year of running
would have left it. Prints p50/p95 of `GET /api/v1/reports/kpi?period=…` (the dashboard's
numbers), of the dashboard page itself, and the time of the printable monthly report.

    python3 bench/kpi.py BIN            # MONITORS=20000 INCIDENTS=100000 RUNS=20
"""
import http.client, json, os, random, signal, socket, sqlite3, subprocess, sys, tempfile, time, uuid
from datetime import datetime, timedelta, timezone

BIN = sys.argv[1]
MONITORS = int(os.environ.get("MONITORS", 20000))
INCIDENTS = int(os.environ.get("INCIDENTS", 100000))
SERVICES = int(os.environ.get("SERVICES", 200))
RUNS = int(os.environ.get("RUNS", 20))
DAY_MS = 86_400_000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, method, path, token=None, body=None, cookie=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    if cookie:
        headers["cookie"] = cookie
    c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = c.getresponse()
    data = r.read()
    if r.status >= 400:
        raise RuntimeError(f"{method} {path}: {r.status} {data[:300]!r}")
    return data, r


def start(work, port):
    log = open(os.path.join(work, "server.log"), "ab")
    p = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}"], cwd=work, stdout=log, stderr=log)
    for _ in range(3000):
        try:
            call(port, "GET", "/readyz")
            return p
        except (OSError, RuntimeError):
            time.sleep(0.02)
    raise RuntimeError("the server did not start")


def stop(p):
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)


def quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def seed(db_path, monitors, services, now_ms):
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    rng = random.Random(14)
    today = now_ms // DAY_MS * DAY_MS
    cols = "monitor_id, resolution, bucket, total, failures, degraded, maintenance, maint_failures, latency_sum, " + \
        ", ".join(f"h{i}" for i in range(17))
    marks = ", ".join("?" * (9 + 17))
    zeros = (0,) * 17
    t0 = time.time()
    for day in range(365, 0, -1):
        bucket = today - day * DAY_MS
        rows = []
        for m in monitors:
            fail = rng.random() < 0.02 and rng.randint(1, 60) or 0
            maint = rng.random() < 0.01 and 60 or 0
            rows.append((m, 86400, bucket, 1440, fail, 0, maint, min(fail, maint), 1440 * 35.0) + zeros)
        db.executemany(f"INSERT INTO check_rollups ({cols}) VALUES ({marks})", rows)
    db.commit()
    print(f"seeded {365 * len(monitors):,} daily rollups in {time.time() - t0:.0f} s", flush=True)

    info = {r[1]: r for r in db.execute("PRAGMA table_info(incidents)")}
    t0 = time.time()
    sevs = ["SEV1", "SEV2", "SEV3", "SEV4"]
    inc_rows, alert_rows = [], []
    for n in range(1, INCIDENTS + 1):
        detected = now_ms - rng.randint(1, 365) * DAY_MS + rng.randint(0, DAY_MS - 1)
        impact = detected - rng.randint(0, 600_000)
        ack = detected + rng.randint(30_000, 1_800_000)
        mitigated = ack + rng.randint(60_000, 7_200_000)
        resolved = mitigated + rng.randint(0, 3_600_000)
        svc = services[n % len(services)]
        iid = uuid.uuid4().bytes
        inc_rows.append({
            "id": iid, "number": n, "title": f"Incident {n}", "description": "", "status": "resolved",
            "severity": sevs[n % 4], "service_id": svc, "source": "alert", "alert_count": 1, "open_alerts": 0,
            "impact_start_at": impact, "detected_at": detected, "acknowledged_at": ack, "mitigated_at": mitigated,
            "resolved_at": resolved, "last_alert_at": detected, "created_at": detected, "updated_at": resolved,
        })
        alert_rows.append((uuid.uuid4().bytes, "bench", svc, iid, f"k{n}", "generic", f"host-{n % 500}", "error",
                           f"Incident {n}", "{}", "[]", "{}", "resolved", 1, detected, detected, resolved))
    required = [c for c, r in info.items() if r[3] and r[4] is None and c not in inc_rows[0]]
    if required:
        raise RuntimeError(f"incidents need columns the bench does not fill: {required}")
    keys = list(inc_rows[0])
    db.executemany(f"INSERT INTO incidents ({', '.join(keys)}) VALUES ({', '.join('?' * len(keys))})",
                   [tuple(r[k] for k in keys) for r in inc_rows])
    db.executemany("INSERT INTO incident_services (incident_id, service_id) VALUES (?, ?)",
                   [(r["id"], r["service_id"]) for r in inc_rows])
    db.executemany(
        "INSERT INTO alerts (id, scope, service_id, incident_id, dedup_key, source_type, source, severity, summary, "
        "details, links, labels, status, count, first_seen, last_seen, resolved_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", alert_rows)
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    print(f"seeded {INCIDENTS:,} incidents and alerts in {time.time() - t0:.0f} s", flush=True)


def main():
    work = tempfile.mkdtemp(prefix="opsdeck-kpi-bench.")
    os.environ.update(OPSDECK_DATA_DIR=work, OPSDECK_LOG="warn")
    subprocess.run([BIN, "user", "add", "--username", "bench", "--role", "admin", "--password-stdin"],
                   input=b"bench password 123\n", check=True, stdout=subprocess.DEVNULL)
    token = subprocess.run([BIN, "token", "create", "--user", "bench", "--name", "bench"], check=True,
                           capture_output=True).stdout.decode().strip().splitlines()[-1]
    port = free_port()
    p = start(work, port)
    services = []
    for i in range(SERVICES):
        body, _ = call(port, "POST", "/api/v1/services", token, {"name": f"Service {i:03}"})
        services.append(json.loads(body)["id"])
    monitors = []
    for start_i in range(0, MONITORS, 1000):
        batch = [{"name": f"check {i:05}", "service_id": services[i % SERVICES], "type": "http", "paused": True,
                  "interval_seconds": 60, "settings": {"url": f"http://127.0.0.1:9/{i}"}}
                 for i in range(start_i, min(MONITORS, start_i + 1000))]
        body, _ = call(port, "POST", "/api/v1/monitors/batch", token, {"monitors": batch})
        monitors += json.loads(body)["ids"]
    stop(p)
    now = datetime.now(timezone.utc)
    seed(os.path.join(work, "opsdeck.db"), [uuid.UUID(m).bytes for m in monitors],
         [uuid.UUID(s).bytes for s in services], int(now.timestamp() * 1000))
    db_mb = os.path.getsize(os.path.join(work, "opsdeck.db")) / 2**20

    p = start(work, port)
    first = now.replace(day=1)
    period = (first - timedelta(days=1)).strftime("%Y-%m")
    path = f"/api/v1/reports/kpi?period={period}"
    t0 = time.perf_counter()
    body, _ = call(port, "GET", path, token)  # sums the closed days per service once, warms the page cache
    cold_ms = (time.perf_counter() - t0) * 1000
    r = json.loads(body)
    assert r["checks"] > 0 and r["incidents"] > 0, r
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        call(port, "GET", path, token)
        times.append((time.perf_counter() - t0) * 1000)
    # The page, signed in.
    _, resp = call(port, "POST", "/api/v1/auth/login", None, {"username": "bench", "password": "bench password 123"})
    cookie = resp.getheader("set-cookie").split(";")[0]
    page_times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        call(port, "GET", f"/reports?period={period}", cookie=cookie)
        page_times.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    html, _ = call(port, "GET", f"/api/v1/reports/kpi.html?period={period}", token)
    report_ms = (time.perf_counter() - t0) * 1000
    rss = next(int(l.split()[1]) for l in open(f"/proc/{p.pid}/status") if l.startswith("VmHWM")) / 1024
    stop(p)
    print(f"monitors {MONITORS:,}, services {SERVICES}, incidents {INCIDENTS:,}, database {db_mb:,.0f} MiB")
    print(f"period {period}: {r['checks']:,} checks, {r['incidents']:,} incidents (and {r['previous']['incidents']:,} before)")
    print(f"first KPI request (sums {period} and the month before per service and day): {cold_ms:.0f} ms")
    print(f"KPI API   p50 {quantile(times, .5):.0f} ms  p95 {quantile(times, .95):.0f} ms  ({RUNS} runs)")
    print(f"dashboard p50 {quantile(page_times, .5):.0f} ms  p95 {quantile(page_times, .95):.0f} ms")
    print(f"monthly report (printable HTML, {len(html) // 1024} KiB): {report_ms:.0f} ms; peak RSS {rss:.0f} MiB")
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
