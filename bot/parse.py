"""Parsing: feed bytes + response headers -> ParsedFeed(Item...). Never fetches anything.

``parse_feed`` is pure and never raises: a body that yields nothing usable comes back as a
ParsedFeed with no items and ``error`` set; a body with problems that still yields items sets
``warning``; an exception the steps below did not anticipate is caught too, and also sets
``internal_error`` (a bug to fix, never expected for any input). The steps, each defending against something real feeds do:

1. Decode the bytes ourselves (BOM, then valid UTF-8, then the declared charsets, then a
   Cyrillic/Latin guess) and hand feedparser UTF-8 labelled as such. feedparser's own fallback
   for an undeclared or mis-declared legacy body is windows-1252, which turns Russian into
   mojibake ("Ïðàâèòåëüñòâî"); see ``_decode``.
2. Refuse documents that declare entities (billion laughs, external entities naming local files).
3. Drop junk before the XML prolog and control characters XML forbids, so the strict parser
   (fast, exact) still works instead of feedparser's lossy fallback.
4. feedparser.parse on a BytesIO, never on a string: given ``bytes`` or ``str`` feedparser first
   tries to OPEN it as a file name or fetch it as a URL, so a body reading "/etc/passwd" would
   be read from disk. HTML sanitising is off: we reduce everything to plain text anyway, and the
   sanitiser is roughly half of feedparser's time.
5. Items: plain-text title/summary, absolute links, UTC dates, a stable identity key.

``ParsePool`` runs ``parse_feed`` in worker processes: feedparser is pure Python (~10 ms per
20 KB feed), so parsing 1000 feeds on one core would dominate a polling cycle.
"""

from __future__ import annotations

import asyncio
import codecs
import concurrent.futures
import hashlib
import html
import io
import multiprocessing
import os
import re
import time
import urllib.parse
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timedelta, timezone

from bot.models import Item, ParsedFeed

# Dates further ahead than this are a publisher's clock or time-zone bug, not news from the
# future. We drop them (published=None: "no usable date") rather than clamp to now, because a
# made-up "now" would look like a fresh report to novelty; the count goes into the warning.
FUTURE_SLACK = timedelta(days=2)
# Full-content feeds put whole articles (100 KB+) in <description>. Matching needs the lead,
# not the article, and every item is stored and pickled between processes.
SUMMARY_MAX_CHARS = 10_000
TITLE_MAX_CHARS = 1_000
# How we call feedparser (bench/bench_poll.py measures its parsing floor with the same call):
# we reduce HTML to text ourselves, and resolve the two links we use (see _parse).
FEEDPARSER_OPTIONS = {"sanitize_html": False, "resolve_relative_uris": False}

# ---------------------------------------------------------------------------------------------
# Canonical links and identity
# ---------------------------------------------------------------------------------------------

# Query parameters that identify a campaign, a click or a referrer, never the article.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "yclid", "msclkid", "twclid", "ttclid", "igshid",
    "mc_cid", "mc_eid", "_ga", "_gl", "ref", "ref_src", "ref_url", "cmpid", "cmp", "icid",
    "ocid", "ncid", "s_cid", "xtor", "spm", "mkt_tok", "_hsenc", "_hsmi", "hsctatracking",
    "oly_enc_id", "oly_anon_id", "vero_id", "rb_clickid", "soc_src", "soc_trk", "sr_share",
    "feedtype", "feedname", "ito", "smid", "cid_source",
})
# Prefixes: Google Analytics (utm_), AT Internet (at_, used by the BBC), comScore (ns_, BBC
# World Service), Webtrends (wt_ / wt.), Piwik/Matomo (pk_, mtm_).
TRACKING_PREFIXES = ("utm_", "at_", "ns_", "wt_", "wt.", "pk_", "mtm_")
DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def canonical_link(link: str) -> str:
    """The form of ``link`` used for identity: two spellings of one article compare equal.

    Lower-cases scheme and host, drops the default port, the fragment and tracking parameters
    (``utm_*``, ``fbclid``, ...), and sorts the remaining parameters. Parameter names and values
    keep their original percent-encoding, so the result is still the same resource.
    """
    link = link.strip()
    try:
        parts = urllib.parse.urlsplit(link)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:  # e.g. a non-numeric port: keep what we can, deterministically
        return link.split("#", 1)[0]
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host
    if parts.username is not None:
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@{host}"
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{port}"
    path = parts.path or ("/" if scheme in DEFAULT_PORTS and host else "")
    pairs = [p for p in parts.query.split("&") if p]
    kept = sorted(p for p in pairs
                  if not _is_tracking(urllib.parse.unquote_plus(p.split("=", 1)[0])))
    return urllib.parse.urlunsplit((scheme, netloc, path, "&".join(kept), ""))


