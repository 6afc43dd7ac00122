"""Property-based tests: folding, matching and feed parsing never raise on any input.

Inputs include every Unicode code point (lone surrogates too: broken feeds and numeric character
references produce them), watchlist terms spliced into noise so the matcher's verification paths
run, and arbitrary or mutated bytes for the parser.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.match import Matcher
from bot.models import Item
from bot.parse import parse_feed
from bot.text import fold
from bot.watchlists import load_watchlists
from tests.conftest import WATCHLISTS

ANY_CHAR = st.characters(blacklist_categories=())  # includes surrogates (Cs) and unassigned (Cn)
ANY_TEXT = st.text(ANY_CHAR, max_size=300)
# Letters that fold specially (Turkish dotted/dotless i, final sigma, ə, ё, combining marks,
# typographic dashes/quotes) so the repair paths of fold are hit often, not by luck.
TRICKY = st.sampled_from(list("İIıiΣσςəƏёЁйЙ\u0301\u0308\u2014\u2019\u00ab\u00bb`'-ßẞﬁǅ\u0130\u0307"))
TRICKY_TEXT = st.lists(st.one_of(TRICKY, ANY_CHAR), max_size=80).map("".join)

NOW = datetime(2025, 10, 25, 12, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def matcher():
    watchlists, problems = load_watchlists(WATCHLISTS)
    assert watchlists and not problems
    return Matcher.compile(watchlists)


def _terms() -> list[str]:
    watchlists, _ = load_watchlists(WATCHLISTS)
    return sorted({t.text.rstrip("*") for w in watchlists for g in w.groups for t in g.terms if not t.regex})


TERMS = st.sampled_from(_terms())


@given(st.one_of(ANY_TEXT, TRICKY_TEXT))
@settings(max_examples=400, deadline=None)
def test_fold_never_raises_and_keeps_length(text):
    """fold accepts any string and returns one of the same length (offsets stay valid)."""
    folded = fold(text)
    assert isinstance(folded, str) and len(folded) == len(text)


@given(st.one_of(ANY_TEXT, TRICKY_TEXT))
@settings(max_examples=200, deadline=None)
def test_fold_is_idempotent(text):
    """Folding twice changes nothing more than folding once."""
    once = fold(text)
    assert fold(once) == once


MIXED = st.lists(st.one_of(TERMS, ANY_TEXT, TRICKY_TEXT, st.sampled_from([" ", "-", "'", "’", "\u0301", "\n"])),
                 max_size=12).map("".join)


@given(title=MIXED, summary=MIXED)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_matcher_never_raises_on_any_text(matcher, title, summary):
    """Matching (and the explaining report) accepts any title and summary; every hit's surface is a slice of the item."""
    item = Item(key="prop:1", feed_url="prop", title=title, summary=summary)
    matches = matcher.match(item)
    report = matcher.report(item)
    assert [m.watchlist for m in matches] == [m.watchlist for m in report.matches]
    for m in report.matches:
        for hit in m.hits:
            assert hit.surface in (title if hit.where == "title" else summary)


def _rss_item(title: str, link: str, guid: str, date: str, desc: str) -> str:
    return (f"<item><title>{title}</title><link>{link}</link><guid>{guid}</guid>"
            f"<pubDate>{date}</pubDate><description>{desc}</description></item>")


XMLISH = st.text(st.one_of(ANY_CHAR, st.sampled_from(list("<>&;\"'/![]-=#x"))), max_size=60)
FEEDS = st.builds(
    lambda items, enc, junk: (junk + '<?xml version="1.0" encoding="' + enc + '"?><rss version="2.0"><channel>'
                              "<title>T</title>" + "".join(_rss_item(*i) for i in items) + "</channel></rss>"),
    st.lists(st.tuples(XMLISH, st.one_of(XMLISH, st.just("https://example.org/a")), XMLISH,
                       st.one_of(XMLISH, st.just("Sat, 25 Oct 2025 10:00:00 GMT")), XMLISH), max_size=4),
    st.sampled_from(["utf-8", "windows-1251", "koi8-r", "iso-8859-1", "utf-16", "bogus-enc"]),
    st.sampled_from(["", "\ufeff", "garbage\n", "   "]),
)

SEED_FEED = (Path(__file__).resolve().parent / "data").glob("**/*.xml")


def _check(parsed) -> None:
    # parse_feed's catch-all would turn any crash into a ParsedFeed: "never raises" holds only
    # if that catch-all never fired, i.e. every input was handled by the parser's own steps.
    assert parsed.internal_error is None, parsed.internal_error
    assert isinstance(parsed.items, tuple)
    if not parsed.items:
        assert parsed.error or parsed.title is not None
    for item in parsed.items:
        assert item.key.startswith(("guid:", "link:", "hash:"))
        assert item.link is None or urlsplit(item.link).scheme.lower() in ("http", "https"), item.link
        assert item.published is None or (item.published.tzinfo is not None
                                          and item.published <= NOW + timedelta(days=2))


@given(st.binary(max_size=4000))
@settings(max_examples=300, deadline=None)
def test_parse_feed_never_raises_on_arbitrary_bytes(body):
    """Any bytes at all give a ParsedFeed, never an exception, and never through the parser's catch-all."""
    _check(parse_feed(body, {}, "http://feed.example/rss", now=NOW))


@given(FEEDS, st.sampled_from(["", "application/rss+xml; charset=utf-8", "text/html", "text/xml; charset=koi8-r"]))
@settings(max_examples=300, deadline=None)
def test_parse_feed_never_raises_on_feed_shaped_garbage(text, content_type):
    """RSS-shaped documents with hostile field contents parse without raising or reaching the catch-all; items are well-formed."""
    body = text.encode("utf-8", "surrogatepass")
    _check(parse_feed(body, {"content-type": content_type} if content_type else {}, "http://feed.example/rss", now=NOW))


# Real feeds copied into tests/data/feeds (provenance in its PROVENANCE.md), smallest first.
REAL_FEEDS = sorted((Path(__file__).resolve().parent / "data" / "feeds").glob("*.xml"),
                    key=lambda p: p.stat().st_size)[:10]


@pytest.mark.skipif(not REAL_FEEDS, reason="real-world feeds not available")
@given(data=st.data())
@settings(max_examples=150, deadline=None)
def test_parse_feed_never_raises_on_mutated_real_feeds(data):
    """Real feeds with random byte flips, cuts and insertions still parse without raising or reaching the catch-all."""
    body = bytearray(data.draw(st.sampled_from(REAL_FEEDS)).read_bytes()[:30_000])
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, max(0, len(body) - 1)))
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if op == "flip" and body:
            body[pos] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del body[pos:pos + data.draw(st.integers(1, 500))]
        else:
            body[pos:pos] = data.draw(st.sampled_from([b"<!ENTITY x 'y'>", b"]]>", b"<![CDATA[", b"&#xD800;",
                                                       b"\x00", b"</channel>", b"<item>", b"&amp;&lt;"]))
    _check(parse_feed(bytes(body), {}, "http://feed.example/rss", now=NOW))
