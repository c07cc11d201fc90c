"""Probe-agent benchmark (bench/agents.sh): one server (SQLite, pinned to core 0) and AGENTS
agents (each with its own location, pinned to core 1), MONITORS HTTP monitors at INTERVAL
seconds against nginx on loopback, each running from every agent's location (not from the
server). Prints the results the server stored per second, the server's CPU-ms per 1,000 agent
results (uploads and the verdicts), each agent's CPU-ms per 1,000 checks and lag, and peak RSS.
"""
import os, signal, subprocess, sys, tempfile, time, shutil

sys.path.insert(0, os.path.dirname(__file__))
from monitors import free_port, start_nginx, cpu_ms, status_kb  # noqa: E402
from nodes import http, ready, checks_total  # noqa: E402

BIN = sys.argv[1]
AGENTS = int(os.environ.get("AGENTS", 2))
MONITORS = int(os.environ.get("MONITORS", 2000))
INTERVAL = int(os.environ.get("INTERVAL", 5))
WARMUP_S, WINDOW_S = int(os.environ.get("WARMUP_S", 20)), int(os.environ.get("WINDOW_S", 30))


def cli(data, *args, stdin=None):
    out = subprocess.run([BIN, *args, "--data-dir", data], input=stdin, capture_output=True, text=True, check=True)
    return out.stdout


def results_total(url, token):
    return {a["location"]: a for a in http("GET", f"{url}/api/v1/agents", token)["items"]}


def main():
    work = tempfile.mkdtemp(prefix="opsdeck-agents-", dir="/tmp")
    nginx, target_port = start_nginx(work)
    procs = []
    try:
        data = os.path.join(work, "server")
        env = {**os.environ, "OPSDECK_LOG": "warn"}
        env.pop("OPSDECK_DATABASE_URL", None)
        cli(data, "user", "add", "--username", "admin", "--role", "admin", "--password-stdin", stdin="a long password\n")
        token = cli(data, "token", "create", "--user", "admin", "--name", "bench").strip().splitlines()[-1]
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(["taskset", "-c", "0", BIN, "serve", "--data-dir", data, "--listen",
                                   f"127.0.0.1:{port}"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=open(os.path.join(work, "server.log"), "w"))
        procs.append(server)
        ready(url, server)
        locations = [f"loc-{i}" for i in range(AGENTS)]
        agents = []
        for loc in locations:
            t = http("POST", f"{url}/api/v1/agents", token, {"name": loc, "location": loc})["token"]
            core = "1" if (os.cpu_count() or 1) > 1 else "0"
            p = subprocess.Popen(["taskset", "-c", core, BIN, "agent", "--server", url, "--location", loc,
                                  "--buffer-dir", os.path.join(work, loc)], env={**env, "OPSDECK_TOKEN": t},
                                 stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, f"{loc}.log"), "w"))
            procs.append(p)
            agents.append(p)
        for start in range(0, MONITORS, 1000):
            batch = [{"name": f"m{i}", "type": "http", "interval_seconds": INTERVAL, "timeout_seconds": 5,
                      "locations": locations, "quorum": len(locations),
                      "settings": {"url": f"http://127.0.0.1:{target_port}/m/{i}"}}
                     for i in range(start, min(start + 1000, MONITORS))]
            http("POST", f"{url}/api/v1/monitors/batch", token, {"monitors": batch})
        time.sleep(WARMUP_S)
        r0, v0, t0 = results_total(url, token), checks_total(url), time.time()
        s0, a0 = cpu_ms(server.pid), [cpu_ms(a.pid) for a in agents]
        time.sleep(WINDOW_S)
        r1, v1, t1 = results_total(url, token), checks_total(url), time.time()
        s1, a1 = cpu_ms(server.pid), [cpu_ms(a.pid) for a in agents]
        stored = sum(r1[l]["results_total"] - r0[l]["results_total"] for l in locations)
        verdicts = v1 - v0
        due = MONITORS * AGENTS / INTERVAL
        rate = stored / (t1 - t0)
        print(f"{MONITORS:,} HTTP monitors at {INTERVAL} s from {AGENTS} agent locations, {os.cpu_count()} cores")
        print(f"agent results stored {rate:,.0f}/s ({100 * rate / due:.0f} % of the {due:,.0f}/s due); "
              f"verdicts {verdicts / (t1 - t0):,.0f}/s; server {(s1 - s0) / max(stored, 1) * 1000:.0f} CPU-ms per "
              f"1,000 agent results (uploads and verdicts), peak RSS {status_kb(server.pid, 'VmHWM') / 1024:.0f} MiB")
        for loc, a, c0, c1 in zip(locations, agents, a0, a1):
            n = r1[loc]["results_total"] - r0[loc]["results_total"]
            print(f"agent {loc}: {(c1 - c0) / max(n, 1) * 1000:.0f} CPU-ms per 1,000 checks, lag "
                  f"{r1[loc]['lag_ms']} ms, dropped {r1[loc]['dropped_total']}, "
                  f"peak RSS {status_kb(a.pid, 'VmHWM') / 1024:.0f} MiB")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        nginx.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
