"""Issue 13, faults nobody named: a poll that raises, absurd numbers from servers, malformed Bot
API answers, cron runs that must keep the daemon's waits, a token echoed in another letter case,
and local paths in the feed list. Through the real path: the feed server, the Bot API stand-in
driven by python-telegram-bot, the daemon's scheduler, `python -m bot run --once`."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import subprocess
from datetime import datetime, timedelta, timezone

import pytest

from bot.channels.telegram import TelegramChannel
from bot.models import Decision, Item
from bot.pipeline import Pipeline
from bot.schedule import Daemon
from bot.store import Store
from tests.conftest import DEFAULT_CHAT, TOKEN, cli_run, make_settings
from tests.feedgen import Entry, rss
from tests.servers.botapi import BotApiStandIn
from tests.servers.feedserver import FeedServer
from tests.waiting import FakeSleep, wait_for

NOW = datetime.now(timezone.utc).replace(microsecond=0)
ALERT = Entry("Sputnik Azerbaijan editor-in-chief Yevgeny Belousov released in Baku",
              "https://news.example/belousov-released", NOW - timedelta(hours=1),
              "Security forces released Sputnik Azerbaijan editor-in-chief Yevgeny Belousov.")


# ---------------------------------------------------------------------------------- class 4


async def test_a_poll_that_raises_is_rearmed_and_the_feed_is_polled_again(tmp_path, feed_server, caplog):
    """A disk-full moment inside a daemon poll is logged, and once space is back the feed is polled and recorded again."""
    many = [Entry(f"Regional trade item {i}", f"https://a.example/{i}", NOW - timedelta(hours=2), "text " * 100)
            for i in range(300)]  # enough rows to need new database pages
    feed_server.set_feed("/a.rss", rss("A", many))
    settings = make_settings(tmp_path, [feed_server.url("/a.rss")], watchbot_interval=1)
    pipeline = Pipeline.build(settings, channel=None)
    pipeline.feeds()  # the feed's row exists before the disk "fills"
    db = pipeline.store.db
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own "database or disk is full"
    daemon = Daemon(pipeline)
    task = asyncio.create_task(daemon.run())
    try:
        assert await wait_for(lambda: len(feed_server.requests("/a.rss")) >= 1)
        assert await wait_for(lambda: "full" in caplog.text)
        db.execute("PRAGMA max_page_count = 1073741823")  # space is back
        assert await wait_for(lambda: pipeline.store.feed_state(feed_server.url("/a.rss")).seeded)
        polls = len(feed_server.requests("/a.rss"))
        assert await wait_for(lambda: len(feed_server.requests("/a.rss")) > polls)  # and it keeps going
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 30)
        await pipeline.aclose()
    assert pipeline.store.count_items() == 300


# ---------------------------------------------------------------------------------- class 5


@pytest.mark.parametrize("retry_after", ["99999999999999", "9" * 400, "Fri, 31 Dec 9999 23:59:59 GMT"])
async def test_an_absurd_retry_after_is_clamped_and_the_cycle_still_delivers(tmp_path, feed_server, bot_api, clock, retry_after):
    """A 503 with an absurd Retry-After from one feed neither crashes run_once nor stops another feed's alert; the wait is clamped to a week."""
    feed_server.set_status("/absurd.xml", 503, headers={"Retry-After": retry_after})
    feed_server.set_feed("/good.xml", rss("Good", [ALERT]))
    settings = make_settings(tmp_path, [feed_server.url("/absurd.xml"), feed_server.url("/good.xml")],
                             watchbot_backfill=5)
    channel = TelegramChannel(TOKEN, DEFAULT_CHAT, api_url=bot_api.root, min_interval=0)
    await channel.start()
    pipeline = Pipeline.build(settings, channel=channel, clock=clock)
    try:
        report = await pipeline.run_once()
        absurd = pipeline.store.feed_state(feed_server.url("/absurd.xml"))
    finally:
        await pipeline.aclose()
        await channel.aclose()
    assert report.alerts == 1 and report.sent == 1
    assert len(bot_api.messages(DEFAULT_CHAT)) == 1
    assert clock.now < absurd.next_check <= clock.now + timedelta(days=7)


