"""Bounded state: pruning removes old items and stories but keeps identity tombstones, so a pruned
item that a feed still carries (or re-publishes) never alerts again."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.models import Decision, Item
from bot.pipeline import Pipeline
from tests.conftest import make_settings
from tests.feedgen import Entry, rss

NEW = Entry("Sputnik Azerbaijan editor-in-chief Yevgeny Belousov released in Baku",
            "https://news.example/belousov-released", datetime(2025, 10, 25, 10, tzinfo=timezone.utc),
            "Security forces released Sputnik Azerbaijan editor-in-chief Yevgeny Belousov, who flew to Moscow.")
OLD = Entry("Weather in Baku: sunny", "https://news.example/weather", datetime(2025, 10, 21, 8, tzinfo=timezone.utc))


async def test_pruned_item_that_reappears_is_not_new(tmp_path, feed_server, clock, backend):
    """After prune removed an alerted item, the same item (even under a new GUID) is not new and
    alerts nothing (the pipeline on both backends)."""
    feed_server.set_feed("/news.rss", rss("News", [OLD]))
    settings = make_settings(tmp_path, [feed_server.url("/news.rss")], **backend.settings_overrides())
    pipeline = Pipeline.build(settings, channel=None, clock=clock)
    try:
        await pipeline.run_once()
        feed_server.set_feed("/news.rss", rss("News", [OLD, NEW]))
        assert (await pipeline.run_once()).alerts == 1
        store = pipeline.store
        clock.advance(days=500)
        removed = store.prune(clock.now - timedelta(days=400))
        assert removed == 2 and store.count_items() == 0
        assert len(store.stories()) == 1  # kept: its post is still queued (no channel here)

        # The feed still carries both items (a feed that never drops old entries), then re-publishes
        # NEW with a different GUID: neither is new.
        feed_server.set_feed("/news.rss", rss("News", [OLD, NEW]), etag="changed-1")
        again = await pipeline.run_once()
        moved = Entry(NEW.title, NEW.link, NEW.published, NEW.summary, guid="cms-migration-99")
        feed_server.set_feed("/news.rss", rss("News", [OLD, moved]), etag="changed-2")
        moved_report = await pipeline.run_once()
        assert again.new_items == 0 and moved_report.new_items == 0
        assert moved_report.alerts == 0 and store.count_items() == 0
    finally:
        await pipeline.aclose()
        pipeline.store.close()


def test_prune_keeps_stories_with_unsent_alerts(backend):
    """A story whose post is still queued survives prune, so nothing unsent is lost (both backends)."""
    store = backend.open()
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for i, status in enumerate(["sent", "pending"]):
        item = Item(key=f"guid:{i}", feed_url="f", title=f"Story {i}", link=f"https://x.example/{i}")
        sid, [oid] = store.record_item(item, (), Decision("alert", watchlist="w", signature={}), t0)
        if status == "sent":
            store.db.execute("UPDATE outbox SET status='sent' WHERE id=?", (oid,))
    store.prune(t0 + timedelta(days=1))
    assert [s.title for s in store.stories()] == ["Story 1"]
    assert [a.story_id for a in store.pending_alerts()] == [sid]
    assert store.story_message(sid, folded=False).item.title == "Story 1"
    assert not store.unseen([Item(key="guid:0", feed_url="f", title="Story 0")])  # tombstone
    store.close()
