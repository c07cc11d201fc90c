"""The CMDB at scale (issue 16): 100,000 CIs and 500,000 relations imported as one CSV through
the API, then impact walks and searches timed.

Topology (layers, a failure travels up): 30,000 servers and 10,000 network devices; 40,000 VMs,
each hosted on 2 servers and connected to 3 network devices; 19,000 applications and databases,
each running on 15 VMs; 1,000 business services, each depending on 15 applications. That is
200,000 + 285,000 + 15,000 = 500,000 relations.

Prints the import time (and a second, unchanged import: a nightly re-sync), the server's peak
RSS, p50/p95 of `GET /api/v1/cis/{id}/impact` for random CIs of every layer, and p50/p95 of
`GET /api/v1/cis?q=…` for a mix of rare and common words.

    python3 bench/cmdb.py BIN            # CIS=100000 RUNS=200; OPSDECK_DATABASE_URL for PostgreSQL
"""
import http.client, json, os, random, signal, socket, subprocess, sys, tempfile, time, urllib.parse

BIN = sys.argv[1]
SCALE = int(os.environ.get("CIS", 100000)) / 100000
RUNS = int(os.environ.get("RUNS", 200))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, method, path, token, body=None, content_type="application/json"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    headers = {"content-type": content_type, "authorization": f"Bearer {token}"}
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    if r.status >= 400:
        raise RuntimeError(f"{method} {path}: {r.status} {data[:500]!r}")
    return json.loads(data) if data else None


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def csv_file():
    rng = random.Random(16)
    n = lambda k: max(1, int(k * SCALE))
    servers = [f"srv-{i:05}" for i in range(n(30000))]
    devices = [f"net-{i:05}" for i in range(n(10000))]
    vms = [f"vm-{i:05}" for i in range(n(40000))]
    apps = [f"app-{i:05}" for i in range(n(19000))]
    services = [f"svc-{i:04}" for i in range(n(1000))]
    rows = ["identity,name,class,environment,tags,hosted_on,connects_to,runs_on,depends_on,os"]
    envs = ["production", "staging", "development"]
    for s in servers:
        rows.append(f"{s},{s}.dc1.example.com,server,production,rack:{rng.randint(1, 400)},,,,,debian 12")
    for d in devices:
        rows.append(f"{d},{d}.dc1.example.com,network_device,production,,,,,,")
    for v in vms:
        hosts = ";".join(rng.sample(servers, 2))
        nets = ";".join(rng.sample(devices, 3))
        rows.append(f"{v},{v}.example.com,vm,{rng.choice(envs)},,{hosts},{nets},,,ubuntu 24.04")
    for i, a in enumerate(apps):
        cls = "database" if i % 4 == 0 else "application"
        rows.append(f"{a},{a},{cls},{rng.choice(envs)},team:{rng.randint(1, 60)},,,{';'.join(rng.sample(vms, 15))},,")
    for s in services:
        rows.append(f"{s},Service {s},business_service,production,,,,,{';'.join(rng.sample(apps, 15))},")
    ids = servers + devices + vms + apps + services
    relations = 5 * len(vms) + 15 * len(apps) + 15 * len(services)
    return "\n".join(rows) + "\n", ids, relations


def main():
    work = tempfile.mkdtemp(prefix="opsdeck-cmdb-bench.")
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
        body, identities, relations = csv_file()
        print(f"{backend}: {len(identities):,} CIs, {relations:,} relations, CSV {len(body) / 1e6:.1f} MB", flush=True)
        t0 = time.time()
        r = call(port, "POST", "/api/v1/cmdb/import?format=csv", token, body.encode(), "text/csv")
        took = time.time() - t0
        print(f"import: {took:.1f} s ({r['created']:,} CIs, {r['relations_created']:,} relations created); "
              f"peak RSS {rss_kib(p.pid) / 1024:.0f} MiB", flush=True)
        t0 = time.time()
        r = call(port, "POST", "/api/v1/cmdb/import?format=csv", token, body.encode(), "text/csv")
        print(f"re-import, unchanged: {time.time() - t0:.1f} s ({r['unchanged']:,} unchanged, "
              f"{r['relations_kept']:,} relations kept)", flush=True)

        ids = {}
        cursor = None
        while True:
            q = "/api/v1/cis?limit=500" + (f"&cursor={cursor}" if cursor else "")
            page = call(port, "GET", q, token)
            ids.update({c["identity"]: c["id"] for c in page["items"]})
            cursor = page["next_cursor"]
            if not cursor:
                break
        rng = random.Random(7)
        layers = {}
        for ident in identities:
            layers.setdefault(ident.split("-")[0], []).append(ident)
        times, sizes = [], []
        for i in range(RUNS):
            layer = list(layers)[i % len(layers)]
            ci = ids[rng.choice(layers[layer])]
            t0 = time.perf_counter()
            got = call(port, "GET", f"/api/v1/cis/{ci}/impact", token)
            times.append((time.perf_counter() - t0) * 1000)
            sizes.append(len(got["items"]))
        print(f"impact of one CI ({RUNS} walks over every layer, {quantile(sizes, 0.5)} / {max(sizes)} CIs "
              f"impacted p50 / max): p50 {quantile(times, 0.5):.1f} ms, p95 {quantile(times, 0.95):.1f} ms", flush=True)
        words = ["production", "debian", "vm-1", "srv-2", "app-01", "svc-0042", "example", "rack 17", "team 5",
                 "net-00042", "staging ubuntu", "database"]
        times = []
        for i in range(RUNS):
            q = urllib.parse.quote(words[i % len(words)] if i % 2 else rng.choice(identities))
            t0 = time.perf_counter()
            call(port, "GET", f"/api/v1/cis?q={q}", token)
            times.append((time.perf_counter() - t0) * 1000)
        print(f"search ({RUNS} queries, half common words): p50 {quantile(times, 0.5):.1f} ms, "
              f"p95 {quantile(times, 0.95):.1f} ms; peak RSS {rss_kib(p.pid) / 1024:.0f} MiB", flush=True)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)


main()
