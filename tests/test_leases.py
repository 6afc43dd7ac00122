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
    assert upgraded.schema_found == 2 and upgraded.get_meta("schema_version") == "3"
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
    assert upgraded.schema_found == 3
    assert {"lease_owner", "lease_until"} <= set(upgraded.db.tables()["feeds"][1])
    assert [fs.url for fs in upgraded.feed_states()] == [URL]
    upgraded.close()
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass('feeds_due') IS NOT NULL").fetchone()[0]
