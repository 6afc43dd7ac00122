"""bench-scale: 1, 2 and 4 `watchbot run` workers on one PostgreSQL database, and one on SQLite.

Issue 12's scaling benchmark. Every configuration runs in the same invocation, against the same
loopback feeds, with fresh state:

- N loopback feeds (default 2,000; ~20 KB, 30 items each, ``outlet_feed``) spread over 50
  loopback hosts with 50 ms latency, served by ``tests.servers.feedserver`` in a thread of this
  process; unchanged feeds answer 304 to the bot's conditional GET, as real outlets do;
- the Telegram Bot API stand-in (``tests.servers.botapi``) in a thread;
- the workers: the installed console script, ``watchbot --config watchbot.toml run``, what a
  user runs, with the shipped defaults (concurrency 64, 4 per host, one parser per core) except
  WATCHBOT_INTERVAL=1 (every feed always due, so a worker polls as fast as it can and a cycle's
  length is its capacity), no jitter, and no Telegram pacing (WATCHBOT_SEND_INTERVAL=0: the
  channel's pace is not what is measured here);
- PostgreSQL: the throw-away server of tests/pg_server.py (unix socket, fsync on unless
  ``--no-fsync``) with pg_stat_statements loaded; a fresh database per configuration.

A configuration: start the workers, wait until every feed was seen once (first sight: seeded,
nothing alerts), then ``--cycles`` measured cycles. Each cycle first publishes new items (one on
``--changed`` of the feeds, nothing any watchlist wants; and a Sputnik Azerbaijan development
on ``--developments`` of them, each a new story: matching, the novelty lock, an outbox row and a
post), then waits until every feed has been requested again. Printed per configuration:

- cycle: seconds from the publication until all N feeds were polled once more (median of the
  cycles), and the first-sight cycle (every feed parsed and seeded);
- items/s: new items recorded (all published ones, counted in the database) per second of the
  measured cycles, until the last was recorded;
- DB time per item, two ways, both measured: (a) the server's own execution time of every
  statement of this database (pg_stat_statements' total_exec_time, reset when the measured
  cycles start), PostgreSQL only; (b) the workers' own timers (``timers:`` lines the pipeline
  logs, see ``Pipeline.timers``): seconds spent applying responses (the serial part of a poll:
  store calls, matching, novelty) and, per decided response, waiting for and holding the
  novelty lock (from taking it to the commit that releases it);
- connections the database had open (the most seen while sampling pg_stat_activity);
- CPU seconds of the workers (with their parser processes) and of the PostgreSQL server per
  poll, and what one core holds at that cost (polls/s, and feeds at a 15-minute interval);
- ratios: cycle time and items/s against 1 PostgreSQL worker and against SQLite.

The machine's load average is printed with every configuration: the machine is shared, and N
workers on fewer cores than N are CPU-bound (they queue for the cores, not for the database).

Usage: python bench/bench_scale.py [--feeds 2000] [--workers 1,2,4] [--cycles 3] [--no-sqlite]
       [--set WATCHBOT_CONCURRENCY=256] [--no-fsync]
Results also go to bench/out/bench_scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psutil  # noqa: E402
import psycopg  # noqa: E402

from tests.conftest import DEFAULT_CHAT, TOKEN  # noqa: E402
from tests.feedgen import Entry, rss  # noqa: E402
from tests.pg_server import PgServer  # noqa: E402
from tests.servers.botapi import BotApiStandIn  # noqa: E402
from tests.servers.feedserver import FeedServer, bench_hosts, outlet_feed  # noqa: E402
from tests.test_crash import FIRST_DAY, PLACES, ROLES, SYLLABLES, _watchlists  # noqa: E402

WATCHBOT = Path(sys.executable).parent / "watchbot"  # the console script a user runs
TIMERS_RE = re.compile(r"timers: (\d+) responses applied in ([\d.]+) s; (\d+) decided under the "
                       r"novelty lock, waited ([\d.]+) s, held ([\d.]+) s")
TIMER_KEYS = ("applied", "apply_s", "decided", "lock_wait_s", "lock_held_s")
INTERVAL_15_MIN = 900
OWN = "/* bench-scale */"  # marks the benchmark's own queries of a configuration's database


class Outlets:
    """N outlet feeds on one feed server; ``publish`` adds new items to some of them."""

    def __init__(self, srv: FeedServer, n: int, hosts: int, latency: float, seed: int = 12):
        import random

        self.srv, self.n, self.latency = srv, n, latency
        self.hosts = bench_hosts(hosts)
        self.base = [outlet_feed(i, ttl=0) for i in range(n)]  # no <ttl>: it floors the interval
        self.rnd = random.Random(seed)
        self.counter = 0
        self.reset("/a")

    def reset(self, prefix: str) -> None:
        """A fresh set of paths (a fresh state sees them all for the first time)."""
        self.prefix = prefix
        self.paths = [f"{prefix}/feed/{i}.xml" for i in range(self.n)]
        self.extra: dict[str, list[Entry]] = {p: [] for p in self.paths}
        for path, body in zip(self.paths, self.base):
            self.srv.set_feed(path, body, latency=self.latency)

    def urls(self) -> list[str]:
        port = self.srv.port
        return [f"http://{self.hosts[i % len(self.hosts)]}:{port}{p}" for i, p in enumerate(self.paths)]

    def _entry(self, path: str, development: bool) -> Entry:
        self.counter += 1
        n = self.counter
        place, role = self.rnd.choice(PLACES), self.rnd.choice(ROLES)
        person = "".join(self.rnd.choice(SYLLABLES) for _ in range(3)).capitalize() + "ov"
        if development:  # another person, days apart: a new story each, as in test_workers_pg
            return Entry(f"Sputnik Azerbaijan {role} {person} sentenced to {n % 9 + 2} years in {place}",
                         f"https://live.example{path}/story-{n}", FIRST_DAY + timedelta(days=4 * (n % 120)),
                         f"A court in {place} sentenced Sputnik Azerbaijan {role} {person} to "
                         f"{n % 9 + 2} years after case {n * 7919 % 1000}.")
        return Entry(f"Weather {n}: sunny in {place}, says {person}", f"https://w.example{path}/{n}",
                     FIRST_DAY + timedelta(hours=n % 5000), f"Sunny in {place} all week.")

    def publish(self, changed: int, developments: int) -> int:
        """New items on ``changed`` feeds (nothing watched) and ``developments`` more feeds (a new
        development each); returns the number of new items."""
        picked = self.rnd.sample(self.paths, min(self.n, changed + developments))
        for k, path in enumerate(picked):
            self.extra[path] = (self.extra[path] + [self._entry(path, k >= changed)])[-6:]
            doc = rss("new", self.extra[path])
            items = doc[doc.index(b"<item>"):doc.rindex(b"</item>") + len(b"</item>")]
            body = self.base[self.paths.index(path)]
            self.srv.set_feed(path, body.replace(b"<item>", items + b"<item>", 1), latency=self.latency)
        return len(picked)

    def all_requested_after(self, since: float, remaining: set[str] | None = None) -> set[str]:
        """The paths (of ``remaining``, default all) not requested since ``since``."""
        left = set(self.paths) if remaining is None else remaining
        return {p for p in left if not any(r.time > since for r in reversed(self.srv.requests(p)))}

    def polls_between(self, a: float, b: float) -> int:
        return sum(1 for p in self.paths for r in self.srv.requests(p) if a < r.time <= b)


class Database:
    """What the benchmark reads from a configuration's database (SQLite file or PostgreSQL)."""

    def __init__(self, url: str | None, sqlite_path: Path | None, admin_url: str | None):
        self.url, self.sqlite_path, self.admin_url = url, sqlite_path, admin_url

    def one(self, sql: str, default=0):
        try:
            if self.url:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    # Tagged: pg_stat_statements keeps the comment, and statements() leaves
                    # the benchmark's own questions out of the database's time.
                    return conn.execute(f"{OWN} {sql}").fetchone()[0]
            if not self.sqlite_path.exists():
                return default
            with sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True, timeout=10) as conn:
                return conn.execute(sql).fetchone()[0]
        except (psycopg.errors.UndefinedTable, sqlite3.OperationalError):
            return default  # the first worker has not created the schema yet

    def connections(self) -> int:
        if not self.url:
            return 0
        # Asked from the admin database, so the question is not one of this database's statements.
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                                (urlsplit(self.url).path.lstrip("/"),)).fetchone()[0]

    def _dbid(self, conn) -> int:
        name = urlsplit(self.url).path.lstrip("/")
        return conn.execute("SELECT oid FROM pg_database WHERE datname = %s", (name,)).fetchone()[0]

    def reset_statements(self) -> None:
        if self.url:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute("SELECT pg_stat_statements_reset(0, %s::oid, 0)", (self._dbid(conn),))

    def statements(self) -> dict:
        """Server execution time of this database's statements since the reset (ms), and the
        part spent in pg_advisory_xact_lock (waiting for the novelty lock)."""
        if not self.url:
            return {}
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            rows = conn.execute("SELECT query, calls, total_exec_time FROM pg_stat_statements WHERE dbid = %s",
                                (self._dbid(conn),)).fetchall()
        rows = [r for r in rows if OWN not in r[0]]
        total = sum(r[2] for r in rows)
        lock = sum(r[2] for r in rows if "pg_advisory_xact_lock" in r[0])
        top = sorted(rows, key=lambda r: -r[2])[:5]
        return {"exec_ms": total, "calls": sum(r[1] for r in rows), "lock_wait_ms": lock,
                "top": [(" ".join(q.split())[:90], c, round(t, 1)) for q, c, t in top]}


