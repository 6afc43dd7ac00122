"""parse: real-world feeds from tests/data/feeds (see PROVENANCE.md) and hostile or broken bodies."""

from __future__ import annotations

import csv
import io
import os
import pickle
import random
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.parse import ParsePool, canonical_link, item_key, parse_feed, plain_text

DATA = Path(__file__).resolve().parent / "data" / "feeds"
MANIFEST = list(csv.DictReader(io.StringIO((DATA / "MANIFEST.tsv").read_text("utf-8")), delimiter="\t"))
NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
CYRILLIC = re.compile(r"[\u0400-\u04FF]")
# Mojibake of Cyrillic read as Latin-1/cp1252 (or UTF-8 read as Latin-1) lands in Latin-1 letters.
MOJIBAKE = re.compile(r"[\u00C0-\u00FF]{2,}|Ã|Ð|Ñ")


def base_url(name: str) -> str:
    return f"https://feeds.example.org/{name}"


def parse_file(name: str, headers: dict[str, str] | None = None):
    """Parse a fixture; none of them may need parse_feed's catch-all (a parser bug)."""
    parsed = parse_feed((DATA / name).read_bytes(), headers or {}, base_url(name), now=NOW)
    assert parsed.internal_error is None, parsed.internal_error
    return parsed


REAL = [row["file"] for row in MANIFEST]
CYRILLIC_FILES = ["miniflux_koi8r_synthetic.xml", "extract_liga_net_ru.xml", "extract_onliner_by_ru.xml",
                  "extract_unian_ua.xml", "synthetic_cp1251_declared.xml", "synthetic_cp1251_undeclared.xml",
                  "synthetic_koi8r_undeclared.xml", "synthetic_cp1251_declared_utf8.xml"]


@pytest.mark.parametrize("row", MANIFEST, ids=REAL)
def test_item_count_matches_manifest(row):
    """Every real-world feed yields exactly the number of items its MANIFEST row states, without error."""
    parsed = parse_file(row["file"])
    assert parsed.error is None
    assert len(parsed.items) == int(row["item_count"])


@pytest.mark.parametrize("name", REAL)
def test_keys_unique_and_stable_across_parses(name):
    """Identity keys are unique within a feed and identical when the same bytes are parsed again."""
    first = [i.key for i in parse_file(name).items]
    second = [i.key for i in parse_file(name).items]
    assert first == second
    assert len(set(first)) == len(first)
    assert all(k.split(":", 1)[0] in ("guid", "link", "hash") for k in first)


@pytest.mark.parametrize("name", REAL)
def test_links_are_absolute_http(name):
    """Every item link is an absolute http(s) URL (relative ones are resolved against the feed)."""
    for item in parse_file(name).items:
        if item.link is not None:
            assert re.match(r"^https?://[^/\s]+", item.link), item.link


@pytest.mark.parametrize("name", REAL)
def test_text_is_plain_and_dates_are_utc(name):
    """Titles and summaries carry no HTML tags or entities and dates are timezone-aware UTC."""
    for item in parse_file(name).items:
        for text in (item.title, item.summary):
            assert not re.search(r"</?(p|br|div|a|img|b|strong|em|span)\b[^>]*>", text, re.I), text[:200]
            assert not re.search(r"&(amp|lt|gt|quot|nbsp|#\d+);", text), text[:200]
            assert text == text.strip() and "  " not in text and "\n" not in text
        if item.published is not None:
            assert item.published.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("name", CYRILLIC_FILES)
def test_cyrillic_titles_decode_to_cyrillic(name):
    """Russian/Ukrainian feeds in UTF-8, KOI8-R and windows-1251 (declared, undeclared, mis-declared) read as Cyrillic."""
    parsed = parse_file(name)
    assert parsed.items
    for item in parsed.items:
        assert CYRILLIC.search(item.title), item.title
        assert not MOJIBAKE.search(item.title + item.summary), item.title


def test_koi8r_text_is_exact():
    """The KOI8-R fixture decodes to the exact Russian title and outlet name."""
    parsed = parse_file("miniflux_koi8r_synthetic.xml")
    assert parsed.items[0].title == "Первая новость"
    assert parsed.title == "Пример RSS ленты"
    assert parsed.language == "ru"


@pytest.mark.parametrize("name, word", [
    ("miniflux_golem_iso-8859-1.xml", "für"),
    ("rssparser_jn_pt_iso8859-1_feedburner.rss", "Mãe"),
    ("miniflux_cerclepsy_noprolog_latin1.xml", "é"),
    ("feedrs_rss1.0_iso8859.xml", "Glasfaserförderung"),
])
def test_latin1_feeds_keep_accents(name, word):
    """Latin-1 feeds, with and without a declaration, decode accented letters (and are not mistaken for Cyrillic)."""
    items = parse_file(name).items
    text = " ".join(i.title + " " + i.summary for i in items)
    assert word in text
    assert not CYRILLIC.search(text)


