"""The PostgreSQL store: the same contract as SQLite's on a real server (tests/pg_server.py).

The store contract tests that take the ``backend`` fixture (test_store_batch.py,
test_retention.py, and the ones below) run on both backends; these add what only a shared
server has: a second connection inserting the same identities, the schema of both backends
staying the same, and statements the translation must not garble.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from bot import migrations
from bot.models import Decision, Item, PollPlan, SendOutcome, Validators

NOW = datetime(2025, 7, 10, 12, 0, tzinfo=timezone.utc)


def _item(n: int, **kw) -> Item:
    return Item(key=f"guid:https://o.example/{n}", feed_url="https://o.example/rss",
                title=kw.pop("title", f"Item {n}"), link=kw.pop("link", f"https://o.example/{n}"),
                published=NOW, **kw)


def test_identities_and_tombstones_decide_what_is_new(backend):
    """An item is new until any of its identities is recorded; a changed GUID with the same link
    is not new; pruning keeps the identities."""
    store = backend.open()
    a, b = _item(1), _item(2)
    assert store.unseen([a, b, a]) == [a, b]  # the same item twice in one batch: once
    store.record_seen([a], NOW)
    moved = Item(key="guid:cms-99", feed_url=a.feed_url, title="Other title", link=a.link)
    assert store.unseen([a, moved, b]) == [b]
    store.prune(NOW + timedelta(days=1))
    assert store.count_items() == 0 and store.unseen([a, b]) == [b]
    store.close()


def test_alert_outbox_and_outcome_round_trip(backend):
    """An alert's story and outbox row commit with the item; the outcome records the message id
    with its channel, and an edit of that story then waits for nothing."""
    store = backend.open()
    sid, [post] = store.record_item(_item(1), (), Decision("alert", watchlist="w", signature={"k": 1}),
                                    NOW)
    [alert] = store.pending_alerts("telegram:1")
    assert (alert.id, alert.story_id, alert.action, alert.message_id) == (post, sid, "post", None)
    store.mark_sending(alert)
    assert store.outbox_counts() == {"sending": 1}
    store.record_outcome(alert, SendOutcome("sent", message_id=77), NOW, channel="telegram:1")
    store.record_item(_item(2), (), Decision("update", story_id=sid, signature={"k": 2}), NOW)
    [edit] = store.pending_alerts("telegram:1")
    assert (edit.action, edit.message_id, edit.folded) == ("edit", 77, True)
    message = store.story_message(sid, folded=True)
    assert message.item.title == "Item 1" and [s.title for s in message.others] == ["Item 2"]
    story = store.story(sid)
    assert story.message_id == 77 and [s.title for s in story.sources] == ["Item 1", "Item 2"]
    assert story.signature == {"k": 1} and story.sources[1].signature == {"k": 2}
    store.close()


def test_interrupted_send_becomes_maybe_sent(backend):
    """A row left 'sending' by a stopped process is 'maybe_sent' at the next start, never resent."""
    store = backend.open()
    store.record_item(_item(1), (), Decision("alert", watchlist="w", signature={}), NOW)
    store.mark_sending(store.pending_alerts()[0])
    store.close()
    again = backend.open()
    assert again.recover_interrupted_sends(NOW) == 1
    assert again.pending_alerts() == [] and again.outbox_counts() == {"maybe_sent": 1}
    again.close()


def test_feed_state_and_meta_survive_a_reopen(backend):
    """What record_poll and set_meta wrote is read back the same by a new store."""
    store = backend.open()
    from bot.models import Feed

    store.sync_feeds([Feed(url="https://o.example/rss", title="O")])
    store.record_poll("https://o.example/rss", PollPlan(
        NOW, 200, NOW + timedelta(minutes=15), validators=Validators('"e1"', None), body_hash="h",
        new_items=3, seeded=True, warning="bad byte"))
    store.record_poll("https://o.example/rss", PollPlan(NOW, 503, NOW + timedelta(minutes=1),
                                                        success=False, error="busy"))
    store.set_meta("flood_until", "2025-07-10T12:01:00+00:00")
    store.set_meta("gone", "x")
    store.set_meta("gone", None)
    store.close()
    again = backend.open()
    fs = again.feed_state("https://o.example/rss")
    assert (fs.validators.etag, fs.body_hash, fs.items_total, fs.seeded, fs.consecutive_errors,
            fs.last_error, fs.last_warning, fs.first_seen) == ('"e1"', "h", 3, True, 1, "busy",
                                                               "bad byte", NOW)
    assert again.get_meta("flood_until") == "2025-07-10T12:01:00+00:00" and again.get_meta("gone") is None
    again.close()


def test_text_with_placeholders_and_percent_signs_is_stored_verbatim(backend):
    """Feed text containing '?', '%s' and quotes reaches the database unchanged (the statement
    translation never touches parameters)."""
    store = backend.open()
    tricky = "Is 100% of '%s' a ?? question"
    store.record_seen([_item(1, title=tricky, link="https://o.example/?a=1&b=%20")], NOW)
    store.log_event("warning", tricky, NOW)
    assert store.item(_item(1).key).title == tricky
    assert store.item(_item(1).key).link == "https://o.example/?a=1&b=%20"
    assert store.recent_events(1)[0].message == tricky
    store.close()


def test_a_second_worker_inserting_the_same_identities_does_not_fail(pg_url):
    """Two connections recording the same item: the second insert is absorbed by conflict
    handling (no error, one row), and both then see it as already seen."""
    from bot.store_pg import PgStore

    one, two = PgStore(pg_url), PgStore(pg_url)
    a = _item(1)
    assert one.unseen([a]) == [a] and two.unseen([a]) == [a]
    one.record_seen([a], NOW)
    two.record_seen([a], NOW)  # the other worker saw it in the same instant
    assert one.unseen([a]) == [] and two.unseen([a]) == [] and one.count_items() == 1
    one.close()
    two.close()


def _sqlite_columns(path) -> dict[str, set[str]]:
    from bot.store import Store

    Store(path).close()
    db = sqlite3.connect(str(path))
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                           "AND name NOT LIKE 'sqlite_%'")]
        return {t: {r[1] for r in db.execute(f"PRAGMA table_info({t})")} for t in tables}
    finally:
        db.close()


def test_both_backends_have_the_same_tables_and_columns(tmp_path, pg_url):
    """A column added to the SQLite schema without its PostgreSQL twin (bot/migrations.py) fails
    here, before it fails in production."""
    from bot.store_pg import PgStore

    store = PgStore(pg_url)
    pg = {t: set(cols) - {c for tt, c in migrations.PG_ONLY_COLUMNS if tt == t}
          for t, (_keys, cols) in store.db.tables().items()}
    store.close()
    assert pg == _sqlite_columns(tmp_path / "s.sqlite3")


def test_a_schema_newer_than_this_watchbot_is_refused(pg_url):
    """A database a newer watchbot wrote is refused with a message that says so, and left as it was."""
    from bot.store_pg import PgStore

    store = PgStore(pg_url)
    store.set_meta("schema_version", str(migrations.LATEST + 1))
    store.close()
    with pytest.raises(migrations.SchemaError, match="newer than this watchbot"):
        PgStore(pg_url)
    import psycopg

    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == \
            str(migrations.LATEST + 1)
