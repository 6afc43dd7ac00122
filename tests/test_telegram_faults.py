"""Telegram faults through the pipeline's drain, against the Bot API stand-in and the real PTB client
(the outbox-keeping cases on both backends, through the ``backend`` fixture).

Waits (429 retry_after, network back-off) go through an injected fake sleep and the pipeline's
fixed clock, so nothing here waits for real except the deliberate read-timeout case.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.channels.telegram import TelegramChannel
from bot.models import Decision, Item
from bot.pipeline import Pipeline
from bot.rules import Rules
from bot.storage import open_store
from tests.conftest import DEFAULT_CHAT, TOKEN, WATCHLISTS, make_settings
from tests.waiting import FakeSleep


@pytest.fixture(scope="module")
def rules():
    return Rules.load(WATCHLISTS)


async def _setup(tmp_path, bot_api, clock, rules, *, chat=DEFAULT_CHAT, backend=None, **channel_kw):
    sleep = FakeSleep()
    kw = dict(min_interval=0, sleep=sleep, backoff=0.5, network_retries=2)
    kw.update(channel_kw)
    channel = TelegramChannel(TOKEN, chat, api_url=bot_api.root, **kw)
    await channel.start()
    settings = make_settings(tmp_path, [], **(backend.settings_overrides() if backend else {}))
    store = open_store(settings)
    pipeline = Pipeline(settings=settings, store=store, rules=rules, channel=channel, clock=clock)
    return pipeline, channel, sleep


def _enqueue(pipeline: Pipeline, n: int, start: int = 0, *, html=None, plain=None) -> list[int]:
    """Record ``n`` decided alerts through the store, exactly as the pipeline records one; with
    ``html``/``plain`` the rows carry that text, as rows of older state files (pre-rendered) do."""
    ids = []
    for i in range(start, start + n):
        item = Item(key=f"guid:fault-{i}", feed_url="http://feed.example/rss", title=f"Alert number {i}",
                    link=f"https://news.example/{i}")
        decision = Decision("alert", watchlist="sputnik_azerbaijan", signature={})
        _, out = pipeline.store.record_item(item, (), decision, pipeline.clock())
        if html is not None:
            pipeline.store.db.execute("UPDATE outbox SET text=?, plain=? WHERE id=?", (html, plain, out[0]))
        ids.extend(out)
    return ids


def _visible(bot_api, chat=DEFAULT_CHAT) -> list[str]:
    """The last visible line of each message in the chat: an alert's title."""
    return [m["visible"].splitlines()[-1] for m in bot_api.messages(chat)]


def _statuses(pipeline: Pipeline) -> list[str]:
    return [r[0] for r in pipeline.store.db.execute("SELECT status FROM outbox ORDER BY id")]


async def _close(pipeline, channel):
    await channel.aclose()
    pipeline.store.close()


async def test_429_within_the_wait_budget_is_waited_out(tmp_path, bot_api, clock, rules):
    """429 with a short retry_after is waited (fake sleep) and every alert is delivered once, in order."""
    pipeline, channel, sleep = await _setup(tmp_path, bot_api, clock, rules)
    try:
        _enqueue(pipeline, 3)
        bot_api.fail_429(2, retry_after=3)
        report = await pipeline.drain()
        assert report.sent == 3 and report.pending == 0 and report.delivery_error is None
        assert _visible(bot_api) == [f"Alert number {i}" for i in range(3)]
        assert sleep.waits.count(3.0) == 2
    finally:
        await _close(pipeline, channel)


async def test_429_beyond_the_budget_defers_then_delivers(tmp_path, bot_api, clock, rules):
    """A retry_after longer than the budget leaves the outbox queued until the wait has passed, then sends in order."""
    pipeline, channel, _ = await _setup(tmp_path, bot_api, clock, rules, max_retry_wait=60)
    try:
        _enqueue(pipeline, 3)
        bot_api.fail_429(1, retry_after=3600)
        first = await pipeline.drain()
        assert first.sent == 0 and first.pending == 3 and "retry" in (first.delivery_error or "").lower()
        calls = len(bot_api.calls)
        early = await pipeline.drain()  # still inside retry_after: not even a request
        assert early.pending == 3 and len(bot_api.calls) == calls
        clock.advance(seconds=3601)
        second = await pipeline.drain()
        assert second.sent == 3 and second.pending == 0
        assert _visible(bot_api) == [f"Alert number {i}" for i in range(3)]
    finally:
        await _close(pipeline, channel)


async def test_502_on_every_third_call_loses_and_doubles_nothing(tmp_path, bot_api, clock, rules, backend):
    """With every third Bot API call answering 502, all alerts still arrive exactly once and in order."""
    pipeline, channel, sleep = await _setup(tmp_path, bot_api, clock, rules, backend=backend)
    try:
        _enqueue(pipeline, 7)
        bot_api.fail_502_every(3)
        for _ in range(10):
            report = await pipeline.drain()
            if report.pending == 0:
                break
            clock.advance(minutes=5)
        assert _visible(bot_api) == [f"Alert number {i}" for i in range(7)]
        assert _statuses(pipeline) == ["sent"] * 7
        assert sleep.waits, "502s must have been retried after a back-off"
    finally:
        await _close(pipeline, channel)