def cpu_seconds(pids: list[int]) -> float:
    """CPU seconds of these processes and their living children (parser workers)."""
    total = 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            for p in [proc, *proc.children(recursive=True)]:
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


def pg_pids(server: PgServer | None) -> list[int]:
    if server is None:
        return []
    pid = int((server.data / "postmaster.pid").read_text().split()[0])
    return [pid]


def last_timers(log: Path, upto: int | None = None) -> dict:
    """The last ``timers:`` line a worker logged (before byte ``upto`` of its log)."""
    text = log.read_bytes()[:upto].decode("utf-8", "replace")
    found = TIMERS_RE.findall(text)
    if not found:
        return dict.fromkeys(TIMER_KEYS, 0)
    return {k: (int(v) if k in ("applied", "decided") else float(v)) for k, v in zip(TIMER_KEYS, found[-1])}


def run_config(name: str, workers: int, outlets: Outlets, api, args, tmp: Path,
               server: PgServer | None) -> dict:
    site = tmp / name
    site.mkdir()
    outlets.reset(f"/{name}")
    folder = _watchlists(site)
    (site / "feeds.opml").write_text('<opml version="2.0"><body>' + "".join(
        f'<outline xmlUrl="{u}"/>' for u in outlets.urls()) + "</body></opml>", encoding="utf-8")
    (site / "watchbot.toml").write_text(
        f'WATCHBOT_WATCHLISTS = "{folder}"\nWATCHBOT_STATE = "state"\nWATCHBOT_FEEDS = "feeds.opml"\n',
        encoding="utf-8")
    url = server.create_database("scale") if server else None
    db = Database(url, None if url else site / "state" / "watchbot.sqlite3", server.url() if server else None)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WATCHBOT_"))}
    env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_CHAT_ID=str(DEFAULT_CHAT), TELEGRAM_API_URL=api.root,
               WATCHBOT_INTERVAL="1", WATCHBOT_JITTER="0", WATCHBOT_TIMEOUT="20", WATCHBOT_LEASE="60",
               WATCHBOT_SEND_INTERVAL="0", WATCHBOT_SEND_PER_MINUTE="100000", WATCHBOT_LOG_LEVEL="INFO",
               PYTHONUNBUFFERED="1")
    env.update(args.set)
    if url:
        env["WATCHBOT_DATABASE_URL"] = url
    cmd = [str(WATCHBOT), "--config", str(site / "watchbot.toml"), "run"]
    logs = [site / f"worker{k}.log" for k in range(workers)]
    res: dict = {"name": name, "workers": workers, "backend": "postgresql" if url else "sqlite",
                 "load_start": os.getloadavg()}
    procs: list[subprocess.Popen] = []
    connections = 0

    def wait(predicate, limit: float, what: str) -> None:
        nonlocal connections
        end = time.monotonic() + limit
        while not predicate():
            if url:
                connections = max(connections, db.connections())
            dead = [p.returncode for p in procs if p.poll() is not None]
            if dead or time.monotonic() > end:
                tail = "\n".join(log.read_text(errors="replace")[-1500:] for log in logs)
                raise SystemExit(f"{name}: {what} {'(a worker exited ' + str(dead) + ')' if dead else 'timed out'}\n{tail}")
            time.sleep(0.25)

    try:
        started = time.time()
        for log in logs:
            with open(log, "wb") as fh:
                procs.append(subprocess.Popen(cmd, cwd=site, env=env, stdout=subprocess.DEVNULL, stderr=fh))
        # First sight: every feed fetched, parsed and seeded once.
        wait(lambda: db.one("SELECT count(*) FROM feeds WHERE seeded = 1") >= outlets.n, args.timeout,
             "first sight")
        res["first_sight_s"] = time.time() - started  # includes the workers' start-up
        res["first_request_s"] = min(r.time for p in outlets.paths for r in outlets.srv.requests(p)[:1]) - started
        # A warm-up cycle, not measured: the first decision loads the novelty engine's models.
        warm = time.time()
        outlets.publish(round(outlets.n * args.changed), max(1, round(outlets.n * args.developments)))
        wait(lambda: not outlets.all_requested_after(warm), args.timeout, "the warm-up cycle")
        res["warm_up_s"] = time.time() - warm
        # Measured cycles.
        marks = [log.stat().st_size for log in logs]
        wait(lambda: db.one("SELECT count(*) FROM items") >= outlets.counter, args.timeout,
             "recording the warm-up's items")
        warm_items = db.one("SELECT count(*) FROM items")
        db.reset_statements()
        cpu0, pg_cpu0 = cpu_seconds([p.pid for p in procs]), cpu_seconds(pg_pids(server))
        t0 = time.time()
        cycles, published = [], 0
        changed = round(outlets.n * args.changed)
        developments = max(1, round(outlets.n * args.developments))
        for _ in range(args.cycles):
            published += outlets.publish(changed, developments)
            since = time.time()
            remaining = outlets.all_requested_after(since)
            def swept() -> bool:
                nonlocal remaining
                remaining = outlets.all_requested_after(since, remaining)
                return not remaining
            wait(swept, args.timeout, "a cycle")
            cycles.append(time.time() - since)
        wait(lambda: db.one("SELECT count(*) FROM items") >= published + warm_items, args.timeout,
             "recording the new items")
        t_items = time.time()
        res["polls"] = outlets.polls_between(t0, t_items)
        cpu1, pg_cpu1 = cpu_seconds([p.pid for p in procs]), cpu_seconds(pg_pids(server))
        res["statements"] = db.statements()
        wait(lambda: not db.one("SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')"),
             args.timeout, "sending the alerts")
        res["load_end"] = os.getloadavg()
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        codes = []
        for p in procs:
            try:
                codes.append(p.wait(60))
            except subprocess.TimeoutExpired:
                p.kill()
                codes.append("killed")
    res["exit_codes"] = codes
    res.update(cycles=cycles, cycle_s=statistics.median(cycles), published=published,
               items_per_s=published / (t_items - t0), measured_s=t_items - t0,
               worker_cpu_s=cpu1 - cpu0, pg_cpu_s=pg_cpu1 - pg_cpu0, connections=connections,
               stories=db.one("SELECT count(*) FROM stories"),
               posts_sent=db.one("SELECT count(*) FROM outbox WHERE action = 'post' AND status = 'sent'"))
    timers = dict.fromkeys(TIMER_KEYS, 0)
    for log, mark in zip(logs, marks):
        before, after = last_timers(log, mark), last_timers(log)  # after: logged when it stopped
        for k in TIMER_KEYS:
            timers[k] += after[k] - before[k]
    res["timers"] = timers
    return res


