"""The store boundary (bot/storage.py): the protocol's contracts, on both backends (``backend``)."""

from __future__ import annotations

import inspect
from datetime import datetime, timedelta, timezone

import pytest

from bot import storage
from bot.config import Settings
from bot.models import Decision, Item, Match
from bot.store import Store

NOW = datetime(2025, 7, 10, 12, 0, tzinfo=timezone.utc)
MATCH = (Match(watchlist="wl", title="WL", hits=()),)


def _item(n: int, **kw) -> Item:
    return Item(key=f"guid:https://o.example/{n}", feed_url="https://o.example/rss",
                title=f"Item {n}", link=f"https://o.example/{n}", summary=f"Summary {n}",
                published=NOW, **kw)


def _alert(store: Store, n: int, when: datetime = NOW) -> int:
    story_id, _ = store.record_item(_item(n), MATCH, Decision("alert", watchlist="wl",
                                                              signature={"n": n}), when)
    return story_id


def _update(store: Store, n: int, story_id: int, when: datetime = NOW) -> None:
    store.record_item(_item(n), MATCH, Decision("update", watchlist="wl", story_id=story_id), when)


def _protocol_methods() -> dict[str, inspect.Signature]:
    return {name: inspect.signature(fn) for name, fn in vars(storage.Store).items()
            if inspect.isfunction(fn) and not name.startswith("_")}


def test_sqlite_store_has_every_protocol_method_with_the_same_parameters(tmp_path):
    """Each protocol method exists on the SQLite store with the same parameter names and kinds."""
    store = Store(tmp_path / "s.sqlite3")
    try:
        assert isinstance(store, storage.Store)
        methods = _protocol_methods()
        assert "story_changes" in methods and "period_items" in methods
        for name, sig in methods.items():
            impl = inspect.signature(getattr(Store, name))
            shape = [(p.name, p.kind) for p in sig.parameters.values()]
            assert [(p.name, p.kind) for p in impl.parameters.values()] == shape, name
    finally:
        store.close()


def test_open_store_builds_the_sqlite_store_in_the_state_folder(tmp_path):
    """Without a database URL the factory opens WATCHBOT_STATE's SQLite file."""
    settings = Settings(watchbot_state=tmp_path / "state")
    store = storage.open_store(settings)
    try:
        assert isinstance(store, Store) and store.path == settings.database
    finally:
        store.close()


def test_story_changes_gives_new_stories_and_updates_since_a_mark(backend):
    """After a first full answer, each call returns only what was created or folded since."""
    store = backend.open()
    first = _alert(store, 1)
    full = store.story_changes(None, NOW - timedelta(days=1))
    assert full.reset and [s.id for s in full.stories] == [first] and full.updates == ()
    assert store.story_changes(full.mark, NOW).stories == ()  # nothing changed
    _update(store, 2, first)
    second = _alert(store, 3)
    _update(store, 4, second)  # folded into a story created since the mark: part of that story
    changes = store.story_changes(full.mark, NOW)
    assert not changes.reset
    assert [s.id for s in changes.stories] == [second]
    assert [src.title for src in changes.stories[0].sources] == ["Item 3", "Item 4"]
    assert [(u.story_id, u.item.title, u.item.summary) for u in changes.updates] == \
        [(first, "Item 2", "Summary 2")]
    again = store.story_changes(changes.mark, NOW)
    assert (again.reset, again.stories, again.updates) == (False, (), ())
    store.close()


def test_story_changes_starts_afresh_after_a_rollback(backend):
    """A rolled-back story must not survive in a cache: the next answer is a full reset."""
    store = backend.open()
    kept = _alert(store, 1)
    mark = store.story_changes(None, NOW - timedelta(days=1)).mark
    with pytest.raises(RuntimeError):
        with store.transaction():
            _alert(store, 2)
            raise RuntimeError("poll failed half-way")
    changes = store.story_changes(mark, NOW - timedelta(days=1))
    assert changes.reset and [s.id for s in changes.stories] == [kept]
    store.close()


