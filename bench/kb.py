"""The knowledge base at scale (issue 18): search over 100,000 articles.

The articles are written straight into the database after the schema is created (SQLite:
executemany through the FTS triggers; PostgreSQL: COPY, the search vector is a generated
column), each a title of 4–8 words and a body of 80–400 words drawn from a 20,000-word
vocabulary with Zipf frequencies (the way words spread in real text: a few very common, most
rare), a quarter of them public. Then, timed RUNS times each through the real server:

- `GET /api/v1/kb/search?q=<two mid-frequency words>`: every word, the last as a prefix;
- `GET /api/v1/kb/search?q=<one of the 20 most common words>`: the worst case, tens of
  thousands of matches ranked;
- `GET /api/v1/kb/search?q=<a ticket title of 6 words>&match=any`: suggestions;
- the same two-word search as a requester (public articles only).

    python3 bench/kb.py BIN        # ARTICLES=100000 RUNS=100; OPSDECK_DATABASE_URL for PostgreSQL
    (SQLite needs `pip install pysqlite3-binary`: the FTS5 table needs SQLite 3.43 or later.)
"""
import csv, http.client, json, os, random, socket, subprocess, sys, tempfile, time, urllib.parse, uuid

try:
    # The server's FTS5 table uses `contentless_delete` (SQLite 3.43+); Debian 12's Python has 3.40.
    import pysqlite3 as sqlite3  # pip install pysqlite3-binary
except ImportError:
    import sqlite3

BIN = sys.argv[1]
ARTICLES = int(os.environ.get("ARTICLES", 100_000))
RUNS = int(os.environ.get("RUNS", 100))
PG = os.environ.get("OPSDECK_DATABASE_URL")
VOCAB = 20_000


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


def words(rng):
    """The vocabulary: pronounceable made-up words, none a stop word or a stem of another."""
    cons, vows = "bcdfghklmnprstvz", "aeiou"
    out, seen = [], set()
    while len(out) < VOCAB:
        w = "".join(rng.choice(cons) + rng.choice(vows) for _ in range(rng.randint(2, 4))) + rng.choice("klmnrx")
        if w not in seen:
            seen.add(w)
            out.append(w)
    return out


def rows(rng, vocab, now_ms):
    weights = [1 / (r + 1) for r in range(VOCAB)]
    cum = list(__import__("itertools").accumulate(weights))
    for n in range(1, ARTICLES + 1):
        title = " ".join(rng.choices(vocab, cum_weights=cum, k=rng.randint(4, 8))).capitalize()
        body = " ".join(rng.choices(vocab, cum_weights=cum, k=rng.randint(80, 400)))
        vis = "public" if n % 4 == 0 else "agents"
        yield (n, title, body, f"Category {n % 40}", vis, now_ms - (ARTICLES - n) * 60_000)


def seed(work, rng, vocab, now_ms):
    if PG:
        path = os.path.join(work, "articles.csv")
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            for n, title, body, cat, vis, at in rows(rng, vocab, now_ms):
                w.writerow([str(uuid.uuid4()), n, title, body, cat, vis, "bench", 1, at, at])
        subprocess.run(["psql", PG, "-q", "-v", "ON_ERROR_STOP=1", "-c",
                        f"\\copy kb_articles (id, number, title, body, category, visibility, author, version, "
                        f"created_at, updated_at) FROM '{path}' CSV"], check=True)
        subprocess.run(["psql", PG, "-q", "-c", f"UPDATE revisions SET value = {ARTICLES} WHERE name = 'kb_number'; "
                        "ANALYZE kb_articles;"], check=True)
        return
    db = sqlite3.connect(os.path.join(work, "opsdeck.db"))
    db.executemany("INSERT INTO kb_articles (id, number, title, body, category, visibility, author, version, "
                   "created_at, updated_at) VALUES (randomblob(16), ?, ?, ?, ?, ?, 'bench', 1, ?, ?)",
                   ((n, t, b, c, v, at, at) for n, t, b, c, v, at in rows(rng, vocab, now_ms)))
    db.execute(f"UPDATE revisions SET value = {ARTICLES} WHERE name = 'kb_number'")
    db.commit()
    db.execute("INSERT INTO kb_fts (kb_fts) VALUES ('optimize')")
    db.execute("ANALYZE")
    db.commit()
    db.close()


def main():
    work = tempfile.mkdtemp(prefix="opsdeck-kb-bench.")
    os.environ.update(OPSDECK_DATA_DIR=work, OPSDECK_LOG="warn")
    for user, role in (("bench", "admin"), ("requester", "viewer")):
        subprocess.run([BIN, "user", "add", "--username", user, "--role", role, "--password-stdin"],
                       input=b"bench password 123\n", check=True, stdout=subprocess.DEVNULL)
    tokens = {u: subprocess.run([BIN, "token", "create", "--user", u, "--name", "bench"], check=True,
                                capture_output=True).stdout.decode().strip().splitlines()[-1]
              for u in ("bench", "requester")}
    rng = random.Random(18)
    vocab = words(rng)
    t0 = time.time()
    seed(work, rng, vocab, int(time.time() * 1000))
    print(f"{'PostgreSQL' if PG else 'SQLite'}: {ARTICLES:,} articles written in {time.time() - t0:.0f} s", flush=True)
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
        q = lambda text, extra="": f"/api/v1/kb/search?q={urllib.parse.quote(text)}{extra}"
        mid = lambda i: f"{vocab[200 + (i * 37) % 800]} {vocab[300 + (i * 53) % 900][:5]}"
        hits = call(port, q(mid(0)), tokens["bench"])["items"]
        print(f"two mid-frequency words: {len(hits)} results for {mid(0)!r}")
        cases = [
            ("two words, the last a prefix (agent)", lambda i: q(mid(i)), "bench"),
            ("one of the 20 commonest words (agent)", lambda i: q(vocab[i % 20]), "bench"),
            ("suggestions for a 6-word ticket title", lambda i: q(" ".join(vocab[50 + (i * k) % 5000] for k in range(1, 7)),
                                                                  "&match=any&limit=5"), "bench"),
            ("two words, public articles only (requester)", lambda i: q(mid(i)), "requester"),
        ]
        for name, path, who in cases:
            p50, p95 = timed(RUNS, lambda i: call(port, path(i), tokens[who]))
            print(f"{name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    finally:
        p.terminate()
        p.wait(timeout=60)


if __name__ == "__main__":
    main()
