"""bench-cron: `watchbot run --once` as a crontab runs it, a separate process per cycle.

`make bench-poll` times ``run_once()`` inside one warm process. A cron job pays more: the
interpreter start, the imports, loading the rules, the Telegram channel's ``getMe``, the store
and the novelty index rebuilt from it, starting parser workers, and the interpreter's exit.
This benchmark runs the installed console script (``.venv/bin/watchbot run --once``, in the
folder holding ``watchbot.toml``, with a cron-like minimal environment and the shipped
defaults: one parser worker per core, concurrency 64, 4 per host) against:

- N loopback feeds (default 1,000; ~20 KB, 30 items each) spread over 50 loopback hosts with
  50 ms latency, served by ``tests.servers.feedserver`` in its own process;
- the Telegram Bot API stand-in (``tests.servers.botapi``) in its own process, with a latency
  on every answer (default 150 ms, what ``getMe`` took from here to api.telegram.org);
- two states: empty, and a year of stories (3,650: ten a day for 365 days, each recorded as
  the pipeline records an alert: real matcher, novelty engine and ``Store.record_item``, its
  post marked sent; see ``build_year_state``);
- cold (every feed new: all 200, parsed, recorded) and warm (the next runs: all 304).

Next to it, in the same run: the naive script, ``for url in urls: feedparser.parse(url)`` (on a
subset, scaled, when ``--sequential`` says so), and two floors: the network floor (requests x
latency / concurrency, where concurrency is min(WATCHBOT_CONCURRENCY, hosts x
WATCHBOT_PER_HOST)) and the parsing floor (feedparser's CPU time for the N bodies, with the
bot's call, divided by the cores).

Per process: wall time; time to first request (the feed server's clock of the first request it
received, minus the moment before the process was started); the time after the last request
(its latency, the last parses, the commit, delivery and the interpreter's exit); CPU seconds
and peak RSS from ``wait4`` (the process plus the children it reaped). The machine's load
average (``os.getloadavg()``) is printed with every figure: on a shared machine other
processes' CPU makes every wall time pessimistic.

Goals (issue 15), printed with the figures: warm run (all 304), empty state <= network floor +
0.5 s; a year of stories within 1.2x of the empty state's time and +20 MB of RSS; cold run >=
8x faster than the naive loop; ``watchbot --help`` <= 0.2 s; time to first request <= 0.35 s.
Results also go to bench/out/bench_cron.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# Only the standard library at module level: in helper mode (--one) this process forks the
# measured one, and a fork's peak RSS starts at the size of its parent.

MB = 1024 * 1024
WATCHBOT = Path(sys.executable).parent / "watchbot"  # the console script a crontab runs
TOKEN = "123456:bench-cron-token"
# The sites' WATCHBOT_INTERVAL is 1 s, and a due time is stored rounded up to the second and
# compared at one-second precision: a warm run started sooner after the previous one would
# find the feeds that run polled last not due yet (641 of 1,000 were due, run back to back).
ALL_DUE_AFTER = 2.5
CYCLE_RE = re.compile(r"cycle: (\d+) feeds polled, (\d+) new items, (\d+) seeded on first sight, "
                      r"(\d+) alerts, (\d+) updates, (\d+) feeds failing")


# ---------------------------------------------------------------------------------------------
# The year of stories, through the real pipeline and store
# ---------------------------------------------------------------------------------------------

# One headline per watchlist, with a name and a number that make each one a new development.
_TEMPLATES = (
    "Rosatom in talks to sell Akkuyu stake: {name} offers {n} million",
    "AZAL flight 8243 crash near Aktau: {name} reports {n} new findings",
    "Sputnik Azerbaijan staff: court hears {name} on day {n}",
    "Rasht–Astara railway: {name} signs {n} km contract",
    "Gazprom and BOTAŞ gas hub in Turkey: {name} sees {n} bcm",
    "Yekaterinburg raid on Azerbaijani diaspora: {name} detained, {n} questioned",
)
_SYLLABLES = "ba ko ri ta mu ne sa lo vi de ga zu".split()


def build_year_state(state: Path, stories: int, days: int = 365) -> dict:
    """A state folder holding ``stories`` stories spread evenly over the last ``days`` days.

    Each is written as the pipeline writes an alert (``Pipeline.process_item``): matched by
    the real watchlists, decided by the real novelty engine (which computes what is stored with
    a story), recorded with its outbox row by ``Store.record_item``, remembered by the engine,
    and its post marked sent. Only the verdict is set to "alert": a year in which each was a
    new development (synthetic headlines would mostly fold into a few stories otherwise).
    """
    from dataclasses import replace

    from bot.config import Settings
    from bot.models import Item, SendOutcome
    from bot.rules import Rules
    from bot.storage import open_store

    rnd = random.Random(15)

    def name() -> str:
        first = "".join(rnd.choice(_SYLLABLES) for _ in range(3)).capitalize()
        return f"{first} {''.join(rnd.choice(_SYLLABLES) for _ in range(3)).capitalize()}ov"

    state.mkdir(parents=True, exist_ok=True)
    settings = Settings(watchbot_watchlists=REPO / "watchlists", watchbot_state=state)
    store = open_store(settings)
    rules = Rules.load(settings.watchbot_watchlists)
    end = datetime.now(timezone.utc) - timedelta(hours=1)
    start = end - timedelta(days=days)
    made = attempts = without_vector = 0
    t0 = time.perf_counter()
    while made < stories:
        attempts += 1
        if attempts > stories * 3:
            raise SystemExit(f"year state: only {made} of {stories} headlines matched a watchlist")
        when = start + timedelta(days=days * made / stories)
        title = rnd.choice(_TEMPLATES).format(name=name(), n=rnd.randint(2, 99999))
        item = Item(key=f"guid:year/{attempts}", feed_url="https://year.example/feed", title=title,
                    link=f"https://year.example/news/{attempts}", summary=title, published=when,
                    outlet="year.example", language="en")
        matches = rules.matcher.match(item)
        if not matches:
            continue
        decided = rules.novelty.decide(item, matches, when)
        watchlist = decided.watchlist or matches[0].watchlist
        # What the engine stores with a new story (facts, n-grams, vector): its own signature
        # when it called the item an alert, else the one it would have written for one.
        signature = decided.signature if decided.kind == "alert" else \
            rules.novelty.signature(item, watchlist, when.date())
        decision = replace(decided, kind="alert", story_id=None, watchlist=watchlist,
                           signature=signature)
        # Without the engine's embedder at hand, such a signature carries no vector: the engine
        # then embeds that story when it loads it. Counted and printed: it weighs on start-up.
        without_vector += "emb" not in signature
        story_id, _ = store.record_item(item, matches, decision, when)
        rules.novelty.remember(store.story(story_id))
        made += 1
    sent = 0
    while pending := store.pending_alerts():  # delivered over the year
        for alert in pending:
            sent += 1
            store.mark_sending(alert)
            store.record_outcome(alert, SendOutcome("sent", message_id=alert.message_id or sent), end)
    counts = {"stories": len(store.stories()), "items": store.count_items(),
              "pending": len(store.pending_alerts()), "build_s": time.perf_counter() - t0,
              "without_vector": without_vector}
    store.close()
    return counts


def cached_year_state(state: Path, stories: int) -> dict:
    """``build_year_state`` into ``state``, from a copy kept in bench/out when one was built
    today by the same code: the novelty engine embeds every headline (tens of milliseconds
    each, seconds under load), so building 3,650 stories takes minutes."""
    import hashlib

    digest = hashlib.sha256(f"{stories}|{datetime.now(timezone.utc):%Y-%m-%d}".encode())
    for path in sorted([*(REPO / "bot").rglob("*.py"), *(REPO / "bot").rglob("*.json"),
                        *(REPO / "watchlists").glob("*.yaml"), Path(__file__)]):
        digest.update(path.read_bytes())
    cache = REPO / "bench" / "out" / f"year-state-{digest.hexdigest()[:16]}"
    if not (cache / "counts.json").exists():
        shutil.rmtree(cache, ignore_errors=True)
        for old in (REPO / "bench" / "out").glob("year-state-*"):
            shutil.rmtree(old, ignore_errors=True)
        counts = build_year_state(cache / "state", stories)
        (cache / "counts.json").write_text(json.dumps(counts), encoding="utf-8")
    counts = json.loads((cache / "counts.json").read_text(encoding="utf-8"))
    shutil.copytree(cache / "state", state)
    return {**counts, "cache": str(cache.relative_to(REPO))}


# ---------------------------------------------------------------------------------------------
# One process, as cron starts it
# ---------------------------------------------------------------------------------------------


class Site:
    """A folder as an operator sets it up: watchbot.toml, feeds.opml, state/."""

    def __init__(self, root: Path, urls: list[str]):
        from bot.config import write_opml
        from bot.models import Feed

        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "feeds.opml").write_text(write_opml([Feed(url=u) for u in urls]), encoding="utf-8")
        (root / "watchbot.toml").write_text(
            f'WATCHBOT_FEEDS = "feeds.opml"\nWATCHBOT_WATCHLISTS = "{REPO / "watchlists"}"\n'
            # Interval 1 s and no jitter: every cron run finds each feed due, as a crontab line
            # run at the feeds' interval does (run --once skips feeds that are not due yet).
            f'WATCHBOT_STATE = "state"\nWATCHBOT_INTERVAL = 1\nWATCHBOT_JITTER = 0\n', encoding="utf-8")

    @property
    def state(self) -> Path:
        return self.root / "state"


def cron_env(telegram_root: str | None) -> dict[str, str]:
    """What cron gives a job (PATH, HOME, LANG) plus the secrets the operator exports."""
    from tests.servers.botapi import DEFAULT_CHAT

    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    if telegram_root:
        env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_CHAT_ID=str(DEFAULT_CHAT),
                   TELEGRAM_API_URL=telegram_root)
    return env


def run_process(args: list[str], cwd: Path, env: dict[str, str], port: int | None = None) -> dict:
    """Start ``args`` like cron would, wait for it, and say what it cost."""
    if port is not None:
        _control(port, "clear_log")
    load = os.getloadavg()[0]
    started = time.time()
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=600)
    wall = time.perf_counter() - t0
    # communicate() reaped the child; its rusage came with it (Popen keeps none), so read the
    # totals of all reaped children before and after instead: one child ran in between.
    result = {"wall_s": wall, "rc": proc.returncode, "load": load,
              "stderr_tail": err.decode("utf-8", "replace").strip().splitlines()[-3:]}
    m = CYCLE_RE.search(err.decode("utf-8", "replace"))
    if m:
        result["cycle"] = dict(zip(("feeds", "new_items", "seeded", "alerts", "updates", "failing"),
                                   map(int, m.groups())))
    if port is not None:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/__control__/stats", timeout=10) as resp:
            stats = json.load(resp)
        result["requests"] = stats["requests"]
        if stats["first_request_at"] is not None:
            result["first_request_s"] = stats["first_request_at"] - started
            result["after_last_request_s"] = wall - (stats["last_request_at"] - started)
    return result


def run_measured(args: list[str], cwd: Path, env: dict[str, str], port: int | None = None) -> dict:
    """``run_process`` plus CPU seconds and peak RSS of the process (wait4's rusage)."""
    before = _children_rusage()
    result = run_process(args, cwd, env, port)
    after = _children_rusage()
    result["cpu_s"] = (after[0] - before[0]) + (after[1] - before[1])
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far: exact only if this run set a
    # new maximum, so each measured run goes through _isolated (a fresh reaper process).
    result["max_rss_mb"] = after[2] / 1024
    return result


def _children_rusage() -> tuple[float, float, int]:
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime, r.ru_stime, r.ru_maxrss


def isolated(args: list[str], cwd: Path, env: dict[str, str], port: int | None,
             wait: float = 0.0) -> dict:
    """``run_measured`` in a fresh helper process, so that peak RSS (RUSAGE_CHILDREN's maximum)
    belongs to this one run and not to the largest process this benchmark ever started;
    ``wait`` seconds after the previous run, so that every feed it polled is due again."""
    time.sleep(wait)
    spec = json.dumps({"args": args, "cwd": str(cwd), "env": env, "port": port})
    out = subprocess.run([sys.executable, __file__, "--one", spec], cwd=REPO, capture_output=True,
                         text=True, check=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    return json.loads(out.stdout.strip().splitlines()[-1])


def _control(port: int, command: str) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/__control__/{command}", method="POST")
    urllib.request.urlopen(request, timeout=10).close()


def start_telegram(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.servers.botapi", "--token", TOKEN,
                             "--latency", str(latency)], cwd=REPO, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    root = proc.stdout.readline().strip()
    if not root.startswith("http"):
        proc.kill()
        raise SystemExit(f"Bot API stand-in did not start: {root!r}")
    return proc, root


def process_cycles(urls: list[str], port: int, folder: Path) -> dict:
    """A cold then a warm `watchbot run --once` process over ``urls`` (no Telegram), for
    bench-poll's whole-process figures: what its in-process cycles leave out."""
    site = Site(folder, urls)
    cmd, env = [str(WATCHBOT), "run", "--once"], cron_env(None)
    return {"cold": isolated(cmd, site.root, env, port), "warm": isolated(cmd, site.root, env, port)}


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=1000, help="number of feeds (default 1000)")
    ap.add_argument("--latency", type=float, default=0.05, help="feed server latency in s (default 0.05)")
    ap.add_argument("--hosts", type=int, default=50, help="loopback addresses to spread feeds over")
    ap.add_argument("--stories", type=int, default=3650, help="stories in the year state (default 3650)")
    ap.add_argument("--telegram-latency", type=float, default=0.15,
                    help="Bot API stand-in latency in s (default 0.15)")
    ap.add_argument("--warm-runs", type=int, default=3, help="warm runs per state (median shown)")
    ap.add_argument("--sequential", type=int, default=100,
                    help="run the naive loop on this many feeds and scale to N (default 100; 0: all)")
    ap.add_argument("--json", type=Path, default=REPO / "bench" / "out" / "bench_cron.json")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # helper mode, see isolated()
    args = ap.parse_args(argv)
    if args.one is not None:
        spec = json.loads(args.one)
        print(json.dumps(run_measured(spec["args"], Path(spec["cwd"]), spec["env"], spec["port"])))
        return 0
    sys.path.insert(0, str(REPO / "bench"))
    from bench_poll import floor_in_child, sequential, start_server
    from bot.config import Settings
    from tests.servers.feedserver import bench_url

    if not WATCHBOT.exists():
        raise SystemExit(f"{WATCHBOT} not found: install watchbot into this interpreter's venv")

    n, cores = args.feeds, os.cpu_count() or 1
    res: dict = {"feeds": n, "latency_s": args.latency, "hosts": args.hosts, "cores": cores,
                 "telegram_latency_s": args.telegram_latency, "load_start": os.getloadavg()}
    defaults = Settings()
    concurrency = min(defaults.watchbot_concurrency, args.hosts * defaults.watchbot_per_host)
    res["network_floor_s"] = n * args.latency / concurrency
    res["concurrency"] = concurrency

    # No <ttl> in the feeds: RSS ttl is a floor on a feed's interval, and run --once skips feeds
    # that are not due, so a 15-minute ttl would leave the next run with nothing to fetch.
    server, port = start_server(n, args.latency, args.hosts, "--ttl", "0")
    telegram, root = start_telegram(args.telegram_latency)
    urls = [bench_url(i, port, args.hosts) for i in range(n)]
    env = cron_env(root)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-cron-") as tmp:
            tmp = Path(tmp)
            year_template = tmp / "year-state"
            res["year_state"] = cached_year_state(year_template, args.stories)

            res["help"] = [isolated([str(WATCHBOT), "--help"], tmp, env, None) for _ in range(5)]
            for label, seed in (("empty", None), ("year", year_template)):
                site = Site(tmp / label, urls)
                if seed is not None:
                    shutil.copytree(seed, site.state)
                cmd = [str(WATCHBOT), "run", "--once"]
                res[f"cold_{label}"] = isolated(cmd, site.root, env, port)
                res[f"warm_{label}"] = [isolated(cmd, site.root, env, port, wait=ALL_DUE_AFTER)
                                        for _ in range(args.warm_runs)]

        res["floor_cpu_s"] = floor_in_child(n, bot_call=True)
        res["parsing_floor_s"] = res["floor_cpu_s"] / cores
        k = n if args.sequential <= 0 else min(n, args.sequential)
        load = os.getloadavg()[0]
        seq_wall, _ = sequential(urls[:k])
        res["sequential"] = {"feeds_run": k, "wall_s": seq_wall * n / k, "load": load}
    finally:
        telegram.terminate()
        server.stdin.close()
        for proc in (telegram, server):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    res["load_end"] = os.getloadavg()
    report(res)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=2, default=str), encoding="utf-8")
    return 0


