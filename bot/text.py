"""Text shared by the stages: folding (matching and novelty: one definition of "the same
letters") and feed text made safe to show (channels and the digest: ``one_line``, ``cut``,
``utf16_len``, ``safe_url``; see "Feed text for display" below).

Contract of ``fold``: returns a string of the SAME LENGTH as its input, so an offset found in the
folded text points at the same character of the original (used to show what matched, as
written). Folding is right for the region's press:

- case (str.lower for every script), including Turkish/Azerbaijani İ→i and I/ı→i (so "AKKUYU", "Akkuyu", "akkuyu" agree and
  "Bakı"/"Baki" agree),
- Russian ё→е, й kept distinct from и,
- Azerbaijani ə→e and Latin diacritics stripped (ş→s, ç→c, ğ→g, ö→o, ü→u, é→e), because the
  press writes "Şimal"/"Simal", "Azərbaycan"/"Azerbaycan" interchangeably,
- typographic dashes → "-", typographic quotes and apostrophes → "'" ,
- combining accents (a separate code point after a letter) → "\u0000"-free filler that is not a
  word character, so a stress mark inside a Russian word does not split it: it becomes the same
  letter-joining apostrophe class handled by the tokenizer.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from functools import lru_cache
from urllib.parse import urlsplit

# Characters that join letters inside one word in this press: Turkish/Azerbaijani suffix
# apostrophes (Akkuyu'daki), and the filler that replaces combining marks.
APOSTROPHE = "'"

_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2e3a\u2e3b\ufe58\ufe63\uff0d"
_APOSTROPHES = "\u2018\u2019\u201a\u201b\u02bc\u02b9\u0060\u00b4\u2032"
_QUOTES = "\u201c\u201d\u201e\u201f\u00ab\u00bb\u2039\u203a\u300c\u300d\"\u2033"

# Persian and Arabic write the same letters with different code points (ی/ي, ک/ك, and
# either on the other's keyboard) and Eastern Arabic digits (۴۹٪ = 49%); hamza on alef is
# dropped by NFKD below (أ, إ, آ -> ا).
_ARABIC_SCRIPT = {"ی": "ي", "ى": "ي", "ک": "ك", "ۀ": "ه",
                  **{chr(0x0660 + d): str(d) for d in range(10)},
                  **{chr(0x06F0 + d): str(d) for d in range(10)}}


def _fold_char(ch: str) -> str:
    """Fold one character to exactly one character (see module contract)."""
    if ch in _DASHES:
        return "-"
    if ch in _APOSTROPHES:
        return APOSTROPHE
    if ch in _QUOTES:
        return '"'
    if ch in "İIı":
        return "i"
    if ch in "Əə":
        return "e"
    if ch in "Ёё":
        return "е"
    if ch in "Йй":
        return "й"
    if ch in _ARABIC_SCRIPT:
        return _ARABIC_SCRIPT[ch]
    if unicodedata.combining(ch):
        return APOSTROPHE
    decomposed = unicodedata.normalize("NFKD", ch)
    base = "".join(c for c in decomposed if not unicodedata.combining(c)) or ch
    lowered = base.lower()
    if len(lowered) != 1:
        # Ligatures and the like (ﬁ, ß→ss): keep one character so offsets stay aligned.
        lowered = ch.lower() if len(ch.lower()) == 1 else ch
    return lowered


@lru_cache(maxsize=1)
def _table() -> dict[int, str]:
    """Translation table for every code point in the scripts the press uses (built once)."""
    table: dict[int, str] = {}
    ranges = [(0x0000, 0x0530), (0x0600, 0x0700), (0x1E00, 0x1F00), (0x2000, 0x2070), (0x2E00, 0x2E40),
              (0xFE50, 0xFF70)]
    for lo, hi in ranges:
        for cp in range(lo, hi):
            ch = chr(cp)
            folded = _fold_char(ch)
            if folded != ch:
                table[cp] = folded
    return table


# str.translate with a dict costs ~200 ns per non-ASCII character in CPython (a dict lookup and a
# PyLong per code point), i.e. ~60 us for a 300-character Russian item: the matcher's whole
# budget several times over. For a text outside the code page (see below), fold therefore
# lowers with str.lower() (C speed) and then repairs only the characters whose folding differs
# from plain lower-casing: the frequent ones with str.replace, the rare rest with translate
# when a quick regex says one is present.
# U+0130 (İ) is the only code point whose lower() has two characters, and Σ the only one whose
# lower() depends on context (final ς); both are replaced first.


def _reference_fold_char(ch: str) -> str:
    """Definition of fold for one character: lower-case, then the table above (1 char)."""
    low = ch.lower()
    if len(low) != 1:
        low = ch
    return _table().get(ord(low), low)


@lru_cache(maxsize=1)
def _repair() -> tuple[tuple[tuple[str, str], ...], "re.Pattern[str]", dict[int, str]]:
    """(frequent (char, replacement) pairs, regex of the other chars to repair, their table)."""
    import re

    table = _table()
    need: dict[int, str] = {}
    for cp in range(0x10000):
        ch = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        low = ch.lower()
        if len(low) != 1:
            continue
        fixed = table.get(ord(low), low)
        if fixed != low:
            need[ord(low)] = fixed
    frequent_chars = "əışçğöüё«»“”„–—’‘"
    frequent = tuple((c, need[ord(c)]) for c in frequent_chars if ord(c) in need)
    rare = {cp: v for cp, v in need.items() if chr(cp) not in frequent_chars}
    pattern = re.compile("[" + "".join(re.escape(chr(cp)) for cp in sorted(rare)) + "]")
    return frequent, pattern, rare


# -- the code page fast path -------------------------------------------------------------------
# Most press text uses few distinct characters: ASCII, Russian (and Ukrainian) Cyrillic, the
# Azerbaijani/Turkish letters, common West-European accented letters and typographic
# punctuation. Such a text is encoded to one byte per character with a private 256-character
# code page (codecs.charmap_encode: C speed, ~6 ns a character, no per-character Python
# object), folded with bytes.translate (one table lookup per byte) and decoded back. A text
# with any other character (Arabic, Kazakh, emoji ...) takes the general path below, so the
# code page only decides speed, never the result. One byte per character also keeps offsets:
# byte i of the encoded text is character i.

#: The private code page: byte b stands for CODEPAGE[b]. Bytes 0-127 are ASCII, so an ASCII
#: text's ``str.encode("ascii")`` is already its encoding.
CODEPAGE = "".join(
    [chr(b) for b in range(128)]
    + [chr(cp) for cp in range(0x0410, 0x0450)]  # А-я
    + list("ЁёЄєІіЇїҐґЎў")  # Russian ё, Ukrainian, Belarusian
    + list("ƏəİıŞşĞğÇçÖöÜü")  # Azerbaijani / Turkish
    + list("\u00a0\u00ad«»“”„‘’–—…№\u0301")  # no-break space, soft hyphen, quotes, stress mark
    + list("éèêëàáâäãåíîïóôõøúûñßÉ•ʼ")  # West-European names, bullet, modifier apostrophe
)
#: codecs.charmap_encode map of CODEPAGE (for callers that inline encode_codepage).
CODEPAGE_ENCODING = codecs.charmap_build(CODEPAGE)


def encode_codepage(text: str, errors: str = "strict") -> bytes | None:
    """``text`` in :data:`CODEPAGE` (one byte per character), or None if a character is not in it.

    With ``errors="replace"`` every such character becomes one ``?`` byte instead (lengths
    still agree).
    """
    if text.isascii():
        return text.encode("ascii")
    try:
        return codecs.charmap_encode(text, errors, CODEPAGE_ENCODING)[0]
    except UnicodeEncodeError:
        return None


def decode_codepage(data: bytes) -> str:
    """Inverse of :func:`encode_codepage`."""
    return codecs.charmap_decode(data, "strict", CODEPAGE)[0]


def _fold_bytes() -> bytes:
    """bytes.translate table: code page byte -> byte of its fold (closed: checked here)."""
    index = {ch: b for b, ch in enumerate(CODEPAGE)}
    if len(index) != 256:  # pragma: no cover - guards edits of CODEPAGE
        raise AssertionError("CODEPAGE must hold 256 distinct characters")
    out = bytearray()
    for ch in CODEPAGE:
        folded = _reference_fold_char(ch)
        if folded not in index:  # pragma: no cover - guards edits of CODEPAGE
            raise AssertionError(f"fold({ch!r}) = {folded!r} is not in CODEPAGE")
        out.append(index[folded])
    if any(out[out[b]] != out[b] for b in range(256)):  # pragma: no cover - fold is idempotent
        raise AssertionError("folding a folded code page byte must not change it")
    return bytes(out)


#: ``encode_codepage(text).translate(FOLD_BYTES)`` is ``encode_codepage(fold(text))``.
FOLD_BYTES = _fold_bytes()


def fold(text: str) -> str:
    """Fold ``text`` for comparison; same length as ``text`` (see module docstring).

    Equal to ``"".join(_reference_fold_char(c) for c in text)``, only faster.
    """
    if text.isascii():
        low = text.lower()
        return low.replace("`", "'") if "`" in low else low
    try:
        raw = codecs.charmap_encode(text, "strict", CODEPAGE_ENCODING)[0]
    except UnicodeEncodeError:
        return _fold_general(text)
    return codecs.charmap_decode(raw.translate(FOLD_BYTES), "strict", CODEPAGE)[0]


def _fold_general(text: str) -> str:
    """fold for a text with characters outside :data:`CODEPAGE`."""
    frequent, rare_re, rare = _repair()
    if "\u0130" in text:
        text = text.replace("\u0130", "i")
    if "\u03a3" in text:  # lower() turns a word-final Σ into ς (context-dependent): avoid it
        text = text.replace("\u03a3", "\u03c3")
    low = text.lower()
    for ch, rep in frequent:
        if ch in low:
            low = low.replace(ch, rep)
    if rare_re.search(low) is not None:
        low = low.translate(rare)
    if len(low) != len(text):  # pragma: no cover - lower() is 1:1 once U+0130 is replaced
        raise AssertionError("fold must preserve length")
    return low


# ---------------------------------------------------------------------------------------------
# Feed text for display: what a channel or the digest shows of a feed's strings
# ---------------------------------------------------------------------------------------------

_URL_MAX = 2048  # longer links are almost certainly junk; chat services reject very long URLs
_HTTP_URL = re.compile(r"https?://[^\s<>\"\x00-\x1f\x7f]+", re.IGNORECASE)
# C0/C1 controls except \n and \t, and lone surrogates (st.text() and broken feeds make them;
# they cannot be encoded as UTF-8 for a request).
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (astral characters such as most emoji count 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def clean(text: str | None) -> str:
    """Feed text made safe to transmit: controls dropped, whitespace collapsed per line."""
    if not text:
        return ""
    text = _BAD_CHARS.sub(lambda m: "\ufffd" if "\ud800" <= m.group() <= "\udfff" else "",
                          text.replace("\r\n", "\n").replace("\r", "\n"))
    return re.sub(r"[ \t\u00a0]+", " ", text).strip()


def one_line(text: str | None) -> str:
    """Feed text as one clean line: control characters and lone surrogates out, spaces collapsed."""
    return re.sub(r"\s+", " ", clean(text)).strip()


def cut(text: str, limit: int) -> str:
    """At most ``limit`` UTF-16 units, cut at a word boundary when one is near, with "…"."""
    if utf16_len(text) <= limit:
        return text
    out, used = [], 0
    for ch in text:
        w = 2 if ord(ch) > 0xFFFF else 1
        if used + w > limit - 1:
            break
        out.append(ch)
        used += w
    head = "".join(out)
    space = head.rfind(" ")
    if space >= len(head) * 0.6:
        head = head[:space]
    return head.rstrip(" ,.;:-—") + "…"


def safe_url(url: str | None) -> str | None:
    """The URL if it is a plain absolute http(s) URL, else None (never a javascript: link)."""
    if not url:
        return None
    url = url.strip()
    if len(url) > _URL_MAX or not _HTTP_URL.fullmatch(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url