def test_right_to_left_feed_keeps_script():
    """The BBC Urdu feed keeps its Arabic-script titles and declares its language."""
    parsed = parse_file("miniflux_bbc_urdu.xml")
    assert parsed.language == "ur"
    assert all(re.search(r"[\u0600-\u06FF]", i.title) for i in parsed.items)


def test_relative_links_resolve_against_feed_url():
    """An Atom entry's relative link resolves against the URL the feed was fetched from."""
    parsed = parse_feed((DATA / "feedrs_atom_relative_urls.xml").read_bytes(), {},
                        "https://blog.example.net/feeds/atom.xml", now=NOW)
    assert parsed.items[0].link == "https://blog.example.net/blog/2003/12/13/atom03"


def test_feedburner_items_link_to_the_article_not_the_redirector():
    """FeedBurner items link to feedburner:origLink (the outlet's own URL), not the feeds.* redirect."""
    for item in parse_file("extract_reuters_world_feedburner.xml").items:
        assert item.link and "reuters.com/article/" in item.link and "/~r/" not in item.link


def test_garbage_prefix_is_survived_with_a_warning():
    """Junk before the root element is dropped with a warning and the item is still read."""
    parsed = parse_file("pytask_yahoo_garbage_prefix.xml")
    assert [i.title for i in parsed.items] == ["Body of missing man found inside dinosaur statue"]
    assert parsed.warning and "junk" in parsed.warning


def test_missing_guids_fall_back_to_links_and_missing_links_to_hashes():
    """Items without GUID are keyed by canonical link; an item with neither gets a hash key."""
    keys = [i.key for i in parse_file("rssparser_heraldsun_rss092_baddate.rss").items]
    assert keys == ["link:http://www.oreilly.com/example/001.html", "link:http://www.oreilly.com/example/002.html"]
    (empty,) = parse_file("rssparser_incomplete_fields.atom").items
    assert empty.key.startswith("hash:") and empty.title == ""


def test_quirks_fixture_items():
    """Tracking params, escaped HTML, duplicates, future dates, shared GUIDs and ttl are all handled."""
    parsed = parse_feed((DATA / "synthetic_tracking_links.xml").read_bytes(), {},
                        "https://quirks.example/feed.xml", now=datetime(2025, 10, 25, 12, tzinfo=timezone.utc))
    by_title = {i.title: i for i in parsed.items}
    first = by_title["Bakı limanında yeni terminal"]
    assert first.key == "link:https://quirks.example/news/1?id=7"
    assert first.summary == "Birinci abzas. İkinci abzas & son."
    assert first.published == datetime(2025, 10, 25, 5, 0, tzinfo=timezone.utc)
    # The relative link resolves, and the same article with other tracking params is a duplicate.
    assert by_title["Relative link, no GUID"].link == "https://quirks.example/news/2?ref=homepage&b=2&a=1"
    assert "Same article, other tracking" not in by_title
    assert by_title["No link, no GUID, no date"].key.startswith("hash:")
    assert by_title["From the future"].published is None
    # One GUID on two different articles is not an identifier: both survive, keyed by link.
    assert by_title["Site GUID A"].key == "link:https://quirks.example/news/5"
    assert by_title["Site GUID B"].key == "link:https://quirks.example/news/6"
    assert parsed.ttl_minutes == 30 and parsed.language == "az"
    assert "ahead" in parsed.warning and "GUID" in parsed.warning


@pytest.mark.parametrize("name", ["synthetic_entity_bomb.xml", "synthetic_external_entity.xml",
                                  "synthetic_external_entity_utf16.xml"])
def test_entity_declarations_are_refused(name):
    """Billion-laughs and external-entity documents (also in UTF-16) yield an error and no items."""
    parsed = parse_file(name)
    assert parsed.items == ()
    assert parsed.error and "entit" in parsed.error


def test_external_entity_never_reads_local_files():
    """Nothing from /etc/passwd or /etc/hostname appears anywhere in the parse result."""
    parsed = parse_file("synthetic_external_entity.xml")
    assert "root:" not in repr(parsed)
    if os.path.exists("/etc/hostname"):
        hostname = Path("/etc/hostname").read_text().strip()
        assert not hostname or hostname not in repr(parsed)


def test_entity_mentioned_inside_cdata_is_not_refused():
    """An article quoting '<!ENTITY' inside CDATA (a security news item) is parsed normally."""
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Sec</title><item><title>XXE explained</title>'
            b'<link>https://sec.example/xxe</link><description><![CDATA[Send <!DOCTYPE x [<!ENTITY y SYSTEM '
            b'"file:///etc/passwd">]> and watch.]]></description></item></channel></rss>')
    parsed = parse_feed(body, {}, "https://sec.example/rss", now=NOW)
    assert parsed.error is None and parsed.items[0].title == "XXE explained"