async def test_an_absurd_telegram_retry_after_does_not_strand_the_alert(tmp_path, bot_api, clock):
    """A 429 whose retry_after overflows a timedelta is retried with back-off and the alert is posted once."""
    pipeline, channel, _ = await _channel_pipeline(tmp_path, bot_api, clock)
    _enqueue(pipeline, 1)
    bot_api.fail_429(1, retry_after=99999999999999)
    try:
        report = await pipeline.drain()
    finally:
        await channel.aclose()
    assert report.sent == 1 and len(bot_api.messages(DEFAULT_CHAT)) == 1
    assert pipeline.store.outbox_counts() == {"sent": 1}


# ---------------------------------------------------------------------------------- class 6


async def _channel_pipeline(tmp_path, bot_api, clock):
    sleep = FakeSleep()
    channel = TelegramChannel(TOKEN, DEFAULT_CHAT, api_url=bot_api.root, min_interval=0, sleep=sleep,
                              backoff=0.5, network_retries=2)
    await channel.start()
    settings = make_settings(tmp_path, [])
    pipeline = Pipeline(settings=settings, store=Store(settings.database), rules=_rules(), channel=channel,
                        clock=clock)
    return pipeline, channel, sleep


_RULES = None


def _rules():
    global _RULES
    if _RULES is None:
        from bot.rules import Rules
        from tests.conftest import WATCHLISTS
        _RULES = Rules.load(WATCHLISTS)
    return _RULES


def _enqueue(pipeline: Pipeline, n: int) -> list[int]:
    ids = []
    for i in range(n):
        item = Item(key=f"guid:malformed-{i}", feed_url="http://feed.example/rss", title=f"Alert number {i}",
                    link=f"https://news.example/{i}")
        _, out = pipeline.store.record_item(item, (), Decision("alert", watchlist="sputnik_azerbaijan", signature={}),
                                            pipeline.clock())
        ids.extend(out)
    return ids


MALFORMED = {
    "an HTML page with 200": ("<html><body><h1>Welcome to our proxy</h1></body></html>", "text/html"),
    "ok false without an error code": ('{"ok": false}', "application/json"),
    "result null": ('{"ok": true, "result": null}', "application/json"),
    "result true": ('{"ok": true, "result": true}', "application/json"),
    "a message without message_id": ('{"ok": true, "result": {"date": 0, "chat": {"id": -1001234567890, '
                                     '"type": "channel"}}}', "application/json"),
}


@pytest.mark.parametrize("shape", list(MALFORMED))
async def test_a_malformed_bot_api_answer_is_retried_and_the_alert_posted_once(tmp_path, bot_api, clock, shape):
    """A 200 answer that carries no posted message is retried; the alert reaches the channel exactly once with its real message id."""
    pipeline, channel, _ = await _channel_pipeline(tmp_path, bot_api, clock)
    (row,) = _enqueue(pipeline, 1)
    body, content_type = MALFORMED[shape]
    bot_api.answer_raw_next(body, content_type=content_type)
    try:
        report = await pipeline.drain()
    finally:
        await channel.aclose()
    messages = bot_api.messages(DEFAULT_CHAT)
    assert report.sent == 1 and len(messages) == 1
    status, message_id = pipeline.store.db.execute("SELECT status, message_id FROM outbox WHERE id=?", (row,)).fetchone()
    assert (status, message_id) == ("sent", messages[0]["message_id"])


