"""Issue 13, state that goes wrong silently: message ids that belong to another channel, epoch
dates that make new items look old, a state folder deleted under a running daemon, a story with
thousands of sources. Through the real path: feed server, Bot API stand-in, `python -m bot run`."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest

from bot.channels.console import ConsoleChannel
from bot.channels.telegram import TelegramChannel
from bot.pipeline import Pipeline
from tests.conftest import DEFAULT_CHAT, REPO, TOKEN, make_settings
from tests.feedgen import Entry, rss
from tests.servers.botapi import BotApiStandIn
from tests.servers.feedserver import FeedServer
from tests.test_pipeline import NEW, OLD

SAME = Entry("Шеф-редактор «Sputnik Азербайджан» Евгений Белоусов освобождён в Баку",
             "https://other.example/belousov", NEW.published + timedelta(hours=1),
             "Шеф-редактор Sputnik Азербайджан Евгений Белоусов освобождён и вылетел в Москву.")


# ---------------------------------------------------------------------------------- class 8


async def test_console_message_ids_are_never_edited_in_the_real_channel(tmp_path, feed_server, bot_api, clock):
    """After console mode printed an alert, the story's update reaches the real channel as a post, never as an edit of the channel's message 1."""
    feed_server.set_feed("/a.rss", rss("A", OLD))
    feed_server.set_feed("/b.rss", rss("B", OLD))
    settings = make_settings(tmp_path, [feed_server.url("/a.rss"), feed_server.url("/b.rss")])
    printed = io.StringIO()
    console = Pipeline.build(settings, channel=ConsoleChannel(printed), clock=clock)
    await console.run_once()
    feed_server.set_feed("/a.rss", rss("A", OLD + [NEW]))
    clock.advance(minutes=20)
    assert (await console.run_once()).sent == 1 and "belousov" in printed.getvalue().lower()
    await console.aclose()
    console.store.close()

    # Message 1 of the real channel is somebody else's post.
    channel = TelegramChannel(TOKEN, DEFAULT_CHAT, api_url=bot_api.root, min_interval=0)
    await channel.start()
    await channel.send_html("<b>An unrelated earlier post</b>", "An unrelated earlier post")
    live = Pipeline.build(settings, channel=channel, clock=clock)
    try:
        feed_server.set_feed("/b.rss", rss("B", OLD + [SAME]))
        clock.advance(hours=1)
        report = await live.run_once()
    finally:
        await live.aclose()
        await channel.aclose()
    messages = bot_api.messages(DEFAULT_CHAT)
    assert "editMessageText" not in bot_api.calls
    assert messages[0]["text"] == "<b>An unrelated earlier post</b>" and not messages[0]["edits"]
    assert len(messages) == 2 and "belousov-released" in messages[1]["text"]  # the story, posted
    assert report.sent == 1
    story_chat = live.store.db.execute("SELECT message_chat FROM stories").fetchone()[0]
    assert story_chat == f"telegram:{DEFAULT_CHAT}"


def _report(entry: Entry, n: int) -> Entry:
    """``entry`` as another outlet's report of the same development (its own link)."""
    return Entry(entry.title, f"https://outlet{n}.example/belousov", entry.published + timedelta(minutes=n),
                 entry.summary)


def _updates(report) -> int:
    return sum(p.updates for p in report.polls)


async def test_switching_between_console_and_telegram_keeps_each_channels_own_message(tmp_path, feed_server, bot_api, clock):
    """Console, Telegram, console, Telegram on one state: each channel edits only its own message of the story; Telegram posts it once and then edits that post."""
    names = ["/a.rss", "/b.rss", "/c.rss", "/d.rss"]
    for name in names:
        feed_server.set_feed(name, rss(name[1].upper(), OLD))
    settings = make_settings(tmp_path, [feed_server.url(n) for n in names])
    channel = TelegramChannel(TOKEN, DEFAULT_CHAT, api_url=bot_api.root, min_interval=0)
    await channel.start()
    await channel.send_html("<b>An unrelated earlier post</b>", "An unrelated earlier post")  # message 1
    printed = io.StringIO()

    async def run(chan, feed: str | None = None, entry: Entry | None = None):
        if feed:
            feed_server.set_feed(feed, rss(feed[1].upper(), OLD + [entry]))
        clock.advance(minutes=30)
        pipeline = Pipeline.build(settings, channel=chan, clock=clock)
        try:
            return await pipeline.run_once()
        finally:
            await pipeline.aclose()
            pipeline.store.close()

    try:
        await run(ConsoleChannel(printed))  # first sight: everything seeded
        assert (await run(ConsoleChannel(printed), "/a.rss", NEW)).sent == 1  # console message 1
        assert _updates(await run(channel, "/b.rss", SAME)) == 1  # the story, posted to Telegram
        console = await run(ConsoleChannel(printed), "/c.rss", _report(SAME, 2))
        assert _updates(console) == 1 and console.sent == 1
        last = await run(channel, "/d.rss", _report(SAME, 3))
    finally:
        await channel.aclose()
    assert _updates(last) == 1 and last.sent == 1
    messages = bot_api.messages(DEFAULT_CHAT)
    assert len(messages) == 2, [m["text"][:60] for m in messages]  # never a second post of the story
    assert not messages[0]["edits"]  # the unrelated message 1 was never touched
    story = messages[1]
    assert "belousov-released" in story["text"] and len(story["edits"]) == 1
    assert "outlet3.example" in story["text"]  # the edit lists the latest source
    assert "edit of message 1" in printed.getvalue()  # the console edited its own message


