"""Drives bench/monitors.sh: starts nginx and opsdeck, creates monitors, measures."""
import http.client, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, threading, time

BIN = sys.argv[1]
COUNTS = [int(n) for n in sys.argv[2:]] or [1000]
WARMUP_S, WINDOW_S = int(os.environ.get("WARMUP_S", 45)), int(os.environ.get("WINDOW_S", 60))
INTERVAL = int(os.environ.get("INTERVAL", 30))
# FRESH=1: HTTP monitors open a new connection for every check (connect time included).
FRESH = os.environ.get("FRESH") == "1"
TICK = os.sysconf("SC_CLK_TCK")
# CREATE=apply (default): one `opsdeck apply` of a YAML file; CREATE=api: POST /api/v1/monitors
# one by one over 4 connections.
CREATE = os.environ.get("CREATE", "apply")
KIND = os.environ.get("KIND", "http")  # http (the benchmark) or tcp (to separate probe from storage cost)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_nginx(work):
    port = free_port()
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1; daemon off; pid {work}/nginx.pid; error_log {work}/nginx.err;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 100000;
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 '{{"status":"ok"}}'; }} }} }}""")
    p = subprocess.Popen(["nginx", "-c", conf, "-p", work], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            return p, port
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("nginx did not start")


def req(conn, method, path, token, body=None, cookie=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    if cookie:
        headers["cookie"] = cookie
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = conn.getresponse()
    return r.status, r.read(), r


def metrics(port):
    c = http.client.HTTPConnection("127.0.0.1", port)
    _, body, _ = req(c, "GET", "/metrics", None)
    text = body.decode()
    checks = sum(float(v) for v in re.findall(r'^opsdeck_checks_total\{[^}]*\} (\S+)$', text, re.M))
    return checks, {name: histogram(text, name) for name in HISTOGRAMS}


# The scheduler's lag, and how long its claims and result batches take on the database.
HISTOGRAMS = ["opsdeck_check_lag_seconds", "opsdeck_scheduler_claim_seconds", "opsdeck_check_results_store_seconds"]


def histogram(text, name):
    pattern = r'^' + name + r'_bucket\{le="([^"]+)"\} (\S+)$'
    return sorted((float(le), float(v)) for le, v in re.findall(pattern, text.replace("+Inf", "1e9"), re.M))


def quantile(buckets, q):
    total = buckets[-1][1] if buckets else 0
    if total <= 0:
        return None
    prev_le, prev_c = 0.0, 0.0
    for le, c in buckets:
        if c >= q * total:
            frac = (q * total - prev_c) / max(c - prev_c, 1e-9)
            return prev_le + (min(le, prev_le * 4 if le > 1e8 else le) - prev_le) * frac
        prev_le, prev_c = le, c
    return prev_le


def cpu_ms(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 1000 / TICK


def status_kb(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key):
            return int(line.split()[1])
    return 0


def run(n, target_port):
    work = tempfile.mkdtemp(prefix="opsdeck-mbench.")
    env = dict(os.environ, OPSDECK_DATA_DIR=work, OPSDECK_LOG="warn")
    subprocess.run([BIN, "user", "add", "--username", "bench", "--role", "admin", "--password-stdin"], input=b"bench password 123\n", env=env, check=True, capture_output=True)
    token = subprocess.run([BIN, "token", "create", "--user", "bench", "--name", "bench"], env=env, check=True, capture_output=True).stdout.decode().strip().splitlines()[-1]
    port = free_port()
    srv = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                if req(c, "GET", "/readyz", None)[0] == 200:
                    break
            except OSError:
                time.sleep(0.02)
        t0 = time.time()

        def settings():
            if KIND == "tcp":
                return {"host": "127.0.0.1", "port": target_port}
            return dict({"url": f"http://127.0.0.1:{target_port}/health"}, **({"fresh_connection": True} if FRESH else {}))

        if CREATE == "apply":
            # As an operator would: one YAML file through `opsdeck apply` (batched creates).
            path = os.path.join(work, "monitors.yaml")
            with open(path, "w") as f:
                f.write("monitors:\n")
                for i in range(n):
                    f.write(f"  - {{name: m{i:06d}, type: {KIND}, interval_seconds: {INTERVAL}, settings: {json.dumps(settings())}}}\n")
            t0 = time.time()
            out = subprocess.run([BIN, "apply", "-f", path, "--server", f"http://127.0.0.1:{port}", "--token", token],
                                 env=env, capture_output=True)
            if out.returncode != 0:
                raise RuntimeError(f"opsdeck apply failed: {out.stderr.decode()[-400:]}")
        else:
            errors = []

            def create(lo, hi):
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                for i in range(lo, hi):
                    body = {"name": f"m{i:06d}", "type": KIND, "interval_seconds": INTERVAL, "settings": settings()}
                    st, body, _ = req(c, "POST", "/api/v1/monitors", token, body)
                    if st != 201:
                        errors.append(body[:200])
            threads = [threading.Thread(target=create, args=(k * n // 4, (k + 1) * n // 4)) for k in range(4)]
            [t.start() for t in threads]
            [t.join() for t in threads]
            if errors:
                raise RuntimeError(f"creating monitors failed: {errors[0]}")
        created_s = time.time() - t0
        time.sleep(WARMUP_S)
        checks0, lag0 = metrics(port)
        cpu0, w0 = cpu_ms(srv.pid), time.time()
        if os.environ.get("PERF_OUT"):
            # Optional: sample the server during the window (use a binary built with
            # `cargo build --profile profiling` for symbols).
            # PERF_CALLGRAPH=dwarf gives whole stacks through SQLite and libc (bigger files).
            subprocess.run(["perf", "record", "-F", os.environ.get("PERF_FREQ", "499"),
                            "--call-graph", os.environ.get("PERF_CALLGRAPH", "fp"), "-p", str(srv.pid), "-o", os.environ["PERF_OUT"], "--", "sleep", str(WINDOW_S)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            time.sleep(WINDOW_S)
        checks1, lag1 = metrics(port)
        cpu1, w1 = cpu_ms(srv.pid), time.time()
        window = {k: [(le, c1 - dict(lag0[k]).get(le, 0)) for le, c1 in lag1[k]] for k in HISTOGRAMS}
        lag = window["opsdeck_check_lag_seconds"]
        done = checks1 - checks0
        # The monitors page and API list at this size, with a signed-in session.
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        _, _, r = req(c, "POST", "/api/v1/auth/login", None, {"username": "bench", "password": "bench password 123"})
        cookie = r.getheader("set-cookie").split(";")[0]
        page_ms = []
        for i in range(40):
            path = "/monitors" if i % 2 == 0 else "/monitors?state=up&q=m1"
            t = time.perf_counter()
            st, _, _ = req(c, "GET", path, None, cookie=cookie)
            page_ms.append((time.perf_counter() - t) * 1000)
            assert st == 200, st
        page_ms.sort()
        db = sum(os.path.getsize(os.path.join(work, f)) for f in os.listdir(work) if f.startswith("opsdeck.db"))
        expected = n * (w1 - w0) / INTERVAL
        return {
            "monitors": n,
            "create_s": round(created_s, 1),
            "checks_in_window": int(done),
            "expected_checks": int(expected),
            "cpu_ms_per_1000_checks": round((cpu1 - cpu0) / max(done / 1000, 1e-9), 1),
            "cpu_share_of_one_core_pct": round((cpu1 - cpu0) / ((w1 - w0) * 10), 1),
            "lag_p50_ms": round(1000 * (quantile(lag, 0.5) or 0), 1),
            "lag_p99_ms": round(1000 * (quantile(lag, 0.99) or 0), 1),
            "claim_p50_p99_ms": [round(1000 * (quantile(window["opsdeck_scheduler_claim_seconds"], q) or 0), 1) for q in (0.5, 0.99)],
            "store_p50_p99_ms": [round(1000 * (quantile(window["opsdeck_check_results_store_seconds"], q) or 0), 1) for q in (0.5, 0.99)],
            "peak_rss_mib": round(status_kb(srv.pid, "VmHWM") / 1024, 1),
            "db_bytes_per_monitor": int(db / n),
            "monitors_page_p50_ms": round(page_ms[len(page_ms) // 2], 1),
            "monitors_page_p95_ms": round(page_ms[int(len(page_ms) * 0.95) - 1], 1),
        }
    finally:
        srv.send_signal(signal.SIGTERM)
        srv.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def main():
    work = tempfile.mkdtemp(prefix="opsdeck-nginx.")
    nginx, target_port = start_nginx(work)
    try:
        for n in COUNTS:
            print(json.dumps(run(n, target_port)), flush=True)
    finally:
        nginx.terminate()
        nginx.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