def test_full_story_changes_read_only_the_window(backend):
    """A reset answer holds the stories first seen since the window start, not the history."""
    store = backend.open()
    _alert(store, 1, NOW - timedelta(days=400))
    recent = _alert(store, 2, NOW)
    assert [s.id for s in store.story_changes(None, NOW - timedelta(days=120)).stories] == [recent]
    store.close()


def test_period_queries_answer_at_one_second_precision(backend):
    """A period starting within a row's second includes it, as the stored precision implies."""
    store = backend.open()
    story = _alert(store, 1, NOW)
    _update(store, 2, story, NOW + timedelta(minutes=5))
    since = NOW + timedelta(microseconds=700_000)
    until = NOW + timedelta(hours=1)
    assert [(i.decision, i.watchlists, i.story_id) for i in store.period_items(since, until)] == \
        [("alert", ("wl",), story), ("update", ("wl",), story)]
    rows = store.period_stories(since, until)
    assert [(r.id, r.summary) for r in rows] == [(story, "Summary 1")]
    assert [s.story_id for s in store.period_sources(since, until)] == [story, story]
    assert store.period_sources(since, NOW + timedelta(minutes=1)) != []
    assert len(store.period_sources(since, NOW + timedelta(minutes=1))) == 1
    assert store.last_item_times() == {"https://o.example/rss": NOW + timedelta(minutes=5)}
    store.close()


def test_events_are_typed_rows_and_found_by_exact_prefix(backend):
    """recent_events gives LoggedEvent rows; last_event matches its prefix literally."""
    store = backend.open()
    store.log_event("error", "Telegram refuses the channel: kicked", NOW)
    store.log_event("error", "telegram refuses the channel in lower case", NOW + timedelta(seconds=1))
    store.log_event("info", "Telegram refuses the channel (info only)", NOW + timedelta(seconds=2))
    newest = store.recent_events(1)[0]
    assert (newest.level, newest.at) == ("info", NOW + timedelta(seconds=2))
    found = store.last_event("error", "Telegram refuses the channel")
    assert found is not None and found.message.endswith("kicked")
    assert store.last_event("error", "100%") is None
    store.close()


# ---------------------------------------------------------------------------------------------
# The novelty index is a cache of the store's stories (Pipeline.refresh_stories)
# ---------------------------------------------------------------------------------------------


def test_the_novelty_index_follows_the_store_through_commits_rollbacks_and_reloads(tmp_path):
    """A story recorded by anyone joins the index at the next refresh, a rolled-back one leaves
    it, and a new engine (reloaded rules) starts from the store's window."""
    from pathlib import Path

    from bot.pipeline import Pipeline
    from bot.rules import Rules

    watchlists = Path(__file__).resolve().parent.parent / "watchlists"
    settings = Settings(watchbot_watchlists=watchlists, watchbot_state=tmp_path / "state")
    store = storage.open_store(settings)
    pipeline = Pipeline(settings=settings, store=store, channel=None, clock=lambda: NOW,
                        rules=Rules.load(watchlists, embeddings=False))

    def alert(n: int) -> None:
        it = _item(n)
        signature = pipeline.rules.novelty.signature(it, "wl", NOW.date())
        store.record_item(it, MATCH, Decision("alert", watchlist="wl", signature=signature), NOW)

    assert pipeline.rules.novelty.stories_in_index == 0
    alert(1)  # written behind the engine's back, as another worker would
    pipeline.refresh_stories()
    assert pipeline.rules.novelty.stories_in_index == 1
    with pytest.raises(RuntimeError):
        with store.transaction():
            alert(2)
            pipeline.refresh_stories()
            assert pipeline.rules.novelty.stories_in_index == 2  # its own open transaction
            raise RuntimeError("poll failed half-way")
    pipeline.refresh_stories()
    assert pipeline.rules.novelty.stories_in_index == 1
    pipeline.rules = Rules.load(watchlists, embeddings=False)
    pipeline.refresh_stories()
    assert pipeline.rules.novelty.stories_in_index == 1
    store.close()