def item_key(guid: str | None, link: str | None, title: str, published: datetime | None,
             feed_url: str | None = None) -> str:
    """Identity of an item: ``guid:...``, else ``link:...``, else ``hash:...``.

    The prefix keeps the kinds from colliding. With ``feed_url``, an opaque GUID is scoped to
    that feed (``guid:FEED#1001``): RSS 2.0 requires a GUID to be unique only within its
    channel, so "1001" from two outlets' CMSs are different items. A URL-shaped GUID is
    globally unique and stays as it is, so one article in two feeds of an outlet is one item.
    The hash covers the case-folded, whitespace-collapsed title and the ISO date, so
    re-fetching an unchanged item gives the same key.
    """
    if guid and guid.strip():
        guid = guid.strip()
        if feed_url and not guid.lower().startswith(("http://", "https://")):
            return f"guid:{feed_url}#{guid}"
        return "guid:" + guid
    if link and link.strip():
        return "link:" + canonical_link(link)
    norm = " ".join(title.split()).casefold()
    date = published.astimezone(timezone.utc).isoformat() if published else ""
    return "hash:" + hashlib.sha1(f"{norm}\n{date}".encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# Text cleaning
# ---------------------------------------------------------------------------------------------

# Invisible characters that would split a word for matching: soft hyphen, zero-width space,
# word joiner, BOM. (Zero-width (non-)joiners are kept: Persian and Urdu spelling needs them.)
_INVISIBLE_RE = re.compile("[\u00ad\u200b\u2060\ufeff]")
_RAW_TEXT_CLOSERS = {name: re.compile(rf"</{name}\s*>", re.I) for name in ("script", "style", "noscript")}
# Inline tags vanish ("Azər<b>baycan</b>" stays one word); every other tag (p, br, div, li, td,
# img...) becomes a space. A tag needs a letter right after "<" or "</", so "x < y and y > z"
# is left alone.
_INLINE_TAGS = frozenset({
    "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "del", "dfn", "em", "font", "i", "ins",
    "kbd", "mark", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time",
    "tt", "u", "var", "wbr"})
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-")
# How much raw text plain_text reads per character it may return: whitespace collapses and
# entities shrink, so a little more than the limit is needed, but never the whole of a
# 10 MB full-content field.
_SCAN_FACTOR = 4


def _strip_markup(value: str, budget: int) -> str:
    """``value`` with tags, comments and script/style/noscript elements removed; linear time.

    A hand-written scanner instead of regular expressions (issue 13, class 1): patterns such
    as ``<!--.*?-->`` restart a scan to the end of the text at every unclosed ``<!--``, which is
    quadratic (64 KB of ``<!--`` took 6 s). Here every search moves forward: a failed search for
    a comment's or a script's end is remembered (nothing can close after the place it failed
    from), and the next ``>`` is found once for all the ``<`` before it. Reading stops once
    ``budget`` characters of text were kept, so a huge field costs what its kept part costs.
    Unclosed comments and scripts stay as text, as the regular expressions left them.
    """
    out: list[str] = []
    n = len(value)
    i = kept = 0
    next_gt = next_lt = -1  # cached value.find(">"/"<", ...) results ahead of i
    comment_can_close = True
    unclosed: set[str] = set()  # raw-text elements whose end tag no longer occurs ahead
    while i < n and kept < budget:
        lt = value.find("<", i)
        if lt < 0:
            out.append(value[i:])
            break
        if lt > i:
            out.append(value[i:lt])
            kept += lt - i
        i = lt
        if value.startswith("<!--", i) and comment_can_close:
            end = value.find("-->", i + 4)
            if end >= 0:
                out.append(" ")
                i = end + 3
                continue
            comment_can_close = False
        j = i + 1
        closing = j < n and value[j] == "/"
        if closing:
            j += 1
        if j >= n or not ("a" <= value[j].lower() <= "z"):
            out.append("<")  # "x < y": not a tag
            kept += 1
            i += 1
            continue
        if next_gt < j and next_gt != -2:
            next_gt = value.find(">", j)
            if next_gt < 0:
                next_gt = -2  # no ">" anywhere ahead: nothing from here on is a tag
        if next_lt <= i:
            next_lt = value.find("<", i + 1)
            if next_lt < 0:
                next_lt = n
        if next_gt == -2 or next_lt < next_gt:  # "<a <b>": the first "<" is text
            out.append("<")
            kept += 1
            i += 1
            continue
        k = j
        while k < next_gt and value[k] in _NAME_CHARS:
            k += 1
        name = value[j:k].lower()
        i = next_gt + 1
        if not closing and name in _RAW_TEXT_CLOSERS and name not in unclosed:
            m = _RAW_TEXT_CLOSERS[name].search(value, i)
            if m is not None:
                out.append(" ")
                i = m.end()
                continue
            unclosed.add(name)
        if name not in _INLINE_TAGS:
            out.append(" ")
    return "".join(out)


def plain_text(value: str, limit: int = SUMMARY_MAX_CHARS) -> str:
    """HTML or text -> one line of plain text: tags stripped, entities decoded, spaces collapsed.

    Linear in the part of ``value`` it reads, which is bounded by ``limit`` (see _strip_markup).
    """
    if not value:
        return ""
    budget = limit * _SCAN_FACTOR + 64
    if "<" in value:
        value = _strip_markup(value, budget)
    elif len(value) > budget:
        value = value[:budget]
    if "&" in value:
        value = html.unescape(value)
    value = " ".join(_INVISIBLE_RE.sub("", value).split())
    if len(value) > limit:
        cut = value.rfind(" ", 0, limit)
        value = value[: cut if cut > limit // 2 else limit] + "…"
    return value


# ---------------------------------------------------------------------------------------------
# Decoding and pre-parse defences
# ---------------------------------------------------------------------------------------------

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))
# BOM-less UTF-16/32: the first characters are "<?" or "<" + something, NUL-padded.
_NUL_PATTERNS = ((b"<\x00\x00\x00", "utf-32-le"), (b"\x00\x00\x00<", "utf-32-be"),
                 (b"<\x00", "utf-16-le"), (b"\x00<", "utf-16-be"))
