"""End to end: local feed server → pipeline → real python-telegram-bot → local Bot API stand-in."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from bot.channels.telegram import TelegramChannel
from bot.pipeline import Pipeline, read_feed_list
from bot.store import StateLock, Store
from tests.conftest import DEFAULT_CHAT, REPO, TOKEN, make_settings
from tests.feedgen import Entry, rss

OLD = [
    Entry("Kazakhstan says final report on AZAL crash near Aktau due after New Year",
          "https://news.example/azal-final-report", datetime(2025, 10, 20, 9, tzinfo=timezone.utc),
          "Kazakhstan's deputy prime minister said the AZAL Embraer investigation is nearly complete."),
    Entry("Weather in Baku: sunny", "https://news.example/weather", datetime(2025, 10, 21, 8, tzinfo=timezone.utc)),
]
NEW = Entry("Sputnik Azerbaijan editor-in-chief Yevgeny Belousov released in Baku",
            "https://news.example/belousov-released?utm_source=rss",
            datetime(2025, 10, 25, 10, tzinfo=timezone.utc),
            "Security forces released Sputnik Azerbaijan editor-in-chief Yevgeny Belousov, who flew to Moscow.")


async def _pipeline(settings, bot_api, clock) -> tuple[Pipeline, TelegramChannel]:
    channel = TelegramChannel(TOKEN, DEFAULT_CHAT, api_url=bot_api.root, min_interval=0)
    await channel.start()
    return Pipeline.build(settings, channel=channel, clock=clock), channel


async def test_first_poll_seeds_then_one_alert_then_conditional_poll(tmp_path, feed_server, bot_api, clock):
    """First sight posts nothing; a new matching item posts one message with its link; a 304 posts nothing."""
    feed_server.set_feed("/news.rss", rss("News", OLD))
    settings = make_settings(tmp_path, [feed_server.url("/news.rss")])
    pipeline, channel = await _pipeline(settings, bot_api, clock)
    try:
        first = await pipeline.run_once()
        assert first.polls[0].status == 200 and first.alerts == 0
        assert bot_api.messages(DEFAULT_CHAT) == []

        feed_server.set_feed("/news.rss", rss("News", OLD + [NEW]))
        clock.advance(minutes=20)
        second = await pipeline.run_once()
        messages = bot_api.messages(DEFAULT_CHAT)
        assert second.alerts == 1 and len(messages) == 1
        assert 'href="https://news.example/belousov-released' in messages[0]["text"]

        clock.advance(minutes=20)
        third = await pipeline.run_once()
        assert third.polls[0].status == 304
        assert feed_server.requests("/news.rss")[-1].if_none_match is not None
        assert len(bot_api.messages(DEFAULT_CHAT)) == 1
    finally:
        await pipeline.aclose()
        await channel.aclose()


async def test_first_sight_counts_each_item_of_the_body_once(tmp_path, feed_server, bot_api, clock):
    """On first sight with backfill, the feed's item count is the body's item count: let-through items are not counted twice."""
    feed_server.set_feed("/news.rss", rss("News", OLD))
    settings = make_settings(tmp_path, [feed_server.url("/news.rss")], watchbot_backfill=1)
    pipeline, channel = await _pipeline(settings, bot_api, clock)
    try:
        report = await pipeline.run_once()
        state = pipeline.store.feed_state(feed_server.url("/news.rss"))
        assert report.polls[0].new_items == 1 and report.polls[0].seeded == len(OLD) - 1
        assert (state.items_total, state.last_new) == (len(OLD), len(OLD))
    finally:
        await pipeline.aclose()
        await channel.aclose()

async def test_restart_between_recording_and_sending_posts_exactly_once(tmp_path, feed_server, bot_api, clock):
    """An alert recorded but not sent before a stop is sent once by the next run, never twice."""
    feed_server.set_feed("/news.rss", rss("News", OLD))
    settings = make_settings(tmp_path, [feed_server.url("/news.rss")])
    recorder = Pipeline.build(settings, channel=None, clock=clock)  # stops before sending
    await recorder.run_once()
    feed_server.set_feed("/news.rss", rss("News", OLD + [NEW]))
    report = await recorder.run_once()
    assert report.alerts == 1 and report.pending == 1
    await recorder.aclose()
    recorder.store.close()
    assert bot_api.messages(DEFAULT_CHAT) == []

    for _ in range(2):  # two restarts: the second must find nothing left to send
        pipeline, channel = await _pipeline(settings, bot_api, clock)
        try:
            await pipeline.run_once()
        finally:
            await pipeline.aclose()
            await channel.aclose()
            pipeline.store.close()
    messages = bot_api.messages(DEFAULT_CHAT)
    assert len(messages) == 1
    assert 'href="https://news.example/belousov-released' in messages[0]["text"]


async def test_same_item_under_new_guid_does_not_alert_again(tmp_path, feed_server, bot_api, clock):
    """A feed that re-publishes an alerted item with a new GUID does not post it a second time."""
    feed_server.set_feed("/news.rss", rss("News", OLD))
    settings = make_settings(tmp_path, [feed_server.url("/news.rss")])
    pipeline, channel = await _pipeline(settings, bot_api, clock)
    try:
        await pipeline.run_once()
        feed_server.set_feed("/news.rss", rss("News", OLD + [NEW]))
        await pipeline.run_once()
        moved = Entry(NEW.title, NEW.link, NEW.published, NEW.summary, guid="cms-migration-4711")
        feed_server.set_feed("/news.rss", rss("News", OLD + [moved]))
        report = await pipeline.run_once()
        assert report.new_items == 0
        assert len(bot_api.messages(DEFAULT_CHAT)) == 1
    finally:
        await pipeline.aclose()
        await channel.aclose()


async def test_feed_errors_back_off_and_410_pauses(tmp_path, feed_server, clock):
    """A failing feed backs off exponentially and a 410 pauses polling with a reason in the store."""
    feed_server.set_status("/broken.rss", 500)
    feed_server.set_status("/gone.rss", 410)
    settings = make_settings(tmp_path, [feed_server.url("/broken.rss"), feed_server.url("/gone.rss")],
                             watchbot_interval=60)
    pipeline = Pipeline.build(settings, channel=None, clock=clock)
    try:
        await pipeline.run_once()
        first = pipeline.store.feed_state(feed_server.url("/broken.rss"))
        clock.now = first.next_check
        await pipeline.run_once()
        second = pipeline.store.feed_state(feed_server.url("/broken.rss"))
        assert second.consecutive_errors == 2 and second.last_error.startswith("HTTP 500")
        assert second.next_check - clock.now > first.next_check - (first.last_fetch or clock.now)
        gone = pipeline.store.feed_state(feed_server.url("/gone.rss"))
        assert gone.paused_reason and "410" in gone.paused_reason
        assert pipeline.next_due(_feed(feed_server.url("/gone.rss"))) is None
        polls_of_gone = len(feed_server.requests("/gone.rss"))
        await pipeline.run_once()
        assert len(feed_server.requests("/gone.rss")) == polls_of_gone
    finally:
        await pipeline.aclose()


async def test_permanent_redirect_updates_the_polled_address(tmp_path, feed_server, clock):
    """After a 301 the feed is polled at its new address; after a 302 it keeps the old one."""
    feed_server.set_feed("/new.rss", rss("News", OLD))
    feed_server.set_feed("/temp-target.rss", rss("News", OLD))
    feed_server.redirect("/old.rss", feed_server.url("/new.rss"), 301)
    feed_server.redirect("/temp.rss", feed_server.url("/temp-target.rss"), 302)
    settings = make_settings(tmp_path, [feed_server.url("/old.rss"), feed_server.url("/temp.rss")])
    pipeline = Pipeline.build(settings, channel=None, clock=clock)
    try:
        await pipeline.run_once()
        assert pipeline.store.feed_state(feed_server.url("/old.rss")).current_url == feed_server.url("/new.rss")
        assert pipeline.store.feed_state(feed_server.url("/temp.rss")).current_url == feed_server.url("/temp.rss")
    finally:
        await pipeline.aclose()


def _feed(url):
    from bot.models import Feed

    return Feed(url=url)


def _env(settings_dir, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WATCHBOT_"))}
    env.update(extra)
    return env


def test_cli_run_once_without_token_prints_alerts_to_console(tmp_path):
    """`watchbot run --once` without a token says so and prints alerts instead of posting."""
    old, new = tmp_path / "feed-a.xml", tmp_path / "feed-b.xml"
    # Dated an hour ago: the novelty stage treats year-old news as known, whatever its topic.
    recent = [Entry(e.title, e.link, datetime.now(timezone.utc) - timedelta(hours=1), e.summary) for e in [NEW]]
    old.write_bytes(rss("Archive", recent))
    settings_file = tmp_path / "watchbot.toml"
    settings_file.write_text(f'WATCHBOT_FEEDS = "feeds.opml"\nWATCHBOT_WATCHLISTS = "{REPO / "watchlists"}"\n'
                             f'WATCHBOT_STATE = "state"\nWATCHBOT_BACKFILL = 5\nWATCHBOT_PARSE_WORKERS = 0\n'
                             f'WATCHBOT_LOCAL_FEEDS = "."\n')  # local feed files only from named folders
    (tmp_path / "feeds.opml").write_text(
        f'<opml version="2.0"><body><outline xmlUrl="{old}"/></body></opml>', encoding="utf-8")
    new.write_bytes(b"")
    run = subprocess.run([sys.executable, "-m", "bot", "--config", str(settings_file), "run", "--once"],
                         capture_output=True, text=True, env=_env(tmp_path), timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "printed to the console" in run.stderr
    assert "news.example/belousov-released" in run.stdout


def test_second_run_on_the_same_state_refuses_to_start(tmp_path):
    """A second `watchbot run` on a state folder in use exits 2 instead of double-posting."""
    settings_file = tmp_path / "watchbot.toml"
    settings_file.write_text(f'WATCHBOT_WATCHLISTS = "{REPO / "watchlists"}"\nWATCHBOT_STATE = "state"\n')
    (tmp_path / "feeds.opml").write_text('<opml version="2.0"><body/></opml>', encoding="utf-8")
    with StateLock(tmp_path / "state"):
        run = subprocess.run([sys.executable, "-m", "bot", "--config", str(settings_file), "run", "--once"],
                             capture_output=True, text=True, env=_env(tmp_path), timeout=60, cwd=tmp_path)
    assert run.returncode == 2
    assert "in use" in run.stderr


async def test_update_of_a_story_whose_post_may_have_been_sent_is_not_left_pending(tmp_path, feed_server, bot_api, clock):
    """When a story's post timed out (maybe sent), its later source edits are closed, not queued forever."""
    feed_server.set_feed("/a.rss", rss("A", OLD))
    feed_server.set_feed("/b.rss", rss("B", OLD))
    settings = make_settings(tmp_path, [feed_server.url("/a.rss"), feed_server.url("/b.rss")])
    channel = TelegramChannel(TOKEN, DEFAULT_CHAT, api_url=bot_api.root, min_interval=0, read_timeout=0.5)
    await channel.start()
    pipeline = Pipeline.build(settings, channel=channel, clock=clock)
    try:
        await pipeline.run_once()
        bot_api.delay_next(2.0)  # the post reaches Telegram but the answer comes too late
        feed_server.set_feed("/a.rss", rss("A", OLD + [NEW]))
        await pipeline.run_once()
        same = Entry("Шеф-редактор «Sputnik Азербайджан» Евгений Белоусов освобождён в Баку",
                     "https://other.example/belousov", NEW.published + timedelta(hours=1),
                     "Шеф-редактор Sputnik Азербайджан Евгений Белоусов освобождён и вылетел в Москву.")
        feed_server.set_feed("/b.rss", rss("B", OLD + [same]))
        clock.advance(hours=1)
        report = await pipeline.run_once()
        counts = pipeline.store.outbox_counts()
        assert counts.get("maybe_sent") == 1
        assert report.pending == 0 and counts.get("pending", 0) == 0
        assert counts.get("orphaned") == 1
        assert len(bot_api.messages(DEFAULT_CHAT)) == 1
    finally:
        await pipeline.aclose()
        await channel.aclose()


