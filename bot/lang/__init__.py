"""Languages as modules: what novelty needs to know of each language the press writes in.

One module per language (``bot/lang/<code>.py``, ISO 639-1), each defining:

- ``NAME``: the language's English name;
- ``LETTERS``: its letters -> Latin (only for letters of a non-Latin script that no other
  module already writes; Cyrillic is in ``ru``, Arabic in ``ar``); a key of two or more
  letters is a sequence written as one sound (Armenian "ու" -> "u"), replaced before the
  single letters;
- ``EVENTS``: event kind -> word stems in the language's own spelling ("освобожд", "serbest
  bırak", "freigelassen"); a stem matches at a word start of the folded, transliterated text;
- ``MONTHS``: month word or stem -> month number ("октябр" covers октября, октябре; a
  trailing space means the whole word only: "marca ");
- ``ANNIVERSARY``: phrases that mark an anniversary recap ("годовщин", "yıl dönümü");
- ``STOPWORDS``: capitalised words that start sentences without naming anything;
- ``NEGATIONS``: words that, one or two words before an event word, deny it ("without
  admitting", "не признал"): a denial is not the event.
- ``NAME_ENDINGS`` and ``MARKS``: case endings the language writes onto a name ("Bakıda",
  "Ақтауда"), applied to a text containing one of the ``MARKS`` letters: a name too short to
  count as one does not become a name with its ending (``name_endings``).

An event stem may hold a gap ("признал… виновн": ``GAP``, at most ``GAP_WORDS`` words between
its parts); where one kind's phrase contains another kind's stem (found guilty / admitted), the
longer phrase decides (bot.features).

Adding a language is one new file here plus its code in ``LANGUAGE_CODES`` (and terms in the
watchlists). Everything is folded (``bot.text.fold``) and transliterated to Latin when the
registry loads, so authors write natural words and every language meets in one key space:
Картавых, Kartavykh and Kartavıx become one name key in ``bot.features``. The price of one key
space: a stem must not be a common word of another language (Ukrainian "старт" is English
"start"); ``bench/stem_collisions.py`` lists the stems that fire on other languages' items.

Event kinds are shared across languages (the decision compares kinds, not words); a module may
leave kinds out. ``bot.features`` reads the merged tables through the functions below.
"""

from __future__ import annotations

import importlib
import re
from functools import lru_cache
from types import ModuleType

from bot.text import fold

#: Every language module, in load order (a letter defined twice keeps its first writing).
LANGUAGE_CODES = ("en", "ru", "uk", "kk", "bg", "az", "tr", "ar", "fa", "hy", "ka", "he", "de",
                  "fr", "it", "es", "pt", "pl", "be", "sr", "hr", "cs", "ro", "nl", "sv", "el")

#: The event kinds a module may use (a typo in a module's kind is an error at load).
KINDS = frozenset({
    "release", "return", "verdict", "custody", "appeal", "deport", "payment", "report", "talks",
    "agreement", "arrest", "charge", "death", "sale", "launch", "growth", "apology",
    "complaint", "office", "admission", "lawsuit", "statement", "wanted", "trial",
    "suspension", "construction",
})


#: Kinds many languages write with one word, so two outlets' reports of one development may
#: carry either: a case brought (Turkish "dava", Polish "sprawa", Russian "дело" are a criminal
#: charge and a lawsuit alike) and being held (Azerbaijani "həbs", Georgian "პატიმრობა" are an
#: arrest and custody alike), and a release told as the homecoming it is ("freed", "back in
#: Moscow"). Novelty treats a family as one kind when it compares reports of one story.
KIND_FAMILIES = (frozenset({"charge", "lawsuit"}), frozenset({"arrest", "custody"}),
                 frozenset({"release", "return"}))


def kind_family(kind: str) -> frozenset[str]:
    """The kinds one word may stand for together with ``kind`` (itself at least)."""
    for fam in KIND_FAMILIES:
        if kind in fam:
            return fam
    return frozenset({kind})


@lru_cache(maxsize=1)
def modules() -> tuple[ModuleType, ...]:
    """The language modules, imported once; a malformed module fails loudly here."""
    out = []
    for code in LANGUAGE_CODES:
        mod = importlib.import_module(f"bot.lang.{code}")
        unknown = set(getattr(mod, "EVENTS", {})) - KINDS
        if unknown:
            raise ValueError(f"bot/lang/{code}.py: unknown event kinds {sorted(unknown)}")
        out.append(mod)
    return tuple(out)


@lru_cache(maxsize=1)
def _letters() -> dict[int, str]:
    table: dict[int, str] = {}
    for mod in modules():
        for ch, latin in getattr(mod, "LETTERS", {}).items():
            if len(ch) > 1:
                continue  # a sequence: see _sequences
            table.setdefault(ord(fold(ch)), latin)
            table.setdefault(ord(ch), latin)
    return table