_XML_DECL_ENC = re.compile(rb"<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([A-Za-z0-9._:-]{1,40})[\"']")
_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)
_LATIN = frozenset({"latin-1", "iso8859-1", "cp1252", "iso8859-15", "ascii"})


def _codec(name: str | None) -> str | None:
    """Python's canonical codec name for a declared charset, or None if unknown/unusable."""
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip()).name
    except LookupError:
        return None
    return codec


_HIGH_RUN = re.compile(rb"[\xc0-\xff]+")
_CP1251_LOWER = re.compile(rb"[\xe0-\xff]+")  # cp1251's lower-case letters (KOI8-R's upper)


def _guess_cyrillic(body: bytes) -> str | None:
    """'cp1251' or 'koi8-r' if the 8-bit bytes look like Russian/Ukrainian text, else None.

    In both encodings every byte >= 0xC0 is a Cyrillic letter, and Cyrillic words are made
    entirely of them; Latin-1 text (French, German, Portuguese) has accented letters mostly
    alone between ASCII letters. So: the share of high letters that touch another high letter.
    Lower case dominates running text: cp1251 keeps it at 0xE0-0xFF, KOI8-R at 0xC0-0xDF.
    """
    runs = _HIGH_RUN.findall(body, 0, 200_000)
    total = sum(map(len, runs))
    if total < 20:
        return None
    alone = sum(1 for r in runs if len(r) == 1)
    if (total - alone) / total < 0.6:
        return None
    lower_cp1251 = sum(len(r) for r in _CP1251_LOWER.findall(body, 0, 200_000))
    return "cp1251" if lower_cp1251 * 2 >= total else "koi8-r"


def _decode(body: bytes, http_charset: str | None) -> tuple[str, str | None]:
    """Bytes -> (text, note about a declaration we overrode or None).

    Order: a BOM; then UTF-8 if the bytes are valid UTF-8 (legacy-encoded text with non-ASCII
    letters is practically never valid UTF-8, while "charset=ISO-8859-1" server defaults on
    UTF-8 feeds are common); then the XML declaration, then the HTTP charset (the document's
    own declaration is more often right than a server-wide default header); then a
    Cyrillic-vs-Latin guess. A Latin-1 family declaration on bytes that are clearly Cyrillic is
    overridden too: no Latin-1 text looks like that, and mojibake would match nothing.
    """
    for bom, enc in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(enc, "replace"), None
    for pattern, enc in _NUL_PATTERNS:
        if body.startswith(pattern):
            return body.decode(enc, "replace"), None
    try:
        return body.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    text = body.decode("utf-8", "replace")
    # UTF-8 with a few bad bytes (a truncated copy-paste, one mangled character) is still
    # UTF-8: decoding the whole feed as cp1252 because of one byte turned Russian into mojibake
    # that matched nothing (issue 13, class 9). Legacy 8-bit text is the opposite: nearly
    # every high byte is invalid UTF-8 and hardly any valid multi-byte sequence appears.
    invalid = text.count("\ufffd") - body.count(b"\xef\xbf\xbd")
    multibyte = len(text) - len(text.encode("ascii", "ignore")) - invalid
    if invalid * 10 <= multibyte:
        return text, (f"{invalid} invalid UTF-8 byte sequence(s) replaced by U+FFFD "
                      f"(first at byte {first_bad})")
    m = _XML_DECL_ENC.search(body, 0, 2048)
    declared = [_codec(m.group(1).decode("ascii")) if m else None, _codec(http_charset)]
    for enc in declared:
        if not enc or enc == "utf-8" or enc.startswith(("utf-16", "utf-32")):
            continue
        try:
            text = body.decode(enc)
        except UnicodeDecodeError:
            continue
        if enc in _LATIN:
            guess = _guess_cyrillic(body)
            if guess:
                return body.decode(guess, "replace"), \
                    f"declared {enc} but the text is Cyrillic; decoded as {guess}"
        return text, None
    said = ", ".join(d for d in declared if d)
    guess = _guess_cyrillic(body) or "cp1252"
    why = f"not valid {said}" if said else "no declared encoding and not UTF-8"
    return body.decode(guess, "replace"), f"{why}; decoded as {guess}"