@pytest.mark.parametrize("shape", list(MALFORMED))
async def test_persistently_malformed_answers_keep_the_alert_queued_and_visible(tmp_path, bot_api, clock, shape):
    """While every answer is malformed the alert stays pending (never 'sending', 'rejected' or 'possibly sent'), and is posted once answers are sane again."""
    pipeline, channel, _ = await _channel_pipeline(tmp_path, bot_api, clock)
    _enqueue(pipeline, 1)
    body, content_type = MALFORMED[shape]
    bot_api.answer_raw_next(body, content_type=content_type, k=50)
    try:
        first = await pipeline.drain()
        assert first.sent == 0 and first.delivery_error
        assert pipeline.store.outbox_counts() == {"pending": 1}
        bot_api.reset_faults()
        clock.advance(minutes=5)
        second = await pipeline.drain()
    finally:
        await channel.aclose()
    assert second.sent == 1 and len(bot_api.messages(DEFAULT_CHAT)) == 1
    assert pipeline.store.outbox_counts() == {"sent": 1}


# ---------------------------------------------------------------------------------- class 13


def test_cron_runs_keep_feed_waits_and_telegram_flood_waits(tmp_path):
    """A second `run --once` right after the first fetches no feed that is not due (interval, Retry-After) and sends nothing into a stored flood wait."""
    with FeedServer.in_thread() as srv, BotApiStandIn.in_thread() as api:
        srv.set_feed("/news.xml", rss("News", [ALERT]))
        srv.set_status("/busy.xml", 503, headers={"Retry-After": "3600"})
        cmd, env = cli_run(tmp_path, [srv.url("/news.xml"), srv.url("/busy.xml")], api.root, once=True,
                           WATCHBOT_PARSE_WORKERS="0")
        api.fail_429(1, retry_after=3600, method="sendMessage")
        for _ in range(2):
            done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr[-2000:]
        news, busy = len(srv.requests("/news.xml")), len(srv.requests("/busy.xml"))
        sends = api.calls.count("sendMessage")
        messages = api.messages(DEFAULT_CHAT)
    assert (news, busy) == (1, 1), "a feed that was not due was fetched again"
    assert sends == 1, "a cron run sent into Telegram's flood wait"
    assert messages == []
    db = sqlite3.connect(tmp_path / "state" / "watchbot.sqlite3")
    assert db.execute("SELECT status FROM outbox").fetchall() == [("pending",)]  # kept, not lost
    db.close()


# ---------------------------------------------------------------------------------- class 14


async def test_a_token_echoed_in_another_letter_case_is_redacted_from_logs_and_state(tmp_path, bot_api, clock, caplog):
    """A 400 that quotes the request path (re-cased by python-telegram-bot) leaves the token in no log line and no SQLite row, whatever its case."""
    caplog.set_level(logging.DEBUG)
    pipeline, channel, _ = await _channel_pipeline(tmp_path, bot_api, clock)
    _enqueue(pipeline, 1)
    bot_api.echo_path_next(1)
    try:
        report = await pipeline.drain()
    finally:
        await channel.aclose()
    assert report.sent == 0
    (error,) = [r[0] for r in pipeline.store.db.execute("SELECT last_error FROM outbox")]
    assert "<token>" in error  # the echo was there, and redacted
    secret = TOKEN.lower()
    stored = []
    for (table,) in pipeline.store.db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
        for row in pipeline.store.db.execute(f"SELECT * FROM {table}"):
            stored.extend(str(v).lower() for v in row)
    assert not [s for s in stored if secret in s or secret.replace(":", "%3a") in s]
    assert secret not in caplog.text.lower()


# ---------------------------------------------------------------------------------- class 15


async def test_local_paths_in_the_feed_list_are_read_only_inside_named_folders(tmp_path, clock):
    """/etc/passwd, /proc/self/environ, a ../ escape and a symlink out of the folder are refused; a file inside WATCHBOT_LOCAL_FEEDS is read."""
    allowed = tmp_path / "archive"
    allowed.mkdir()
    (allowed / "feed.xml").write_bytes(rss("Archive", [ALERT]))
    (allowed / "link.xml").symlink_to("/etc/passwd")
    outside = ["/etc/passwd", "file:///proc/self/environ", str(allowed / ".." / "secret.xml"), str(allowed / "link.xml")]
    (tmp_path / "secret.xml").write_bytes(rss("Secret", [ALERT]))
    inside = (allowed / "feed.xml").as_uri()
    settings = make_settings(tmp_path, outside + [inside], watchbot_local_feeds=str(allowed))
    pipeline = Pipeline.build(settings, channel=None, clock=clock)
    try:
        report = await pipeline.run_once()
    finally:
        await pipeline.aclose()
    errors = {p.feed: p.error for p in report.polls}
    for url in outside:
        assert errors[url] and "refused to read local file" in errors[url], (url, errors[url])
    assert errors[inside] is None
    assert pipeline.store.feed_state(inside).title == "Archive"


