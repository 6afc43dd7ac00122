"""Bounded state at scale: 1,000,000 items in the real Store (`make bench-state`).

Prints:
- time to record N items in batches (``Store.record_seen``: the item row plus its 2-3 identities,
  one transaction per batch, as a first poll of a big feed does),
- ``Store.unseen([item])`` latency per item at N, p50/p95, for items already seen (the common
  case: every poll re-reads ~30 known items per feed) and for new ones,
- ``Store.prune`` time (half the items are older than the cutoff) and a check that the pruned
  items are still recognised (identity tombstones),
- database size before and after prune (main file + WAL),
- the same lookups against a naive alternative — the identities in a table without an index,
  i.e. a linear scan — on a subsample, as a ratio, so the value of the index is measured rather
  than assumed.

Usage: python bench/bench_state.py [--items 1000000] [--batch 10000] [--naive 200000]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.models import Item  # noqa: E402
from bot.store import Store, ident_digest, identities  # noqa: E402

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
WORDS = ("Baku Moscow Aktau Caspian pipeline minister talks railway court ferry summit port gas "
         "Баку Москва переговоры министр суд порт газ Bakı nazir görüş").split()


def make_item(i: int) -> Item:
    """Item number ``i``: always the same item for the same ``i``."""
    rnd = random.Random(i)
    feed = f"https://outlet{i % 1000}.example.com/rss"
    title = " ".join(rnd.choice(WORDS) for _ in range(8)) + f" {i}"
    return Item(key=f"guid:https://outlet{i % 1000}.example.com/a/{i}", feed_url=feed, title=title,
                link=f"https://outlet{i % 1000}.example.com/news/{i}.html",
                published=T0 + timedelta(seconds=30 * i), outlet=f"Outlet {i % 1000}")


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def timed_lookups(fn, items: list[Item]) -> list[float]:
    out = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t) * 1e6)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--naive", type=int, default=200_000, help="identities in the naive subsample")
    ap.add_argument("--probes", type=int, default=2_000)
    args = ap.parse_args(argv)
    rnd = random.Random(1)

    with tempfile.TemporaryDirectory(prefix="watchbot-bench-state-") as tmp:
        db_path = Path(tmp) / "watchbot.sqlite3"
        store = Store(db_path)
        n, batch = args.items, args.batch
        # first_seen spreads the items over 200 days so a prune cutoff can take half of them.
        days = 200
        insert_s = 0.0
        for start in range(0, n, batch):
            items = [make_item(i) for i in range(start, min(n, start + batch))]  # not timed
            t = time.perf_counter()
            store.record_seen(items, T0 + timedelta(days=days * start / n))
            insert_s += time.perf_counter() - t
        store.checkpoint()
        idents = store.count_identities()
        before = size(db_path)
        print(f"items: {n:,} ({idents:,} identities) recorded in batches of {batch:,}: {insert_s:.1f} s "
              f"({n / insert_s:,.0f} items/s)")

        seen_probe = [make_item(i) for i in rnd.sample(range(n), args.probes)]
        new_probe = [make_item(n + i) for i in range(args.probes)]
        lookup = lambda item: store.unseen([item])  # noqa: E731
        seen_us = timed_lookups(lookup, seen_probe)
        new_us = timed_lookups(lookup, new_probe)
        assert all(not store.unseen([p]) for p in seen_probe[:100]), "known items must not be new"
        assert all(store.unseen([p]) for p in new_probe[:100])
        print(f"unseen() per item at {n:,}: known p50 {pct(seen_us, .5):.0f} µs, p95 {pct(seen_us, .95):.0f} µs; "
              f"new p50 {pct(new_us, .5):.0f} µs, p95 {pct(new_us, .95):.0f} µs")

        # Naive alternative: the same identities without an index (linear scan), on a subsample.
        # An experiment on the schema, not state access: its own connection and file, so the
        # store's database is only ever touched through the store.
        m = min(args.naive, idents)
        lab = sqlite3.connect(str(Path(tmp) / "naive.sqlite3"))
        lab.execute("ATTACH DATABASE ? AS state", (str(db_path),))
        lab.execute("CREATE TABLE naive AS SELECT ident FROM state.identities LIMIT ?", (m,))
        lab.execute("DETACH DATABASE state")
        lab.execute("CREATE TABLE indexed (ident BLOB PRIMARY KEY) WITHOUT ROWID")
        lab.execute("INSERT INTO indexed SELECT * FROM naive")
        lab.commit()
        probes = [make_item(n + 10 * args.probes + i) for i in range(200)]  # absent: worst case

        def query(table: str):
            def run(item: Item) -> None:
                ids = [ident_digest(i) for i in identities(item)]
                lab.execute(f"SELECT 1 FROM {table} WHERE ident IN ({','.join('?' * len(ids))}) LIMIT 1",
                            ids).fetchone()
            return run

        naive_us = timed_lookups(query("naive"), probes)
        indexed_us = timed_lookups(query("indexed"), probes)
        ratio = statistics.median(naive_us) / statistics.median(indexed_us)
        print(f"naive linear scan over {m:,} identities: p50 {pct(naive_us, .5):,.0f} µs vs indexed "
              f"{pct(indexed_us, .5):.0f} µs: {ratio:,.0f}x slower (and linear in state size)")
        lab.close()

        cutoff = T0 + timedelta(days=days / 2)
        t = time.perf_counter()
        removed = store.prune(cutoff)
        prune_s = time.perf_counter() - t
        store.checkpoint()
        old = [make_item(i) for i in range(0, n // 4, max(1, n // 400))]
        still_known = sum(not store.unseen([o]) for o in old)
        print(f"prune(first_seen < day {days // 2}): {removed:,} items removed in {prune_s:.1f} s; "
              f"tombstones: {still_known}/{len(old)} pruned items still recognised as seen")
        store.compact()
        after = size(db_path)
        print(f"database: {before / 2**20:,.0f} MB at {n:,} items; {after / 2**20:,.0f} MB after prune + VACUUM "
              f"(identities are kept: ~{idents / n:.1f} per item)")
        assert still_known == len(old), "a pruned item would alert again"
        store.close()


if __name__ == "__main__":
    main()
