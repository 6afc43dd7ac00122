"""Feed leases (issue 12): schema version 3 on both backends and the claim of due feeds.

Several workers share one database; a feed is polled by the worker that claimed it, and a
worker that dies loses its claims when their lease runs out (bot/store.py claim_due_feeds).
"""

from __future__ import annotations

import sqlite3
import subprocess

import pytest

from bot import migrations
from bot.models import Feed
from tests.conftest import cli_run

URL = "https://o.example/rss"


def _rewind_to_2_sqlite(path) -> None:
    """Make a current SQLite state look as schema 2 left it (no lease columns, no due index)."""
    db = sqlite3.connect(str(path))
    db.executescript("DROP INDEX feeds_due; ALTER TABLE feeds DROP COLUMN lease_owner; "
                     "ALTER TABLE feeds DROP COLUMN lease_until; "
                     "UPDATE meta SET value='2' WHERE key='schema_version';")
    db.commit()
    db.close()


def test_schema_2_sqlite_state_gets_the_lease_columns_when_opened(tmp_path):
    """A SQLite state at schema 2 is upgraded to 3 when opened: the lease columns and the due
    index appear and the feed rows stay."""
    from bot.store import Store

    path = tmp_path / "s.sqlite3"
    store = Store(path)
    store.sync_feeds([Feed(url=URL)])
    store.close()
    _rewind_to_2_sqlite(path)
    upgraded = Store(path)
    assert upgraded.schema_found == 2 and upgraded.get_meta("schema_version") == str(migrations.LATEST)
    columns = {r[1] for r in upgraded.db.execute("PRAGMA table_info(feeds)")}
    assert {"lease_owner", "lease_until"} <= columns
    assert upgraded.db.execute("SELECT 1 FROM sqlite_master WHERE name='feeds_due'").fetchone()
    assert [fs.url for fs in upgraded.feed_states()] == [URL]
    upgraded.close()