async def test_connection_refused_keeps_the_queue_until_the_api_is_back(tmp_path, bot_api, clock, rules, backend):
    """While the API refuses connections nothing is lost; when it is back every alert goes out once, in order."""
    pipeline, channel, _ = await _setup(tmp_path, bot_api, clock, rules, backend=backend)
    try:
        _enqueue(pipeline, 3)
        await bot_api.down()
        down = await pipeline.drain()
        assert down.sent == 0 and down.pending == 3 and down.delivery_error
        await bot_api.up()
        _enqueue(pipeline, 2, start=3)
        clock.advance(minutes=5)
        up = await pipeline.drain()
        assert up.sent == 5 and up.pending == 0
        assert _visible(bot_api) == [f"Alert number {i}" for i in range(5)]
    finally:
        await _close(pipeline, channel)


async def test_read_timeout_is_recorded_maybe_sent_and_never_resent(tmp_path, bot_api, clock, rules, backend):
    """A send whose answer never comes is recorded maybe_sent and not resent (the policy in bot/channels/telegram.py)."""
    pipeline, channel, _ = await _setup(tmp_path, bot_api, clock, rules, backend=backend, read_timeout=0.5)
    try:
        _enqueue(pipeline, 3)
        bot_api.delay_next(2.0)  # longer than the client's read timeout; the stand-in stores it first
        report = await pipeline.drain()
        assert report.pending == 0 and report.sent == 2
        assert _statuses(pipeline) == ["maybe_sent", "sent", "sent"]
        for _ in range(2):
            clock.advance(minutes=30)
            await pipeline.drain()
        await asyncio.sleep(2.0)  # let the delayed answer finish server-side
        assert sorted(_visible(bot_api)) == [f"Alert number {i}" for i in range(3)]  # each exactly once
    finally:
        await _close(pipeline, channel)


async def test_unparsable_entities_are_resent_once_as_plain_text(tmp_path, bot_api, clock, rules):
    """A 400 "can't parse entities" makes the alert go out once as plain text, and the queue moves on."""
    pipeline, channel, _ = await _setup(tmp_path, bot_api, clock, rules)
    try:
        _enqueue(pipeline, 1, html="<b>Broken <i>markup</b>", plain="Broken markup as plain text")
        _enqueue(pipeline, 1, start=1)
        report = await pipeline.drain()
        assert report.sent == 2
        messages = bot_api.messages(DEFAULT_CHAT)
        assert _visible(bot_api) == ["Broken markup as plain text", "Alert number 1"]
        assert messages[0]["parse_mode"] is None and messages[1]["parse_mode"] == "HTML"
        assert bot_api.calls.count("sendMessage") == 3  # HTML refused once, plain once, next alert once
    finally:
        await _close(pipeline, channel)


async def test_chat_not_found_stops_sending_keeps_outbox_and_heals(tmp_path, bot_api, clock, rules, caplog):
    """400 "chat not found" stops delivery loudly (error log, store event) with the outbox intact; once fixed, all go out in order."""
    missing = -1009999999999
    pipeline, channel, _ = await _setup(tmp_path, bot_api, clock, rules, chat=missing)
    try:
        _enqueue(pipeline, 3)
        with caplog.at_level(logging.ERROR, logger="watchbot"):
            report = await pipeline.drain()
        assert "chat not found" in (report.delivery_error or "").lower()
        assert report.pending == 3 and _statuses(pipeline) == ["pending"] * 3
        assert any("chat not found" in r.getMessage().lower() and r.levelno == logging.ERROR for r in caplog.records)
        events = [e.message for e in pipeline.store.recent_events(5) if e.level == "error"]
        assert any("chat not found" in e.lower() for e in events)
        sends = bot_api.calls.count("sendMessage")
        await pipeline.drain()  # inside the cool-down: the refused chat is not hammered
        assert bot_api.calls.count("sendMessage") == sends

        bot_api.add_chat(missing)
        clock.advance(minutes=31)
        healed = await pipeline.drain()
        assert healed.sent == 3 and healed.delivery_error is None
        assert _visible(bot_api, missing) == [f"Alert number {i}" for i in range(3)]
    finally:
        await _close(pipeline, channel)