def test_feed_list_is_reread_only_when_the_file_changes(tmp_path, clock):
    """An edited feed list takes effect on the next read; an unchanged file is not parsed again."""
    settings = make_settings(tmp_path, ["https://a.example/rss"])
    path = settings.watchbot_feeds
    pipeline = Pipeline.build(settings, channel=None, clock=clock)
    try:
        assert [f.url for f in pipeline.feeds()] == ["https://a.example/rss"]
        # Same size and mtime but unparsable content: a re-read would find no feeds.
        stat = path.stat()
        path.write_bytes(b"x" * stat.st_size)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert [f.url for f in pipeline.feeds()] == ["https://a.example/rss"]
        path.write_text('<opml version="2.0"><body><outline xmlUrl="https://a.example/rss"/>'
                        '<outline xmlUrl="https://b.example/feed.xml"/></body></opml>', encoding="utf-8")
        assert [f.url for f in pipeline.feeds()] == ["https://a.example/rss", "https://b.example/feed.xml"]
        assert {s.url for s in pipeline.store.feed_states()} == {"https://a.example/rss", "https://b.example/feed.xml"}
    finally:
        pipeline.parser.close()


def test_the_feed_list_run_read_is_used_only_while_the_file_is_unchanged(tmp_path, clock):
    """The list `run` read before building the pipeline serves the first cycle (synced to the
    store) while the file is unchanged; a file edited since is read again."""
    settings = make_settings(tmp_path, ["https://a.example/rss"])
    path = settings.watchbot_feeds
    pipeline = Pipeline.build(settings, channel=None, clock=clock)
    try:
        read = read_feed_list(path)
        # Same size and mtime but unparsable content: only the earlier read has the feed.
        stat = path.stat()
        path.write_bytes(b"x" * stat.st_size)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        pipeline.use_feed_list(read)
        assert [f.url for f in pipeline.feeds()] == ["https://a.example/rss"]
        assert {s.url for s in pipeline.store.feed_states()} == {"https://a.example/rss"}

        other = Pipeline.build(settings, channel=None, clock=clock,
                               store=pipeline.store, rules=pipeline.rules)
        path.write_text('<opml version="2.0"><body><outline xmlUrl="https://b.example/feed.xml"/>'
                        '</body></opml>', encoding="utf-8")
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        other.use_feed_list(read)  # read before this edit: not used
        assert [f.url for f in other.feeds()] == ["https://b.example/feed.xml"]
        other.parser.close()
    finally:
        pipeline.parser.close()


async def test_a_cycle_that_matches_nothing_never_compiles_the_matcher(tmp_path, feed_server, bot_api, clock):
    """First sight and a 304 leave the watchlists uncompiled (a cron run's start-up cost); the first new item compiles them and alerts."""
    feed_server.set_feed("/news.rss", rss("News", OLD))
    settings = make_settings(tmp_path, [feed_server.url("/news.rss")])
    pipeline, channel = await _pipeline(settings, bot_api, clock)
    try:
        assert (await pipeline.run_once()).polls[0].seeded == len(OLD)
        clock.advance(minutes=20)
        assert (await pipeline.run_once()).polls[0].status == 304
        assert pipeline.rules._matcher is None and pipeline.rules._novelty is None
        feed_server.set_feed("/news.rss", rss("News", OLD + [NEW]))
        clock.advance(minutes=20)
        assert (await pipeline.run_once()).alerts == 1
        assert pipeline.rules._matcher is not None
    finally:
        await pipeline.aclose()
        await channel.aclose()