def test_html_page_is_an_error():
    """A site's HTML page served where the feed was yields an error and no items."""
    parsed = parse_file("synthetic_html_page.html", {"content-type": "text/html; charset=utf-8"})
    assert parsed.items == () and parsed.error and "not a feed" in parsed.error


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_are_an_error(seed):
    """Random bytes yield a feed error and no items, never an exception nor the parser's catch-all."""
    body = random.Random(seed).randbytes(20_000)
    parsed = parse_feed(body, {"content-type": "application/rss+xml"}, "https://r.example/", now=NOW)
    assert parsed.items == () and parsed.error and parsed.internal_error is None


@pytest.mark.parametrize("body", [b"", b"   \n\t", b'{"items": []}', b"/etc/passwd", b"file:///etc/passwd"])
def test_empty_and_non_xml_bodies_are_errors(body):
    """Empty, whitespace, JSON and path-looking bodies are errors; a path-like body is never opened as a file."""
    parsed = parse_feed(body, {}, "https://e.example/", now=NOW)
    assert parsed.items == () and parsed.error and parsed.internal_error is None
    assert "root:" not in repr(parsed)


def test_declared_http_charset_counts():
    """A windows-1251 body without an XML declaration decodes by the Content-Type charset, silently."""
    body = (DATA / "synthetic_cp1251_undeclared.xml").read_bytes()
    parsed = parse_feed(body, {"content-type": "application/rss+xml; charset=windows-1251"}, "https://x.example/", now=NOW)
    assert parsed.items[0].title == "Первая новость" and parsed.warning is None


def test_utf8_body_wins_over_a_wrong_latin1_header():
    """A UTF-8 body served with a server-default 'charset=ISO-8859-1' still decodes as UTF-8."""
    body = (DATA / "extract_liga_net_ru.xml").read_bytes()
    parsed = parse_feed(body, {"content-type": "text/xml; charset=ISO-8859-1"}, "https://x.example/", now=NOW)
    assert CYRILLIC.search(parsed.items[0].title) and not MOJIBAKE.search(parsed.items[0].title)


def test_control_characters_do_not_break_the_feed():
    """Characters XML forbids (vertical tab, SUB) are removed instead of failing the document."""
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>T\x1a</title><item><title>a\x0bb</title>'
            b"<link>https://c.example/1</link></item></channel></rss>")
    parsed = parse_feed(body, {}, "https://c.example/", now=NOW)
    assert parsed.items[0].title == "a b" and parsed.warning is None


def test_unparseable_dates_are_none():
    """An item date nobody can parse gives published=None, not a guess or a crash."""
    body = (b'<rss version="2.0"><channel><title>D</title><item><title>x</title><link>https://d.example/1</link>'
            b"<pubDate>the day before yesterday</pubDate></item></channel></rss>")
    assert parse_feed(body, {}, "https://d.example/", now=NOW).items[0].published is None


def test_outlet_falls_back_to_host():
    """Without a feed title the outlet is the feed's host name (without www.)."""
    body = b'<rss version="2.0"><channel><item><title>x</title><link>https://a.example/1</link></item></channel></rss>'
    parsed = parse_feed(body, {}, "https://www.outlet.example/rss", now=NOW)
    assert parsed.items[0].outlet == "outlet.example"


# ------------------------------------------------------------------------------------------- helpers


@pytest.mark.parametrize("link, canonical", [
    ("HTTPS://Example.COM:443/a/b?utm_source=x&id=3&utm_medium=y#frag", "https://example.com/a/b?id=3"),
    ("http://example.com:80", "http://example.com/"),
    ("http://example.com:8080/x?b=2&a=1", "http://example.com:8080/x?a=1&b=2"),
    ("https://e.com/x?fbclid=1&gclid=2&yclid=3&mc_cid=4&mc_eid=5&_ga=6&ref=7&cmpid=8", "https://e.com/x"),
    ("https://www.bbc.co.uk/news/world-1?at_medium=RSS&at_campaign=KARANGA", "https://www.bbc.co.uk/news/world-1"),
    ("https://e.com/x?UTM_Source=a&q=%2Fpath%20x", "https://e.com/x?q=%2Fpath%20x"),
    ("https://e.com/x?a=1&a=0", "https://e.com/x?a=0&a=1"),
])
def test_canonical_link(link, canonical):
    """Canonical links drop tracking params, fragments and default ports, lower-case the host and sort params."""
    assert canonical_link(link) == canonical


