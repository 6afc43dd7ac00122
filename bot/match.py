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

#: Every automaton key is stored once per character that can precede a word start in folded
#: text. Anchoring keys this way (a) makes the automaton fire only at word starts, so
#: mid-word look-alikes never reach Python, and (b) keeps the root's fan-out at these few
#: characters instead of the whole alphabet: pyahocorasick scans a node's children linearly,
#: and the scan sits at the root for most characters of a text.
_BOUNDARY = (" ", "\n", '"', "'", "-", "(", "[", "/", "#", "@", ",", ".", ":", ";", "\t")


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
        # Rules as index sets, so evaluating one is a couple of set operations.
        self._crules = [
            [(frozenset(gi[n] for n in r.all), frozenset(gi[n] for n in r.any),
              tuple(gi[n] for n in r.none), r) for r in w.rules]
            for w, gi in zip(self._watchlists, self._gindex)]
        self._cnone = [tuple(gi[n] for n in w.none) for w, gi in zip(self._watchlists,
                                                                    self._gindex)]

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
            value = (len(key), tuple(sids))
            for before in _BOUNDARY:
                automaton.add_word(before + key, value)
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
            # Keys carry the character before the word, and the text gets a leading "\n", so
            # the automaton only fires at word starts ("азал" never fires inside "сказал").
            for end_idx, (klen, sids) in self._automaton.iter("\n" + ft):
                start = end_idx - klen  # end_idx counts the leading "\n"
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
        # First only integers: (watchlist, group) -> indices into ``hits``. TermHit objects are
        # built for the evidence of watchlists that matched or were vetoed, which is rare, while
        # common context words ("court", "railway") hit in many ordinary items.
        by_group: dict[tuple[int, int], list[int]] = {}
        members = self._members
        regexes = self._regexes
        title_only = self._title_only
        for hi, (sid, start, _stop) in enumerate(hits):
            mems = members[sid] if sid >= 0 else regexes[-1 - sid][1]
            in_title = start < title_len
            for m in mems:
                if not in_title and title_only[m.wl][m.group]:
                    continue
                key = (m.wl, m.group)
                lst = by_group.get(key)
                if lst is None:
                    by_group[key] = [hi]
                else:
                    lst.append(hi)

        def term_hits(wi: int, gi: int) -> tuple[TermHit, ...]:
            gname = self._watchlists[wi].groups[gi].name
            out = []
            for hi in by_group.get((wi, gi), ()):
                sid, start, stop = hits[hi]
                mems = members[sid] if sid >= 0 else regexes[-1 - sid][1]
                if start < title_len:
                    surface, where = text[start:min(stop, title_len)], "title"
                else:
                    surface, where = text[start:stop], "summary"
                for m in mems:
                    if m.wl == wi and m.group == gi:
                        out.append(TermHit(term=m.term, group=gname, where=where,
                                           surface=surface))
            return tuple(dict.fromkeys(out))

        hit_groups: dict[int, set[int]] = {}
        for wi, gi in by_group:
            hit_groups.setdefault(wi, set()).add(gi)
        matches: list[Match] = []
        vetoes: list[Veto] = []
        for wi in sorted(hit_groups):
            hg = hit_groups[wi]
            evidence: list[int] = []
            vetoed_by: list[int] = []
            for all_fs, any_fs, none_idx, _rule in self._crules[wi]:
                if not all_fs <= hg or (any_fs and hg.isdisjoint(any_fs)):
                    continue
                blocked = [g for g in none_idx if g in hg]
                if blocked:
                    vetoed_by.extend(blocked)
                    continue
                evidence.extend(sorted(all_fs & hg))
                evidence.extend(sorted(any_fs & hg))
            if not evidence and not vetoed_by:
                continue
            wl = self._watchlists[wi]
            if evidence:
                vetoed_by = [g for g in self._cnone[wi] if g in hg]
            if vetoed_by:
                vetoes.extend(Veto(wl.id, f"none:{wl.groups[g].name}", term_hits(wi, g))
                              for g in dict.fromkeys(vetoed_by))
                continue
            evidence_hits: list[TermHit] = []
            for g in dict.fromkeys(evidence):
                evidence_hits.extend(term_hits(wi, g))
            matches.append(Match(watchlist=wl.id, title=wl.title, hits=tuple(evidence_hits)))
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