# Entity declarations live in a DOCTYPE's internal subset. No real feed needs one, and they are
# the whole attack surface of XML bombs ("billion laughs") and external entities
# (<!ENTITY x SYSTEM "file:///etc/passwd">). feedparser strips most of them itself, but its
# strict parser may expand what slips through its regexes, so we refuse such documents outright.
# The fast path is a substring test over the whole decoded text (C speed; almost every feed
# passes it). Only on a hit do we walk the document, skipping CDATA sections and comments in
# document order, so an article that quotes "<!ENTITY" inside CDATA is not rejected.


def _declares_entities(text: str) -> bool:
    """True if ``<!ENTITY`` occurs outside CDATA sections and comments; linear time.

    Every search moves forward and each "next occurrence" is found once (a regex alternation
    such as ``<!\\[CDATA\\[.*?\\]\\]>|<!--.*?-->`` rescans to the end at every unclosed opener:
    quadratic on a body of ``<!--``). An unclosed section hides nothing: what follows it is
    still searched, as an XML parser's fallback would read it.
    """
    if "<!ENTITY" not in text:
        return False
    openers = {"<![CDATA[": "]]>", "<!--": "-->"}
    ahead = {needle: text.find(needle) for needle in (*openers, "<!ENTITY")}
    closes = dict.fromkeys(openers, True)
    pos = 0
    while True:
        for needle, at in ahead.items():
            if 0 <= at < pos:
                ahead[needle] = text.find(needle, pos)
        entity = ahead["<!ENTITY"]
        if entity < 0:
            return False
        sections = [(at, needle) for needle, at in ahead.items()
                    if needle in openers and 0 <= at < entity and closes[needle]]
        if not sections:
            return True
        start, opener = min(sections)
        end = text.find(openers[opener], start + len(opener))
        if end < 0:
            closes[opener] = False  # no section of this kind can close any more
            pos = start + len(opener)
        else:
            pos = end + len(openers[opener])


# The XML declaration, matched only at the very start and bounded (a declaration is short):
# an unbounded [^>]* retried at every "<?xml" is quadratic.
_XML_DECL = re.compile(r"<\?xml\b[^<>]{0,500}?\?>")
_FIRST_ELEMENT = re.compile(r"<[A-Za-z]")
# Characters XML 1.0 forbids (§2.2); one stray \x0b or \x1a sends feedparser to its lossy
# fallback parser for the whole document.
_BAD_XML_CHARS = re.compile("[\x00-\x08\x0e-\x1f\ufffe\uffff]")
_BAD_XML_SPACES = re.compile("[\x0b\x0c]")  # vertical tab, form feed: spaces to a reader
# Character references that may name a character XML forbids: 5+ decimal digits (surrogates
# are 55296-57343, beyond Unicode is > 1114111), 4+ hex digits, or a C0 control. expat stops at
# the first one ("reference to invalid character number") and the whole feed is lost; the
# callback below keeps every valid one as it is.
_SUSPECT_CHARREF = re.compile(
    r"(&#(?:[0-9]{5,}|0*[0-9]{1,2}|[xX][0-9a-fA-F]{4,}|[xX]0*[0-9a-fA-F]{1,2});)"
    r"(&#(?:[0-9]{1,8}|[xX][0-9a-fA-F]{1,8});)?")  # the second half of a surrogate pair
_HTML_ROOT = re.compile(r"<!doctype\s+html|<(?:html|head|body)\b", re.I)
_HTML_SNIFF_CHARS = 64 * 1024


def _charref_code(ref: str) -> int:
    digits = ref[2:-1]
    return int(digits[1:], 16) if digits[:1] in "xX" else int(digits)


