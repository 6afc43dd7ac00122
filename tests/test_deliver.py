"""Delivery: the real python-telegram-bot client against the local Bot API stand-in over HTTP."""

from __future__ import annotations

import io
import json
import logging
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from bot.channels import DeliveryError
from bot.channels.console import ConsoleChannel
from bot.channels.telegram import TelegramChannel
from bot.channels.telegram_html import fit_html, render_alert, visible_length
from bot.pacing import Pacer
from bot.redact import RedactingFilter, redact
from bot.models import Alert, Item, Match, Source, StoryMessage, TermHit
from tests.servers.botapi import BotApiStandIn, parse_html, utf16_len

TOKEN = "123456789:AAE-secret_TOKEN_value-do-not-leak"
# PTB 22 warns about RetryAfter.retry_after's future type when it builds the exception.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
DATA = Path(__file__).parent / "data" / "deliver"


class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self, on_sleep=None) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        if self.on_sleep:
            self.on_sleep(len(self.sleeps))


@pytest.fixture(scope="module")
def api():
    with BotApiStandIn.in_thread() as server:
        yield server


@pytest.fixture
def chat(api):
    """A fresh channel per test, so message lists never mix; faults reset."""
    api.reset_faults()
    yield api.add_chat(None)
    api.reset_faults()


@pytest.fixture
def ft():
    return FakeTime()


@pytest.fixture
async def channel(api, chat, ft):
    ch = TelegramChannel(TOKEN, chat, api_url=api.root, clock=ft.clock, sleep=ft.sleep,
                         read_timeout=5)
    await ch.start()
    yield ch
    await ch.aclose()


def _match(title="Aktau crash", terms=("AZAL", "Aktau")) -> Match:
    return Match("aktau_crash", title,
                 tuple(TermHit(t, "place", "title", t) for t in terms))


def _item(**kw) -> Item:
    base = dict(key="guid:1", feed_url="https://example.org/feed", title="Title",
                link="https://example.org/a?x=1&y=2", summary="Summary text.",
                published=datetime(2025, 10, 19, 14, 5, tzinfo=timezone.utc),
                outlet="Example News", language="en")
    base.update(kw)
    return Item(**base)


def _alert(html: str, plain: str, **kw) -> Alert:
    return Alert(id=1, story_id=1, action=kw.pop("action", "post"), text=html, plain=plain, **kw)