async def test_without_named_folders_no_local_feed_is_read(tmp_path, clock):
    """With WATCHBOT_LOCAL_FEEDS empty (the default), a local feed file is refused, though it exists."""
    (tmp_path / "feed.xml").write_bytes(rss("Local", [ALERT]))
    settings = make_settings(tmp_path, [str(tmp_path / "feed.xml")])
    pipeline = Pipeline.build(settings, channel=None, clock=clock)
    try:
        report = await pipeline.run_once()
    finally:
        await pipeline.aclose()
    assert "refused to read local file" in report.polls[0].error


# ---------------------------------------------------------------------------------- class 3


async def test_waiting_for_a_busy_hosts_slot_counts_against_the_deadline_and_names_the_holders(feed_server):
    """Feeds queued behind slow feeds of their host end within their own deadline instead of after three rounds, and say which feeds held the host's connections."""
    from bot.fetch import Fetcher

    for i in range(12):
        feed_server.set_feed(f"/slow-{i}.xml", rss("Slow", []), latency=5)
    # Half a second to answer: when the slow feeds' deadlines free their slots, the good feed's
    # own (started a few ms later, with the gather) has too little left for its answer.
    feed_server.set_feed("/good.xml", rss("Good", [ALERT]), latency=0.5)
    async with Fetcher(per_host=4, total_timeout=1.0) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(feed_server.url(f"/slow-{i}.xml")) for i in range(12)),
                                       fetcher.fetch(feed_server.url("/good.xml")))
    *slow, good = results
    # Before: three rounds of four slow feeds, each with a fresh deadline, then the good feed.
    # Now the first round holds the connections until every deadline has (nearly) passed; a
    # feed whose slot frees in the very last moment may still send its request.
    assert sum(len(feed_server.requests(f"/slow-{i}.xml")) for i in range(12)) <= 8
    assert good.status == 0 and good.error.startswith("timeout after 1 s")
    assert all(r.status == 0 and r.error.startswith("timeout after 1 s") for r in slow)
    waited = [r.error for r in results if "waiting for one of the 4 connections to 127.0.0.1" in r.error]
    assert waited and all("held by" in e and "/slow-" in e for e in waited)


async def test_an_absurd_interval_in_the_feed_list_is_clamped_and_the_cycle_still_delivers(tmp_path, feed_server, bot_api, clock):
    """An OPML outline with interval="99999999999999" neither crashes run_once nor blocks another feed's alert; its next check is at most 30 days away."""
    feed_server.set_feed("/odd.xml", rss("Odd", []))
    feed_server.set_feed("/good.xml", rss("Good", [ALERT]))
    settings = make_settings(tmp_path, [], watchbot_backfill=5)
    settings.watchbot_feeds.write_text(
        f'<opml version="2.0"><body><outline xmlUrl="{feed_server.url("/odd.xml")}" interval="99999999999999"/>'
        f'<outline xmlUrl="{feed_server.url("/good.xml")}"/></body></opml>', encoding="utf-8")
    channel = TelegramChannel(TOKEN, DEFAULT_CHAT, api_url=bot_api.root, min_interval=0)
    await channel.start()
    pipeline = Pipeline.build(settings, channel=channel, clock=clock)
    try:
        report = await pipeline.run_once()
        odd = pipeline.store.feed_state(feed_server.url("/odd.xml"))
    finally:
        await pipeline.aclose()
        await channel.aclose()
    assert report.alerts == 1 and len(bot_api.messages(DEFAULT_CHAT)) == 1
    assert clock.now < odd.next_check <= clock.now + timedelta(days=30)