def _xml_char_allowed(code: int) -> bool:
    """XML 1.0 §2.2 Char."""
    return (code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD
            or 0x10000 <= code <= 0x10FFFF)


def _fix_charrefs(text: str) -> tuple[str, int]:
    """References to characters XML forbids replaced; returns (text, how many were replaced).

    A UTF-16 surrogate pair written as two references (``&#55357;&#56832;``, an emoji encoded
    the wrong way) becomes the one character it spells; a lone surrogate or a number beyond
    U+10FFFF becomes U+FFFD; a control character is dropped. Valid references stay as written.
    """
    if "&#" not in text:
        return text, 0
    fixed = 0

    def valid(ref: str) -> str:
        nonlocal fixed
        code = _charref_code(ref)
        if _xml_char_allowed(code):
            return ref
        fixed += 1
        return "" if code < 0x20 else "&#65533;"

    def repair(m: re.Match) -> str:
        nonlocal fixed
        first, second = m.group(1), m.group(2)
        if second:
            hi, lo = _charref_code(first), _charref_code(second)
            if 0xD800 <= hi <= 0xDBFF and 0xDC00 <= lo <= 0xDFFF:
                fixed += 1
                return f"&#{0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)};"
            return valid(first) + valid(second)
        return valid(first)

    return _SUSPECT_CHARREF.sub(repair, text), fixed


def _looks_like_html(text: str) -> bool:
    """Whether the document starts, after spaces and comments, like an HTML page; linear.

    Replaces ``\\s*(<!--.*?-->\\s*)*<html...``, whose nested lazy groups backtrack
    exponentially over a run of comments. Only the first 64 KB are looked at.
    """
    pos, n = 0, min(len(text), _HTML_SNIFF_CHARS)
    while pos < n:
        while pos < n and text[pos].isspace():
            pos += 1
        if not text.startswith("<!--", pos):
            break
        end = text.find("-->", pos + 4, n)
        if end < 0:
            return False
        pos = end + 3
    return _HTML_ROOT.match(text, pos, pos + 32) is not None


def _prepare(text: str) -> tuple[str, str | None]:
    """Junk before the prolog and forbidden characters removed; declaration says utf-8.

    Returns the text and a note when junk was cut.
    """
    note = None
    first = _FIRST_ELEMENT.search(text)
    root = first.start() if first else len(text)
    start = text.find("<?xml", 0, root)  # a declaration after the root is just content
    cut = 0
    if start > 0:
        cut = start
    elif start < 0:
        lt = text.find("<")
        if lt > 0 and text[:lt].strip():
            cut = lt
    if cut:
        if text[:cut].strip():
            note = f"{len(text[:cut].strip())} characters of junk before the XML removed"
        text = text[cut:]
    text = _BAD_XML_CHARS.sub("", text)
    text = _BAD_XML_SPACES.sub(" ", text)
    text, refs = _fix_charrefs(text)
    if refs:
        fixed = f"{refs} character reference(s) to characters XML forbids (lone surrogates, " \
                "controls, beyond U+10FFFF) replaced"
        note = f"{note}; {fixed}" if note else fixed
    if text.startswith("<?xml"):
        m = _XML_DECL.match(text)
        if m is not None:
            text = '<?xml version="1.0" encoding="utf-8"?>' + text[m.end():]
    return text, note


# ---------------------------------------------------------------------------------------------
# parse_feed
# ---------------------------------------------------------------------------------------------

_LANG_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})*$")


def _language(value: str | None) -> str | None:
    """'en_US' -> 'en-us', 'IT-it' -> 'it-it'; None for anything that is not a language tag."""
    if not value:
        return None
    tag = value.strip().replace("_", "-").lower()
    return tag if _LANG_RE.match(tag) else None


def _one_line(exc: object) -> str:
    text = " ".join(str(exc).split())
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def _host(url: str) -> str:
    host = urllib.parse.urlsplit(url).hostname or ""
    return host[4:] if host.startswith("www.") else host


def _when(entry: dict) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        # dict.get, not FeedParserDict.get: the latter aliases updated<->published with a
        # DeprecationWarning on every entry that lacks one of them.
        t = dict.get(entry, key)
        if t:
            try:
                return datetime(*t[:6], tzinfo=timezone.utc)
            except (TypeError, ValueError):
                continue
    return None


# An absolute http(s) URL whose authority is just a host name: the slow path below would accept
# it unchanged. Nearly every feed link has this shape, and the check costs a tenth of urlsplit +
# .port + .hostname. Anything else (a port, user info, IPv6, spaces) takes the slow path.
_PLAIN_HTTP_URL = re.compile(r"https?://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?:[/?#]\S*)?\Z",
                             re.I)


