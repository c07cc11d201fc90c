"""Change management at scale (issue 17): conflict detection for a change touching 500 CIs
against 10,000 scheduled changes, and the calendar's month view.

Setup: 30,000 CIs imported as one CSV; 10,000 standard changes (from one template), each on 3 CIs of its own,
2 hours long, spread over the next 60 days, created and scheduled through the API (8 at a time).
Then, timed RUNS times each:

- `POST /api/v1/changes/preview` for a normal change on 500 of those CIs over a 31-day window:
  risk (the CMDB walk, the history of similar changes) and conflict detection against the
  ~5,000 booked changes overlapping it (reported collisions capped at 200);
- `GET /api/v1/changes/calendar` for one month (the month view's data), and the month view page
  itself (`GET /changes/calendar?month=…`, signed in).

    python3 bench/changes.py BIN        # RUNS=100; OPSDECK_DATABASE_URL for PostgreSQL
"""
import datetime as dt
import http.client, json, os, random, signal, socket, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor

BIN = sys.argv[1]
RUNS = int(os.environ.get("RUNS", 100))
CHANGES = int(os.environ.get("CHANGES", 10000))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, method, path, token=None, body=None, content_type="application/json", cookie=None, raw=False):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    headers = {"content-type": content_type}
    if token:
        headers["authorization"] = f"Bearer {token}"
    if cookie:
        headers["cookie"] = cookie
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    if r.status >= 400:
        raise RuntimeError(f"{method} {path}: {r.status} {data[:500]!r}")
    if raw:
        return r, data
    return json.loads(data) if data else None


def quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def timed(n, f):
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        f(i)
        times.append((time.perf_counter() - t0) * 1000)
    return quantile(times, 0.5), quantile(times, 0.95)


def main():
    work = tempfile.mkdtemp(prefix="opsdeck-changes-bench.")
    os.environ.update(OPSDECK_DATA_DIR=work, OPSDECK_LOG="warn")
    backend = "PostgreSQL" if os.environ.get("OPSDECK_DATABASE_URL") else "SQLite"
    subprocess.run([BIN, "user", "add", "--username", "bench", "--role", "admin", "--password-stdin"],
                   input=b"bench password 123\n", check=True, stdout=subprocess.DEVNULL)
    token = subprocess.run([BIN, "token", "create", "--user", "bench", "--name", "bench"], check=True,
                           capture_output=True).stdout.decode().strip().splitlines()[-1]
    port = free_port()
    log = open(os.path.join(work, "server.log"), "ab")
    p = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}"], cwd=work, stdout=log, stderr=log)
    for _ in range(3000):
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/readyz")
            break
        except OSError:
            time.sleep(0.02)
    time.sleep(0.5)
    try:
        n_cis = CHANGES * 3
        rows = ["identity,name,class"] + [f"ci-{i:06},ci-{i:06},server" for i in range(n_cis)]
        call(port, "POST", "/api/v1/cmdb/import?format=csv", token, ("\n".join(rows) + "\n").encode(), "text/csv")
        ids = []
        cursor = None
        while True:
            page = call(port, "GET", "/api/v1/cis?limit=500" + (f"&cursor={cursor}" if cursor else ""), token)
            ids.extend(c["id"] for c in page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        ids.sort()
        start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(days=1)
        rng = random.Random(17)

        tpl = call(port, "POST", "/api/v1/change-templates", token,
                   {"name": "Patch a batch", "duration_minutes": 120, "backout_plan": "Reinstall the old packages"})

        def book(i):
            s = start + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 60))
            body = {"title": f"Patch batch {i}", "template_id": tpl["id"], "ci_ids": ids[3 * i:3 * i + 3],
                    "planned_start": s.isoformat(), "planned_end": (s + dt.timedelta(hours=2)).isoformat()}
            c = call(port, "POST", "/api/v1/changes", token, body)
            call(port, "POST", f"/api/v1/changes/{c['id']}/submit", token, {})

        t0 = time.time()
        with ThreadPoolExecutor(8) as ex:
            list(ex.map(book, range(CHANGES)))
        booked = call(port, "GET", "/api/v1/changes?state=scheduled&limit=1", token)
        print(f"{backend}: {n_cis:,} CIs; {CHANGES:,} scheduled changes created in {time.time() - t0:.0f} s "
              f"({CHANGES / (time.time() - t0):.0f}/s, each created and scheduled)", flush=True)
        assert booked["items"], "no change was scheduled"

        picks = rng.sample(ids, 500)
        body = {"title": "Kernel upgrade", "type": "normal", "ci_ids": picks,
                "planned_start": (start + dt.timedelta(days=10)).isoformat(),
                "planned_end": (start + dt.timedelta(days=41)).isoformat()}
        found = call(port, "POST", "/api/v1/changes/preview", token, body)
        p50, p95 = timed(RUNS, lambda i: call(port, "POST", "/api/v1/changes/preview", token, body))
        print(f"conflict detection + risk, 500 CIs over 31 days against {CHANGES:,} scheduled changes "
              f"({len(found['conflicts'])} conflicts listed): p50 {p50:.1f} ms, p95 {p95:.1f} ms", flush=True)

        month = (start + dt.timedelta(days=20)).strftime("%Y-%m")
        m0 = dt.datetime.strptime(month + "-01", "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
        m1 = (m0 + dt.timedelta(days=32)).replace(day=1)
        q = f"/api/v1/changes/calendar?from={m0.strftime('%Y-%m-%dT%H:%M:%SZ')}&to={m1.strftime('%Y-%m-%dT%H:%M:%SZ')}"
        cal = call(port, "GET", q, token)
        p50, p95 = timed(RUNS, lambda i: call(port, "GET", q, token))
        print(f"calendar month, API ({len(cal['changes']):,} changes): p50 {p50:.1f} ms, p95 {p95:.1f} ms", flush=True)
        r, _ = call(port, "POST", "/api/v1/auth/login", body={"username": "bench", "password": "bench password 123"},
                    raw=True)
        cookie = r.getheader("set-cookie").split(";")[0]
        page = f"/changes/calendar?month={month}"
        p50, p95 = timed(RUNS, lambda i: call(port, "GET", page, cookie=cookie, raw=True))
        print(f"calendar month view page: p50 {p50:.1f} ms, p95 {p95:.1f} ms", flush=True)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)


main()
