"""Drives bench/notify.sh: 10,000 open incidents whose next escalation level falls due within a
few seconds; measures how late each notification is sent (sent_at − due time, from the outbox)
and how many webhook sends per second the notifier makes to a local sink (nginx)."""
import http.client, json, os, sqlite3, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(__file__))
from monitors import cpu_ms, free_port, req, start_nginx, status_kb  # noqa: E402

BIN = sys.argv[1]
N = int(os.environ.get("INCIDENTS", 10_000))
CONNS = 32


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(q * len(xs) + 0.5) - 1))] if xs else None


def main():
    work = tempfile.mkdtemp(prefix="opsdeck-nbench.")
    nginx, sink = start_nginx(work)
    env = dict(os.environ, OPSDECK_DATA_DIR=work, OPSDECK_LOG="warn")
    subprocess.run([BIN, "user", "add", "--username", "bench", "--role", "admin", "--password-stdin"], input=b"bench password 123\n", env=env, check=True, capture_output=True)
    subprocess.run([BIN, "user", "add", "--username", "nobody-reachable", "--role", "responder", "--password-stdin"], input=b"bench password 123\n", env=env, check=True, capture_output=True)
    token = subprocess.run([BIN, "token", "create", "--user", "bench", "--name", "bench"], env=env, check=True, capture_output=True).stdout.decode().strip().splitlines()[-1]
    port = free_port()
    srv = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):
            try:
                if req(http.client.HTTPConnection("127.0.0.1", port, timeout=1), "GET", "/readyz", None)[0] == 200:
                    break
            except OSError:
                time.sleep(0.02)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        api = lambda m, p, b=None: json.loads(req(c, m, p, token, b)[1] or b"null")  # noqa: E731
        users = {u["username"]: u["id"] for u in api("GET", "/api/v1/users")["items"]}
        # The on-call person's only contact method: a webhook to the sink.
        api("POST", f"/api/v1/users/{users['bench']}/contact-methods", {"kind": "webhook", "address": f"http://127.0.0.1:{sink}/hook"})
        # Level 1 reaches someone without contact methods; level 2, a minute later, the bench user.
        pol = api("POST", "/api/v1/escalation-policies", {"name": "bench", "levels": [
            {"delay_minutes": 1, "targets": [{"type": "user", "id": users["nobody-reachable"]}]},
            {"delay_minutes": 1, "targets": [{"type": "user", "id": users["bench"]}]}]})
        svc = api("POST", "/api/v1/services", {"name": "Notify bench"})
        api("PUT", f"/api/v1/services/{svc['id']}/escalation-policy", {"policy_id": pol["id"]})
        api("PUT", f"/api/v1/services/{svc['id']}/alert-settings", {"grouping": "none", "group_window_seconds": 0, "auto_resolve": True, "rules": []})
        key = api("POST", f"/api/v1/services/{svc['id']}/integrations", {"type": "pagerduty"})["key"]

        # N incidents (one alert each), as fast as the server takes them.
        t0 = time.time()
        def send(lo, hi):
            cc = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for i in range(lo, hi):
                body = {"routing_key": key, "event_action": "trigger", "dedup_key": f"n-{i}",
                        "payload": {"summary": f"bench incident {i}", "source": "bench", "severity": "error"}}
                while req(cc, "POST", "/v2/enqueue", None, body)[0] != 202:
                    time.sleep(0.05)
        per = N // CONNS
        ts = [threading.Thread(target=send, args=(k * per, N if k == CONNS - 1 else (k + 1) * per)) for k in range(CONNS)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        created_s = time.time() - t0
        print(json.dumps({"phase": "created", "incidents": N, "seconds": round(created_s, 2)}), flush=True)

        # Level 2 falls due a minute after each incident opened (spread like their creation).
        # BURST=1 instead makes every one due at the same instant, 5 s from now, to measure how
        # fast the outbox drains.
        if os.environ.get("BURST") == "1":
            rw = sqlite3.connect(f"{work}/opsdeck.db", timeout=30)
            # Wait until every first level has fired (it reaches nobody), then move them all.
            while rw.execute("SELECT COUNT(*) FROM escalations WHERE level = 0").fetchone()[0] > 0:
                time.sleep(0.1)
            due = int((time.time() + 5) * 1000)
            n = rw.execute("UPDATE escalations SET next_at = ? WHERE level = 1", (due,)).rowcount
            levels = rw.execute("SELECT level, COUNT(*) FROM escalations GROUP BY level").fetchall()
            rw.commit()
            print(json.dumps({"phase": "burst", "escalations_moved": n, "by_level": levels}), flush=True)
            rw.close()
        cpu0, w0 = cpu_ms(srv.pid), time.time()
        db = sqlite3.connect(f"file:{work}/opsdeck.db?mode=ro", uri=True, timeout=30)
        deadline = time.time() + 60 + created_s + 120
        while time.time() < deadline:
            sent = db.execute("SELECT COUNT(*) FROM notifications WHERE status = 'sent'").fetchone()[0]
            if sent >= N:
                break
            time.sleep(1)
        cpu = cpu_ms(srv.pid) - cpu0
        rows = db.execute("SELECT next_attempt_at, sent_at, attempts FROM notifications WHERE status = 'sent'").fetchall()
        other = db.execute("SELECT status, COUNT(*) FROM notifications WHERE status <> 'sent' GROUP BY status").fetchall()
        lags = [(s - d) / 1000 for d, s, _ in rows]
        first_due, last_sent = min(d for d, _, _ in rows), max(s for _, s, _ in rows)
        sent_span = max((last_sent - first_due) / 1000, 1e-3)
        out = {
            "mode": "burst" if os.environ.get("BURST") == "1" else "spread",
            "incidents": N, "notifications_sent": len(rows), "not_sent": dict(other),
            "retried": sum(1 for *_, a in rows if a > 1),
            "lag_p50_ms": round(pct(lags, 0.50) * 1000, 1), "lag_p99_ms": round(pct(lags, 0.99) * 1000, 1),
            "lag_max_ms": round(max(lags) * 1000, 1),
            "due_window_s": round((max(d for d, _, _ in rows) - first_due) / 1000, 2),
            "sends_per_s": round(len(rows) / sent_span, 1),
            "server_cpu_s_while_waiting": round(cpu / 1000, 2), "wait_s": round(time.time() - w0, 1),
            "peak_rss_mib": round(status_kb(srv.pid, "VmHWM") / 1024, 1),
        }
        print(json.dumps(out), flush=True)
    finally:
        srv.terminate()
        srv.wait()
        nginx.terminate()
        nginx.wait()


if __name__ == "__main__":
    main()
