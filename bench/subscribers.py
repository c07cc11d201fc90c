"""Drives bench/subscribers.sh: N confirmed webhook subscribers of one status page hear of one
public incident update; measures the time until the last message was sent and the send rate."""
import http.client, json, os, sqlite3, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(__file__))
from monitors import cpu_ms, free_port, req, start_nginx, status_kb  # noqa: E402

BIN = sys.argv[1]
N = int(os.environ.get("SUBSCRIBERS", 10_000))
CONNS = 8


def main():
    work = tempfile.mkdtemp(prefix="opsdeck-sbench.")
    nginx, sink = start_nginx(work)
    env = dict(os.environ, OPSDECK_DATA_DIR=work, OPSDECK_LOG="warn")
    subprocess.run([BIN, "user", "add", "--username", "bench", "--role", "admin", "--password-stdin"],
                   input=b"bench password 123\n", env=env, check=True, capture_output=True)
    token = subprocess.run([BIN, "token", "create", "--user", "bench", "--name", "bench"], env=env, check=True,
                           capture_output=True).stdout.decode().strip().splitlines()[-1]
    port = free_port()
    srv = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):
            try:
                if req(http.client.HTTPConnection("127.0.0.1", port, timeout=1), "GET", "/readyz", None)[0] == 200:
                    break
            except OSError:
                time.sleep(0.02)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        api = lambda m, p, b=None: json.loads(req(c, m, p, token, b)[1] or b"null")  # noqa: E731
        svc = api("POST", "/api/v1/services", {"name": "Bench"})
        page = api("POST", "/api/v1/status-pages", {"title": "Bench", "slug": "bench",
                                                     "components": [{"name": "API"}, {"name": "Web"}]})
        api_comp = page["components"][0]["id"]

        t0 = time.time()
        def add(lo, hi):
            cc = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            for i in range(lo, hi):
                # Half follow the whole page, half the API component: both hear of this update.
                body = {"webhook_url": f"http://127.0.0.1:{sink}/hook/{i}"}
                if i % 2:
                    body["component_ids"] = [api_comp]
                s, b, _ = req(cc, "POST", f"/api/v1/status-pages/{page['id']}/subscribers", token, body)
                if s != 201:
                    raise RuntimeError(f"subscriber {i}: {s} {b[:200]}")
        per = N // CONNS
        ts = [threading.Thread(target=add, args=(k * per, N if k == CONNS - 1 else (k + 1) * per)) for k in range(CONNS)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        print(json.dumps({"phase": "subscribed", "subscribers": N, "seconds": round(time.time() - t0, 2)}), flush=True)

        # A fresh connection: the first one idled while subscribers were added.
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        inc = api("POST", "/api/v1/incidents", {"title": "bench", "service_id": svc["id"], "severity": "SEV2"})
        cpu0, w0 = cpu_ms(srv.pid), time.time()
        s, b, _ = req(c, "POST", f"/api/v1/incidents/{inc['number']}/status-updates", token,
                      {"status_page_id": page["id"], "status": "investigating", "body": "Bench update.",
                       "components": {api_comp: "major_outage"}})
        post_ms = (time.time() - w0) * 1000
        if s != 201:
            raise RuntimeError(f"post update: {s} {b[:300]}")
        db = sqlite3.connect(f"file:{work}/opsdeck.db?mode=ro", uri=True, timeout=30)
        sent = 0
        while time.time() - w0 < 300:
            sent, pending, failed = db.execute(
                "SELECT COUNT(*) FILTER (WHERE status = 'sent'), COUNT(*) FILTER (WHERE status = 'pending'), "
                "COUNT(*) FILTER (WHERE status = 'failed') FROM status_deliveries WHERE kind = 'update'").fetchone()
            if pending == 0 and sent + failed >= N:
                break
            time.sleep(0.1)
        done_s = time.time() - w0
        first, last = db.execute("SELECT MIN(sent_at), MAX(sent_at) FROM status_deliveries WHERE kind = 'update'").fetchone()
        print(json.dumps({
            "phase": "delivered", "subscribers": N, "sent": sent, "failed": failed,
            "post_update_ms": round(post_ms, 1),
            "all_sent_within_s": round(done_s, 2),
            "send_rate_per_s": round(sent / max((last - first) / 1000, 0.001)) if first and last else None,
            "server_cpu_ms": cpu_ms(srv.pid) - cpu0,
            "peak_rss_mib": round(status_kb(srv.pid, "VmHWM") / 1024, 1),
        }), flush=True)
        if sent < N:
            sys.exit(f"only {sent} of {N} subscribers were sent the update")
    finally:
        srv.terminate()
        srv.wait()
        nginx.terminate()
        nginx.wait()


main()
