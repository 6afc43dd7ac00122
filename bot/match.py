"""Matching stage: Item -> the watchlists it belongs to, with the evidence. Pure, no I/O.

All terms of all watchlists are compiled into ONE Aho–Corasick automaton (pyahocorasick) over
folded text (``bot.text.fold``): each item is folded once and scanned once, whatever the number
of terms. The automaton only finds candidate *anchors* (the folded stem of a term's first
word); word boundaries, allowed endings and the remaining words of a phrase are verified in
Python on those candidates only, which are rare in ordinary news.

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
  equivalent ("Rasht-Astara", "Rasht – Astara", "МТК «Север–Юг»").

``fold`` preserves length, so an offset in the folded text is the same offset in the original:
``TermHit.surface`` is the text as written in the item.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import ahocorasick
import re2
import snowballstemmer

from bot.models import Item, Match, MatchReport, TermHit, Veto
from bot.text import APOSTROPHE, fold
from bot.watchlists import _WORD_RE, Term, Watchlist

__all__ = ["Matcher", "format_report", "word_spec"]

#: Letters a word of 5+ letters may gain after it (Russian "-ской", Turkish "-daki", "-ndan").
LONG_SUFFIX = 5
#: Letters a 4-letter word may gain ("Baku" -> "Bakuda"); shorter words match exactly.
SHORT_SUFFIX = 3
#: Minimum stem length: shorter Snowball stems ("акта" from "Актау") would over-match.
MIN_STEM = 5
#: Characters allowed between the words of a phrase, and how many of them.
_GAP_CHARS = frozenset(" -'\"/\u00a0\t")
_MAX_GAP = 4
#: Letters tolerated after an apostrophe that ends a token (Turkish/Azerbaijani case endings).
_MAX_APOS_SUFFIX = 8

_RU_STEMMER = snowballstemmer.stemmer("russian")

UNLIMITED = 1 << 30


def _is_cyrillic(word: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in word)


def word_spec(folded_word: str, written_word: str, forms: str) -> tuple[str, int]:
    """(prefix a token must start with, maximum token length) for one word of a term.

    ``written_word`` is the word as the operator wrote it (case tells acronyms apart).
    """
    n = len(folded_word)
    if forms == "exact":
        return folded_word, n
    if forms == "prefix":
        return folded_word, UNLIMITED
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

    def __init__(self, watchlists: Sequence[Watchlist], automaton, specs, members,
                 regexes) -> None:
        self._watchlists = tuple(watchlists)
        self._automaton = automaton
        self._specs: list[_Spec] = specs
        self._members: list[list[_Member]] = members
        self._regexes = regexes  # [(compiled re2, [members])]
        # Per watchlist: group name -> index, and group "where".
        self._gindex = [{g.name: i for i, g in enumerate(w.groups)} for w in self._watchlists]
        self._title_only = [[g.where == "title" for g in w.groups] for w in self._watchlists]

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
        automaton = ahocorasick.Automaton()
        anchors: dict[str, list[int]] = {}
        for sid, spec in enumerate(specs):
            anchors.setdefault(spec.words[0][0], []).append(sid)
        for key, sids in anchors.items():
            automaton.add_word(key, (len(key), tuple(sids)))
        if anchors:
            automaton.make_automaton()
        else:
            automaton = None
        return cls(watchlists, automaton, specs, members, regexes)

    # -- hot path ------------------------------------------------------------------------------

    def _hits(self, ft: str) -> list[tuple[int, int, int]]:
        """(spec id or -1-regex id, start, end) of every verified term occurrence in ``ft``."""
        found: list[tuple[int, int, int]] = []
        n = len(ft)
        if self._automaton is not None:
            specs = self._specs
            for end_idx, (klen, sids) in self._automaton.iter(ft):
                start = end_idx - klen + 1
                if start > 0 and ft[start - 1].isalnum():
                    continue  # inside a word: "азал" in "сказал"
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
        text = item.text
        ft = fold(text)
        hits = self._hits(ft)
        if not hits:
            return MatchReport(matches=())
        title_len = len(item.title)
        summary_off = title_len + 1
        # (watchlist, group) -> [TermHit]
        by_group: dict[tuple[int, int], list[TermHit]] = {}
        for sid, start, stop in hits:
            mems = self._members[sid] if sid >= 0 else self._regexes[-1 - sid][1]
            in_title = start < title_len
            if in_title:
                surface = text[start:min(stop, title_len)]
                where = "title"
            else:
                surface = text[start:stop]
                where = "summary"
            for m in mems:
                if not in_title and self._title_only[m.wl][m.group]:
                    continue
                gname = self._watchlists[m.wl].groups[m.group].name
                by_group.setdefault((m.wl, m.group), []).append(
                    TermHit(term=m.term, group=gname, where=where, surface=surface))
        del summary_off
        matches: list[Match] = []
        vetoes: list[Veto] = []
        for wi in sorted({k[0] for k in by_group}):
            wl = self._watchlists[wi]
            gidx = self._gindex[wi]

            def hit(name: str) -> list[TermHit]:
                return by_group.get((wi, gidx[name]), [])

            evidence: list[TermHit] = []
            rule_vetoes: list[Veto] = []
            for rule in wl.rules:
                if not all(hit(g) for g in rule.all):
                    continue
                if rule.any and not any(hit(g) for g in rule.any):
                    continue
                blocked = [g for g in rule.none if hit(g)]
                if blocked:
                    rule_vetoes.extend(Veto(wl.id, f"none:{g}", tuple(hit(g))) for g in blocked)
                    continue
                for g in rule.all + rule.any:
                    evidence.extend(hit(g))
            if not evidence:
                vetoes.extend(rule_vetoes)
                continue
            blocked = [g for g in wl.none if hit(g)]
            if blocked:
                vetoes.extend(Veto(wl.id, f"none:{g}", tuple(hit(g))) for g in blocked)
                continue
            matches.append(Match(watchlist=wl.id, title=wl.title,
                                 hits=tuple(dict.fromkeys(evidence))))
        return MatchReport(matches=tuple(matches), vetoes=tuple(vetoes))

    def match(self, item: Item) -> list[Match]:
        """The watchlists ``item`` belongs to (evidence in each Match); [] for most news."""
        return list(self.report(item).matches)


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
    return [body[m.start():m.end()] for m in _WORD_RE.finditer(folded)]


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
            if gap == 0 or not ft.startswith(prefix, pos):
                return -1
        first = False
        e = pos + len(prefix)
        while e < n and ft[e].isalnum():
            e += 1
        if e - pos > max_len:
            return -1
        pos = e
    # A Turkish/Azerbaijani case ending after an apostrophe belongs to the word (Akkuyu'daki).
    if pos + 1 < n and ft[pos] == APOSTROPHE and ft[pos + 1].isalpha():
        e = pos + 1
        while e < n and ft[e].isalnum():
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