def _absolute(base: str, link: str | None) -> str | None:
    """``link`` resolved against ``base``; None unless the result is a valid http(s) URL."""
    if not link:
        return None
    link = link.strip()
    if _PLAIN_HTTP_URL.match(link):
        return link
    return _absolute_general(base, link)


def _absolute_general(base: str, link: str) -> str | None:
    try:
        if not link.startswith(("https://", "http://")):  # urljoin costs ~20 µs: only if needed
            link = urllib.parse.urljoin(base, link) if base else link
        parts = urllib.parse.urlsplit(link)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:  # e.g. "http://[broken/": an unbalanced IPv6 bracket
        return None
    # "https:/x.example/a" (one slash) keeps its scheme through urljoin but names no host.
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return link


def parse_feed(body: bytes, headers: dict[str, str], url: str, *,
               feed_url: str | None = None, now: datetime | None = None) -> ParsedFeed:
    """Parse one feed body; ``url`` (where the body came from) is the base for relative links
    and the outlet fallback.

    ``feed_url``: the feed as subscribed (it stays the same across redirects). Items carry it
    and opaque GUIDs are scoped to it (see ``item_key``); without it, items carry ``url`` and
    keys are unscoped (archives, ``try``).
    ``headers`` are the response headers (lower-case names); Content-Type's charset counts.
    ``now`` (aware) is the clock for the future-date check; default: the current time.
    """
    try:
        return _parse(body, headers or {}, url, feed_url, now or datetime.now(timezone.utc))
    except Exception as exc:  # never raise: a hostile or broken feed is data, not a crash
        # ...but an exception here is a case _parse failed to handle: flagged apart from the
        # feed errors it does report, so tests can tell "refused" from "crashed and caught".
        problem = f"{type(exc).__name__}: {_one_line(exc)}"
        return ParsedFeed(items=(), error=f"parser failure: {_one_line(exc)}", internal_error=problem)


def _parse(body: bytes, headers: dict[str, str], url: str, feed_url: str | None,
           now: datetime) -> ParsedFeed:
    if not body or not body.strip():
        return ParsedFeed(items=(), error="empty body")
    content_type = headers.get("content-type", "")
    charset = _CHARSET_RE.search(content_type)
    text, note = _decode(body, charset.group(1) if charset else None)
    if _declares_entities(text):
        return ParsedFeed(items=(), error="refused: the document declares XML entities "
                                          "(entity expansion / external entity attack)")
    text, junk = _prepare(text)
    if not text.lstrip().startswith("<"):
        return ParsedFeed(items=(), error="not a feed: no XML markup")

    base = url
    if headers.get("content-location"):
        base = urllib.parse.urljoin(url, headers["content-location"])
    media = content_type.split(";", 1)[0].strip() or "application/xml"
    # No Content-Location for feedparser: given a base it re-resolves the URI of every element
    # it pops (~30% of its time on a typical feed). We resolve the two links we use ourselves;
    # xml:base attributes inside the document are still applied by feedparser.
    fp_headers = {"content-type": f"{media}; charset=utf-8"}
    if headers.get("content-language"):
        fp_headers["content-language"] = headers["content-language"]
    # Imported here, not at module level: with parser workers the main process never parses,
    # and feedparser's import (~0.15 s) came before a cron run's first request (issue 15). The
    # workers' forkserver preloads it (ParsePool._pool), so no worker imports it either.
    import feedparser

    d = feedparser.parse(io.BytesIO(text.encode("utf-8")), response_headers=fp_headers,
                         **FEEDPARSER_OPTIONS)

    feed = d.get("feed", {})
    entries = d.get("entries", [])
    bozo = d.get("bozo_exception") if d.get("bozo") else None
    if not entries:
        if not d.get("version") and _looks_like_html(text):
            return ParsedFeed(items=(), error="not a feed: an HTML page")
        if bozo is not None and not _benign(bozo):
            return ParsedFeed(items=(), error=f"not a feed: {_one_line(bozo)}")
        if not d.get("version"):
            return ParsedFeed(items=(), error="not a feed: no RSS, Atom or RDF root element")

    title = plain_text(feed.get("title", ""), TITLE_MAX_CHARS)
    outlet = title or _host(url)
    language = _language(feed.get("language")) or _language(headers.get("content-language"))
    # What is still relative after xml:base is resolved against the document's URL (RFC 3986
    # §5.1.3); for a local file, against the site link the feed itself declares.
    link_base = base if urllib.parse.urlsplit(base).scheme in ("http", "https") else \
        (feed.get("link") or "")

    # Entries are read with dict.get: these keys are stored under their own names, and
    # FeedParserDict.get's alias lookup costs more than the rest of our per-entry work.
    get = dict.get
    raw = []
    for entry in entries:
        guid = (get(entry, "id") or "").strip() or None
        # FeedBurner wraps links in a redirect; the article's own URL is in origLink.
        link = _absolute(link_base, get(entry, "feedburner_origlink") or get(entry, "link"))
        raw.append((entry, guid, link))

    # A GUID shared by entries with different links is not an identifier (some CMSs put the
    # site URL in every <guid>); those entries fall back to their link, or they would all
    # collapse into one and every later story would look "seen".
    guids = [guid for _entry, guid, _link in raw if guid]
    shared: set[str] = set()
    if len(set(guids)) < len(guids):
        links_by_guid: dict[str, set] = {}
        for _entry, guid, link in raw:
            if guid:
                links_by_guid.setdefault(guid, set()).add(canonical_link(link) if link else None)
        shared = {g for g, links in links_by_guid.items() if len(links) > 1}

    items: list[Item] = []
    seen: set[str] = set()
    future = 0
    for entry, guid, link in raw:
        published = _when(entry)
        if published is not None and published > now + FUTURE_SLACK:
            published = None
            future += 1
        item_title = plain_text(get(entry, "title", ""), TITLE_MAX_CHARS)
        summary = plain_text(get(entry, "summary", ""), SUMMARY_MAX_CHARS)
        key = item_key(guid if guid not in shared else None, link,
                       item_title or summary[:200], published, feed_url)
        if key in seen:
            continue
        seen.add(key)
        items.append(Item(key=key, feed_url=feed_url or url, title=item_title, link=link, summary=summary,
                          published=published, outlet=outlet, language=language))

    warnings = [n for n in (note, junk) if n]
    if bozo is not None and not _benign(bozo):
        warnings.append(_one_line(bozo))
    if future:
        warnings.append(f"{future} item(s) dated more than {FUTURE_SLACK.days} days ahead: "
                        "date ignored")
    if shared:
        warnings.append(f"{len(shared)} GUID(s) shared by different links: keyed by link")
    ttl = _ttl(feed.get("ttl"))
    return ParsedFeed(items=tuple(items), title=title, language=language, ttl_minutes=ttl,
                      warning="; ".join(warnings) or None)