def test_schema_2_postgresql_database_is_upgraded_to_3_by_db_upgrade(tmp_path, pg_url):
    """A PostgreSQL database at schema 2 is refused by `run` until `watchbot db upgrade`, which
    adds the lease columns and the due index and keeps the feed rows."""
    import psycopg

    from bot.store_pg import PgStore

    store = PgStore(pg_url)
    store.sync_feeds([Feed(url=URL)])
    store.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP INDEX feeds_due")
        conn.execute("ALTER TABLE feeds DROP COLUMN lease_owner, DROP COLUMN lease_until")
        conn.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
    with pytest.raises(migrations.SchemaError, match="run `watchbot db upgrade`"):
        PgStore(pg_url)
    cmd, env = cli_run(tmp_path, [], "http://127.0.0.1:9", once=True)
    cmd = cmd[:cmd.index("run")] + ["db", "upgrade"]
    done = subprocess.run(cmd, env={**env, "WATCHBOT_DATABASE_URL": pg_url}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    upgraded = PgStore(pg_url)
    assert upgraded.schema_found == migrations.LATEST
    assert {"lease_owner", "lease_until"} <= set(upgraded.db.tables()["feeds"][1])
    assert [fs.url for fs in upgraded.feed_states()] == [URL]
    upgraded.close()
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass('feeds_due') IS NOT NULL").fetchone()[0]


# ---------------------------------------------------------------------------- claims

from datetime import datetime, timedelta, timezone  # noqa: E402

from bot.models import PollPlan  # noqa: E402

NOW = datetime(2025, 10, 25, 12, tzinfo=timezone.utc)
LEASE = timedelta(seconds=60)


def _feeds(store, n: int) -> list[str]:
    urls = [f"https://o{i:03}.example/rss" for i in range(n)]
    store.sync_feeds([Feed(url=u) for u in urls])
    return urls


def test_a_due_feed_is_leased_to_one_worker_until_its_lease_runs_out(backend):
    """Two workers claiming the same feeds get disjoint sets; a leased feed goes to another worker
    only once its lease ran out, and its owner may take it again meanwhile."""
    store = backend.open()
    urls = _feeds(store, 6)
    first = store.claim_due_feeds(urls, "w1", NOW, LEASE, limit=4)
    second = store.claim_due_feeds(urls, "w2", NOW, LEASE)
    assert len(first) == 4 and set(first) | set(second) == set(urls) and not set(first) & set(second)
    assert store.claim_due_feeds(urls, "w3", NOW + LEASE - timedelta(seconds=1), LEASE) == []
    assert sorted(store.claim_due_feeds(first, "w1", NOW + timedelta(seconds=5), LEASE)) == sorted(first)
    later = NOW + timedelta(seconds=5) + LEASE
    assert sorted(store.claim_due_feeds(urls, "w3", later, LEASE)) == sorted(urls)
    other = backend.open()  # what the claim committed, another connection (worker) sees
    assert other.claim_due_feeds(urls, "w4", later, LEASE) == []
    store.close()
    other.close()


def test_recording_a_poll_releases_its_lease_and_the_feed_waits_for_its_next_check(backend):
    """record_poll frees the feed; it is claimable again only when its next check has come, and
    never when paused or not in the worker's list."""
    store = backend.open()
    urls = _feeds(store, 3)
    assert len(store.claim_due_feeds(urls, "w1", NOW, LEASE)) == 3
    polled = NOW + timedelta(seconds=2, microseconds=300_000)
    store.record_poll(urls[0], PollPlan(polled, 200, next_check=polled + timedelta(seconds=900), success=True))
    store.record_poll(urls[1], PollPlan(polled, 410, next_check=polled, paused_reason="gone"))
    assert store.feed_state(urls[0]).next_check - store.feed_state(urls[0]).last_fetch == timedelta(seconds=900)
    store.record_poll(urls[2], PollPlan(polled, 500, next_check=polled + timedelta(seconds=5), error="x"))
    # Well within w1's 60 s lease: free only because the poll was recorded.
    assert store.claim_due_feeds(urls, "w2", polled + timedelta(seconds=6), LEASE) == [urls[2]]
    later = NOW + LEASE + timedelta(seconds=1)
    assert store.claim_due_feeds(urls[:1], "w2", polled + timedelta(seconds=900), LEASE) == []  # .3 s early
    assert store.claim_due_feeds(urls[:1], "w2", polled + timedelta(seconds=901), LEASE) == [urls[0]]
    assert store.claim_due_feeds(["https://elsewhere.example/rss"], "w2", later, LEASE) == []
    store.close()


def test_a_poll_that_outlived_its_lease_does_not_free_the_next_workers_claim(backend):
    """A worker recording a poll whose lease ran out meanwhile leaves the lease another worker took since."""
    store = backend.open()
    urls = _feeds(store, 1)
    assert store.claim_due_feeds(urls, "w1", NOW, LEASE) == urls
    late = NOW + LEASE + timedelta(seconds=1)
    assert store.claim_due_feeds(urls, "w2", late, LEASE) == urls  # w1's lease ran out mid-poll
    # w1's poll ends now with a due time already past (it was computed when w1's poll began).
    store.record_poll(urls[0], PollPlan(late, 200, next_check=NOW + timedelta(seconds=5), success=True), "w1")
    assert store.claim_due_feeds(urls, "w3", late + timedelta(seconds=1), LEASE) == []  # w2 still polls it
    store.record_poll(urls[0], PollPlan(late, 200, next_check=late + timedelta(seconds=5), success=True), "w2")
    # And when w2 recorded first, w1's late record does not bring the due time forward.
    store.record_poll(urls[0], PollPlan(late, 200, next_check=NOW + timedelta(seconds=5), success=True), "w1")
    assert store.claim_due_feeds(urls, "w3", late + timedelta(seconds=4), LEASE) == []
    assert store.claim_due_feeds(urls, "w3", late + timedelta(seconds=6), LEASE) == urls
    store.close()


def test_a_renewed_lease_holds_until_its_new_end_and_only_the_owners_is_renewed(backend):
    """renew_leases moves the owner's lease of a feed still being polled to ``now + lease``:
    nobody else claims it before then; a lease another worker holds is left alone."""
    store = backend.open()
    urls = _feeds(store, 2)
    assert store.claim_due_feeds(urls[:1], "w1", NOW, LEASE) == urls[:1]
    assert store.claim_due_feeds(urls[1:], "w2", NOW, LEASE) == urls[1:]
    renewed = NOW + LEASE - timedelta(seconds=1)
    assert store.renew_leases(urls, "w1", renewed, LEASE) == 1
    assert store.claim_due_feeds(urls, "w3", NOW + LEASE, LEASE) == urls[1:]  # w2's ran out
    assert store.claim_due_feeds(urls[:1], "w3", renewed + LEASE - timedelta(seconds=1), LEASE) == []
    assert store.claim_due_feeds(urls[:1], "w3", renewed + LEASE, LEASE) == urls[:1]
    store.close()


def test_released_leases_are_free_and_a_retry_time_is_kept(backend):
    """release_feeds frees only the owner's leases, optionally with a time before which the feed is not due."""
    store = backend.open()
    urls = _feeds(store, 2)
    store.claim_due_feeds(urls, "w1", NOW, LEASE)
    assert store.release_feeds(urls, "w2") == 0
    assert store.release_feeds(urls[:1], "w1") == 1
    assert store.release_feeds(urls[1:], "w1", NOW + timedelta(seconds=30)) == 1
    assert store.claim_due_feeds(urls, "w2", NOW, LEASE) == [urls[0]]
    assert store.claim_due_feeds(urls[1:], "w2", NOW + timedelta(seconds=29), LEASE) == []
    assert store.claim_due_feeds(urls[1:], "w2", NOW + timedelta(seconds=30), LEASE) == [urls[1]]
    store.close()


def test_sqlite_leases_of_a_stopped_process_are_released_at_start(tmp_path):
    """On SQLite (one process per state folder) a restarted process does not wait for the leases
    its killed predecessor held; on PostgreSQL nothing is released (other workers may be alive)."""
    from bot.store import Store

    store = Store(tmp_path / "s.sqlite3")
    urls = _feeds(store, 2)
    store.claim_due_feeds(urls, "dead", NOW, LEASE)
    assert store.recover_leases() == 2
    assert len(store.claim_due_feeds(urls, "new", NOW, LEASE)) == 2
    store.close()


def test_workers_claiming_at_the_same_instant_get_disjoint_feeds(pg_url):
    """Eight connections claiming 200 due feeds at once on PostgreSQL: every feed goes to exactly one."""
    import threading

    from bot.store_pg import PgStore

    setup = PgStore(pg_url)
    urls = _feeds(setup, 200)
    setup.close()
    stores = [PgStore(pg_url) for _ in range(8)]
    start = threading.Barrier(len(stores))
    got: dict[int, list[str]] = {}

    def claim(k: int) -> None:
        start.wait()
        mine = []
        # As the daemon does: what it polls already is no candidate (its own lease would match).
        while batch := stores[k].claim_due_feeds([u for u in urls if u not in mine], f"w{k}",
                                                 NOW, LEASE, limit=7):
            mine += batch
        got[k] = mine

    threads = [threading.Thread(target=claim, args=(k,)) for k in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in stores:
        s.close()
    claimed = [u for mine in got.values() for u in mine]
    assert sorted(claimed) == sorted(urls)  # each once, none left
    assert sum(1 for mine in got.values() if mine) >= 2  # really shared out
