"""The daemon: APScheduler polls each feed when due, one poll of a feed at a time, and stops cleanly."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from bot.channels.telegram import TelegramChannel
from bot.pipeline import Pipeline
from bot.schedule import Daemon
from tests.conftest import DEFAULT_CHAT, TOKEN, make_settings
from tests.feedgen import Entry, rss
from tests.test_pipeline import OLD
from tests.waiting import wait_for


async def test_daemon_polls_on_schedule_posts_new_item_once_and_never_overlaps(tmp_path, feed_server, bot_api):
    """With a 1 s interval and a 1.5 s slow feed, polls never overlap, a new item posts once, stop() is clean."""
    now = datetime.now(timezone.utc)
    recent = [Entry(e.title, e.link, now - timedelta(hours=2), e.summary) for e in OLD]
    feed_server.set_feed("/slow.rss", rss("Slow outlet", recent), latency=1.5)
    feed_server.set_feed("/fast.rss", rss("Fast outlet", []))
    settings = make_settings(tmp_path, [feed_server.url("/slow.rss"), feed_server.url("/fast.rss")],
                             watchbot_interval=1)
    channel = TelegramChannel(TOKEN, DEFAULT_CHAT, api_url=bot_api.root, min_interval=0)
    await channel.start()
    pipeline = Pipeline.build(settings, channel=channel)
    daemon = Daemon(pipeline)
    task = asyncio.create_task(daemon.run())
    try:
        assert await wait_for(lambda: len(feed_server.requests("/fast.rss")) >= 3)
        assert bot_api.messages(DEFAULT_CHAT) == []  # first sight only seeds
        fresh = Entry("Картавых освобождён и направляется в Россию",
                      "https://news.example/kartavykh", now - timedelta(minutes=5),
                      "Исполнительный директор «Sputnik Азербайджан» Игорь Картавых освобождён, сообщила Захарова.")
        feed_server.set_feed("/fast.rss", rss("Fast outlet", [fresh]))
        assert await wait_for(lambda: len(bot_api.messages(DEFAULT_CHAT)) >= 1)
        polls_before = len(feed_server.requests("/fast.rss"))
        assert await wait_for(lambda: len(feed_server.requests("/fast.rss")) >= polls_before + 2)
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 30)
        await pipeline.aclose()
        await channel.aclose()
    assert len(bot_api.messages(DEFAULT_CHAT)) == 1
    slow = feed_server.requests("/slow.rss")
    assert len(slow) >= 2
    # The server answers 1.5 s after a request arrives; with a 1 s interval, overlapping polls
    # would arrive less than 1.5 s apart.
    gaps = [b.time - a.time for a, b in zip(slow, slow[1:])]
    assert min(gaps) >= 1.5


async def test_daemon_resumes_from_stored_due_times_after_restart(tmp_path, feed_server):
    """A restarted daemon polls a feed at the due time stored before, not immediately."""
    feed_server.set_feed("/a.rss", rss("A", []))
    settings = make_settings(tmp_path, [feed_server.url("/a.rss")], watchbot_interval=3600)
    first = Pipeline.build(settings, channel=None)
    await first.run_once()
    await first.aclose()
    first.store.close()
    assert len(feed_server.requests("/a.rss")) == 1

    pipeline = Pipeline.build(settings, channel=None)
    daemon = Daemon(pipeline)
    task = asyncio.create_task(daemon.run())
    await asyncio.sleep(2)
    daemon.stop()
    await asyncio.wait_for(task, 30)
    await pipeline.aclose()
    assert len(feed_server.requests("/a.rss")) == 1  # next check is an hour away
