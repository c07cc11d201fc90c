"""The service desk at scale (issue 18): the agent queue and a ticket's page over 1,000,000
tickets.

The tickets are written straight into the database with one generating statement (SQLite: a
recursive CTE; PostgreSQL: generate_series) after the schema is created, as years of use would
have left them: 20 % open (new, in progress or pending), the rest resolved or closed, priorities
1–4 evenly. Then, timed RUNS times each, through the real server:

- `GET /api/v1/tickets?state=new,in_progress,pending&limit=50`: the queue's first page, most
  urgent first, each with its two SLA clocks replayed;
- the same 20 pages deep (following `next_cursor`);
- `GET /api/v1/tickets/{number}`: one ticket with its clocks;
- SLA recomputation: every priority's policy is saved again through the API (as when a calendar
  changes), which makes every open ticket due for the SLA watcher; the time from the watcher's
  first judged ticket to the last is the time to recompute every open ticket's clocks and next
  mark (200,000 open tickets at 1,000,000).

    python3 bench/tickets.py BIN        # TICKETS=1000000 RUNS=100; OPSDECK_DATABASE_URL for PostgreSQL
"""
import http.client, json, os, random, socket, sqlite3, subprocess, sys, tempfile, time

BIN = sys.argv[1]
TICKETS = int(os.environ.get("TICKETS", 1_000_000))
RUNS = int(os.environ.get("RUNS", 100))
PG = os.environ.get("OPSDECK_DATABASE_URL")

STATES = "CASE WHEN {i} % 10 = 0 THEN 'new' WHEN {i} % 10 = 1 THEN 'in_progress' " \
         "ELSE CASE WHEN {i} % 20 = 2 THEN 'pending' ELSE CASE WHEN {i} % 3 = 0 THEN 'closed' ELSE 'resolved' END END END"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, path, token):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request("GET", path, headers={"authorization": f"Bearer {token}"})
    r = c.getresponse()
    data = r.read()
    if r.status >= 400:
        raise RuntimeError(f"GET {path}: {r.status} {data[:300]!r}")
    return json.loads(data)


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


def seed(work, now_ms):
    cols = "id, number, kind, title, description, state, impact, urgency, priority, version, created_at, updated_at"
    if PG:
        i = "g"
        sql = (f"INSERT INTO tickets ({cols}) SELECT gen_random_uuid(), g, "
               f"CASE WHEN g % 3 = 0 THEN 'service_request' ELSE 'incident_report' END, 'Ticket ' || g, '', "
               f"{STATES.format(i=i)}, 1 + g % 4, 1 + (g / 4) % 4, 1 + (g * 7) % 4, 1, "
               f"{now_ms} - (({TICKETS} - g)::bigint * 60000), {now_ms} FROM generate_series(1, {TICKETS}) AS g;"
               f"UPDATE revisions SET value = {TICKETS} WHERE name = 'ticket_number'; ANALYZE tickets;")
        subprocess.run(["psql", PG, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True)
        return
    db = sqlite3.connect(os.path.join(work, "opsdeck.db"))
    i = "i"
    db.execute(f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {TICKETS}) "
               f"INSERT INTO tickets ({cols}) SELECT randomblob(16), i, "
               f"CASE WHEN i % 3 = 0 THEN 'service_request' ELSE 'incident_report' END, 'Ticket ' || i, '', "
               f"{STATES.format(i=i)}, 1 + i % 4, 1 + (i / 4) % 4, 1 + (i * 7) % 4, 1, "
               f"{now_ms} - (({TICKETS} - i) * 60000), {now_ms} FROM n")
    db.execute(f"UPDATE revisions SET value = {TICKETS} WHERE name = 'ticket_number'")
    db.commit()
    db.execute("ANALYZE")
    db.close()


def backlog(work, saved_ms):
    """Open tickets not judged since the policies were saved (a judged one is next due later)."""
    sql = f"SELECT COUNT(*) FROM tickets WHERE sla_check_at IS NOT NULL AND sla_check_at <= {saved_ms}"
    if PG:
        out = subprocess.run(["psql", PG, "-tAq", "-c", sql], check=True, capture_output=True).stdout
        return int(out.decode().strip())
    db = sqlite3.connect(os.path.join(work, "opsdeck.db"), timeout=30)
    try:
        return db.execute(sql).fetchone()[0]
    finally:
        db.close()


def recompute(port, token, work):
    """Saves each priority's policy again and times the SLA watcher's judging of every open ticket."""
    policies = call(port, "/api/v1/sla-policies", token)["items"]
    for p in policies:
        body = json.dumps(p).encode()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        c.request("PUT", f"/api/v1/sla-policies/{p['priority']}", body=body,
                  headers={"authorization": f"Bearer {token}", "content-type": "application/json"})
        r = c.getresponse()
        r.read()
        assert r.status == 200, r.status
    saved_ms = int(time.time() * 1000)
    total = backlog(work, saved_ms)
    started = None
    while True:
        left = backlog(work, saved_ms)
        if started is None and left < total:
            started = time.perf_counter()
        if left == 0:
            break
        time.sleep(0.1)
    took = time.perf_counter() - (started or time.perf_counter())
    print(f"SLA recomputation after a policy change: {total:,} open tickets judged in {took:.1f} s "
          f"({took * 100_000 / max(total, 1):.1f} s per 100,000)")


def main():
    work = tempfile.mkdtemp(prefix="opsdeck-tickets-bench.")
    os.environ.update(OPSDECK_DATA_DIR=work, OPSDECK_LOG="warn")
    subprocess.run([BIN, "user", "add", "--username", "bench", "--role", "admin", "--password-stdin"],
                   input=b"bench password 123\n", check=True, stdout=subprocess.DEVNULL)
    token = subprocess.run([BIN, "token", "create", "--user", "bench", "--name", "bench"], check=True,
                           capture_output=True).stdout.decode().strip().splitlines()[-1]
    t0 = time.time()
    seed(work, int(time.time() * 1000))
    print(f"{'PostgreSQL' if PG else 'SQLite'}: {TICKETS:,} tickets written in {time.time() - t0:.0f} s", flush=True)
    port = free_port()
    log = open(os.path.join(work, "server.log"), "ab")
    p = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}"], cwd=work, stdout=log, stderr=log)
    try:
        for _ in range(3000):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/readyz")
                break
            except OSError:
                time.sleep(0.02)
        time.sleep(0.5)
        q = "/api/v1/tickets?state=new,in_progress,pending&limit=50"
        first = call(port, q, token)
        assert len(first["items"]) == 50 and first["items"][0]["priority"] == 1, first["items"][:1]
        p50, p95 = timed(RUNS, lambda _: call(port, q, token))
        print(f"agent queue, first page of 50 (open tickets, with SLA clocks): p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        cursor = first["next_cursor"]
        for _ in range(19):
            cursor = call(port, f"{q}&cursor={cursor}", token)["next_cursor"]
        deep = f"{q}&cursor={cursor}"
        p50, p95 = timed(RUNS, lambda _: call(port, deep, token))
        print(f"agent queue, page 21: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        rng = random.Random(18)
        p50, p95 = timed(RUNS, lambda _: call(port, f"/api/v1/tickets/{rng.randrange(1, TICKETS)}", token))
        print(f"one ticket with its clocks: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        recompute(port, token, work)
    finally:
        p.terminate()
        p.wait(timeout=60)


if __name__ == "__main__":
    main()
