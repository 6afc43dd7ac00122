"""Peak memory of the daemon with the novelty model (`make bench-daemon-rss`; issue 10's goal:
daemon peak RSS <= 300 MB with the model).

Runs the real daemon (`watchbot run`, console channel) over loopback feeds that carry the 304
labelled dev items (../shared/eval/dev_items.jsonl), dealt round-robin over 16 feeds, every
item let through (`WATCHBOT_BACKFILL`), so the daemon matches them and decides the matched ones
with the embedding model loaded. When every feed has been polled and the daemon has used no CPU
for 3 s, it reads the kernel's high-water mark (VmHWM) of the daemon and of each of its parser
workers, then stops it with SIGTERM.

The same daemon over feeds of only the items labelled `none` (next to nothing to judge) is
measured in the same run. The daemon builds its novelty engine, model included, before its
first poll (issue 12), so both hold the model: the difference is what judging 304 items adds.

Usage: python bench/bench_daemon_rss.py [--feeds 16]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.feedgen import Entry, rss  # noqa: E402
from tests.servers.feedserver import FeedServer  # noqa: E402

DEV = REPO.parent / "shared" / "eval" / "dev_items.jsonl"


def published(value: str | None) -> datetime:
    """The item's date; dev items give some as YYYY-MM or YYYY, one may have none."""
    text = (value or "2025-07-01")[:10]
    parts = [int(p) for p in text.split("-")] + [1, 1]
    return datetime(parts[0], parts[1], parts[2], 12, tzinfo=timezone.utc)


def high_water_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (/proc/<pid>/stat, fields 14-15)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def run_daemon(server: FeedServer, items: list[dict], feeds: int, label: str) -> dict:
    """Serve ``items`` as ``feeds`` feeds; run the daemon until each feed was polled and it is idle."""
    paths = []
    for n in range(feeds):
        path = f"/{label}/{n}.rss"
        share = [it for i, it in enumerate(items) if i % feeds == n]
        server.set_feed(path, rss(f"Outlet {n}", [
            Entry(it["title"], it.get("url") or f"https://outlet{n}.example/{it['id']}",
                  published(it.get("published")), it.get("summary") or "") for it in share]))
        paths.append(path)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "feeds.opml").write_text(
            '<opml version="2.0"><body>' + "".join(f'<outline xmlUrl="{server.url(p)}"/>' for p in paths)
            + "</body></opml>", encoding="utf-8")
        (folder / "watchbot.toml").write_text(
            f'WATCHBOT_FEEDS = "feeds.opml"\nWATCHBOT_WATCHLISTS = "{REPO / "watchlists"}"\n'
            'WATCHBOT_STATE = "state"\nWATCHBOT_INTERVAL = 2\nWATCHBOT_JITTER = 0\n'
            'WATCHBOT_BACKFILL = 1000\n', encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WATCHBOT_"))}
        env["XDG_CACHE_HOME"] = str(folder / "cache")
        log_path = folder / "daemon.log"
        started = time.monotonic()
        with open(log_path, "w") as log:
            proc = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(folder / "watchbot.toml"), "run"],
                                    cwd=folder, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            # Every feed's first poll carries all its items (later polls are 304s). Once every
            # feed was fetched, the daemon is done when it has used no CPU for 3 s.
            deadline = started + float(os.environ.get("BENCH_DEADLINE", "600"))
            cpu, still_since = -1.0, time.monotonic()
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{label}: the daemon exited or took too long (rc={proc.poll()}); "
                                     f"its log: {log_path.read_text(encoding='utf-8')[-2000:]}")
                now_cpu = cpu_seconds(proc.pid)
                if now_cpu > cpu + 0.02:
                    cpu, still_since = now_cpu, time.monotonic()
                if min(len(server.requests(p)) for p in paths) >= 1 and time.monotonic() - still_since >= 3:
                    break
                time.sleep(0.2)
            main_mb = high_water_mb(proc.pid)
            workers_mb = [high_water_mb(c) for c in children(proc.pid)]
            elapsed = time.monotonic() - started - 3
            decisions = log_path.read_text(encoding="utf-8")
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=60)
    return {"main": main_mb, "workers": workers_mb, "elapsed": elapsed,
            "alerts": decisions.count(" alert: "), "stdout_lines": len(out.splitlines())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=16)
    args = ap.parse_args()
    items = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    none_items = [it for it in items if it["watchlist"] == "none"]
    load = os.getloadavg()
    with FeedServer.in_thread() as server:
        judged = run_daemon(server, items, args.feeds, "all")
        plain = run_daemon(server, none_items, args.feeds, "none")
    end_load = os.getloadavg()
    print(f"daemon peak RSS (kernel VmHWM), {args.feeds} loopback feeds, each polled; "
          f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, load {load[0]:.2f} -> {end_load[0]:.2f}")
    for name, n, r in (("all 304 dev items (model loaded, items judged)", len(items), judged),
                       (f"only the {len(none_items)} items labelled none (next to nothing judged)", len(none_items), plain)):
        workers = ", ".join(f"{w:.0f}" for w in r["workers"]) or "none running"
        print(f"  {name}: main {r['main']:.0f} MB, parser workers {workers} MB; "
              f"{r['alerts']} alerts logged, {r['elapsed']:.1f} s until every feed was polled and the daemon idle")
    print(f"  what judging the items adds to the main process: {judged['main'] - plain['main']:+.0f} MB "
          f"({judged['main'] / plain['main']:.2f}x); goal: main <= 300 MB with the model")


if __name__ == "__main__":
    main()