def report(rows: list[dict], args, cores: int) -> None:
    print(f"bench-scale: {args.feeds} loopback feeds (~20 KB, 30 items) on {args.hosts} hosts, "
          f"{args.latency * 1000:.0f} ms latency; per cycle new items on {args.changed:.0%} of the feeds and a "
          f"development (alert) on {args.developments:.0%}; {args.cycles} measured cycles; {cores} cores; "
          f"PostgreSQL fsync {'off' if args.no_fsync else 'on'}"
          + "".join(f"; {k}={v}" for k, v in args.set))
    head = (f"  {'configuration':14} {'cycle s':>7} {'1st sight s':>11} {'items/s':>7} {'polls/s':>7} "
            f"{'srv ms/item':>11} {'apply ms/item':>13} {'lock held ms':>12} {'lock wait ms':>12} "
            f"{'conns':>5} {'CPU ms/poll':>11} {'PG ms/poll':>10} {'load 1/5/15':>15}")
    print(head)
    for r in rows:
        t, s = r["timers"], r["statements"]
        items = max(1, r["published"])
        srv = f"{s['exec_ms'] / items:11.2f}" if s else f"{'n/a':>11}"
        held = f"{t['lock_held_s'] / t['decided'] * 1000:12.1f}" if t["decided"] else f"{'-':>12}"
        waited = f"{t['lock_wait_s'] / t['decided'] * 1000:12.1f}" if t["decided"] else f"{'-':>12}"
        polls = max(1, r["polls"])
        print(f"  {r['name']:14} {r['cycle_s']:7.2f} {r['first_sight_s']:11.1f} {r['items_per_s']:7.1f} "
              f"{r['polls'] / r['measured_s']:7.1f} {srv} {t['apply_s'] / items * 1000:13.2f} {t['apply_s'] / max(1, t['applied']) * 1000:13.2f} {held} {waited} "
              f"{r['connections'] if r['backend'] == 'postgresql' else '-':>5} "
              f"{r['worker_cpu_s'] / polls * 1000:11.2f} {r['pg_cpu_s'] / polls * 1000:10.2f} "
              f"{'/'.join(f'{x:.1f}' for x in r['load_start']):>15}")
    print("  columns: cycle = median seconds for all feeds to be polled once after new items appeared; "
          "1st sight = start-up + every feed fetched, parsed, seeded; items/s = new items recorded per second; "
          "srv ms/item = PostgreSQL's execution time of all statements (pg_stat_statements) per new item; "
          "apply ms/item, /poll = the workers' own timer of applying responses (store, match, novelty) per new item, "
          "per response applied; "
          "lock held/wait = per response decided under the novelty lock (workers' timers); "
          "conns = most connections the database had open; CPU/PG ms/poll = CPU of the workers (with their "
          "parsers) / of the PostgreSQL server per poll (304s included); load = at the configuration's start")
    for r in rows:
        s, t = r["statements"], r["timers"]
        extra = (f"; server: {s['calls']} statements, {s['exec_ms'] / 1000:.2f} s, of which "
                 f"pg_advisory_xact_lock {s['lock_wait_ms'] / 1000:.2f} s" if s else "")
        print(f"  {r['name']}: warm-up cycle {r['warm_up_s']:.2f} s (not measured); cycles {', '.join(f'{c:.2f}' for c in r['cycles'])} s; {r['published']} new items, "
              f"{r['polls']} polls in {r['measured_s']:.1f} s; {t['decided']} responses decided under the lock, "
              f"held {t['lock_held_s']:.2f} s in all; {r['stories']} stories, {r['posts_sent']} posts sent"
              f"{extra}; exit codes {r['exit_codes']}; load at end "
              f"{'/'.join(f'{x:.1f}' for x in r['load_end'])}")
        if s:
            for q, calls, ms in s["top"][:3]:
                print(f"      {ms / 1000:7.2f} s {calls:7d} calls  {q}")
    base = {r["backend"]: r for r in rows if r["workers"] == 1}
    pg1, lite = base.get("postgresql"), base.get("sqlite")
    for r in rows:
        parts = []
        for label, ref in (("1 PG worker", pg1), ("SQLite", lite)):
            if ref is not None and ref is not r:
                parts.append(f"vs {label}: cycle {r['cycle_s'] / ref['cycle_s']:.2f}x, "
                             f"items/s {r['items_per_s'] / ref['items_per_s']:.2f}x")
        if parts:
            print(f"  {r['name']}: " + "; ".join(parts))
    for r in rows:
        per_poll = (r["worker_cpu_s"] + r["pg_cpu_s"]) / max(1, r["polls"])
        if per_poll > 0:
            print(f"  {r['name']}: {per_poll * 1000:.2f} CPU ms per poll (workers + database) -> one core holds "
                  f"{1 / per_poll:.0f} polls/s, {INTERVAL_15_MIN / per_poll:,.0f} feeds at a 15-minute interval "
                  f"(this mix: {args.changed:.0%} of polls a changed feed, the rest 304)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=2000, help="number of loopback feeds (default 2000)")
    ap.add_argument("--workers", default="1,2,4", help="PostgreSQL worker counts (default 1,2,4)")
    ap.add_argument("--no-sqlite", action="store_true", help="skip the SQLite configuration")
    ap.add_argument("--cycles", type=int, default=3, help="measured cycles per configuration (default 3)")
    ap.add_argument("--latency", type=float, default=0.05, help="feed server latency in s (default 0.05)")
    ap.add_argument("--hosts", type=int, default=50, help="loopback addresses to spread feeds over")
    ap.add_argument("--changed", type=float, default=0.10, help="share of feeds with a new item per cycle")
    ap.add_argument("--developments", type=float, default=0.01,
                    help="share of feeds with a new development (an alert) per cycle")
    ap.add_argument("--no-fsync", action="store_true", help="run PostgreSQL with fsync off")
    ap.add_argument("--timeout", type=float, default=300, help="seconds any one wait may take")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    type=lambda kv: tuple(kv.split("=", 1)) if "=" in kv else ap.error(f"--set {kv}: NAME=VALUE"),
                    help="a setting for every worker (e.g. WATCHBOT_CONCURRENCY=256); repeatable")
    ap.add_argument("--json", type=Path, default=REPO / "bench" / "out" / "bench_scale.json")
    args = ap.parse_args(argv)
    reason = PgServer.unavailable()
    if reason:
        raise SystemExit(f"cannot start PostgreSQL here: {reason}")
    if not WATCHBOT.exists():
        raise SystemExit(f"{WATCHBOT} not found: install watchbot into this interpreter's venv")
    counts = [int(x) for x in args.workers.split(",") if x.strip()]
    cores = os.cpu_count() or 1
    rows = []
    hosts = bench_hosts(args.hosts)
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp, \
            PgServer.start(durable=not args.no_fsync,
                           options="-c shared_preload_libraries=pg_stat_statements") as server, \
            FeedServer.in_thread(hosts[0], aliases=hosts[1:]) as srv, \
            BotApiStandIn.in_thread(token=TOKEN) as api:
        with psycopg.connect(server.url(), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        outlets = Outlets(srv, args.feeds, args.hosts, args.latency)
        plan = ([] if args.no_sqlite else [("sqlite-1", 1, None)]) + [(f"pg-{n}", n, server) for n in counts]
        for name, n, pg in plan:
            print(f"  running {name} ... (load {os.getloadavg()[0]:.1f})", flush=True)
            rows.append(run_config(name, n, outlets, api, args, Path(tmp), pg))
    report(rows, args, cores)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows},
                                    indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