def _real_items() -> list[Item]:
    items = []
    for line in (DATA / "items.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        pub = None
        if r["published"] and len(r["published"]) == 10:
            d = date.fromisoformat(r["published"])
            pub = datetime(d.year, d.month, d.day, tzinfo=timezone.utc)
        items.append(Item(key=f"guid:{r['id']}", feed_url="https://feed.example/rss",
                          title=r["title"], link=r["url"], summary=r["summary"] or "",
                          published=pub, outlet=r["outlet"], language=r["language"]))
    return items


# ---------------------------------------------------------------------------------------------
# Rendering + sending
# ---------------------------------------------------------------------------------------------


async def test_real_items_are_accepted_and_show_their_link(api, chat, channel):
    """Every real dev item renders to HTML the stand-in accepts, linked to the item's URL."""
    items = _real_items()
    for item in items:
        html, plain = render_alert(StoryMessage.from_matches(1, item, [_match()], "aktau_crash"))
        out = await channel.deliver(_alert(html, plain))
        assert out.status == "sent", out
    msgs = api.messages(chat)
    assert len(msgs) == len(items)
    for item, msg in zip(items, msgs):
        assert msg["parse_mode"] == "HTML"
        links = [e["url"] for e in msg["entities"] if e["type"] == "text_link"]
        assert links == [item.link]
        assert item.title.split()[0] in msg["visible"]
        assert "2025" in msg["visible"] or item.published is None or "UTC" in msg["visible"]


def test_render_shows_the_alert_fields():
    """An alert names the watchlist, outlet, UTC time, excerpt and matched terms."""
    item = _item(summary="word " * 200,
                 published=datetime(2025, 10, 19, 18, 5, tzinfo=timezone(
                     __import__("datetime").timedelta(hours=4))))
    html, plain = render_alert(StoryMessage.from_matches(1, item, [_match()], "aktau_crash"))
    visible, entities = parse_html(html)
    assert "Aktau crash" in visible and "Example News" in visible
    assert "2025-10-19 14:05 UTC" in visible
    assert "Matched: AZAL, Aktau" in visible
    excerpt = next(line for line in visible.splitlines() if line.startswith("word"))
    assert 200 <= len(excerpt) <= 300 and excerpt.endswith("…") and "wor…" not in excerpt
    assert "https://example.org/a?x=1&y=2" in plain  # plain fallback keeps the link readable
    assert {"type": "text_link", "offset": utf16_len(visible[:visible.index("Title")]),
            "length": 5,
            "url": "https://example.org/a?x=1&y=2"} in entities


HOSTILE = [
    '<script>alert("x")</script> & <a href="javascript:alert(1)">click</a> &amp; &nbsp; <b>',
    "T" * 10_000,
    "عاجل: تحطم طائرة في أكتاو \u202e\u200f txet desrever",
    "😀" * 3000 + " 👨‍👩‍👧‍👦 \ud83d lone surrogate \x00\x07 control",
    "x" * 5000 + " " + "<" * 5000,
]


@pytest.mark.parametrize("text", HOSTILE, ids=["markup", "10k", "rtl", "emoji", "angles"])
async def test_hostile_feed_text_renders_safely(api, chat, channel, text):
    """Hostile title/summary/outlet/link/terms render to accepted HTML within 4096, no links."""
    item = _item(title=text, summary=text, outlet=text, link="javascript:alert(document.cookie)")
    match = Match("w", text, (TermHit(text, "g", "title", text),))
    srcs = [Source(text, f"data:text/html,{i}", text, text, None) for i in range(3)]
    html, plain = render_alert(StoryMessage.from_matches(1, item, [match], "w", srcs))
    assert visible_length(html) <= 4096 and utf16_len(plain) <= 4096
    out = await channel.deliver(_alert(html, plain))
    assert out.status == "sent", out
    msg = api.messages(chat)[-1]
    assert msg["parse_mode"] == "HTML"  # accepted as HTML, not via the plain fallback
    assert not [e for e in msg["entities"] if e["type"] == "text_link"]
    if "<script>" in text:
        assert "<script>" in msg["visible"]  # shown as text, not interpreted


async def test_many_sources_are_trimmed_with_and_n_more(api, chat, channel):
    """A story with 400 folded sources lists what fits and ends with "and N more"."""
    srcs = [Source(f"Report {i}", f"https://outlet{i}.example/news/{i}", f"Outlet number {i}",
                   "ru" if i % 2 else "az", None) for i in range(400)]
    item = _item(title="A " * 300, summary="B " * 400)
    html, plain = render_alert(StoryMessage.from_matches(1, item, [_match()], "aktau_crash", srcs))
    assert 3900 < visible_length(html) <= 4096 and utf16_len(plain) <= 4096
    assert "more" in html.rsplit("\n", 1)[-1]
    out = await channel.deliver(_alert(html, plain, action="post"))
    assert out.status == "sent"
    msg = api.messages(chat)[-1]
    shown = [e for e in msg["entities"] if e["type"] == "text_link"]
    n_more = int(msg["visible"].rsplit("and ", 1)[1].split()[0])
    assert len(shown) - 1 + n_more == 400  # the item's own link plus listed sources
    assert "Outlet number 1 (ru)" in msg["visible"]


def test_own_report_is_not_listed_among_sources():
    """The item's own source (same link) is not repeated under "Also reported by"."""
    item = _item()
    own = Source(item.title, item.link, item.outlet, "en", None)
    other = Source("Другое", "https://ria.example/1", "РИА", "ru", None)
    html, _ = render_alert(StoryMessage.from_matches(1, item, [_match()], "aktau_crash", [own, other]))
    visible, _ = parse_html(html)
    tail = visible.split("Also reported by:")[1]
    assert "РИА (ru)" in tail and "Example News" not in tail


# ---------------------------------------------------------------------------------------------
# Errors and retries
# ---------------------------------------------------------------------------------------------


async def test_429_is_waited_out_and_the_message_arrives_once(api, chat, channel, ft):
    """A 429 with retry_after=7 makes the channel sleep 7 s (fake) and then deliver once."""
    api.fail_429(1, retry_after=7)
    out = await channel.send_html("<b>flood</b> test", "flood test")
    assert out.status == "sent"
    assert 7 in ft.sleeps
    assert [m["visible"] for m in api.messages(chat)] == ["flood test"]


async def test_429_longer_than_max_wait_returns_retry(api, chat, ft):
    """A retry_after above max_retry_wait is not slept: the outcome is retry with that delay."""
    ch = TelegramChannel(TOKEN, chat, api_url=api.root, clock=ft.clock, sleep=ft.sleep,
                         max_retry_wait=30)
    async with ch:
        api.fail_429(1, retry_after=120)
        out = await ch.send_html("x", "x")
    assert out.status == "retry" and out.retry_after == 120
    assert 120 not in ft.sleeps and api.messages(chat) == []


async def test_502_every_third_call_still_delivers_all_in_order_once(api, chat, channel, ft):
    """With every third call failing 502, all ten messages arrive exactly once, in order."""
    api.fail_502_every(3)
    for i in range(10):
        out = await channel.send_html(f"<b>n{i}</b>", f"n{i}")
        assert out.status == "sent", out
    assert [m["visible"] for m in api.messages(chat)] == [f"n{i}" for i in range(10)]
    assert ft.sleeps  # backoff happened (fake time)


async def test_connection_refused_gives_retry_then_recovers(api, chat, channel, ft):
    """While the API is down the outcome is retry (bounded); once it is back, sent."""
    api.down()
    try:
        out = await channel.send_html("down", "down")
    finally:
        api.up()
    assert out.status == "retry" and out.retry_after and TOKEN not in (out.error or "")
    assert len([s for s in ft.sleeps if s >= 1]) == channel.network_retries
    out = await channel.send_html("up again", "up again")
    assert out.status == "sent"
    assert [m["visible"] for m in api.messages(chat)] == ["up again"]


async def test_connection_refused_recovers_within_backoff(api, chat):
    """If the API comes back during the backoff, the same call delivers the message."""
    ft = FakeTime(on_sleep=lambda n: api.up() if n == 2 else None)
    ch = TelegramChannel(TOKEN, chat, api_url=api.root, clock=ft.clock, sleep=ft.sleep)
    async with ch:
        api.down()
        try:
            out = await ch.send_html("retried", "retried")
        finally:
            if api.standin._runner is None:
                api.up()
    assert out.status == "sent"
    assert [m["visible"] for m in api.messages(chat)] == ["retried"]


async def test_read_timeout_is_maybe_sent_and_not_resent(api, chat, ft):
    """A reply slower than the read timeout gives maybe_sent; the stand-in holds it once."""
    ch = TelegramChannel(TOKEN, chat, api_url=api.root, clock=ft.clock, sleep=ft.sleep,
                         read_timeout=0.3)
    async with ch:
        api.delay_next(1.5)
        out = await ch.send_html("slow", "slow")
        assert out.status == "maybe_sent" and TOKEN not in (out.error or "")
        after = await ch.send_html("next", "next")
        assert after.status == "sent"
    assert [m["visible"] for m in api.messages(chat)] == ["slow", "next"]


async def test_unparsable_html_is_resent_once_as_plain_text(api, chat, channel):
    """HTML Telegram cannot parse is sent again once, without parse_mode, as the plain text."""
    out = await channel.send_html("<b>broken <i>nesting</b></i>", "broken nesting")
    assert out.status == "sent"
    [msg] = api.messages(chat)
    assert msg["parse_mode"] is None and msg["text"] == "broken nesting"


async def test_unparsable_html_with_unsendable_plain_is_rejected(api, chat, channel):
    """If the plain fallback is refused too (empty), the message is rejected, not retried."""
    out = await channel.send_html("<blink>x</blink>", "   ")
    assert out.status == "rejected" and "empty" in (out.error or "").lower()
    assert api.messages(chat) == []


async def test_unknown_chat_is_fatal_without_token_in_error(api, ft):
    """Posting to a chat Telegram does not know is fatal; the error never shows the token."""
    ch = TelegramChannel(TOKEN, -100999, api_url=api.root, clock=ft.clock, sleep=ft.sleep)
    async with ch:
        out = await ch.send_html("x", "x")
    assert out.status == "fatal" and "chat not found" in out.error.lower()
    assert TOKEN not in out.error and TOKEN.split(":")[1] not in out.error


async def test_kicked_bot_is_fatal(api, chat, channel):
    """After the bot is kicked from the channel, sending is fatal with Telegram's reason."""
    api.kick(chat)
    out = await channel.send_html("x", "x")
    assert out.status == "fatal" and "kicked" in out.error and TOKEN not in out.error


async def test_refused_token_at_start_is_redacted():
    """A token the API refuses makes start() fail with an error that omits the token."""
    async with BotApiStandIn(token="1:right") as server:
        ch = TelegramChannel(TOKEN, -1, api_url=server.root)
        with pytest.raises(DeliveryError) as err:
            await ch.start()
        await ch.aclose()
    assert err.value.fatal and TOKEN not in str(err.value) and "<token>" in str(err.value)


async def test_edit_updates_the_message_and_same_text_counts_as_sent(api, chat, channel):
    """An edit alert replaces the text; repeating the same edit is 'not modified' → sent."""
    first = await channel.deliver(_alert("<b>v1</b>", "v1"))
    assert first.status == "sent"
    edit = _alert("<b>v2</b> + sources", "v2 + sources", action="edit",
                  message_id=first.message_id)
    assert (await channel.deliver(edit)).status == "sent"
    again = await channel.deliver(edit)
    assert again.status == "sent" and again.message_id == first.message_id
    [msg] = api.messages(chat)
    assert msg["visible"] == "v2 + sources" and len(msg["edits"]) == 1


async def test_send_photo_with_caption(api, chat, channel, tmp_path):
    """A photo file is uploaded (multipart) with its HTML caption."""
    png = tmp_path / "chart.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    out = await channel.send_photo(str(png), "<b>Weekly</b> chart")
    assert out.status == "sent"
    [msg] = api.messages(chat)
    assert msg["kind"] == "photo" and msg["visible"] == "Weekly chart"
    assert msg["photo_bytes"] == 72


# ---------------------------------------------------------------------------------------------
# Pacing, splitting, secrets, console
# ---------------------------------------------------------------------------------------------


async def test_pacing_spaces_messages_and_caps_per_minute(api, chat, ft):
    """Requests are at least min_interval apart and at most per_minute in any 60 s window."""
    ch = TelegramChannel(TOKEN, chat, api_url=api.root, clock=ft.clock, sleep=ft.sleep,
                         min_interval=1.0, per_minute=4)
    async with ch:
        for i in range(9):
            assert (await ch.send_html(f"m{i}", f"m{i}")).status == "sent"
    stamps = list(ch.pacer.sent)
    assert all(b - a >= 1.0 for a, b in zip(stamps, stamps[1:]))
    assert all(stamps[i + 4] - stamps[i] >= 60.0 for i in range(len(stamps) - 4))
    assert len(api.messages(chat)) == 9


async def test_pacer_counts_edits_and_retries():
    """Every request goes through the same window, so a 5th request in a minute waits."""
    ft = FakeTime()
    pacer = Pacer(0.0, 4, ft.clock, ft.sleep)
    for _ in range(5):
        await pacer.wait()
    assert ft.now >= 1060.0


def test_fit_html_splits_at_block_boundaries_and_never_mid_tag():
    """Blocks are packed into messages <= limit; an oversize block is split with tags reopened."""
    blocks = [f"<b>Block {i}</b> " + "word " * 30 for i in range(40)]
    blocks.append("<i>" + "long &amp; " * 1000 + "</i>")
    parts = fit_html(blocks, limit=1000)
    assert len(parts) > 1
    for part in parts:
        visible, _ = parse_html(part)  # the stand-in's parser: raises on any broken markup
        assert utf16_len(visible) <= 1000
    joined = "".join(parse_html(p)[0] for p in parts)
    assert joined.count("Block") == 40 and joined.count("long &") == 1000


def test_visible_length_counts_utf16_after_entities():
    """visible_length ignores tags, decodes entities and counts astral characters twice."""
    assert visible_length('<a href="https://x.y/?a&amp;b">😀&lt;</a>') == 3


def test_redact_and_filter_scrub_the_token_from_logs():
    """The token is removed from messages, args and exception text of log records."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(TOKEN))
    logger = logging.getLogger("test.deliver.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise RuntimeError(f"POST https://api.telegram.org/bot{TOKEN}/sendMessage failed")
        except RuntimeError:
            logger.exception("request to %s", f"https://api.telegram.org/bot{TOKEN}/getMe")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "getMe" in text and "sendMessage failed" in text
    assert TOKEN not in text and "<token>" in text
    assert redact(f"bot{TOKEN.replace(':', '%3A')}/x", TOKEN) == "bot<token>/x"


async def test_console_channel_prints_plain_text():
    """The console channel writes the plain version and reports sent with increasing ids."""
    out = io.StringIO()
    ch = ConsoleChannel(out)
    a = await ch.deliver(_alert("<b>x</b>", "plain one"))
    b = await ch.send_html("<i>y</i>", "plain two")
    e = await ch.deliver(_alert("<b>z</b>", "edited", action="edit", message_id=a.message_id))
    assert (a.status, b.status, e.status) == ("sent", "sent", "sent")
    assert b.message_id == a.message_id + 1 and e.message_id == a.message_id
    assert "plain one" in out.getvalue() and "<b>" not in out.getvalue()
