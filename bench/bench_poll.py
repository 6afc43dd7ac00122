"""bench-poll: one polling cycle of N feeds, cold and warm, against the naive loop and the floor.

N outlet feeds (default 1000; each ~20 KB with 30 items: HTML descriptions, GUIDs, dates) are
served on loopback by the feed server in its OWN process (so its CPU does not share our GIL),
spread over 50 loopback addresses (127.0.0.1-50) like real outlets on different hosts, with a
fixed 50 ms latency on every answer. The real pipeline (``Pipeline.build`` + ``run_once``, i.e.
what ``watchbot run --once`` does, minus interpreter start-up) is measured in:

1. a cold cycle on a fresh state: every feed 200, parsed, items recorded;
2. a warm cycle: every feed answers 304 to our validators;
3. a warm cycle against a server that ignores validators and sends the same bytes again: 200s
   whose body hash is unchanged, so nothing may be parsed (checked, not assumed);
4. the naive script: ``for url in urls: feedparser.parse(url)``;
5. the parser pool alone on the same bodies (no network, no store): the share of the cold
   cycle that parsing in processes costs on this machine before anything else happens;
6. the N feeds on ONE host with per_host 64, fetched by the bot's Fetcher (a host's
   connections in httpx pools of 4) and with one pool of 64 for the host: CPU per poll;
7. a cold and a warm `watchbot run --once` PROCESS (bench/bench_cron.py's runner): what the
   in-process cycles leave out (interpreter start, imports, rules, store, exit).

Also printed: peak RSS of the main process and of each parser worker (the kernel's high-water
mark, VmHWM, reset at the start of each phase: no sampling thread stealing the main process's
CPU), and the parsing floor: the CPU time feedparser itself needs for these bodies, divided by
the cores (measured before and after the cycles, averaged). Two floors are shown: for the call
the bot makes (``bot.parse.FEEDPARSER_OPTIONS``: sanitiser off, it reduces HTML to text itself)
and for feedparser's default call. The ratio that matters is cold cycle / floor: how close
polling gets to "only parsing".

Goals: cold cycle <= 1.25 x floor, warm cycle of 1000 feeds <= 2 s, peak RSS <= 150 MB per
process. Loopback only; every loop is bounded. Results also go to bench/out/bench_poll.json.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import feedparser  # noqa: E402
import httpx  # noqa: E402
import psutil  # noqa: E402

from bot.config import Settings, write_opml  # noqa: E402
from bot.models import Feed  # noqa: E402
from bot.parse import FEEDPARSER_OPTIONS, ParsePool  # noqa: E402
from bot.pipeline import Pipeline  # noqa: E402
from tests.servers.feedserver import bench_url, outlet_feed  # noqa: E402

MB = 1024 * 1024
HEADERS = {"content-type": "application/rss+xml; charset=utf-8"}


class PeakRss:
    """Peak RSS per process and phase, from the kernel's own high-water mark (VmHWM).

    Sampling from a thread in this process would cost the main process CPU (walking /proc for
    children every few ms took ~2 ms per sample here) and could miss short peaks; the kernel
    tracks the exact peak for free. At each phase start the mark is reset (``clear_refs`` 5, own
    processes); where that is refused, the figure is the peak since the process started: an
    upper bound, flagged in ``reset_ok``.
    """

    def __init__(self) -> None:
        self.phase = "setup"
        self.pids: dict[str, list[int]] = {"main": [os.getpid()], "worker": []}
        self.peaks: dict[str, dict[str, float]] = {}
        self.reset_ok = True

    def start_phase(self, phase: str, workers: list[int] | None = None) -> None:
        self.phase = phase
        if workers is not None:
            self.pids["worker"] = list(workers)
        for pids in self.pids.values():
            for pid in pids:
                try:
                    Path(f"/proc/{pid}/clear_refs").write_text("5")
                except OSError:
                    self.reset_ok = False

    def end_phase(self) -> None:
        peaks = self.peaks.setdefault(self.phase, {})
        for who, pids in self.pids.items():
            for pid in pids:
                peaks[who] = max(peaks.get(who, 0), _vm_hwm(pid))


def _vm_hwm(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


class CountingParser:
    """Wraps the pipeline's ParsePool to count parses (proof that phase 3 parses nothing)."""

    def __init__(self, pool):
        self.pool = pool
        self.calls = 0

    async def parse(self, body, headers, url, **kwargs):
        self.calls += 1
        return await self.pool.parse(body, headers, url, **kwargs)

    def close(self) -> None:
        self.pool.close()

    def __getattr__(self, name):
        return getattr(self.pool, name)


