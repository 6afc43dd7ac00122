"""Store.batch(): coalesced commits that keep every transaction atomic and sends durable, on
both backends (the ``backend`` fixture: SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot import store as store_module
from bot.models import Item
NOW = datetime(2025, 7, 10, 12, 0, tzinfo=timezone.utc)


def _item(n: int) -> Item:
    return Item(key=f"guid:https://o.example/{n}", feed_url="https://o.example/rss",
                title=f"Item {n}", link=f"https://o.example/{n}", published=NOW)


def _committed_keys(backend) -> set[str]:
    """What another connection (another process after a crash) would find committed."""
    return {row[0] for row in backend.committed("SELECT key FROM items")}


def test_units_inside_a_batch_commit_together_at_the_end(backend):
    """Transactions in a batch are not on disk until the batch ends, then all are."""
    store = backend.open()
    with store.batch():
        for n in range(3):
            with store.transaction():
                store.record_seen([_item(n)], NOW)
        assert _committed_keys(backend) == set()
        assert {r[0] for r in store.db.execute("SELECT key FROM items")} == \
            {_item(n).key for n in range(3)}  # the owner sees its own work meanwhile
    assert _committed_keys(backend) == {_item(n).key for n in range(3)}


def test_a_failing_unit_in_a_batch_rolls_back_alone(backend):
    """A transaction that raises inside a batch undoes only its own writes."""
    store = backend.open()
    with store.batch():
        with store.transaction():
            store.record_seen([_item(1)], NOW)
        with pytest.raises(RuntimeError):
            with store.transaction():
                store.record_seen([_item(2)], NOW)
                raise RuntimeError("poll failed half-way")
        with store.transaction():
            store.record_seen([_item(3)], NOW)
    assert _committed_keys(backend) == {_item(1).key, _item(3).key}
    assert store.unseen([_item(2)]) == [_item(2)]  # its identities were rolled back too


def test_durable_transaction_commits_at_once_inside_a_batch(backend):
    """durable=True (what marking an alert 'sending' uses) is on disk when its block ends."""
    store = backend.open()
    with store.batch():
        with store.transaction():
            store.record_seen([_item(1)], NOW)
        with store.transaction(durable=True):
            store.record_seen([_item(2)], NOW)
        # Flushing the batch first keeps order: nothing durable depends on unwritten work.
        assert _committed_keys(backend) == {_item(1).key, _item(2).key}
        with store.transaction():
            store.record_seen([_item(3)], NOW)
        assert _committed_keys(backend) == {_item(1).key, _item(2).key}
    assert _committed_keys(backend) == {_item(n).key for n in (1, 2, 3)}


def test_batch_commits_once_the_interval_has_passed(backend, monkeypatch):
    """A long batch still commits every BATCH_COMMIT_SECONDS, bounding what a crash loses."""
    store = backend.open()
    monkeypatch.setattr(store_module, "BATCH_COMMIT_SECONDS", 0.0)
    with store.batch():
        with store.transaction():
            store.record_seen([_item(1)], NOW)
        assert _committed_keys(backend) == {_item(1).key}


def test_batch_commits_finished_work_when_the_block_raises(backend):
    """An error escaping the batch (one poll's bug) does not discard the other feeds' work."""
    store = backend.open()
    with pytest.raises(ValueError):
        with store.batch():
            with store.transaction():
                store.record_seen([_item(1)], NOW)
            raise ValueError("boom")
    assert _committed_keys(backend) == {_item(1).key}
    with store.transaction():  # and the store is usable afterwards, unbatched
        store.record_seen([_item(2)], NOW)
    assert _committed_keys(backend) == {_item(1).key, _item(2).key}