def test_item_key_kinds():
    """item_key prefers a stripped GUID, then the canonical link, then a hash of title and date."""
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert item_key("  abc \n", "https://e.com/x", "T", when) == "guid:abc"
    assert item_key("  ", "https://E.com/x?utm_source=rss", "T", when) == "link:https://e.com/x"
    h1 = item_key(None, None, "  Some   Title ", when)
    assert h1.startswith("hash:") and h1 == item_key(None, None, "some title", when)
    assert h1 != item_key(None, None, "some title", None)


@pytest.mark.parametrize("html_in, text", [
    ("<p>One</p><p>Two&nbsp;&amp; three</p>", "One Two & three"),
    ("Azər<b>baycan</b> <script>alert(1)</script>news", "Azərbaycan news"),
    ("x < y and y > z", "x < y and y > z"),
    ("soft\u00adhyphen and zero\u200bwidth", "softhyphen and zerowidth"),
    ("  many \n\t spaces  ", "many spaces"),
    ("&lt;b&gt;escaped&lt;/b&gt;", "<b>escaped</b>"),
])
def test_plain_text(html_in, text):
    """plain_text strips tags (inline ones without a gap), scripts and invisible characters and decodes entities."""
    assert plain_text(html_in) == text


def test_long_summaries_are_cut():
    """Whole articles in <description> are cut to the summary limit at a word boundary."""
    out = plain_text("word " * 10_000, limit=100)
    assert len(out) <= 101 and out.endswith("…")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_parse_never_raises(body):
    """parse_feed handles any bytes after an RSS prolog by its own steps (errors are data), never by its catch-all."""
    parsed = parse_feed(b'<?xml version="1.0"?><rss version="2.0"><channel>' + body, {}, "https://p.example/", now=NOW)
    assert parsed.internal_error is None, parsed.internal_error
    assert isinstance(parsed.items, tuple)


# ------------------------------------------------------------------------------------------- ParsePool


async def test_pool_in_workers_matches_inline():
    """ParsePool in a worker process returns the same (picklable) result as parsing inline."""
    body = (DATA / "extract_onliner_by_ru.xml").read_bytes()
    inline = await ParsePool(0).parse(body, {}, base_url("o"))
    with ParsePool(1) as pool:
        remote = await pool.parse(body, {}, base_url("o"))
        hostile = await pool.parse((DATA / "synthetic_entity_bomb.xml").read_bytes(), {}, base_url("b"))
    # published/keys/text identical; only the default clock differs, which this feed does not hit.
    assert remote == inline
    assert pickle.loads(pickle.dumps(remote)) == remote
    assert hostile.error and hostile.items == ()


@pytest.mark.parametrize("link", ["http://[::1/x", "https:/only-one-slash.example/a", "javascript:alert(1)",
                                  "http://a.example:port/x", "ftp://files.example/f"])
def test_unusable_links_become_none(link):
    """Links that are not valid absolute http(s) URLs after resolution are dropped (link=None), not passed on."""
    body = (f'<rss version="2.0"><channel><title>L</title><item><title>t</title><link>{link}</link>'
            f"</item></channel></rss>").encode()
    (item,) = parse_feed(body, {}, "ftp://feeds.example/rss", now=NOW).items
    assert item.link is None


def test_opaque_guid_is_scoped_to_the_subscribed_feed_and_url_guid_is_not():
    """With feed_url, "1001" becomes feed-scoped while a URL-shaped GUID stays global."""
    assert item_key("1001", None, "t", None, "https://a.example/rss") == "guid:https://a.example/rss#1001"
    assert item_key("https://a.example/n/1", None, "t", None, "https://a.example/rss") == \
        "guid:https://a.example/n/1"
    assert item_key("1001", None, "t", None) == "guid:1001"
    body = (b'<rss version="2.0"><channel><title>A</title><item><guid isPermaLink="false">1001'
            b'</guid><title>x</title></item></channel></rss>')
    (item,) = parse_feed(body, {}, "https://moved.example/rss", feed_url="https://a.example/rss",
                         now=NOW).items
    assert (item.key, item.feed_url) == ("guid:https://a.example/rss#1001", "https://a.example/rss")


_URLISH = st.builds(
    lambda scheme, host, rest: f"{scheme}://{host}{rest}",
    st.sampled_from(["http", "https", "HTTP", "ftp", "javascript"]),
    st.text(alphabet="abcz09.-_[]:@", min_size=0, max_size=12),
    st.text(alphabet="/?#=&%az ü\t:", max_size=12))


@settings(max_examples=500, deadline=None)
@given(link=_URLISH | st.text(max_size=30))
def test_link_fast_path_agrees_with_the_general_check(link):
    """Every link the fast shape test accepts is one the general check would keep unchanged."""
    from bot.parse import _PLAIN_HTTP_URL, _absolute_general
    link = link.strip()
    if _PLAIN_HTTP_URL.match(link):
        assert _absolute_general("https://base.example/", link) == link