def start_server(n: int, latency: float, hosts: int, *extra: str) -> tuple[subprocess.Popen, int]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.servers.feedserver", "--bench-feeds", str(n),
         "--latency", str(latency), "--hosts", str(hosts), *extra],
        cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # the server prints its port once every feed is registered
    if not line.startswith("PORT "):
        proc.kill()
        raise SystemExit(f"feed server did not start: {line!r}")
    return proc, int(line.split()[1])


def control(port: int, command: str) -> None:
    httpx.post(f"http://127.0.0.1:{port}/__control__/{command}", timeout=10).raise_for_status()


def busy_cpu() -> float:
    """CPU seconds the whole machine has been busy (all processes, all cores)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


async def run_cycles(urls: list[str], state: Path, sampler: PeakRss, port: int,
                     server_pid: int) -> dict:
    opml = state.parent / "feeds.opml"
    opml.write_text(write_opml([Feed(url=u) for u in urls]), encoding="utf-8")
    settings = Settings(watchbot_feeds=opml, watchbot_watchlists=REPO / "watchlists",
                        watchbot_state=state, watchbot_jitter=0)
    state.mkdir(parents=True, exist_ok=True)
    pipeline = Pipeline.build(settings, channel=None)
    counter = CountingParser(pipeline.parser)
    pipeline.parser = counter
    out: dict = {"workers": counter.pool.workers, "concurrency": settings.watchbot_concurrency,
                 "per_host": settings.watchbot_per_host}

    t = time.perf_counter()
    counter.pool.warm_up()
    out["pool_start_s"] = time.perf_counter() - t

    async def cycle(name: str, expect: int) -> dict:
        workers = counter.pool.worker_pids()
        sampler.start_phase(name, workers)
        calls, cpu_main, cpu_workers = counter.calls, time.process_time(), cpu_of(workers)
        cpu_server, busy = cpu_of([server_pid]), busy_cpu()
        t0 = time.perf_counter()
        report = await pipeline.run_once()
        wall = time.perf_counter() - t0
        sampler.end_phase()
        ours = (time.process_time() - cpu_main) + (cpu_of(workers) - cpu_workers) + \
            (cpu_of([server_pid]) - cpu_server)
        statuses: dict[int, int] = {}
        for p in report.polls:
            statuses[p.status] = statuses.get(p.status, 0) + 1
        errors = [p.error for p in report.polls if p.error]
        result = {"wall_s": wall, "statuses": statuses, "errors": len(errors),
                  "first_error": errors[0] if errors else None,
                  "parsed": counter.calls - calls,
                  "cpu_main_s": time.process_time() - cpu_main,
                  "cpu_workers_s": cpu_of(workers) - cpu_workers,
                  "cpu_server_s": cpu_of([server_pid]) - cpu_server,
                  # Other sessions' processes on a shared machine make wall times pessimistic.
                  "cpu_others_s": max(0.0, busy_cpu() - busy - ours)}
        if statuses.get(expect, 0) != len(urls):
            result["warning"] = f"expected {len(urls)} x {expect}, got {statuses}"
        return result

    out["cold"] = await cycle("cold", 200)
    out["warm_304"] = await cycle("warm_304", 304)
    control(port, "honour_validators/0")
    try:
        out["warm_same_body"] = await cycle("warm_same_body", 200)
    finally:
        control(port, "honour_validators/1")
    items = pipeline.store.count_items()
    out["items_in_store"] = items
    await pipeline.aclose()
    return out


def pool_alone(bodies: list[bytes], urls: list[str], concurrency: int) -> dict:
    """The same bodies through a fresh ParsePool, no network and no store: what parsing in
    worker processes costs on this machine by itself (IPC, our item extraction, and the
    workers sharing the cores with the process that feeds them)."""
    pool = ParsePool()
    pool.warm_up()
    workers = pool.worker_pids()

    async def run() -> None:
        gate = asyncio.Semaphore(concurrency)

        async def one(body: bytes, url: str) -> None:
            async with gate:
                await pool.parse(body, dict(HEADERS), url, feed_url=url)
        await asyncio.gather(*(one(b, u) for b, u in zip(bodies, urls)))

    cpu_main, cpu_workers = time.process_time(), cpu_of(workers)
    t0 = time.perf_counter()
    try:
        asyncio.run(run())
        # Read before close(): the workers' CPU times vanish with them.
        return {"wall_s": time.perf_counter() - t0, "cpu_main_s": time.process_time() - cpu_main,
                "cpu_workers_s": cpu_of(workers) - cpu_workers}
    finally:
        pool.close()


def one_host(n: int, latency: float, per_host: int) -> dict:
    """N feeds on ONE host at a high per-host limit, fetched twice (200s, then 304s) by the
    bot's Fetcher with its small pools and with one httpx pool for the host (the naive
    alternative): main-process CPU per poll and wall time of each round."""
    from bot.fetch import POOL_CONNECTIONS, Fetcher
    from bot.models import Validators

    server, port = start_server(n, latency, 1)
    urls = [bench_url(i, port, 1) for i in range(n)]
    out: dict = {"feeds": n, "per_host": per_host, "pool_connections": POOL_CONNECTIONS,
                 "load": os.getloadavg()[0]}

    async def rounds(pool_connections: int) -> dict:
        got: dict = {}
        validators: dict[str, Validators] = {}
        async with Fetcher(max_concurrency=64, per_host=per_host, pool_connections=pool_connections) as f:
            for name in ("200", "304"):
                t0, c0 = time.perf_counter(), time.process_time()
                results = await asyncio.gather(*(f.fetch(u, validators.get(u, Validators())) for u in urls))
                got[name] = {"wall_s": time.perf_counter() - t0, "cpu_ms_per_poll": (time.process_time() - c0) / n * 1000,
                             "statuses": sorted({r.status for r in results})}
                validators = {u: r.validators for u, r in zip(urls, results)}
        return got

    try:
        out["small_pools"] = asyncio.run(rounds(POOL_CONNECTIONS))
        out["one_pool"] = asyncio.run(rounds(per_host))
    finally:
        server.stdin.close()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
    return out


def floor(bodies: list[bytes], **kwargs) -> float:
    """CPU seconds feedparser needs for ``bodies`` (one process, sequential)."""
    start = time.process_time()
    for body in bodies:
        feedparser.parse(io.BytesIO(body), response_headers=HEADERS, **kwargs)
    return time.process_time() - start


def floor_in_child(n: int, bot_call: bool) -> float:
    """``floor`` of the N bench bodies, in a fresh interpreter: the measuring process's heap and
    garbage collector stay out of the figure, and the bodies stay out of our peak RSS."""
    out = subprocess.run([sys.executable, __file__, "--floor", str(n)] + (["--bot-call"] if bot_call else []),
                         cwd=REPO, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def sequential(urls: list[str]) -> tuple[float, int]:
    """The naive script: feedparser.parse(url) one feed after another."""
    start = time.perf_counter()
    n = 0
    for url in urls:
        n += len(feedparser.parse(url).entries)
    return time.perf_counter() - start, n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=1000, help="number of feeds (default 1000)")
    ap.add_argument("--latency", type=float, default=0.05, help="server latency in s (default 0.05)")
    ap.add_argument("--hosts", type=int, default=50, help="loopback addresses to spread feeds over")
    ap.add_argument("--sequential", type=int, default=None,
                    help="run the naive loop on only this many feeds and scale (default: all)")
    ap.add_argument("--json", type=Path, default=REPO / "bench" / "out" / "bench_poll.json")
    ap.add_argument("--floor", type=int, default=None, help=argparse.SUPPRESS)  # child mode
    ap.add_argument("--bot-call", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.floor is not None:
        kwargs = FEEDPARSER_OPTIONS if args.bot_call else {}
        print(floor([outlet_feed(i) for i in range(args.floor)], **kwargs))
        return 0
    n = args.feeds
    cores = os.cpu_count() or 1

    loadavg_start = os.getloadavg()[0]
    # No <ttl>: the whole-process cycles below use run --once, which skips feeds not yet due
    # (a ttl is a floor on the interval); the in-process cycles poll every feed regardless.
    server, port = start_server(n, args.latency, args.hosts, "--ttl", "0")
    urls = [bench_url(i, port, args.hosts) for i in range(n)]
    sampler = PeakRss()
    try:
        # The floor is measured before and after the cycles: on a shared VM the speed of a core
        # drifts (up to 8% between the two measurements here), and the ratio should compare
        # like with like.
        floor_before = floor_in_child(n, bot_call=True)
        with tempfile.TemporaryDirectory(prefix="bench-poll-") as tmp:
            res = asyncio.run(run_cycles(urls, Path(tmp) / "state", sampler, port,
                                             server.pid))
        # The same cycles as `watchbot run --once` processes (bench_cron.py has the full
        # picture): interpreter start, imports, rules, store and exit included.
        from bench_cron import process_cycles
        with tempfile.TemporaryDirectory(prefix="bench-poll-process-") as tmp:
            res["process"] = process_cycles(urls, port, Path(tmp))
        bodies = [outlet_feed(i) for i in range(n)]
        res["pool_alone"] = pool_alone(bodies, urls, res["concurrency"])
        floor_after = floor_in_child(n, bot_call=True)
        floor_bot = (floor_before + floor_after) / 2
        floor_default = floor_in_child(n, bot_call=False)
        k = min(n, args.sequential or n)
        res["one_host"] = one_host(n, args.latency, 64)
        sampler.start_phase("sequential", workers=[])
        seq_wall, seq_items = sequential(urls[:k])
        sampler.end_phase()
        seq_wall_scaled = seq_wall * n / k
    finally:
        server.stdin.close()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()

    items = sum(b.count(b"<item>") for b in bodies)
    res.update({
        "feeds": n, "loadavg_start": loadavg_start, "latency_s": args.latency, "hosts": args.hosts, "cores": cores,
        "bytes_per_feed": sum(map(len, bodies)) // n, "items_total": items,
        "floor_cpu_s_bot_call": floor_bot, "floor_cpu_s_default_call": floor_default,
        "floor_cpu_s_bot_call_before_after": [floor_before, floor_after],
        "floor_s_bot_call": floor_bot / cores, "floor_s_default_call": floor_default / cores,
        "sequential_feeds_run": k, "sequential_wall_s": seq_wall_scaled,
        "sequential_items_seen": seq_items,
        "peaks_mb": {ph: {who: round(v / MB, 1) for who, v in d.items()}
                     for ph, d in sampler.peaks.items()},
        "peaks_reset_per_phase": sampler.reset_ok,
    })
    report(res)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=2, default=str), encoding="utf-8")
    return 0


def report(r: dict) -> None:
    n, items, cores = r["feeds"], r["items_total"], r["cores"]
    cold, warm, same = r["cold"], r["warm_304"], r["warm_same_body"]
    fb, fd = r["floor_s_bot_call"], r["floor_s_default_call"]
    print(f"bench-poll: {n} feeds x ~{r['bytes_per_feed'] // 1000} KB, {items} items, "
          f"{r['latency_s'] * 1000:.0f} ms latency, {r['hosts']} loopback hosts, {cores} cores, "
          f"{r['workers']} parser workers, concurrency {r['concurrency']} (per host {r['per_host']})")
    print(f"  parser pool start-up (not in the cycles): {r['pool_start_s']:.2f} s")
    print(f"  load average at start: {r['loadavg_start']:.2f}; CPU seconds below: this process "
          f"(main), parser workers, the feed server, and OTHER processes on the machine")
    print(f"  {'phase':30} {'wall s':>7} {'items/s':>8} {'parsed':>6} {'main':>6} "
          f"{'workers':>7} {'server':>6} {'others':>6}  statuses")
    rows = [("1 cold cycle (all 200)", cold, items),
            ("2 warm cycle (all 304)", warm, 0),
            ("3 warm, validators ignored", same, 0)]
    for name, c, it in rows:
        ips = f"{it / c['wall_s']:.0f}" if it else "-"
        print(f"  {name:30} {c['wall_s']:7.2f} {ips:>8} {c['parsed']:6d} {c['cpu_main_s']:6.2f} "
              f"{c['cpu_workers_s']:7.2f} {c['cpu_server_s']:6.2f} {c['cpu_others_s']:6.2f}  "
              f"{c['statuses']}"
              + (f"  ! {c['warning']}" if c.get("warning") else ""))
    seq_note = "" if r["sequential_feeds_run"] == n else \
        f" (ran {r['sequential_feeds_run']} feeds, scaled)"
    print(f"  {'4 naive feedparser.parse(url)':30} {r['sequential_wall_s']:7.2f} "
          f"{items / r['sequential_wall_s']:8.0f}{seq_note}")
    pa = r["pool_alone"]
    print(f"  {'5 parser pool alone (no I/O)':30} {pa['wall_s']:7.2f} {items / pa['wall_s']:8.0f} "
          f"{n:6d} {pa['cpu_main_s']:6.2f} {pa['cpu_workers_s']:7.2f}  = {pa['wall_s'] / fb:.2f} x floor: "
          f"what parsing in processes costs here before any fetching or storing")
    before, after = (x / cores for x in r["floor_cpu_s_bot_call_before_after"])
    print(f"  parsing floor = feedparser CPU / {cores} cores: {fb:.2f} s for the bot's call "
          f"(sanitiser off; {before:.2f} s before the cycles, {after:.2f} s after), "
          f"{fd:.2f} s for feedparser's default call")
    print(f"  ratios: cold / floor(bot call) = {cold['wall_s'] / fb:.2f} (goal <= 1.25); "
          f"cold / floor(default call) = {cold['wall_s'] / fd:.2f}; "
          f"sequential / cold = {r['sequential_wall_s'] / cold['wall_s']:.1f}x")
    # On a shared machine other processes take CPU; this bound says what the same work would
    # need alone: the busiest of (one event-loop thread, all our CPU spread over the cores,
    # the network: N requests x latency / concurrency). An estimate, not a measurement.
    def alone(c: dict) -> float:
        return max(c["cpu_main_s"], (c["cpu_main_s"] + c["cpu_workers_s"] + c["cpu_server_s"]) / cores,
                   n * r["latency_s"] / r["concurrency"])
    print(f"  estimate on an otherwise idle machine (from the CPU seconds above): cold "
          f"{alone(cold):.1f} s = {alone(cold) / fb:.2f} x floor; warm 304 {alone(warm):.1f} s; "
          f"same body {alone(same):.1f} s")
    oh = r.get("one_host")
    if oh:
        sp, op = oh["small_pools"], oh["one_pool"]
        print(f"  6 one host, {oh['feeds']} feeds, per_host {oh['per_host']} (load {oh['load']:.2f}): "
              f"pools of {oh['pool_connections']}: 200s {sp['200']['wall_s']:.2f} s / {sp['200']['cpu_ms_per_poll']:.2f} ms CPU "
              f"per poll, 304s {sp['304']['wall_s']:.2f} s / {sp['304']['cpu_ms_per_poll']:.2f} ms; one pool: "
              f"200s {op['200']['wall_s']:.2f} s / {op['200']['cpu_ms_per_poll']:.2f} ms, 304s {op['304']['wall_s']:.2f} s / "
              f"{op['304']['cpu_ms_per_poll']:.2f} ms ({op['304']['cpu_ms_per_poll'] / sp['304']['cpu_ms_per_poll']:.1f}x)")
    proc = r.get("process")
    if proc:
        pc, pw = proc["cold"], proc["warm"]
        print(f"  whole process (`watchbot run --once`, see make bench-cron): cold {pc['wall_s']:.2f} s "
              f"(first request after {pc.get('first_request_s', float('nan')):.2f} s, load {pc['load']:.2f}), "
              f"warm {pw['wall_s']:.2f} s (first request after {pw.get('first_request_s', float('nan')):.2f} s, "
              f"load {pw['load']:.2f}); in-process cycles above: {cold['wall_s']:.2f} s and {warm['wall_s']:.2f} s")
    print(f"  warm cycle (304): {warm['wall_s']:.2f} s (goal <= 2 s for 1000 feeds); "
          f"same body re-sent: {same['parsed']} parses (must be 0)")
    peaks = r["peaks_mb"]
    cyc = [peaks.get(p, {}) for p in ("cold", "warm_304", "warm_same_body")]
    main_peak = max((p.get("main", 0) for p in cyc), default=0)
    worker_peak = max((p.get("worker", 0) for p in cyc), default=0)
    since = "" if r["peaks_reset_per_phase"] else " (mark not resettable here: peak since start)"
    print(f"  peak RSS during the cycles (kernel VmHWM){since}: main {main_peak:.0f} MB, "
          f"largest parser worker {worker_peak:.0f} MB (goal <= 150 MB each)")
    print(f"  peak RSS of this process during the naive loop: "
          f"{peaks.get('sequential', {}).get('main', 0):.0f} MB")


if __name__ == "__main__":
    sys.exit(main())
