"""Matching stage: Item -> the watchlists it belongs to, with the evidence. Pure, no I/O.

All terms of all watchlists are compiled into ONE Aho–Corasick automaton (ahocorasick-rs, a
Rust DFA over bytes) over folded text (``bot.text.fold``, in its one-byte code page): each item
is encoded once and scanned once, whatever the number of terms. The automaton only finds
candidate *anchors* (the folded stem of a term's first word); word boundaries, allowed endings
and the remaining words of a phrase are verified in Python on those candidates only, and only
when the watchlist rules could hold at all, which is rare in ordinary news.

Word forms (see watchlists/README.md for the operator's view):

- a term word must start at a word start: "азал" never matches inside "сказал" or "оказалось";
- ``auto`` forms: a word may be followed by a few more letters (Russian case endings,
  Turkish/Azerbaijani suffixes: "Екатеринбурге", "Yekaterinburqda", "Bakıda"); Cyrillic words
  are reduced to their Snowball (Russian) stem first, so "Азербайджанские авиалинии" also
  matches "Азербайджанских авиалиний"; words written in UPPER CASE in the watchlist (acronyms:
  AZAL, INSTC, ФСБ) and numbers match whole words only, because short tokens collide with real
  words ("azalıb" is Azerbaijani for "decreased");
- an apostrophe suffix is always allowed ("Akkuyu'daki", "AZAL'ın");
- between the words of a phrase any short run of spaces, hyphens, dashes, quotes or slashes is
  equivalent ("Rasht-Astara", "Rasht – Astara", "МТК «Север–Юг»");
- scripts that build words differently (see ``_starts_word`` and ``word_spec``): Chinese,
  Japanese and Thai terms match anywhere (no spaces), Hangul words take particles, Indic vowel
  signs belong to the word, Arabic and Hebrew terms may follow glued proclitics ("وأكتاو").

``fold`` preserves length, so an offset in the folded text is the same offset in the original:
``TermHit.surface`` is the text as written in the item.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from codecs import charmap_encode
from dataclasses import dataclass
from operator import itemgetter
from typing import Sequence

import ahocorasick_rs
import re2
import snowballstemmer

from bot.models import Item, Match, MatchReport, TermHit, Veto
from bot.text import (APOSTROPHE, CODEPAGE, CODEPAGE_ENCODING, FOLD_BYTES, decode_codepage,
                      encode_codepage, fold)
from bot.watchlists import WORD_RE, WORD_MARKS, Term, Watchlist

__all__ = ["Matcher", "format_report", "word_spec"]

#: Letters a word of 5+ letters may gain after it (Russian "-ской", Turkish "-daki", "-ndan").
LONG_SUFFIX = 5
#: Letters a 4-letter word may gain ("Baku" -> "Bakuda"); shorter words match exactly.
SHORT_SUFFIX = 3
#: Minimum stem length: shorter Snowball stems ("акта" from "Актау") would over-match.
MIN_STEM = 5
#: Characters allowed between the words of a phrase, and how many of them (with the
#: zero-width non-joiner and direction marks of Persian/Hebrew text, the katakana middle dot).
_GAP_CHARS = frozenset(" -'\"/\u00a0\t\u200c\u200e\u200f\u30fb")
_MAX_GAP = 4
#: Letters tolerated after an apostrophe that ends a token (Turkish/Azerbaijani case endings).
_MAX_APOS_SUFFIX = 8

_RU_STEMMER = snowballstemmer.stemmer("russian")

UNLIMITED = 1 << 30
#: Maximum length of a word in a script without spaces: the term's own letters, nothing more
#: is consumed (what follows is the next word).
GLUED = 0
#: The Arabic article, written glued to the word.
_ARABIC_ARTICLE = "\u0627\u0644"
#: Arabic ta marbuta (a word-final letter that becomes ت before endings).
_TA_MARBUTA = "\u0629"
#: unicodedata.combining() of every Indic virama.
_VIRAMA_CLASS = 9

#: Characters that can precede a word start in folded text: a term word must start right after
#: one of them (or at the start of the text), so "азал" never matches inside "сказал".
_BOUNDARY = (" ", "\n", '"', "'", "-", "(", "[", "/", "#", "@", ",", ".", ":", ";", "\t",
             "\u200c", "\u200e", "\u200f", "\u30fb", "\u060c", "\u061b")

#: The automaton scans the text in bot.text's one-byte code page, folded and with every boundary
#: character mapped to one byte (a space); each key is that byte plus a term's anchor. So the
#: automaton fires only at word starts, mid-word look-alikes never reach Python, and one key per
#: anchor suffices. One table does both steps: code page byte -> scan byte.
_SCAN_BYTES = bytes(
    32 if CODEPAGE[f] in _BOUNDARY else f for f in FOLD_BYTES)
#: Candidates (start, end, key) are sorted by end, then start: the order in which hits have
#: always been reported (and so the order of Match.hits).
_SORT = itemgetter(1, 0)
#: Batch size of match_many: big enough to amortise per-call costs, small enough that one text
#: outside the code page (which sends its batch item by item) costs little.
_BATCH = 256
#: Lone surrogates, which a text may hold but UTF-8 (hence ahocorasick-rs's str API) may not.
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _is_cyrillic(word: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in word)


# -- scripts whose words do not start or end the way Latin and Cyrillic words do ------------------
# Chinese, Japanese, Thai, Lao, Khmer, Burmese write no spaces between words: a term in them can
# start anywhere and be followed by any letters. Hangul has spaces, but particles stick to the
# noun ("악타우에서", at Aktau): even a short word takes a few more syllables. Indic scripts
# spell one syllable with several code points, so their endings are longer in code points.
# Arabic and Hebrew write conjunctions, prepositions and the article as part of the next word
# ("وأكتاو", and Aktau; "بالقرب"; "באקטאו", in Aktau): a term may start after them.
_NO_SPACE_RANGES = ((0x0E00, 0x0EFF), (0x1000, 0x109F), (0x1780, 0x17FF), (0x3040, 0x30FF),
                    (0x31F0, 0x31FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF),
                    (0xFF66, 0xFF9F))
_HANGUL_RANGES = ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF))
_INDIC_RANGES = ((0x0900, 0x0DFF),)
_ARABIC_RANGES = ((0x0600, 0x06FF), (0x0750, 0x077F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))
_HEBREW_RANGES = ((0x0590, 0x05FF),)
#: Letters a Hangul word may gain (particles: 에서, 으로, 에게; possessive 의).
HANGUL_SUFFIX = 4
#: Code points an Indic word of 4+ code points may gain (case endings span several).
INDIC_SUFFIX = 8


def _in(ch: str, ranges: tuple[tuple[int, int], ...]) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in ranges)


def _arabic_proclitics() -> frozenset[str]:
    """What Arabic writes glued before a word: (و|ف)? (ب|ل|ك)? (ال)?, with ل + ال = لل."""
    out = set()
    for conj in ("", "و", "ف"):
        for prep in ("", "ب", "ل", "ك"):
            for article in ("", "ال"):
                out.add(conj + ("لل" if prep == "ل" and article else prep + article))
    out.discard("")
    return frozenset(out)


_ARABIC_PROCLITICS = _arabic_proclitics()
#: Hebrew's one-letter prefixes (and, the, in, to, from, that, as); up to three combine (וכשה).
_HEBREW_PREFIX_LETTERS = frozenset("ובהלמשכ")
#: How a term whose anchor is in such a script may start: after a boundary (plain), anywhere,
#: or after a boundary and a run of proclitics.
_START_PLAIN, _START_ANYWHERE, _START_ARABIC, _START_HEBREW = range(4)


def _start_kind(anchor: str) -> int:
    first = anchor[0]
    if _in(first, _NO_SPACE_RANGES):
        return _START_ANYWHERE
    if _in(first, _ARABIC_RANGES):
        return _START_ARABIC
    if _in(first, _HEBREW_RANGES):
        return _START_HEBREW
    return _START_PLAIN


def _starts_word(ft: str, s: int, kind: int) -> bool:
    """Whether a term whose anchor is of start ``kind`` may start at offset ``s`` of ``ft``."""
    if s == 0 or ft[s - 1] in _BOUNDARY or kind == _START_ANYWHERE:
        return True
    if kind == _START_PLAIN:
        return False
    j = s - 1
    while j >= 0 and s - j <= 3 and ft[j] not in _BOUNDARY:
        j -= 1
    if j >= 0 and ft[j] not in _BOUNDARY:
        return False  # more than three letters before: the anchor is inside a word
    glued = ft[j + 1:s]
    if kind == _START_ARABIC:
        return glued in _ARABIC_PROCLITICS
    return all(c in _HEBREW_PREFIX_LETTERS for c in glued)


def word_spec(folded_word: str, written_word: str, forms: str) -> tuple[str, int]:
    """(prefix a token must start with, maximum token length) for one word of a term.

    ``written_word`` is the word as the operator wrote it (case tells acronyms apart).
    """
    n = len(folded_word)
    if _in(folded_word[-1], _NO_SPACE_RANGES):
        return folded_word, GLUED  # no spaces: the next word follows without a boundary
    if forms == "exact":
        return folded_word, n
    if forms == "prefix":
        return folded_word, UNLIMITED
    if _in(folded_word[0], _HANGUL_RANGES):
        return folded_word, n + HANGUL_SUFFIX
    if n >= 4 and folded_word[-1] == _TA_MARBUTA:
        # Arabic's final ة is written ت before an ending (طائرة, plane -> طائرتها, its plane).
        return folded_word[:-1], n + LONG_SUFFIX
    if _in(folded_word[0], _INDIC_RANGES):
        # A final consonant's virama gives way to the vowel of an ending (அஜர்பைஜான் ->
        # அஜர்பைஜானிடம், Azerbaijan -> to Azerbaijan): the prefix stops before it.
        if n > 2 and unicodedata.combining(folded_word[-1]) == _VIRAMA_CLASS:
            folded_word = folded_word[:-1]
        return folded_word, n + (SHORT_SUFFIX if n <= 3 else INDIC_SUFFIX)
    letters = [c for c in written_word if c.isalpha()]
    if folded_word.isdigit() or n <= 3 or (len(letters) >= 2 and all(c.isupper() for c in letters)):
        return folded_word, n
    if n == 4:
        return folded_word, n + SHORT_SUFFIX
    prefix = folded_word
    if _is_cyrillic(folded_word):
        stem = _RU_STEMMER.stemWord(folded_word)
        if len(stem) >= MIN_STEM and folded_word.startswith(stem):
            prefix = stem
    return prefix, n + LONG_SUFFIX


@dataclass(frozen=True)
class _Spec:
    """A compiled word-sequence term: ((prefix, max_len), ...) per word."""

    words: tuple[tuple[str, int], ...]


@dataclass
class _Member:
    """Where a compiled term is used: watchlist index, group index, term as written."""

    wl: int
    group: int
    term: str


class Matcher:
    """Compiled watchlists. Build with :meth:`compile`; then :meth:`match` per item."""

    def __init__(self, watchlists: Sequence[Watchlist], specs: list[_Spec],
                 members: list[list[_Member]], regexes: list[tuple]) -> None:
        self._watchlists = tuple(watchlists)
        self._specs = specs
        self._members = members
        self._regexes = regexes  # [(compiled re2, [members])]
        self._build_automata()
        # Per term (spec, regex): the distinct (watchlist, group bit, group counts in title
        # only) it belongs to, so a hit costs a few integer operations.
        only_title = [[g.where == "title" for g in w.groups] for w in self._watchlists]

        def targets(mems: list[_Member]) -> tuple[tuple[int, int, bool], ...]:
            return tuple(dict.fromkeys((m.wl, 1 << m.group, only_title[m.wl][m.group])
                                       for m in mems))

        self._targets = [targets(mems) for mems in members]
        self._rtargets = [targets(mems) for _rx, mems in regexes]
        # Per automaton key: the targets of every term it may start (for _possible).
        self._key_targets = {
            k: tuple(dict.fromkeys(t for _exact, sids in entries for sid in sids
                                   for t in self._targets[sid]))
            for k, entries in [*enumerate(self._keys),
                               *((-1 - i, e) for i, e in enumerate(self._exotic_keys))]}
        # Regexes are only run after _possible: it counts their groups as hit.
        self._regex_masks: dict[int, int] = {}
        for ts in self._rtargets:
            for wi, bit, _only_title in ts:
                self._regex_masks[wi] = self._regex_masks.get(wi, 0) | bit
        # Per watchlist: group name -> index, and whether each group counts in the title only.
        self._gindex = [{g.name: i for i, g in enumerate(w.groups)} for w in self._watchlists]
        self._title_only = only_title
        # Rules on group bit sets, so evaluating one is a couple of integer operations: per
        # rule (all bits, any bits, its ``all`` groups in index order, its ``any`` groups in
        # index order, its ``none`` groups as written).
        self._crules = []
        for w, gi in zip(self._watchlists, self._gindex):
            compiled = []
            for r in w.rules:
                all_g = sorted({gi[n] for n in r.all})
                any_g = sorted({gi[n] for n in r.any})
                compiled.append((sum(1 << g for g in all_g), sum(1 << g for g in any_g),
                                 tuple(all_g), tuple(any_g), tuple(gi[n] for n in r.none)))
            self._crules.append(compiled)
        self._cnone = [tuple(gi[n] for n in w.none) for w, gi in zip(self._watchlists,
                                                                    self._gindex)]
        self._rule_masks = [[(all_m, any_m) for all_m, any_m, *_ in rules]
                            for rules in self._crules]

    def _build_automata(self) -> None:
        """One automaton over the anchors (first-word prefixes) of all word terms.

        Keys are precomputed per anchor: (the anchor when the scan cannot tell it apart from
        look-alikes, else None; spec ids). An anchor containing a boundary character (an
        apostrophe: ``ngs'nin``) is scanned as if that were a space, so its hits are checked
        against the folded text. An anchor with a character outside the code page can only
        occur in a text that is outside it too: those few go to a second automaton over
        ``str``, run only for such texts.
        """
        anchors: dict[str, list[int]] = {}
        for sid, spec in enumerate(self._specs):
            anchors.setdefault(spec.words[0][0], []).append(sid)
        by_key: dict[bytes, list[tuple[str | None, tuple[int, ...]]]] = {}
        exotic: list[tuple[str, tuple[int, ...]]] = []
        for anchor, sids in anchors.items():
            raw = encode_codepage(anchor)
            if raw is None:
                exotic.append((anchor, tuple(sids)))
                continue
            exact = anchor if any(c in _BOUNDARY for c in anchor) else None
            key = b" " + raw.translate(_SCAN_BYTES)
            by_key.setdefault(key, []).append((exact, tuple(sids)))
        # A key's entries (usually one) in anchor order; keys indexed as the automaton reports.
        self._keys = list(by_key.values())
        self._ac = (ahocorasick_rs.BytesAhoCorasick(
            list(by_key), matchkind=ahocorasick_rs.MatchKind.Standard,
            implementation=ahocorasick_rs.Implementation.DFA) if by_key else None)
        self._find = self._ac.find_matches_as_indexes if self._ac is not None else None
        self._exotic_keys = [[(None, sids)] for _anchor, sids in exotic]
        self._exotic_start = [_start_kind(anchor) for anchor, _sids in exotic]
        self._exotic_ac = (ahocorasick_rs.AhoCorasick(
            [anchor for anchor, _sids in exotic], matchkind=ahocorasick_rs.MatchKind.Standard,
            implementation=ahocorasick_rs.Implementation.NoncontiguousNFA) if exotic else None)

    @property
    def watchlists(self) -> Sequence[Watchlist]:
        return self._watchlists

    @classmethod
    def compile(cls, watchlists: Sequence[Watchlist]) -> "Matcher":
        """Compile every term of every watchlist into one automaton (done once at start-up)."""
        spec_ids: dict[tuple, int] = {}
        specs: list[_Spec] = []
        members: list[list[_Member]] = []
        regex_ids: dict[str, int] = {}
        regexes: list[tuple] = []
        for wi, wl in enumerate(watchlists):
            for gi, group in enumerate(wl.groups):
                for term in group.terms:
                    member = _Member(wi, gi, term.text)
                    if term.regex is not None:
                        if term.regex not in regex_ids:
                            regex_ids[term.regex] = len(regexes)
                            regexes.append((re2.compile(term.regex), []))
                        regexes[regex_ids[term.regex]][1].append(member)
                        continue
                    spec = _Spec(_compile_words(term))
                    if spec.words not in spec_ids:
                        spec_ids[spec.words] = len(specs)
                        specs.append(spec)
                        members.append([])
                    members[spec_ids[spec.words]].append(member)
        return cls(watchlists, specs, members, regexes)

    # -- hot path ------------------------------------------------------------------------------
    # Most items match nothing: for them the work is one encode, one bytes.translate and one
    # automaton call (_run); the folded text is only decoded and verified when a rule could hold.

    def _scan_general(self, text: str) -> tuple[str, list[tuple[int, int, int]]]:
        """(folded text, candidates) of a text with characters outside the code page.

        Candidates are (start, end, key index) at word starts, sorted by (end, start); key
        indexes >= 0 index ``self._keys``, negative ones ``self._exotic_keys`` (-1-i). The
        folded text is scanned with every character outside the code page as "?" (never part
        of a key, not a boundary), and by the automaton of the anchors outside it.
        """
        ft = fold(text)
        cands = []
        if self._ac is not None:
            scan = (b"\n" + encode_codepage(ft, "replace")).translate(_SCAN_BYTES)
            cands = [(s, e - 1, k) for k, s, e in
                     self._ac.find_matches_as_indexes(scan, overlapping=True)]
        if self._exotic_ac is not None:
            try:
                found = self._exotic_ac.find_matches_as_indexes(ft, overlapping=True)
            except UnicodeEncodeError:
                # Lone surrogates (broken feeds) cannot cross into Rust as UTF-8; U+FFFD, like
                # them, is neither a word character nor a boundary, and keeps the offsets.
                found = self._exotic_ac.find_matches_as_indexes(
                    _SURROGATE_RE.sub("\ufffd", ft), overlapping=True)
            starts = self._exotic_start
            for k, s, e in found:
                if _starts_word(ft, s, starts[k]):
                    cands.append((s, e, -1 - k))
        cands.sort(key=_SORT)
        return ft, cands

    def _possible(self, cands: list[tuple[int, int, int]], title_len: int) -> bool:
        """Whether some rule could hold if every candidate (and every regex) were a real hit.

        Verification only removes hits and rules only need groups to hit, so when this is
        False the item matches nothing and vetoes nothing: ordinary news whose only hits are
        context words ("court", "railway") stops here, before decoding and verification.
        """
        masks = dict(self._regex_masks)
        key_targets = self._key_targets
        for start, _end, k in cands:
            in_title = start < title_len
            for wi, bit, only_title in key_targets[k]:
                if only_title and not in_title:
                    continue
                masks[wi] = masks.get(wi, 0) | bit
        rule_masks = self._rule_masks
        for wi, mask in masks.items():
            for all_m, any_m in rule_masks[wi]:
                if mask & all_m == all_m and (not any_m or mask & any_m):
                    return True
        return False

    def _run(self, item: Item, text: str) -> tuple[list[Match], list[Veto]]:
        """(matches, vetoes) of ``item``, whose text is ``text``."""
        # encode_codepage, inlined: this is the whole cost of most items.
        if text.isascii():
            raw = text.encode("ascii")
        else:
            try:
                raw = charmap_encode(text, "strict", CODEPAGE_ENCODING)[0]
            except UnicodeEncodeError:
                raw = None
        if raw is not None:
            ft = None
            found = (self._find((b"\n" + raw).translate(_SCAN_BYTES), overlapping=True)
                     if self._find is not None else None)
            if not found and not self._regexes:
                return [], []
            # Key byte 0 is the boundary before the word: its offset in "\n" + text is the
            # word's offset in text.
            cands = [(s, e - 1, k) for k, s, e in found] if found else []
            if len(cands) > 1:
                cands.sort(key=_SORT)
        else:
            ft, cands = self._scan_general(text)
            if not cands and not self._regexes:
                return [], []
        if not self._possible(cands, len(item.title)):
            return [], []
        if ft is None:
            ft = decode_codepage(raw.translate(FOLD_BYTES))
        return self._evaluate(item, text, self._hits(ft, cands))

    def _hits(self, ft: str, cands: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
        """(spec id or -1-regex id, start, end) of every verified term occurrence in ``ft``."""
        found: list[tuple[int, int, int]] = []
        n = len(ft)
        specs = self._specs
        keys = self._keys
        exotic = self._exotic_keys
        for start, _end, k in cands:
            for exact, sids in (keys[k] if k >= 0 else exotic[-1 - k]):
                if exact is not None and not ft.startswith(exact, start):
                    continue
                for sid in sids:
                    stop = _verify(ft, n, start, specs[sid].words)
                    if stop >= 0:
                        found.append((sid, start, stop))
        for rid, (rx, _members) in enumerate(self._regexes):
            for m in rx.finditer(ft):
                if m.end() > m.start():
                    found.append((-1 - rid, m.start(), m.end()))
        return found

    def report(self, item: Item) -> MatchReport:
        """Every watchlist the item matches, plus the vetoes that stopped others."""
        matches, vetoes = self._run(item, item.text)
        return MatchReport(matches=tuple(matches), vetoes=tuple(vetoes))

    def match(self, item: Item) -> list[Match]:
        """The watchlists ``item`` belongs to (evidence in each Match); [] for most news."""
        return self._run(item, item.text)[0]

    def match_many(self, items: Sequence[Item]) -> list[list[Match]]:
        """``[self.match(item) for item in items]``, computed in batches (cheaper per item).

        A batch of texts is joined with newlines (a boundary: a key fired across two items
        fails its checks), encoded, translated and scanned by ONE automaton call; only the items
        where a rule could hold are decoded and verified. A batch with a text outside the code
        page, and every batch when regex terms exist, falls back to :meth:`match` per item.
        """
        out: list[list[Match]] = []
        for lo in range(0, len(items), _BATCH):
            out.extend(self._match_batch(items[lo:lo + _BATCH]))
        return out

    def _match_batch(self, items: Sequence[Item]) -> list[list[Match]]:
        texts = [it.text for it in items]
        joined = "\n" + "\n".join(texts)
        raw = encode_codepage(joined)
        if raw is None or self._regexes or self._ac is None:
            return [self.match(it) for it in items]
        found = self._ac.find_matches_as_indexes(raw.translate(_SCAN_BYTES), overlapping=True)
        out: list[list[Match]] = [[] for _ in items]
        if not found:
            return out
        # starts[i]: offset in ``joined`` of the newline before item i (its text's offset - 1).
        starts = []
        pos = 0
        for t in texts:
            starts.append(pos)
            pos += len(t) + 1
        per_item: dict[int, list[tuple[int, int, int]]] = {}
        for k, s, e in found:
            i = bisect_right(starts, s) - 1
            base = starts[i]
            per_item.setdefault(i, []).append((s - base, e - 1 - base, k))
        for i, cands in per_item.items():
            if not self._possible(cands, len(items[i].title)):
                continue
            lo = starts[i] + 1
            ft = decode_codepage(raw[lo:lo + len(texts[i])].translate(FOLD_BYTES))
            if len(cands) > 1:
                cands.sort(key=_SORT)
            out[i] = self._evaluate(items[i], texts[i], self._hits(ft, cands))[0]
        return out

    def _evaluate(self, item: Item, text: str,
                  hits: list[tuple[int, int, int]]) -> tuple[list[Match], list[Veto]]:
        """(matches, vetoes) of ``item`` (whose text is ``text``) from its verified hits."""
        if not hits:
            return [], []
        title_len = len(item.title)
        # First only integers: the groups hit per watchlist, from per-term targets computed at
        # compile time. TermHit objects are built for the evidence of watchlists that matched
        # or were vetoed, which is rare, while common context words ("court", "railway") hit in
        # many ordinary items.
        targets = self._targets
        rtargets = self._rtargets
        masks: dict[int, int] = {}  # watchlist -> bit set of the groups hit
        for sid, start, _stop in hits:
            in_title = start < title_len
            for wi, bit, only_title in (targets[sid] if sid >= 0 else rtargets[-1 - sid]):
                if only_title and not in_title:
                    continue
                masks[wi] = masks.get(wi, 0) | bit
        # A watchlist yields a match or a veto only if one of its rules has all its ``all`` and
        # one of its ``any`` groups hit: checked on the bit sets, most watchlists stop here.
        rule_masks = self._rule_masks
        hit_groups: dict[int, int] = {}  # the same, for those watchlists only
        for wi, mask in masks.items():
            for all_m, any_m in rule_masks[wi]:
                if mask & all_m == all_m and (not any_m or mask & any_m):
                    hit_groups[wi] = mask
                    break
        if not hit_groups:
            return [], []
        members = self._members
        regexes = self._regexes
        title_only = self._title_only

        def term_hits(wi: int, gi: int) -> tuple[TermHit, ...]:
            gname = self._watchlists[wi].groups[gi].name
            out = []
            for sid, start, stop in hits:
                if start >= title_len and title_only[wi][gi]:
                    continue
                mems = members[sid] if sid >= 0 else regexes[-1 - sid][1]
                terms = [m.term for m in mems if m.wl == wi and m.group == gi]
                if not terms:
                    continue
                if start < title_len:
                    surface, where = text[start:min(stop, title_len)], "title"
                else:
                    surface, where = text[start:stop], "summary"
                out.extend(TermHit(term=t, group=gname, where=where, surface=surface)
                           for t in terms)
            return tuple(dict.fromkeys(out))

        matches: list[Match] = []
        vetoes: list[Veto] = []
        for wi in sorted(hit_groups):
            hg = hit_groups[wi]
            evidence: list[int] = []
            vetoed_by: list[int] = []
            for all_m, any_m, all_g, any_g, none_g in self._crules[wi]:
                if hg & all_m != all_m or (any_m and not hg & any_m):
                    continue
                blocked = [g for g in none_g if hg >> g & 1]
                if blocked:
                    vetoed_by.extend(blocked)
                    continue
                evidence.extend(all_g)  # all of them hit
                evidence.extend(g for g in any_g if hg >> g & 1)
            if not evidence and not vetoed_by:
                continue
            wl = self._watchlists[wi]
            if evidence:
                vetoed_by = [g for g in self._cnone[wi] if hg >> g & 1]
            if vetoed_by:
                vetoes.extend(Veto(wl.id, f"none:{wl.groups[g].name}", term_hits(wi, g))
                              for g in dict.fromkeys(vetoed_by))
                continue
            evidence_hits: list[TermHit] = []
            for g in dict.fromkeys(evidence):
                evidence_hits.extend(term_hits(wi, g))
            matches.append(Match(watchlist=wl.id, title=wl.title, hits=tuple(evidence_hits)))
        return matches, vetoes


def _compile_words(term: Term) -> tuple[tuple[str, int], ...]:
    written = _split_written(term.text)
    aligned = len(written) == len(term.words)
    out = []
    for i, fw in enumerate(term.words):
        forms = term.forms
        if term.prefix_words and term.prefix_words[i]:
            forms = "prefix"
        out.append(word_spec(fw, written[i] if aligned else fw, forms))
    return tuple(out)


def _split_written(text: str) -> list[str]:
    """Words of the term as written (original case), aligned with ``Term.words``."""
    body = text.strip().lstrip("=")
    folded = fold(body)
    return [body[m.start():m.end()] for m in WORD_RE.finditer(folded)]


def _verify(ft: str, n: int, start: int, words: tuple[tuple[str, int], ...]) -> int:
    """End offset of the term starting at ``start`` (already at a word start), or -1."""
    pos = start
    first = True
    for prefix, max_len in words:
        if not first:
            gap = 0
            while pos < n and ft[pos] in _GAP_CHARS and gap < _MAX_GAP:
                pos += 1
                gap += 1
            if gap == 0:
                return -1
            if not ft.startswith(prefix, pos):
                # Arabic writes the article on each word of a phrase ("الخطوط الجوية"): a
                # term word written without it matches with it too.
                if not (ft.startswith(_ARABIC_ARTICLE, pos) and _in(prefix[0], _ARABIC_RANGES)
                        and ft.startswith(prefix, pos + 2)):
                    return -1
                pos += 2
        first = False
        e = pos + len(prefix)
        if max_len != GLUED:
            while e < n and (ft[e].isalnum() or ft[e] in WORD_MARKS):
                e += 1
            if e - pos > max_len:
                return -1
        pos = e
    # A Turkish/Azerbaijani case ending after an apostrophe belongs to the word (Akkuyu'daki).
    if pos + 1 < n and ft[pos] == APOSTROPHE and ft[pos + 1].isalpha():
        e = pos + 1
        while e < n and (ft[e].isalnum() or ft[e] in WORD_MARKS):
            e += 1
        if e - pos - 1 <= _MAX_APOS_SUFFIX:
            pos = e
    return pos


def format_report(item: Item, report: MatchReport) -> str:
    """Plain-text explanation for `watchbot try`: each match with its terms, then vetoes."""
    lines: list[str] = []
    for m in report.matches:
        lines.append(f"MATCH {m.watchlist} — {m.title}")
        for h in m.hits:
            lines.append(f"  [{h.group}] {h.term!r} found as {h.surface!r} in {h.where}")
    for v in report.vetoes:
        lines.append(f"VETO  {v.watchlist}: {v.group}")
        for h in v.hits:
            lines.append(f"  {h.term!r} found as {h.surface!r} in {h.where}")
    if not report.matches:
        lines.append("no watchlist matched" + (" (see vetoes above)" if report.vetoes else ""))
    return "\n".join(lines)
