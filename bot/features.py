"""Features novelty compares news items with (a non-stage helper; pure functions).

Short multilingual ledes (EN/RU/AZ/TR, some AR) about one story share few words across
languages but share NAMES and NUMBERS once written in one script. So:

- ``translit``: fold (bot.text) then Cyrillic/Arabic -> Latin, for character n-grams;
- ``name_key``: a consonant skeleton of a transliterated name that ignores vowel spelling and
  the common transliteration variants (Картавых/Kartavykh/Kartavıx, Захарова/Zakharova,
  Hacıyev/Hajiyev), so one person is one key across languages and case endings;
- ``extract``: the facts of an item: names, numbers, event kinds (released, sentenced, paid...),
  date mentions resolved against the publication date, anniversary wording.

Similarity alone cannot tell "the same development" from "a follow-up on the same story"
(measured AUC <= 0.77); new facts decide that, so facts are extracted separately from the
n-gram vector.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

from bot import lang

# --- transliteration ------------------------------------------------------------------------
# Letters, event words, month names and anniversary phrases of each language live in bot.lang
# (one module per language); this module reads the merged tables.

translit = lang.translit


_SKELETON_RULES = [("shch", "s"), ("dzh", "j"), ("kh", "x"), ("zh", "j"), ("sh", "s"),
                   ("ch", "j"), ("ts", "j"), ("dj", "j"), ("ph", "f"), ("ck", "k")]
_SKELETON_CHARS = str.maketrans({"q": "g", "w": "v", "h": "x", "y": "", "a": "",
                                 "e": "", "i": "", "o": "", "u": "", "'": "", "-": ""})


def name_key(word: str) -> str:
    """Consonant skeleton of a (transliterated, lower-case) name: its first three consonants.

    Vowels carry most transliteration and case-ending variation (Белоусова/Belousov,
    Kartavıxın/Kartavykh), so they are dropped; letters written differently across the region's
    scripts are unified (kh/x/h, c/j/dzh, q/g). Three consonants identify a name within one
    topic while ignoring endings like -ым, -ın, -ova.
    """
    w = word
    for a, b in _SKELETON_RULES:
        w = w.replace(a, b)
    # Latin "c": English k/s (Moscow), Turkish/Azerbaijani dzh (Hacıyev = Hajiyev).
    w = re.sub(r"c(?=[eiy])", "j", w).replace("c", "k")
    w = w.translate(_SKELETON_CHARS)
    w = re.sub(r"(.)\1+", r"\1", w)
    return w[:3]


# --- vocabularies ---------------------------------------------------------------------------

def event_kinds() -> dict[str, tuple[str, ...]]:
    """Event kind -> transliterated stems of every language (bot.lang). A kind present in an
    item but absent from what it restates is a new fact (a release after an arrest). Stems are
    matched at word starts on translit() text."""
    return lang.event_stems()


@lru_cache(maxsize=65536)
def _month_of(word: str) -> int | None:
    """Month number of a (translit) word: 'october', 'oktyabrya', 'fevrale', 'temmuz'..."""
    exact, stems = lang.month_words()
    if word in exact:
        return exact[word]
    for stem, m in stems.items():
        if word.startswith(stem) and len(word) - len(stem) <= 3:
            return m
    return None


_WORD = re.compile(r"[^\W\d_](?:[^\W\d_]|['\-](?=[^\W\d_]))*", re.UNICODE)
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:[ ,.\u00a0]\d{3})+|\d+(?:[.,]\d+)?)(?![\w])")
_ARABIC_SCRIPT = re.compile("[\u0600-\u06ff]")
_TIME = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b")
_ATTRIBUTION = re.compile(r"\s*(?:\(([^()]{2,40})\)|[-\u2013\u2014|]\s*([^-\u2013\u2014|]{2,40}))\s*$")


def _is_upper_initial(word: str) -> bool:
    return word[:1].isupper()


@dataclass(frozen=True)
class Facts:
    """What an item states, in comparable form.

    ``names``: name keys -> a surface form (for reasons); ``title_names``: keys named in the
    title; ``numbers``: normalised numbers (not years, days of month or clock times);
    ``kinds``: event kinds; ``dates``: mentioned dates (start, end) resolved to a calendar period;
    ``anniversary``: anniversary/recap wording present; ``speaker``: the headline is a quote
    headed by who said it ("Zakharova: ...", "Дмитрий Песков: ..."): a statement, which happens
    when it is published.
    """

    names: dict[str, str] = field(default_factory=dict)
    title_names: frozenset[str] = frozenset()
    numbers: frozenset[str] = frozenset()
    title_numbers: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    title_kinds: frozenset[str] = frozenset()
    dates: tuple[tuple[date, date], ...] = ()
    anniversary: bool = False
    speaker: bool = False


#: A headline opened by one to three capitalised words and a colon: who is speaking. Any script
#: (no word list: "Захарова:", "زاخاروفا:", "Məsud Pezeşkian:"); a lower-case word before the
#: colon ("Год после трагедии:") makes it a topic line, not a speaker.
_SPEAKER = re.compile(r"^\W{0,2}([^\W\d_][\w'\u2019.-]*(?:\s+[^\W\d_][\w'\u2019.-]*){0,2})\s*:\s+\S")


def _is_speaker_headline(title: str) -> bool:
    m = _SPEAKER.match(title)
    if m is None:
        return False
    # Scripts without case (Arabic, Persian, Georgian...) have no capitals to check: one word
    # before the colon is taken as a name there.
    ws = m.group(1).split()
    caseless = all(w[:1].lower() == w[:1].upper() for w in ws)
    return (len(ws) == 1) if caseless else all(w[:1].isupper() for w in ws)


def _norm_number(raw: str) -> str:
    s = raw.replace("\u00a0", " ")
    if re.fullmatch(r"\d{1,3}(?:[ ,.]\d{3})+", s):
        return re.sub(r"[ ,.]", "", s)
    s = s.replace(",", ".")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def _gap_end(text: str, pos: int, parts: list[str]) -> int | None:
    """Where the last of ``parts`` ends if each starts a word at most lang.GAP_WORDS words after
    the previous one (``pos``: the end of the stem's first part), else None."""
    for part in parts:
        m = re.compile(r"\S*(?: \S+){0,%d}? %s" % (lang.GAP_WORDS, re.escape(part))).match(text, pos)
        if m is None:
            return None
        pos = m.end()
    return pos


@lru_cache(maxsize=1)
def _stem_plan() -> tuple[tuple[str, tuple[tuple[str, list[str], bool], ...]], ...]:
    """Per kind, its stems as (first part, gap parts, may lie inside another kind's phrase),
    the stems that contain another kind's stem first. _kinds must see every span of those two
    sorts; any other stem ends the search for its kind at its first occurrence."""
    stems = lang.event_stems()
    flat = {k: [s.replace(f" {lang.GAP} ", " ") for s in ss] for k, ss in stems.items()}

    def inside(stem: str, kind: str) -> bool:
        # Another kind's phrase holds this stem at one of its word starts.
        return any(f" {stem}" in f" {t}" for k, ts in flat.items() if k != kind for t in ts)

    plan = []
    for kind, ss in stems.items():
        entries = []
        for stem in ss:
            first, *rest = stem.split(f" {lang.GAP} ")
            whole = stem.replace(f" {lang.GAP} ", " ")
            holds = bool(rest) or any(f" {t}" in f" {whole}" and t != whole
                                      for k, ts in flat.items() if k != kind for t in ts)
            entries.append((holds, first, rest, inside(whole, kind)))
        entries.sort(key=lambda e: not e[0])  # containers first
        plan.append((kind, tuple((first, rest, holds or contained)
                                 for holds, first, rest, contained in entries)))
    return tuple(plan)


def _dated_earlier(before: list[str], after: list[str], year: int | None) -> bool:
    """Whether a year before ``year`` stands among the words next to an event word: "the 2010
    intergovernmental agreement", "2023-cü il sazişi", "arrested in 2024" tell background.
    A Solar Hijri year (Persian outlets: 1402 = 2023-24) counts as its Gregorian year; a lunar
    one (1446) then falls after any publication year, so it never makes background."""
    if year is None:
        return False
    for w in before + after:
        if len(w) == 4 and w.isdigit():
            y = int(w)
            if 1300 <= y < 1500:
                y += 621
            if 1900 <= y < year:
                return True
    return False


def _kinds(tl: str, year: int | None = None) -> set[str]:
    """Event kinds whose stems start a word of ``tl``, unless one of the two words before it
    negates it ("without admitting guilt", "не признал"): a denial is not the event; nor is an
    event word next to a year before ``year`` (the publication year): that is background.
    Where the phrase of one kind contains the stem of another, the longer phrase says what
    happened: "признали виновным" (found guilty) is a verdict, not the admission its "признал"
    starts."""
    padded = f" {tl} "
    negations = lang.negations()
    spans: list[tuple[int, int, str]] = []
    for kind, entries in _stem_plan():
        for first, rest, overlapping in entries:
            needle = f" {first}"
            at = padded.find(needle)
            done = False
            while at >= 0:
                before = padded[max(0, at - 40):at].split()[-2:]
                end: int | None = at + len(needle.rstrip())
                if rest:
                    end = _gap_end(padded, end, rest)
                if (end is not None and not any(w in negations for w in before)
                        and not _dated_earlier(padded[max(0, at - 60):at].split()[-3:],
                                               padded[end:end + 40].split()[:2], year)):
                    spans.append((at, end, kind))
                    if not overlapping:  # no other kind's phrase can hold it: kind found
                        done = True
                        break
                at = padded.find(needle, at + 1)
            if done:
                break
    found = set()
    for start, end, kind in spans:
        if kind in found:
            continue
        if any(k != kind and s <= start and end <= e and e - s > end - start
               for s, e, k in spans):
            continue
        found.add(kind)
    return found


def name_keys(text: str) -> dict[str, str]:
    """Keys of every capitalised word or acronym of ``text`` wherever it stands (for lists of
    names written by people, e.g. the timeline's entities)."""
    out: dict[str, str] = {}
    for m in _WORD.finditer(text):
        w = m.group()
        if not _is_upper_initial(w):
            continue
        w = re.sub(r"'(s|[a-zа-я]{1,3})$", "", w) if "'" in w else w
        tl = translit(w).strip("'-")
        if not tl or tl in lang.stopwords():
            continue
        if len(w) >= 3 and w.isupper():
            out.setdefault("#" + tl, w)
        elif len(tl) >= 4 and len(name_key(tl)) == 3:
            out.setdefault(name_key(tl), w)
    return out


def words(text: str) -> frozenset[str]:
    """Lower-case transliterated words of ``text`` (to tell names from capitalised common words)."""
    return frozenset(re.findall(r"[a-z0-9']+", translit(text)))


def _names(text: str) -> dict[str, tuple[str, bool]]:
    """Name candidates: capitalised words and acronyms. A word at the start of a sentence or
    of a Title Case headline counts only if it is also capitalised elsewhere in the text
    (otherwise "After", "Официальные" would be names). Returns key -> (surface, acronym)."""
    found: dict[str, tuple[str, bool]] = {}
    initial: dict[str, str] = {}
    endings = lang.name_endings(text)  # case endings this text's languages put on names
    sentences = re.split(r"\s*\n\s*|(?<=[.!?;:])\s+|\s+[-\u2013\u2014]\s+", text)
    for sent in sentences:
        words = list(_WORD.finditer(sent))
        caps = sum(1 for w in words if _is_upper_initial(w.group()))
        title_case = len(words) >= 4 and caps >= 0.6 * len(words)
        for i, m in enumerate(words):
            for w in _name_parts(m.group()):
                _add_name(w, i == 0 or title_case, endings, found, initial)
    return found | {k: (w, False) for k, w in initial.items() if k in found}


def _name_parts(word: str) -> list[str]:
    """A compound of capitalised names is its names: "Bakou-Grozny" (a route), "Rasht-Astara"
    name two places, each comparable with reports that name them apart."""
    parts = word.split("-")
    if len(parts) > 1 and all(p[:1].isupper() for p in parts):
        return parts
    return [word]


def _add_name(w: str, at_start: bool, endings: tuple[str, ...], found: dict[str, tuple[str, bool]],
              initial: dict[str, str]) -> None:
    """Record word ``w`` as a name candidate: in ``initial`` when it opens a sentence or a Title
    Case headline (a name only if also capitalised elsewhere), else in ``found``."""
    if not _is_upper_initial(w):
        return
    w = re.sub(r"'(s|[a-zа-я]{1,3})$", "", w) if "'" in w else w
    tl = translit(w).strip("'-")
    if not tl or tl in lang.stopwords() or _month_of(tl) is not None:
        return
    acronym = len(w) >= 2 and w.isupper()
    if acronym:
        if len(w) < 3:
            return
        key = "#" + tl
    else:
        if len(tl) < 4:
            return
        key = name_key(tl)
        if len(key) < 3 or (endings and _short_name_with_ending(tl, endings)):
            return
    if at_start:
        initial.setdefault(key, w)
    else:
        found.setdefault(key, (w, acronym))


def _short_name_with_ending(tl: str, endings: tuple[str, ...]) -> bool:
    """"bakida" is "baki" + a case ending: a name too short to count as one (its key has fewer
    than three consonants) that only its ending would make one, in every case a different one
    ("bkd" in Bakıda, "bkn" in Bakının). A longer name keeps its key (the ending comes after
    its first three consonants)."""
    return any(tl.endswith(e) and len(tl) > len(e) and len(name_key(tl[:-len(e)])) < 3 for e in endings)


def _dates(tl: str, published: date | None) -> list[tuple[date, date]]:
    """Date mentions ("27 June", "June 27, 2025", "в феврале", "10 oktyabrya", "2001-ci il")
    resolved to periods; a date without a year is the most recent such date not later than
    60 days after publication (announced deadlines are near-future)."""
    periods: list[tuple[date, date]] = []
    tokens = re.findall(r"\d{1,4}|[a-z']+", tl)
    for i, tok in enumerate(tokens):
        m = _month_of(tok) if tok.isalpha() else None
        if m is None:
            continue
        day = None
        year = None
        for j in (i - 1, i + 1):
            if 0 <= j < len(tokens) and tokens[j].isdigit() and 1 <= int(tokens[j]) <= 31 and len(tokens[j]) <= 2:
                day = int(tokens[j])
                break
        for j in (i + 1, i + 2, i + 3):
            if 0 <= j < len(tokens) and tokens[j].isdigit() and len(tokens[j]) == 4:
                year = int(tokens[j])
                break
        if year is None:
            if published is None:
                continue
            year = published.year
            try:
                probe = date(year, m, day or 1)
            except ValueError:
                continue
            if probe > published + timedelta(days=60):
                year -= 1
        try:
            if day:
                start = end = date(year, m, day)
            else:
                start = date(year, m, 1)
                end = date(year + (m == 12), m % 12 + 1, 1) - timedelta(days=1)
        except ValueError:
            continue
        periods.append((start, end))
    return periods


def extract(title: str, summary: str = "", published: date | None = None,
            since: date | None = None) -> Facts:
    """Facts of an item (the terms that made it match are set aside by novelty, which knows
    them). An event word next to a year before ``since`` (default: ``published``) is background,
    no kind of the item: a baseline event spanning 2023-2025 passes its start as ``since``."""
    att = _ATTRIBUTION.search(title)
    core_title = title[:att.start()] if att and att.start() > 15 else title
    text = f"{core_title}\n{summary}" if summary else core_title
    names = {k: s for k, (s, _a) in _names(text).items()}
    title_tl = translit(core_title)
    title_names = {k for k in _names(core_title) if k in names} | {
        k for k in names if translit(names[k]) in title_tl}
    tl = translit(_TIME.sub(" ", text))
    tl_title = translit(_TIME.sub(" ", core_title))
    periods = _dates(tl, published)
    # Days of month are not numbers of the story ("19 October", "October 19"). Two scans: in
    # one, "said 19" would take the 19 before "19 October" could be seen.
    day_positions = set()
    for m in re.finditer(r"(\d{1,2})\s+([a-z']+)", tl):
        if _month_of(m.group(2)) is not None:
            day_positions.add(m.group(1))
    for m in re.finditer(r"([a-z']+)\s+(\d{1,2})\b", tl):
        if _month_of(m.group(1)) is not None:
            day_positions.add(m.group(2))

    # Persian and Arabic outlets also write years of their own calendars (1402 = 2023 in the
    # Solar Hijri calendar, 1447 = 2025 in the lunar one): years, not numbers of the story.
    local_years = _ARABIC_SCRIPT.search(text) is not None

    background_before = since or published
    year = background_before.year if background_before else None

    def numbers_of(s: str) -> set[str]:
        out = set()
        for m in _NUMBER.finditer(s):
            n = _norm_number(m.group(1))
            if (re.fullmatch(r"(19|20)\d\d", n) or n in day_positions
                    or (local_years and re.fullmatch(r"1[34]\d\d", n))):
                continue
            out.add(n)
        return out

    return Facts(
        names=names,
        title_names=frozenset(title_names),
        numbers=frozenset(numbers_of(tl)),
        title_numbers=frozenset(numbers_of(tl_title)),
        kinds=frozenset(_kinds(re.sub(r"[^a-z0-9' ]+", " ", tl), year)),
        title_kinds=frozenset(_kinds(re.sub(r"[^a-z0-9' ]+", " ", tl_title), year)),
        dates=tuple(periods),
        anniversary=bool(lang.anniversary_pattern().search(tl)),
        speaker=_is_speaker_headline(core_title),
    )


# --- lexical similarity ---------------------------------------------------------------------

def char_ngrams(text: str, n: int = 4) -> Counter:
    """Character n-grams of each transliterated word padded with spaces (word-boundary aware),
    so inflected forms share most n-grams and different scripts meet in Latin."""
    grams: Counter = Counter()
    for w in re.findall(r"[a-z0-9]+", translit(text)):
        if len(w) < 2:
            continue
        p = f" {w} "
        if len(p) <= n:
            grams[p] += 1
            continue
        for i in range(len(p) - n + 1):
            grams[p[i:i + n]] += 1
    return grams


def tfidf(grams: Counter, idf: dict[str, float], default_idf: float) -> dict[str, float]:
    """Sublinear tf * idf, L2-normalised."""
    vec = {g: (1.0 + math.log(c)) * idf.get(g, default_idf) for g, c in grams.items()}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {g: v / norm for g, v in vec.items()}


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    """Dot product of two L2-normalised sparse vectors (iterates the first: pass the shorter)."""
    get = b.get
    return sum([v * get(g, 0.0) for g, v in a.items()])


# --- stored form ----------------------------------------------------------------------------

def facts_to_json(f: Facts) -> dict:
    """A Facts as JSON-serialisable data (kept in a story's signature: no re-extraction)."""
    return {"names": dict(f.names), "title_names": sorted(f.title_names),
            "numbers": sorted(f.numbers), "title_numbers": sorted(f.title_numbers),
            "kinds": sorted(f.kinds), "title_kinds": sorted(f.title_kinds),
            "dates": [[a.isoformat(), b.isoformat()] for a, b in f.dates],
            "anniversary": f.anniversary, "speaker": f.speaker}


def facts_from_json(d: dict) -> Facts:
    """Inverse of :func:`facts_to_json`."""
    return Facts(names=dict(d.get("names", {})), title_names=frozenset(d.get("title_names", ())),
                 numbers=frozenset(d.get("numbers", ())),
                 title_numbers=frozenset(d.get("title_numbers", ())),
                 kinds=frozenset(d.get("kinds", ())), title_kinds=frozenset(d.get("title_kinds", ())),
                 dates=tuple((date.fromisoformat(a), date.fromisoformat(b)) for a, b in d.get("dates", ())),
                 anniversary=bool(d.get("anniversary", False)),
                 speaker=bool(d.get("speaker", False)))