def _median_run(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]


def report(r: dict) -> None:
    n = r["feeds"]
    ys = r["year_state"]
    print(f"bench-cron: `watchbot run --once` as separate processes; {n} feeds x ~20 KB on "
          f"{r['hosts']} loopback hosts, {r['latency_s'] * 1000:.0f} ms latency; Telegram stand-in "
          f"{r['telegram_latency_s'] * 1000:.0f} ms; {r['cores']} cores")
    print(f"  load average (1/5/15 min) at start {_load(r['load_start'])}, at end {_load(r['load_end'])}; "
          f"each row shows the 1-min load when its process started")
    print(f"  year state: {ys['stories']} stories, {ys['items']} items (built in {ys['build_s']:.1f} s "
          f"as the pipeline records alerts: real match, novelty and store; {ys['pending']} pending; "
          f"copied from {ys['cache']}, rebuilt when the code or the day changes); "
          f"{ys.get('without_vector', 0)} stories stored without an embedding vector")
    help_runs = r["help"]
    h = statistics.median(x["wall_s"] for x in help_runs)
    print(f"  watchbot --help: median {h:.3f} s of {len(help_runs)} (min {min(x['wall_s'] for x in help_runs):.3f}), "
          f"{statistics.median(x['max_rss_mb'] for x in help_runs):.0f} MB; load {help_runs[0]['load']:.2f}")
    print(f"  {'run':22} {'wall s':>7} {'1st req s':>9} {'after last':>10} {'CPU s':>6} {'RSS MB':>6} "
          f"{'requests':>8} {'load':>5}  cycle")
    rows = [("cold, empty state", r["cold_empty"]), ("warm, empty state", _median_run(r["warm_empty"])),
            ("cold, a year of stories", r["cold_year"]), ("warm, a year of stories", _median_run(r["warm_year"]))]
    for name, x in rows:
        c = x.get("cycle")
        cyc = (f"{c['feeds']} feeds, {c['seeded']} items seeded, {c['failing']} failing" if c
               else f"rc {x['rc']}: {' | '.join(x['stderr_tail'])}")
        if c and c["feeds"] != n:
            cyc += f" (NOT all {n} feeds were due)"
        print(f"  {name:22} {x['wall_s']:7.2f} {x.get('first_request_s', float('nan')):9.3f} "
              f"{x.get('after_last_request_s', float('nan')):10.2f} {x['cpu_s']:6.2f} {x['max_rss_mb']:6.0f} "
              f"{x.get('requests', 0):8d} {x['load']:5.2f}  {cyc}")
    for label in ("warm_empty", "warm_year"):
        walls = ", ".join(f"{x['wall_s']:.2f}" for x in r[label])
        print(f"    {label.replace('_', ' ')} runs: {walls} s (median shown)")
    seq = r["sequential"]
    note = "" if seq["feeds_run"] == n else f" (ran {seq['feeds_run']} feeds, scaled to {n})"
    print(f"  naive `for url in urls: feedparser.parse(url)`: {seq['wall_s']:.1f} s{note}; load {seq['load']:.2f}")
    nf, pf = r["network_floor_s"], r["parsing_floor_s"]
    print(f"  network floor = {n} requests x {r['latency_s'] * 1000:.0f} ms / concurrency {r['concurrency']} "
          f"= {nf:.2f} s; parsing floor = feedparser CPU {r['floor_cpu_s']:.2f} s / {r['cores']} cores = {pf:.2f} s")
    cold, warm = r["cold_empty"], _median_run(r["warm_empty"])
    cold_y, warm_y = r["cold_year"], _median_run(r["warm_year"])
    first = max(x.get("first_request_s", float("inf")) for x in (cold, warm, cold_y, warm_y))

    def goal(ok: bool) -> str:
        return "met" if ok else "NOT met"
    print("  goals:")
    every = (warm.get("cycle") or {}).get("feeds") == n
    print(f"    warm, empty: {warm['wall_s']:.2f} s = network floor + {warm['wall_s'] - nf:.2f} s "
          f"(goal <= +0.5 s, all {n} feeds polled: {'yes' if every else 'NO'}): "
          f"{goal(every and warm['wall_s'] <= nf + 0.5)}")
    for kind, a, b in (("warm", warm, warm_y), ("cold", cold, cold_y)):
        ratio, extra = b["wall_s"] / a["wall_s"], b["max_rss_mb"] - a["max_rss_mb"]
        print(f"    a year of stories, {kind}: {ratio:.2f}x the empty state's time (goal <= 1.2x), "
              f"RSS {extra:+.0f} MB (goal <= +20 MB): {goal(ratio <= 1.2 and extra <= 20)}")
    speedup = seq["wall_s"] / cold["wall_s"]
    print(f"    cold: {speedup:.1f}x faster than the naive loop (goal >= 8x): {goal(speedup >= 8)}; "
          f"cold / parsing floor = {cold['wall_s'] / pf:.2f}")
    print(f"    watchbot --help {h:.3f} s (goal <= 0.2 s): {goal(h <= 0.2)}")
    print(f"    time to first request, worst of the four runs: {first:.3f} s (goal <= 0.35 s): {goal(first <= 0.35)}")


def _load(values) -> str:
    return "/".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    sys.exit(main())
