"""The state's cost per polling cycle on SQLite and on PostgreSQL (`make bench-store-pg`).

One simulated cycle: F feeds of K items each, as the pipeline records them: per feed one
transaction inside ``Store.batch()`` that asks ``unseen`` for all K items and records the new
ones (``record_seen``), then ``record_poll``. Cycle 1 sees every item new (first sight); cycle 2
sees the same items again (the common case: nothing new) plus 2 new items per feed.

Prints per backend: the time of each cycle and the database time per item, for
- SQLite (the embedded default),
- PostgreSQL through ``PgStore`` (the same store methods, statements translated),
- PostgreSQL without ``batch()`` (one commit per feed: the naive alternative),
and the ratios, all measured in this run. PostgreSQL is the throw-away server of
tests/pg_server.py on its unix socket, with fsync on (``--no-fsync``: off, as the tests run it);
a server across a network adds a round trip to every statement.

Usage: python bench/bench_store_pg.py [--feeds 200] [--items 30]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from contextlib import nullcontext
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.models import Feed, Item, PollPlan  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.store_pg import PgStore  # noqa: E402
from tests.pg_server import PgServer  # noqa: E402

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def feed_items(feed: int, count: int, start: int = 0) -> list[Item]:
    url = f"https://outlet{feed}.example.com/rss"
    return [Item(key=f"guid:{url}#{n}", feed_url=url, title=f"Outlet {feed} report number {n} on the talks",
                 link=f"https://outlet{feed}.example.com/news/{n}.html",
                 published=T0 + timedelta(minutes=n), outlet=f"Outlet {feed}")
            for n in range(start, start + count)]


def cycle(store, feeds: int, items: int, new_from: int, batched: bool) -> tuple[float, int]:
    """One cycle; returns (seconds, items looked up)."""
    now = T0 + timedelta(hours=1)
    looked = 0
    began = time.perf_counter()
    with store.batch() if batched else nullcontext():
        for f in range(feeds):
            batch = feed_items(f, items) + (feed_items(f, 2, new_from) if new_from else [])
            looked += len(batch)
            with store.transaction():
                fresh = store.unseen(batch)
                if fresh:
                    store.record_seen(fresh, now)
                store.record_poll(f"https://outlet{f}.example.com/rss",
                                  PollPlan(polled_at=now, status=200, next_check=now + timedelta(minutes=15),
                                           new_items=len(fresh)))
    return time.perf_counter() - began, looked


def run(name: str, store, feeds: int, items: int, batched: bool) -> dict:
    store.sync_feeds([Feed(url=f"https://outlet{f}.example.com/rss") for f in range(feeds)])
    first, n1 = cycle(store, feeds, items, 0, batched)
    second, n2 = cycle(store, feeds, items, items, batched)
    store.close()
    print(f"{name:34s} first cycle {first:6.2f} s ({first / n1 * 1e6:6.0f} µs/item)   "
          f"repeat cycle {second:6.2f} s ({second / n2 * 1e6:6.0f} µs/item)")
    return {"first": first, "second": second}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--items", type=int, default=30)
    ap.add_argument("--no-fsync", action="store_true", help="Run PostgreSQL with fsync off.")
    args = ap.parse_args()
    reason = PgServer.unavailable()
    if reason:
        sys.exit(f"cannot start PostgreSQL here: {reason}")
    load = os.getloadavg()[0]
    print(f"{args.feeds} feeds x {args.items} items per cycle; PostgreSQL fsync "
          f"{'off' if args.no_fsync else 'on'}; load average {load:.1f}")
    with tempfile.TemporaryDirectory() as tmp, PgServer.start(durable=not args.no_fsync) as server:
        sqlite = run("SQLite (batch)", Store(Path(tmp) / "s.sqlite3"), args.feeds, args.items, True)
        pg = run("PostgreSQL via PgStore (batch)", PgStore(server.create_database()), args.feeds, args.items, True)
        naive = run("PostgreSQL, a commit per feed", PgStore(server.create_database()), args.feeds,
                    args.items, False)
    for key, label in (("first", "first cycle"), ("second", "repeat cycle")):
        print(f"{label}: PostgreSQL/SQLite {pg[key] / sqlite[key]:.2f}x; "
              f"commit per feed / batch on PostgreSQL {naive[key] / pg[key]:.2f}x")


if __name__ == "__main__":
    main()