async def test_a_state_file_from_before_send_time_rendering_sends_its_queued_texts(tmp_path, bot_api, clock):
    """An old state file (no outbox.channel, no story_messages, an untagged message id, pre-rendered rows) opens; its queued post goes out with its stored text and its queued edit edits that story's message."""
    import sqlite3

    from bot.store import Store

    channel = TelegramChannel(TOKEN, DEFAULT_CHAT, api_url=bot_api.root, min_interval=0)
    await channel.start()
    first = await channel.send_html("<b>Old story</b>", "Old story")  # posted by the older version
    settings = make_settings(tmp_path, [])
    Store(settings.database).close()
    db = sqlite3.connect(settings.database)
    db.executescript("DROP TABLE story_messages; ALTER TABLE outbox DROP COLUMN channel;")
    stamp = clock.now.isoformat(timespec="seconds")
    db.executemany("INSERT INTO stories(id, watchlist, item_key, title, first_seen, signature, message_id) "
                   "VALUES (?, 'sputnik_azerbaijan', ?, ?, ?, '{}', ?)",
                   [(1, "guid:old-1", "Old story", stamp, first.message_id), (2, "guid:old-2", "Old post", stamp, None)])
    db.executemany("INSERT INTO outbox(story_id, action, text, plain, created) VALUES (?,?,?,?,?)",
                   [(2, "post", "<b>Old post</b>", "Old post", stamp),
                    (1, "edit", "<b>Old story</b>, edited", "Old story, edited", stamp)])
    db.commit()
    db.close()
    pipeline = Pipeline.build(settings, channel=channel, clock=clock)
    try:
        report = await pipeline.drain()
    finally:
        await pipeline.aclose()
        await channel.aclose()
        pipeline.store.close()
    messages = bot_api.messages(DEFAULT_CHAT)
    assert report.sent == 2 and [m["visible"] for m in messages] == ["Old story, edited", "Old post"]
    assert messages[0]["message_id"] == first.message_id and len(messages[0]["edits"]) == 1


# ---------------------------------------------------------------------------------- class 12


@pytest.mark.parametrize("date", ["Thu, 01 Jan 1970 00:00:00 +0000", "Mon, 01 Jan 2001 00:00:00 +0000"],
                         ids=["epoch", "years before first sight"])
async def test_an_item_dated_long_before_the_feed_was_first_seen_is_judged_as_new(tmp_path, feed_server, bot_api, clock, date):
    """A never-seen matching item dated 1970 (or years before the feed's first sight) alerts, dated by its first sight, and the fact is recorded."""
    feed_server.set_feed("/a.rss", rss("A", OLD))
    settings = make_settings(tmp_path, [feed_server.url("/a.rss")])
    channel = TelegramChannel(TOKEN, DEFAULT_CHAT, api_url=bot_api.root, min_interval=0)
    await channel.start()
    pipeline = Pipeline.build(settings, channel=channel, clock=clock)
    try:
        await pipeline.run_once()
        body = rss("A", OLD + [NEW]).replace(format_datetime(NEW.published).encode(), date.encode())
        feed_server.set_feed("/a.rss", body)
        clock.advance(minutes=20)
        report = await pipeline.run_once()
        row = pipeline.store.db.execute("SELECT decision, published FROM items WHERE link LIKE "
                                        "'%belousov-released%'").fetchone()
        state = pipeline.store.feed_state(feed_server.url("/a.rss"))
    finally:
        await pipeline.aclose()
        await channel.aclose()
    assert tuple(row) == ("alert", clock.now.isoformat(timespec="seconds"))
    assert report.alerts == 1 and len(bot_api.messages(DEFAULT_CHAT)) == 1
    assert state.last_warning and "first seen" in state.last_warning


