"""Scale-out benchmark (bench/nodes.sh): check and ingest throughput with 1, 2 and 3 nodes on one
PostgreSQL database, each node pinned to one core with taskset.

For each node count: a fresh database on a private PostgreSQL cluster, the nodes, MONITORS HTTP
monitors at INTERVAL seconds against nginx on loopback (more than one node can check, so the
figure is the pace the nodes keep), then PagerDuty Events v2 ingest with wrk against every node
at once. Prints checks/s, the share of due checks that ran, CPU-ms per 1,000 checks (all nodes),
ingest events/s and p99, and peak RSS per node.
"""
import json, os, re, shutil, signal, subprocess, sys, tempfile, time, urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from monitors import free_port, start_nginx, cpu_ms, status_kb  # noqa: E402

BIN = sys.argv[1]
NODES = [int(n) for n in os.environ.get("NODES", "1 2 3").split()]
MONITORS = int(os.environ.get("MONITORS", 10000))
INTERVAL = int(os.environ.get("INTERVAL", 5))
WARMUP_S, WINDOW_S = int(os.environ.get("WARMUP_S", 20)), int(os.environ.get("WINDOW_S", 20))
INGEST_S = int(os.environ.get("INGEST_S", 10))
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG = os.path.join(REPO, "scripts", "pg-private.sh")
CORES = os.cpu_count() or 1


def http(method, url, token=None, body=None):
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=60) as r:
        text = r.read()
        return json.loads(text) if text else None


def checks_total(url):
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as r:
        text = r.read().decode()
    return sum(float(v) for v in re.findall(r'^opsdeck_checks_total\{[^}]*\} (\S+)$', text, re.M))


def ready(url, proc):
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"node exited ({proc.returncode})")
        try:
            urllib.request.urlopen(f"{url}/readyz", timeout=1).read()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("node not ready")


def cli(*args, stdin=None):
    out = subprocess.run([BIN, *args], input=stdin, capture_output=True, text=True, check=True)
    return out.stdout


def run(k, cluster, work, target_port):
    db = f"bench_nodes_{k}"
    base = cluster.rsplit("/", 1)[0]
    subprocess.run(["psql", cluster, "-qc", f"CREATE DATABASE {db}"], check=True, capture_output=True)
    url = f"{base}/{db}"
    env = {**os.environ, "OPSDECK_LOG": "warn"}
    env.pop("OPSDECK_DATABASE_URL", None)
    cli("migrate", "--database-url", url)
    cli("user", "add", "--username", "admin", "--role", "admin", "--password-stdin", "--database-url", url,
        stdin="a long password\n")
    token = cli("token", "create", "--user", "admin", "--name", "bench", "--database-url", url).strip().splitlines()[-1]
    nodes = []
    for i in range(k):
        port = free_port()
        data = os.path.join(work, f"n{k}-{i}")
        p = subprocess.Popen(["taskset", "-c", str(i % CORES), BIN, "serve", "--database-url", url, "--data-dir", data,
                              "--listen", f"127.0.0.1:{port}"], env=env, stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(work, f"n{k}-{i}.log"), "w"))
        nodes.append((p, f"http://127.0.0.1:{port}"))
    for p, u in nodes:
        ready(u, p)
    first = nodes[0][1]
    for start in range(0, MONITORS, 1000):
        batch = [{"name": f"m{i}", "type": "http", "interval_seconds": INTERVAL, "timeout_seconds": 5,
                  "settings": {"url": f"http://127.0.0.1:{target_port}/m/{i}"}}
                 for i in range(start, min(start + 1000, MONITORS))]
        http("POST", f"{first}/api/v1/monitors/batch", token, {"monitors": batch})
    time.sleep(WARMUP_S)
    c0, t0 = sum(checks_total(u) for _, u in nodes), time.time()
    cpu0 = sum(cpu_ms(p.pid) for p, _ in nodes)
    time.sleep(WINDOW_S)
    c1, t1 = sum(checks_total(u) for _, u in nodes), time.time()
    cpu1 = sum(cpu_ms(p.pid) for p, _ in nodes)
    checks = c1 - c0
    rate = checks / (t1 - t0)
    due = MONITORS / INTERVAL
    # Ingest: the monitors pause (so ingest has the cores), then wrk on every node at once.
    svc = http("POST", f"{first}/api/v1/services", token, {"name": "Bench"})
    integ = http("POST", f"{first}/api/v1/services/{svc['id']}/integrations", token, {"type": "pagerduty"})
    subprocess.run(["psql", url, "-qc", "UPDATE monitors SET paused = TRUE"], check=True, capture_output=True)
    time.sleep(2)
    lua = os.path.join(REPO, "bench", "ingest.lua")
    wrks = [subprocess.Popen(["wrk", "-t1", "-c16", f"-d{INGEST_S}s", "--latency", "-s", lua, f"{u}/v2/enqueue",
                              "--", integ["key"]], stdout=subprocess.PIPE, text=True)
            for _, u in nodes]
    outs = [w.communicate()[0] for w in wrks]
    events = sum(float(re.search(r"Requests/sec:\s+(\S+)", o).group(1)) for o in outs)
    p99s = [re.search(r"99%\s+(\S+)", o).group(1) for o in outs]
    rss = [status_kb(p.pid, "VmHWM") / 1024 for p, _ in nodes]
    for p, _ in nodes:
        p.send_signal(signal.SIGTERM)
    for p, _ in nodes:
        p.wait(timeout=30)
    print(f"{k} node(s): checks {rate:,.0f}/s ({100 * rate / due:.0f} % of the {due:,.0f}/s due), "
          f"{(cpu1 - cpu0) / max(checks, 1) * 1000:.0f} CPU-ms per 1,000 checks; "
          f"ingest {events:,.0f} events/s, p99 {' / '.join(p99s)}; peak RSS {' / '.join(f'{r:.0f}' for r in rss)} MiB",
          flush=True)
    return rate, events


def main():
    work = tempfile.mkdtemp(prefix="opsdeck-nodes-", dir="/tmp")
    pgdir = os.path.join("/tmp", f"opsdeck-pgn.{os.getpid()}")
    cluster = subprocess.run([PG, "start", pgdir], capture_output=True, text=True, check=True).stdout.strip()
    nginx, target_port = start_nginx(work)
    try:
        print(f"{MONITORS:,} HTTP monitors at {INTERVAL} s, {CORES} cores; PostgreSQL {cluster.split('@')[1]}", flush=True)
        results = {k: run(k, cluster, work, target_port) for k in NODES}
        if 1 in results and 2 in results:
            (c1, e1), (c2, e2) = results[1], results[2]
            print(f"1 → 2 nodes: checks ×{c2 / c1:.2f}, ingest ×{e2 / e1:.2f}")
    finally:
        nginx.terminate()
        subprocess.run([PG, "stop", pgdir], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
