"""Alert storm for bench/ingest.sh: N PagerDuty v2 triggers with distinct dedup keys, as fast as
possible, over C keep-alive connections (asyncio, standard library only).

    python3 bench/ingest_storm.py URL ROUTING_KEY [N] [CONNECTIONS]

Every event is retried with the same dedup key on 429 (queue full) and 503 until it is accepted
(202), as a PagerDuty sender would. Prints one JSON object with the figures.
"""
import asyncio, json, resource, sys, time
from urllib.parse import urlsplit

URL, KEY = sys.argv[1], sys.argv[2]
N = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000
CONNECTIONS = int(sys.argv[4]) if len(sys.argv) > 4 else 64
MAX_TRIES = 50


class Conn:
    def __init__(self, host, port):
        self.host, self.port, self.reader, self.writer = host, port, None, None

    async def post(self, request):
        for attempt in (1, 2):  # one reconnect if the server closed an idle keep-alive connection
            try:
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                self.writer.write(request)
                head = await self.reader.readuntil(b"\r\n\r\n")
                break
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt == 2:
                    raise
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = dict(l.split(":", 1) for l in lines[1:] if ":" in l)
        fields = {k.strip().lower(): v.strip() for k, v in fields.items()}
        if "content-length" not in fields:
            raise RuntimeError(f"response without content-length: {lines[0]}")
        body = await self.reader.readexactly(int(fields["content-length"]))
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, body

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def main():
    u = urlsplit(URL)
    host, port = u.hostname, u.port or 80
    prefix = f"storm-{int(time.time())}-"
    queue = iter(range(N))
    stats = {"accepted": 0, "retries": 0, "failed": 0, "statuses": {}}
    latencies = []

    def request_for(i):
        body = json.dumps({
            "routing_key": KEY, "event_action": "trigger", "dedup_key": f"{prefix}{i:06d}",
            "payload": {"summary": f"storm event {i}", "source": "bench", "severity": "warning"},
        }, separators=(",", ":")).encode()
        return (f"POST /v2/enqueue HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    async def worker():
        conn = Conn(host, port)
        try:
            for i in queue:
                req = request_for(i)
                for attempt in range(MAX_TRIES):
                    t = time.perf_counter()
                    status, body = await conn.post(req)
                    latencies.append(time.perf_counter() - t)
                    stats["statuses"][status] = stats["statuses"].get(status, 0) + 1
                    if status == 202:
                        stats["accepted"] += 1
                        break
                    if status in (429, 503) and attempt + 1 < MAX_TRIES:
                        stats["retries"] += 1
                        await asyncio.sleep(min(0.01 * 2 ** attempt, 0.5))
                        continue
                    stats["failed"] += 1
                    if stats["failed"] == 1:
                        print(f"event {i}: HTTP {status}: {body[:200]!r}", file=sys.stderr)
                    break
        finally:
            conn.close()

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    latencies.sort()
    pct = lambda q: round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2) if latencies else 0
    print(json.dumps({
        "events": N,
        "accepted": stats["accepted"],
        "retries": stats["retries"],
        "failed": stats["failed"],
        "statuses": {str(k): v for k, v in sorted(stats["statuses"].items())},
        "wall_s": round(wall, 3),
        "events_per_s": round(stats["accepted"] / wall, 1),
        "latency_p50_ms": pct(0.50),
        "latency_p99_ms": pct(0.99),
        "client_cpu_s": round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 2),
    }))


asyncio.run(main())