def _benign(exc: object) -> bool:
    """feedparser's complaints that say nothing about the feed itself.

    We hand feedparser UTF-8 with a charset, so encoding notices are about our own relabelling;
    a non-XML Content-Type (text/html, text/plain) on a good feed is a server setting.
    """
    return type(exc).__name__ in ("CharacterEncodingOverride", "NonXMLContentType")


def _ttl(value: object) -> int | None:
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes if 0 < minutes <= 7 * 24 * 60 else None


# ---------------------------------------------------------------------------------------------
# ParsePool
# ---------------------------------------------------------------------------------------------


# The longest one parse may take. A 10 MB feed parses in about 2 s here; anything far beyond
# is a pathological input (or a bug) that would otherwise hold a worker, and the whole cycle
# waiting for it, indefinitely (issue 13, class 1).
PARSE_TIME_LIMIT = 60.0


# Parses handed to the pool at once, per worker: a worker that finishes one finds the next
# already in its queue, instead of idling while the main process (busy applying responses)
# hands it over. With one per worker, a cold 1,000-feed run left ~25% of two cores idle.
QUEUED_PER_WORKER = 2

_STARTED = None  # in a worker: the pool's start times, one per slot (see ParsePool.parse)


def _worker_init(started=None) -> None:  # pragma: no cover - runs in the worker
    import signal

    from bot._forkserver_init import die_with_parent
    global _STARTED
    _STARTED = started
    # Workers only parse; they should not also grab the terminal's Ctrl-C (the parent decides).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Killed by the kernel when the forkserver, our parent, dies (see bot/_forkserver_init.py).
    die_with_parent()