@lru_cache(maxsize=1)
def _sequences() -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """Letter sequences of every module, folded, grouped by their last letter:
    ((last letter, ((sequence, Latin), ...longest first)), ...). translit looks for the few
    last letters (one fast scan each) before replacing any sequence."""
    seqs: dict[str, str] = {}
    for mod in modules():
        for chars, latin in getattr(mod, "LETTERS", {}).items():
            if len(chars) > 1:
                seqs.setdefault(fold(chars), latin)
    groups: dict[str, list[tuple[str, str]]] = {}
    for chars, latin in sorted(seqs.items(), key=lambda kv: -len(kv[0])):
        groups.setdefault(chars[-1], []).append((chars, latin))
    return tuple((last, tuple(pairs)) for last, pairs in groups.items())


def translit(text: str) -> str:
    """Fold case and diacritics (bot.text.fold, which also writes Arabic-Indic digits as ASCII),
    then write every registered script in Latin letters. Turkish and Azerbaijani "ç" is
    written "ch" first, as Russian "ч" is (Overçuk = Оверчук): folding alone would make it a
    "c", another letter of those languages."""
    if "ç" in text or "Ç" in text:
        text = text.replace("ç", "ch").replace("Ç", "Ch")
    out = fold(text)
    if out.isascii():
        return out
    for last, pairs in _sequences():
        if last in out:
            for chars, latin in pairs:
                out = out.replace(chars, latin)
    return out.translate(_letters())


#: In an event stem, GAP stands for at most GAP_WORDS words between its parts: "признал… виновн"
#: is "признали главу диаспоры виновным" (found guilty), whose "признал" alone is an admission.
GAP = "\u2026"
GAP_WORDS = 6


def _key(phrase: str) -> str:
    """A stem or phrase as the registry compares it: transliterated, one space between words
    (the parts of a stem with a GAP each so, joined by " GAP ")."""
    if GAP in phrase:
        parts = [_key(p).strip() for p in phrase.split(GAP)]
        return f" {GAP} ".join(parts) if all(parts) else ""
    key = " ".join(re.sub(r"[^a-z0-9' ]+", " ", translit(phrase)).split())
    # A trailing space means "whole word" ("free " is not "freedom"): kept.
    return key + " " if key and phrase.endswith(" ") else key


@lru_cache(maxsize=1)
def event_stems() -> dict[str, tuple[str, ...]]:
    """Event kind -> transliterated stems of every language (longest first, no duplicates)."""
    merged: dict[str, set[str]] = {}
    for mod in modules():
        for kind, stems in getattr(mod, "EVENTS", {}).items():
            merged.setdefault(kind, set()).update(k for k in map(_key, stems) if k)
    return {kind: tuple(sorted(s, key=lambda x: (-len(x), x))) for kind, s in merged.items()}


@lru_cache(maxsize=1)
def month_words() -> tuple[dict[str, int], dict[str, int]]:
    """(exact month words, month stems that may take up to 3 more letters), transliterated.
    An entry of 5 or more letters is a stem; shorter ones ("may", "mart") and entries written
    with a trailing space ("marca ") must match whole."""
    exact: dict[str, int] = {}
    stems: dict[str, int] = {}
    for mod in modules():
        for word, month in getattr(mod, "MONTHS", {}).items():
            k = _key(word)
            if not k:
                continue
            whole = k.endswith(" ")
            k = k.strip()
            (stems if len(k) >= 5 and not whole else exact).setdefault(k, int(month))
    return exact, stems


@lru_cache(maxsize=1)
def anniversary_pattern() -> re.Pattern[str]:
    """One regex over transliterated text for every language's anniversary phrases."""
    phrases = sorted({_key(p) for mod in modules() for p in getattr(mod, "ANNIVERSARY", ())} - {""},
                     key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(p) for p in phrases) + ")")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """Transliterated capitalised non-names of every language."""
    return frozenset(_key(w) for mod in modules() for w in getattr(mod, "STOPWORDS", ()) if _key(w))


@lru_cache(maxsize=1)
def negations() -> frozenset[str]:
    """Transliterated negation words of every language (single words)."""
    return frozenset(k for mod in modules() for w in getattr(mod, "NEGATIONS", ())
                     for k in _key(w).split())


@lru_cache(maxsize=1)
def _name_endings() -> tuple[tuple[frozenset[str], tuple[str, ...]], ...]:
    out = []
    for mod in modules():
        endings = {_key(e) for e in getattr(mod, "NAME_ENDINGS", ())} - {""}
        if endings:
            out.append((frozenset(getattr(mod, "MARKS", "")), tuple(sorted(endings, key=len, reverse=True))))
    return tuple(out)


def name_endings(text: str) -> tuple[str, ...]:
    """Transliterated name endings of every language whose MARKS letters occur in ``text``."""
    found: list[str] = []
    for marks, endings in _name_endings():
        if not marks.isdisjoint(text):
            found.extend(e for e in endings if e not in found)
    return tuple(found)
