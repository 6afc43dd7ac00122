"""`watchbot db upgrade` / `db copy` and the schema versions of both backends (bot/migrations.py).

The copy test runs the real command line: a SQLite state built by `run --once` against the local
feed server, copied into PostgreSQL, then `run --once` on PostgreSQL over the same feeds.
"""

from __future__ import annotations

import sqlite3
import subprocess
from datetime import datetime, timezone

import pytest

from bot import migrations
from tests.conftest import DEFAULT_CHAT, cli_run
from tests.feedgen import Entry, rss
from tests.servers.botapi import BotApiStandIn
from tests.servers.feedserver import FeedServer


def _db(tmp_path, *args: str, feeds: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """`watchbot db ARGS` with the configuration cli_run writes (over ``feeds``)."""
    cmd, base_env = cli_run(tmp_path, list(feeds), "http://127.0.0.1:9", once=True)
    cmd = cmd[:cmd.index("run")] + ["db", *args]
    return subprocess.run(cmd, env=base_env, capture_output=True, text=True, timeout=120)


def test_sqlite_state_of_a_newer_watchbot_is_refused_untouched(tmp_path):
    """A state file whose schema is newer than this watchbot: `run --once` exits 2 saying so, and
    the file is left exactly as it was (no table or column added)."""
    state = tmp_path / "state"
    state.mkdir()
    db = sqlite3.connect(str(state / "watchbot.sqlite3"))
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(migrations.LATEST + 1),))
    db.commit()
    db.close()
    cmd, env = cli_run(tmp_path, [], "http://127.0.0.1:9", once=True)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert f"schema version {migrations.LATEST + 1}, newer than this watchbot" in done.stderr
    assert "Traceback" not in done.stderr
    db = sqlite3.connect(str(state / "watchbot.sqlite3"))
    assert [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["meta"]
    db.close()


def test_check_reports_a_state_run_would_refuse_and_changes_nothing(tmp_path, pg_url):
    """`check` fails (exit 2) on a SQLite state of a newer watchbot and on a PostgreSQL database
    at an older schema, naming what to do, and leaves both as they were."""
    from bot.store_pg import PgStore

    state = tmp_path / "state"
    state.mkdir()
    db = sqlite3.connect(str(state / "watchbot.sqlite3"))
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("INSERT INTO meta VALUES ('schema_version', '99')")
    db.commit()
    db.close()
    cmd, env = cli_run(tmp_path, [], "http://127.0.0.1:9", once=True)
    cmd = cmd[:cmd.index("run")] + ["check"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "schema version 99, newer than this watchbot" in done.stderr
    store = PgStore(pg_url)
    store.set_meta("schema_version", str(migrations.LATEST - 1))
    store.close()
    done = subprocess.run(cmd, env={**env, "WATCHBOT_DATABASE_URL": pg_url}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "run `watchbot db upgrade`" in done.stderr, done.stderr
    import psycopg

    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == \
            str(migrations.LATEST - 1)
    db = sqlite3.connect(str(state / "watchbot.sqlite3"))
    assert [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["meta"]
    db.close()


def test_old_sqlite_state_without_added_columns_still_opens(tmp_path):
    """A schema-2 file from before the added columns gets them in place and keeps its rows."""
    from bot.store import Store

    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(str(path))
    db.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        INSERT INTO meta VALUES ('schema_version', '2');
        CREATE TABLE feeds (url TEXT PRIMARY KEY, current_url TEXT NOT NULL, title TEXT DEFAULT '',
            etag TEXT, last_modified TEXT, body_hash TEXT, last_fetch TEXT, last_success TEXT,
            last_status INTEGER, last_error TEXT, consecutive_errors INTEGER NOT NULL DEFAULT 0,
            next_check TEXT, paused_reason TEXT, ttl_minutes INTEGER,
            items_total INTEGER NOT NULL DEFAULT 0, last_new INTEGER NOT NULL DEFAULT 0,
            seeded INTEGER NOT NULL DEFAULT 0);
        INSERT INTO feeds(url, current_url) VALUES ('https://o.example/rss', 'https://o.example/rss');
    """)
    db.commit()
    db.close()
    store = Store(path)
    fs = store.feed_state("https://o.example/rss")
    assert fs.last_warning is None and fs.first_seen is None and store.schema_found == 2
    store.close()


def test_older_sqlite_state_is_upgraded_when_opened(tmp_path, monkeypatch):
    """A SQLite state one version behind gets the missing step and the new version number when
    a store opens it, its rows kept."""
    from bot.models import Feed
    from bot.store import Store

    path = tmp_path / "s.sqlite3"
    store = Store(path)
    store.sync_feeds([Feed(url="https://o.example/rss")])
    store.close()
    monkeypatch.setattr(migrations, "LATEST", migrations.LATEST + 1)
    monkeypatch.setitem(migrations.SQLITE_STEPS, migrations.LATEST, ["ALTER TABLE feeds ADD COLUMN probe TEXT"])
    upgraded = Store(path)
    assert upgraded.schema_found == migrations.LATEST - 1
    assert upgraded.get_meta("schema_version") == str(migrations.LATEST)
    assert [fs.url for fs in upgraded.feed_states()] == ["https://o.example/rss"]
    assert "probe" in {r[1] for r in upgraded.db.execute("PRAGMA table_info(feeds)")}
    upgraded.close()


def test_db_upgrade_creates_then_finds_nothing_to_do(tmp_path):
    """`db upgrade` on a new SQLite state creates it at the current schema; a second run says
    there is nothing to do."""
    first = _db(tmp_path, "upgrade")
    assert first.returncode == 0, first.stderr
    assert f"created at schema {migrations.LATEST}" in first.stdout
    second = _db(tmp_path, "upgrade")
    assert f"already at schema {migrations.LATEST}, nothing to do" in second.stdout


def test_pg_schema_older_than_this_watchbot_needs_db_upgrade(tmp_path, pg_url, monkeypatch):
    """A PostgreSQL database at an older schema is refused with the command to run, and
    `db upgrade` applies the missing steps and records the new version."""
    from bot.store_pg import PgStore

    store = PgStore(pg_url)
    store.close()
    # This watchbot one version on: its step adds a column.
    monkeypatch.setattr(migrations, "LATEST", migrations.LATEST + 1)
    monkeypatch.setitem(migrations.PG_STEPS, migrations.LATEST, ["ALTER TABLE feeds ADD COLUMN probe TEXT"])
    with pytest.raises(migrations.SchemaError, match="run `watchbot db upgrade`"):
        PgStore(pg_url)
    upgraded = PgStore(pg_url, upgrade=True)
    assert upgraded.schema_found == migrations.LATEST - 1
    assert "probe" in upgraded.db.tables()["feeds"][1]
    assert upgraded.get_meta("schema_version") == str(migrations.LATEST)
    upgraded.close()
    assert PgStore(pg_url).schema_found == migrations.LATEST


def test_db_copy_then_run_on_postgresql_alerts_nothing_already_seen(tmp_path, pg_url):
    """`db copy` of a SQLite state into PostgreSQL, then `run --once` on PostgreSQL over the same
    feed (its items pruned to tombstones, one re-published under a new GUID): nothing already
    seen is recorded or posted again, and a really new item still is."""
    from bot.store import Store

    when = datetime(2025, 10, 25, 10, tzinfo=timezone.utc)
    seen = [Entry(f"Sputnik Azerbaijan editor-in-chief Yevgeny Belousov detained in Baku ({n})",
                  f"https://news.example/belousov-{n}", when, "Police detained the editor.")
            for n in range(3)]
    with FeedServer.in_thread() as srv, BotApiStandIn.in_thread() as api:
        srv.set_feed("/news.rss", rss("News", seen))
        cmd, env = cli_run(tmp_path, [srv.url("/news.rss")], api.root, once=True)
        first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
        assert first.returncode == 0, first.stderr
        posted_before = len(api.messages(DEFAULT_CHAT))
        state = tmp_path / "state"
        sqlite_store = Store(state / "watchbot.sqlite3")
        assert sqlite_store.count_items() == 3 and posted_before >= 1
        sqlite_store.prune(datetime(2100, 1, 1, tzinfo=timezone.utc))  # every item a tombstone
        sqlite_store.close()

        copied = _db(tmp_path, "copy", "--from", str(state), "--to", pg_url, feeds=(srv.url("/news.rss"),))
        assert copied.returncode == 0, copied.stderr
        assert "identities" in copied.stdout and "postgres@" in copied.stdout

        import psycopg

        with psycopg.connect(pg_url) as conn:  # the feed's interval has passed since
            conn.execute("UPDATE feeds SET next_check = NULL")
        moved = Entry(seen[0].title, seen[0].link, when, seen[0].summary, guid="cms-migration-1")
        fresh = Entry("Sputnik Azerbaijan editor-in-chief Yevgeny Belousov released, flew to Moscow",
                      "https://news.example/released", datetime(2025, 10, 25, 11, tzinfo=timezone.utc),
                      "Security forces released the editor, who flew to Moscow.")
        srv.set_feed("/news.rss", rss("News", [moved, *seen[1:], fresh]), etag="v2")
        second = subprocess.run(cmd, env={**env, "WATCHBOT_DATABASE_URL": pg_url},
                                capture_output=True, text=True, timeout=180)
        assert second.returncode == 0, second.stderr
        new_posts = [m["text"] for m in api.messages(DEFAULT_CHAT)[posted_before:]]
    with psycopg.connect(pg_url) as conn:
        keys = [r[0] for r in conn.execute("SELECT key FROM items")]
    assert len(keys) == 1 and "released" in keys[0], keys  # only the new item was new
    assert all("detained" not in text for text in new_posts)


def test_database_url_password_only_from_the_environment_and_never_shown(tmp_path):
    """A password inside WATCHBOT_DATABASE_URL in watchbot.toml is refused; from the environment
    it is accepted and `settings` shows it masked."""
    from bot.config import load_settings_report

    toml = tmp_path / "watchbot.toml"
    toml.write_text('WATCHBOT_DATABASE_URL = "postgresql://bot:s3cret@db.example/watchbot"\n', encoding="utf-8")
    report = load_settings_report(toml, environ={})
    assert any("must not carry a password in a file" in p.message for p in report.problems)
    toml.write_text("", encoding="utf-8")
    report = load_settings_report(toml, environ={"WATCHBOT_DATABASE_URL": "postgresql://bot:s3cret@db.example/watchbot"})
    assert report.problems == []
    shown = report.settings.redacted()["WATCHBOT_DATABASE_URL"]
    assert shown == "postgresql://bot:***@db.example/watchbot"
    bad = load_settings_report(toml, environ={"WATCHBOT_DATABASE_URL": "mysql://db.example/x"})
    assert any("must start with postgresql://" in p.message for p in bad.problems)


def test_unreachable_database_is_a_one_line_configuration_error(tmp_path):
    """`status` against a PostgreSQL server that is not there exits 2 with one line naming the
    database (password masked), no traceback."""
    cmd, env = cli_run(tmp_path, [], "http://127.0.0.1:9", once=True)
    cmd = cmd[:cmd.index("run")] + ["status"]
    env["WATCHBOT_DATABASE_URL"] = f"postgresql://bot:s3cret@/nowhere?host={tmp_path}&connect_timeout=3"
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "cannot open the PostgreSQL database" in done.stderr and "s3cret" not in done.stderr
    assert "Traceback" not in done.stderr


def test_a_second_watchbot_on_one_database_refuses_until_the_first_is_gone(tmp_path, pg_url):
    """While a process holds the database's lock, `run --once` there exits 2 saying so; once
    that process is killed with SIGKILL, the server frees the lock and the run goes ahead."""
    import signal
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from bot.store_pg import DatabaseLock; "
         "lock = DatabaseLock(sys.argv[1]); lock.acquire(); print('held', flush=True); time.sleep(120)", pg_url],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        cmd, env = cli_run(tmp_path, [], "http://127.0.0.1:9", once=True)
        env.update(WATCHBOT_DATABASE_URL=pg_url, TELEGRAM_BOT_TOKEN="")
        refused = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert refused.returncode == 2, refused.stderr
        assert "is in use by another running watchbot" in refused.stderr
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert "in use" not in again.stderr and again.returncode == 0, again.stderr


def test_db_copy_keeps_each_channels_message_id_of_a_story(tmp_path, pg_url):
    """A story posted to two channels keeps both message ids through the copy: the edit each
    channel sends after it goes to that channel's own message."""
    from bot.models import Decision, Item, SendOutcome
    from bot.store import Store
    from bot.store_pg import PgStore, copy_from_sqlite

    now = datetime(2025, 7, 10, 12, 0, tzinfo=timezone.utc)
    source = Store(tmp_path / "s.sqlite3")
    sid, _ = source.record_item(Item(key="guid:1", feed_url="https://o.example/rss", title="One"), (),
                                Decision("alert", watchlist="w", signature={}), now)
    [post] = source.pending_alerts("console")
    source.record_outcome(post, SendOutcome("sent", message_id=5), now, channel="console")
    source.record_outcome(post, SendOutcome("sent", message_id=77), now, channel="telegram:1")
    source.record_item(Item(key="guid:2", feed_url="https://o.example/rss", title="Two"), (),
                       Decision("update", story_id=sid, signature={}), now)
    target = PgStore(pg_url)
    copy_from_sqlite(source, target)
    source.close()
    assert [(a.action, a.message_id) for a in target.pending_alerts("console")] == [("edit", 5)]
    assert [(a.action, a.message_id) for a in target.pending_alerts("telegram:1")] == [("edit", 77)]
    target.close()


def test_status_digest_try_and_replay_work_on_postgresql(tmp_path, pg_url, pg_server):
    """After `run --once` on PostgreSQL, `status`, `digest` and `try` read that database (the feed,
    the sent alert, its story, a restatement judged against it), and `replay --state URL` builds
    a backtest in another PostgreSQL database."""
    import json
    from datetime import timedelta

    now = datetime.now(timezone.utc)
    released = Entry("Sputnik Azerbaijan editor-in-chief Yevgeny Belousov released in Baku",
                     "https://news.example/belousov-released", now - timedelta(hours=1),
                     "Security forces released Sputnik Azerbaijan editor-in-chief Yevgeny Belousov.")
    with FeedServer.in_thread() as srv, BotApiStandIn.in_thread() as api:
        srv.set_feed("/news.rss", rss("News", [released]))
        cmd, env = cli_run(tmp_path, [srv.url("/news.rss")], api.root, once=True)
        env = {**env, "WATCHBOT_DATABASE_URL": pg_url}
        ran = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
        assert ran.returncode == 0, ran.stderr
        assert any("belousov-released" in m["text"] for m in api.messages(DEFAULT_CHAT))
        base = cmd[:cmd.index("run")]

        def command(*args: str) -> subprocess.CompletedProcess:
            done = subprocess.run(base + list(args), env=env, capture_output=True, text=True, timeout=180)
            assert done.returncode == 0, (args, done.stderr[-2000:])
            return done

        status = json.loads(command("status", "--json").stdout)
        assert [f["url"] for f in status["feeds"]] == [srv.url("/news.rss")]
        assert status["outbox"]["sent"] == 1, status["outbox"]
        digest = json.loads(command("digest", "--format", "json", "--since", "7d").stdout)
        assert "Belousov" in json.dumps(digest, ensure_ascii=False)
        tried = json.loads(command("try", "--json", released.title).stdout)
        assert tried["decision"]["kind"] != "alert", tried["decision"]  # the story is in that database

    archive = tmp_path / "archive.xml"
    archive.write_bytes(rss("News", [released]))
    backtest = pg_server.create_database()
    replayed = command("replay", "--json", "--state", backtest, str(archive))
    assert "belousov-released" in replayed.stdout
    import psycopg

    with psycopg.connect(backtest) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 1
    with psycopg.connect(pg_url) as conn:  # the configured database is not the backtest's
        assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 1