async def test_bot_kicked_from_the_channel_stops_sending_and_keeps_outbox(tmp_path, bot_api, clock, rules):
    """403 "bot was kicked" is fatal: one attempt, nothing marked sent, an error event, the outbox kept."""
    pipeline, channel, _ = await _setup(tmp_path, bot_api, clock, rules)
    try:
        _enqueue(pipeline, 2)
        bot_api.kick(DEFAULT_CHAT)
        report = await pipeline.drain()
        assert "kicked" in (report.delivery_error or "").lower()
        assert bot_api.calls.count("sendMessage") == 1
        assert _statuses(pipeline) == ["pending", "pending"]
        assert any("kicked" in e.message.lower() for e in pipeline.store.recent_events(5))
    finally:
        await _close(pipeline, channel)


async def test_a_send_through_a_starting_channel_waits_for_its_start(tmp_path, bot_api):
    """A message sent through the run's starting Telegram channel before its start finished goes out after one getMe and the chat check, never before."""
    from bot.channels.starting import StartingChannel

    settings = make_settings(tmp_path, [], telegram_bot_token=TOKEN, telegram_chat_id=str(DEFAULT_CHAT),
                             telegram_api_url=bot_api.root)
    channel = StartingChannel(settings, TelegramChannel(TOKEN, DEFAULT_CHAT, api_url=bot_api.root,
                                                        min_interval=0))
    try:
        outcome = await channel.send_html("<b>early</b>", "early")
        assert await channel.ready is None
        assert outcome.status == "sent"
        assert bot_api.calls == ["getMe", "getChat", "sendMessage"]
    finally:
        await channel.aclose()


async def test_a_send_through_a_starting_channel_to_an_unknown_chat_is_never_posted(tmp_path, bot_api):
    """A digest or note sent while the start is still checking an unknown chat gets the refusal and reaches no chat."""
    from bot.channels.starting import StartingChannel

    settings = make_settings(tmp_path, [], telegram_bot_token=TOKEN, telegram_chat_id="@no_such_channel",
                             telegram_api_url=bot_api.root)
    channel = StartingChannel(settings, TelegramChannel(TOKEN, "@no_such_channel", api_url=bot_api.root,
                                                        min_interval=0))
    try:
        outcome = await channel.send_html("<b>early</b>", "early")
        refusal = await channel.ready
        assert refusal is not None and "chat not found" in refusal.lower()
        assert outcome.status == "fatal" and outcome.error == refusal
        assert "sendMessage" not in bot_api.calls and bot_api.calls.count("getMe") == 1
    finally:
        await channel.aclose()


async def test_a_deferred_starting_channel_asks_telegram_only_when_something_is_sent(tmp_path, bot_api):
    """A deferred starting channel makes no Bot API call until a send, then starts at once, tells on_verified, and sends."""
    from bot.channels.starting import StartingChannel

    settings = make_settings(tmp_path, [], telegram_bot_token=TOKEN, telegram_chat_id=str(DEFAULT_CHAT),
                             telegram_api_url=bot_api.root)
    told = []
    channel = StartingChannel(settings, TelegramChannel(TOKEN, DEFAULT_CHAT, api_url=bot_api.root,
                                                        min_interval=0), deferred=True)
    channel.on_verified = lambda: told.append("verified")
    try:
        await asyncio.sleep(0.3)  # longer than the start delay of a channel that is not deferred
        assert not channel.started and bot_api.calls == []
        outcome = await channel.send_html("<b>late</b>", "late")
        assert outcome.status == "sent" and told == ["verified"]
        assert bot_api.calls == ["getMe", "getChat", "sendMessage"]
    finally:
        await channel.aclose()


def test_a_remembered_acceptance_counts_only_for_the_same_bot_chat_and_hour():
    """Telegram's remembered acceptance holds for the same token, chat and API server for one hour, never from the future, and never contains the token."""
    from datetime import datetime, timedelta, timezone

    from bot.channels.starting import recently_verified, remembered_check, telegram_check_key
    from bot.config import Settings

    base = Settings(telegram_bot_token=TOKEN, telegram_chat_id=str(DEFAULT_CHAT))
    key = telegram_check_key(base)
    at = datetime(2026, 12, 3, 4, 0, tzinfo=timezone.utc)
    memory = remembered_check(key, at)
    assert TOKEN not in memory and TOKEN.split(":")[1] not in memory
    assert recently_verified(memory, key, at + timedelta(minutes=59))
    assert not recently_verified(memory, key, at + timedelta(minutes=61))  # stale: ask again
    assert not recently_verified(memory, key, at - timedelta(minutes=1))  # clock set back
    for other in (Settings(telegram_bot_token=TOKEN + "x", telegram_chat_id=str(DEFAULT_CHAT)),
                  Settings(telegram_bot_token=TOKEN, telegram_chat_id="@another"),
                  Settings(telegram_bot_token=TOKEN, telegram_chat_id=str(DEFAULT_CHAT),
                           telegram_api_url="http://127.0.0.1:8081")):
        assert not recently_verified(memory, telegram_check_key(other), at)
    for broken in (None, "", "garbage", f"{key} yesterday", f"{key} 2026-12-03T04:00:00"):  # naive time
        assert not recently_verified(broken, key, at)