# ---------------------------------------------------------------------------------- class 7


def test_a_daemon_whose_state_folder_is_deleted_stops_loudly_and_sends_nothing_more(tmp_path):
    """Deleting the state folder under a running daemon makes it stop with an error (exit 1) before it posts anything from the orphaned state."""
    with FeedServer.in_thread() as srv, BotApiStandIn.in_thread() as api:
        srv.set_feed("/a.rss", rss("A", OLD), honour_validators=False)
        (tmp_path / "feeds.opml").write_text(f'<opml version="2.0"><body><outline xmlUrl="{srv.url("/a.rss")}"/>'
                                             "</body></opml>", encoding="utf-8")
        (tmp_path / "watchbot.toml").write_text(
            f'WATCHBOT_WATCHLISTS = "{REPO / "watchlists"}"\nWATCHBOT_STATE = "state"\n'
            'WATCHBOT_FEEDS = "feeds.opml"\n', encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WATCHBOT_"))}
        env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_CHAT_ID=str(DEFAULT_CHAT), TELEGRAM_API_URL=api.root,
                   WATCHBOT_INTERVAL="1", WATCHBOT_JITTER="0", WATCHBOT_SEND_INTERVAL="0",
                   WATCHBOT_PARSE_WORKERS="0")
        log = tmp_path / "daemon.log"
        with open(log, "wb") as fh:
            proc = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(tmp_path / "watchbot.toml"), "run"],
                                    env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=fh)
        try:
            end = time.monotonic() + 60
            while len(srv.requests("/a.rss")) < 2 and time.monotonic() < end and proc.poll() is None:
                time.sleep(0.05)
            assert len(srv.requests("/a.rss")) >= 2, log.read_text()[-2000:]
            shutil.rmtree(tmp_path / "state")
            fresh = Entry(NEW.title, NEW.link, datetime.now(timezone.utc) - timedelta(hours=1), NEW.summary)
            recent = [Entry(e.title, e.link, e.published, e.summary) for e in OLD]
            srv.set_feed("/a.rss", rss("A", recent + [fresh]), honour_validators=False)
            try:
                code = proc.wait(timeout=45)
            except subprocess.TimeoutExpired:
                code = None
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        messages = api.messages(DEFAULT_CHAT)
    text = log.read_text()
    assert code == 1, f"the daemon kept running on a deleted state folder: {text[-1500:]}"
    assert "was deleted" in text
    assert messages == []


# ---------------------------------------------------------------------------------- class 2


async def test_a_poll_of_dozens_of_near_duplicates_renders_the_story_once(tmp_path, feed_server, bot_api, clock):
    """60 near-duplicates of one development in one poll become one post and one edit listing the sources; superseded edits were never rendered."""
    feed_server.set_feed("/a.rss", rss("A", OLD))
    settings = make_settings(tmp_path, [feed_server.url("/a.rss")])
    channel = TelegramChannel(TOKEN, DEFAULT_CHAT, api_url=bot_api.root, min_interval=0)
    await channel.start()
    pipeline = Pipeline.build(settings, channel=channel, clock=clock)
    try:
        await pipeline.run_once()
        dupes = [Entry(f"{NEW.title} ({i})", f"https://outlet{i}.example/belousov", NEW.published + timedelta(minutes=i % 50),
                       NEW.summary) for i in range(60)]  # novelty's cost per item, not ours, sets N
        feed_server.set_feed("/a.rss", rss("A", OLD + dupes))
        clock.advance(minutes=20)
        report = await pipeline.run_once()
        rows = pipeline.store.db.execute("SELECT action, status, text FROM outbox ORDER BY id").fetchall()
    finally:
        await pipeline.aclose()
        await channel.aclose()
    assert report.alerts == 1 and report.sent == 2
    by_status: dict = {}
    for action, status, text in rows:
        by_status.setdefault((action, status), []).append(text)
    assert len(by_status[("post", "sent")]) == 1 and len(by_status[("edit", "sent")]) == 1
    assert len(by_status[("edit", "superseded")]) == 58
    assert all(text == "" for text in by_status[("edit", "superseded")])  # never rendered
    (message,) = bot_api.messages(DEFAULT_CHAT)
    final = message["edits"][-1]["visible"]
    assert "Also reported by" in final and final.count("\n• ") == 59  # every other source, once