class ParsePool:
    """Parse feeds in worker processes; ``workers=0`` parses inline (tests, tiny runs).

    Workers start from a fresh interpreter via the "forkserver" method, not ``fork``: they do
    not inherit the parent's memory (store caches, watchlists, the HTTP client) or its threads,
    so each stays small (~25 MB) and forking never copies a lock held by another thread.

    Every parse gets ``time_limit`` seconds, counted from the moment a worker takes it (the
    worker writes that moment, on the system's monotonic clock, into the parse's slot of a
    shared array: ``QUEUED_PER_WORKER`` parses per worker are handed out at once, and waiting
    in the queue does not count). A parse
    over the limit yields an error for that feed, and the workers are killed and replaced: a
    process cannot be told to abandon a running function. Parses of other feeds that the kill
    cut short are parsed again once on the fresh workers. A worker that dies by itself (a feed
    that exhausts memory, say) yields an error for that one feed and a fresh pool for the next.
    Inline parsing has no time limit.
    """

    def __init__(self, workers: int | None = None, *, time_limit: float = PARSE_TIME_LIMIT):
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        if self.workers == 0:
            # Parsing inline: import feedparser now (~0.2 s), not inside the event loop at the
            # first body, where it stalled every fetch in flight (bounded by their deadlines).
            import feedparser  # noqa: F401
        self.time_limit = time_limit
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None
        self._generation = 0  # bumped whenever the workers are replaced
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Queue] | None = None
        self._started = None  # shared with the workers: when each slot's parse began (0: not yet)

    def _pool(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._executor is None:
            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else
                                              "spawn")
            if ctx.get_start_method() == "forkserver":
                # _forkserver_init first: it ties the forkserver's life to ours.
                ctx.set_forkserver_preload(["bot._forkserver_init", "bot.parse", "feedparser"])
            if self._started is None:
                self._started = ctx.Array("d", self.workers * QUEUED_PER_WORKER, lock=False)
            self._executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=ctx, initializer=_worker_init,
                initargs=(self._started,))
        return self._executor

    async def parse(self, body: bytes, headers: dict[str, str], url: str,
                    feed_url: str | None = None) -> ParsedFeed:
        """``parse_feed`` in a worker (or inline); never raises for a bad feed."""
        if self.workers == 0:
            return parse_feed(body, headers, url, feed_url=feed_url)
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:  # a queue belongs to a loop
            free: asyncio.Queue = asyncio.Queue()
            for slot in range(self.workers * QUEUED_PER_WORKER):
                free.put_nowait(slot)
            self._slots = (loop, free)
        free = self._slots[1]
        slot = await free.get()
        try:
            for attempt in range(2):
                generation = self._generation
                pool = self._pool()
                self._started[slot] = 0.0
                future = loop.run_in_executor(pool, _parse_in_worker, body, dict(headers), url,
                                              feed_url, slot)
                try:
                    return await self._within_limit(future, slot)
                except TimeoutError:
                    self._replace_workers(generation)
                    return ParsedFeed(items=(), error=(
                        f"parsing took longer than {self.time_limit:g} s; the parser worker was "
                        "stopped and replaced"))
                except BrokenProcessPool:
                    if generation != self._generation and attempt == 0:
                        continue  # we replaced the workers for another feed: parse again
                    self._replace_workers(generation)
                    return ParsedFeed(items=(), error="parser worker died while parsing this feed")
        finally:
            free.put_nowait(slot)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _within_limit(self, future: asyncio.Future, slot: int) -> ParsedFeed:
        """``future``'s result; TimeoutError once its parse has run ``time_limit`` seconds
        since a worker took it (time queued behind other parses is not counted)."""
        try:
            while True:
                began = self._started[slot]
                wait = self.time_limit if not began else began + self.time_limit - time.monotonic()
                if wait <= 0:
                    raise TimeoutError
                try:
                    return await asyncio.wait_for(asyncio.shield(future), wait)
                except TimeoutError:
                    if future.done():
                        return future.result()
        finally:
            if not future.done():
                future.cancel()  # a parse not yet taken is dropped; a running one is killed by the caller

    def warm_up(self) -> None:
        """Start the workers now instead of on the first feed (keeps start-up out of timings)."""
        if self.workers:
            pool = self._pool()
            list(pool.map(_noop, range(self.workers)))

    def _replace_workers(self, generation: int) -> None:
        """Kill the workers of ``generation`` (if still current); the next parse starts fresh."""
        if generation == self._generation:
            self._generation += 1
            self._stop(grace=0.0)

    def _stop(self, grace: float) -> None:
        """Shut the executor down; workers still alive after ``grace`` seconds are killed."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        processes = list(getattr(executor, "_processes", {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + grace
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
        for process in processes:
            process.join(1.0)

    def worker_pids(self) -> list[int]:
        """PIDs of the live worker processes (for memory measurements)."""
        if self._executor is None:
            return []
        return [p.pid for p in getattr(self._executor, "_processes", {}).values() if p.pid]

    def close(self) -> None:
        """Stop the workers: idle ones exit at once, one still parsing is killed after 2 s."""
        self._stop(grace=2.0)

    def __enter__(self) -> "ParsePool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _parse_in_worker(body: bytes, headers: dict[str, str], url: str, feed_url: str | None,
                     slot: int | None = None) -> ParsedFeed:  # pragma: no cover - in the worker
    if slot is not None and _STARTED is not None:
        _STARTED[slot] = time.monotonic()  # CLOCK_MONOTONIC: the same clock in every process
    return parse_feed(body, headers, url, feed_url=feed_url)


def _noop(_: int) -> None:
    return None
