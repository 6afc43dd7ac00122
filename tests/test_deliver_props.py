"""Property tests: whatever text a feed carries, the rendered alert is valid and within limits."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.telegram import TelegramChannel
from bot.channels.telegram_html import fit_html, render_alert, visible_length
from bot.models import Alert, Item, Match, Source, StoryMessage, TermHit
from tests.servers.botapi import BotApiStandIn, parse_html, utf16_len

TOKEN = "42:prop-test-token"


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


@pytest.fixture(scope="module")
def sender():
    """One stand-in, one event loop and one started channel for the whole module."""
    with BotApiStandIn.in_thread() as api:
        chat = api.add_chat(None)
        loop = asyncio.new_event_loop()
        clock = _Clock()
        ch = TelegramChannel(TOKEN, chat, api_url=api.root, clock=clock, sleep=clock.sleep)
        loop.run_until_complete(ch.start())
        try:
            yield api, chat, ch, loop
        finally:
            loop.run_until_complete(ch.aclose())
            loop.close()


feed_text = st.text(max_size=300) | st.text(min_size=3000, max_size=6000)
links = st.one_of(st.none(), st.text(max_size=40),
                  st.text(max_size=40).map(lambda s: "https://ex.org/" + s),
                  st.sampled_from(["javascript:alert(1)", "https://ex.org/?a=1&b=\"2\"",
                                   "http://x.y/<b>", "data:text/html,<script>"]))
sources = st.lists(st.builds(Source, title=st.text(max_size=80), link=links,
                             outlet=st.text(max_size=200), language=st.text(max_size=8) | st.none(),
                             published=st.none()), max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(title=feed_text, summary=feed_text, outlet=st.text(max_size=500), link=links,
       term=st.text(min_size=1, max_size=50), srcs=sources)
def test_any_feed_text_renders_to_html_the_stand_in_accepts(sender, title, summary, outlet,
                                                            link, term, srcs):
    """Arbitrary title/summary/outlet/link/source text yields accepted HTML of <= 4096 units."""
    api, chat, ch, loop = sender
    item = Item(key="guid:x", feed_url="https://f.example/rss", title=title, link=link,
                summary=summary, outlet=outlet,
                published=datetime(2025, 1, 2, 3, 4, tzinfo=timezone.utc))
    match = Match("w", "Watch", (TermHit(term, "g", "title", term),))
    html, plain = render_alert(StoryMessage.from_matches(1, item, [match], "w", srcs))
    assert visible_length(html) <= 4096 and utf16_len(plain) <= 4096
    before = len(api.messages(chat))
    out = loop.run_until_complete(ch.deliver(Alert(1, 1, "post", html, plain)))
    assert out.status == "sent", out
    msgs = api.messages(chat)
    assert len(msgs) == before + 1
    msg = msgs[-1]
    assert msg["parse_mode"] == "HTML"  # the HTML itself was accepted, not the fallback
    assert all(e["url"].startswith(("http://", "https://"))
               for e in msg["entities"] if e["type"] == "text_link")


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.text(max_size=700), max_size=12),
       tag=st.sampled_from(["b", "i", "code", 'a href="https://x.org/?q=1&amp;r=2"']),
       limit=st.integers(min_value=20, max_value=600))
def test_fit_html_parts_are_valid_and_within_limit(texts, tag, limit):
    """fit_html never produces a part that breaks Telegram's HTML rules or exceeds the limit."""
    import html as h

    name = tag.split()[0]
    blocks = [f"<{tag}>{h.escape(t)}</{name}> tail {h.escape(t[:5])}" for t in texts]
    parts = fit_html(blocks, limit=limit)
    for part in parts:
        visible, _ = parse_html(part)
        assert utf16_len(visible) <= limit
    seen = "".join(parse_html(p)[0] for p in parts)
    assert seen.count("tail") >= sum(1 for b in blocks if "tail" in b and b.strip())
