"""Watchlist files: loading and validation (not a pipeline stage).

A watchlist is one topic the bot watches, written by an operator as ``watchlists/<id>.yaml``
(the rule language is documented in ``watchlists/README.md``; the JSON Schema below is shipped
as ``watchlists/schema.json`` for editors). ``load_watchlists`` reports ALL problems of ALL
files at once, each with ``file:line:column`` and what to do, so one ``watchbot check`` run is
enough to fix a folder.

Shape of a file::

    id: aktau_crash
    title: AZAL Flight 8243 crash near Aktau
    description: what belongs / what does not
    groups:                       # named term groups
      airline: [AZAL, АЗАЛ, Azerbaijan Airlines]
      crash: [crash, катастроф*]
      place: {in: title, any: [Aktau, Актау]}
    rules:                        # the item matches when ANY rule holds
      - name: airline-crash
        all: [airline, crash]     # every listed group must hit
      - name: place-crash
        all: [place, crash]
        none: [port]              # ... and none of these (rule-level veto)
    none: [vaccine]               # watchlist-level veto
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bot.rulefiles import rule_files
from bot.text import fold
from bot.yamlconf import ConfigProblem, load_yaml_with_tree, locate

__all__ = [
    "SCHEMA", "Term", "Group", "Rule", "Watchlist", "load_watchlists", "parse_term",
    "TIMELINE_FILE",
]

#: The novelty engineer's baseline timeline lives in the same folder but is not a watchlist.
TIMELINE_FILE = "timeline.yaml"

_TERM_STRING = {"type": "string", "minLength": 1,
                "x-hint": "a term is a word or phrase, e.g. 'Aktau' or 'Екатеринбург*'"}
_TERM_OBJECT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "term": {"type": "string", "minLength": 1},
        "forms": {"enum": ["auto", "exact", "prefix"],
                  "x-hint": "auto (word forms), exact (whole word only) or prefix (any ending)"},
        "regex": {"type": "string", "minLength": 1,
                  "x-hint": "an RE2 regular expression over folded (lower-case) text"},
    },
    "oneOf": [{"required": ["term"]}, {"required": ["regex"]}],
    "x-hint": "write either {term: ..., forms: ...} or {regex: ...}",
}
_TERMS = {"type": "array", "minItems": 1, "items": {"anyOf": [_TERM_STRING, _TERM_OBJECT]},
          "x-hint": "list at least one term, e.g. [Aktau, Актау]"}
_GROUP_REFS = {"type": "array", "minItems": 1,
               "items": {"type": "string", "minLength": 1,
                         "x-hint": "name a group defined under 'groups:'"},
               "x-hint": "list group names defined under 'groups:', e.g. [place, crash]"}

#: JSON Schema (Draft 2020-12) of one watchlist file; ``watchlists/schema.json`` is a copy.
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "watchbot watchlist",
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "title", "groups", "rules"],
    "properties": {
        "id": {"type": "string", "pattern": "^[a-z0-9_]+$",
               "x-hint": "lower-case letters, digits and _, e.g. aktau_crash"},
        "title": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "groups": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": "^[A-Za-z0-9_.-]+$"},
            "additionalProperties": {
                "anyOf": [
                    _TERMS,
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["any"],
                        "properties": {
                            "any": _TERMS,
                            "in": {"enum": ["title", "text"],
                                   "x-hint": "'title' (title only) or 'text' (title and summary)"},
                        },
                    },
                ],
                "x-hint": "a group is a list of terms or {in: title, any: [terms]}",
            },
        },
        "rules": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "anyOf": [{"required": ["all"]}, {"required": ["any"]}],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "all": _GROUP_REFS,
                    "any": _GROUP_REFS,
                    "none": _GROUP_REFS,
                },
                "x-hint": "a rule needs 'all:' and/or 'any:' lists of group names",
            },
            "x-hint": "add at least one rule, e.g. {name: main, all: [place, crash]}",
        },
        "none": _GROUP_REFS,
    },
}

Forms = Literal["auto", "exact", "prefix"]


@dataclass(frozen=True)
class Term:
    """One watchlist term as written (``text``), and how it matches.

    ``words`` are the folded words of a phrase (hyphens, dashes and spaces between them are
    equivalent); ``forms`` says how each word may end in the text (see README). ``regex`` is
    set instead of ``words`` for the RE2 escape hatch.
    """

    text: str
    words: tuple[str, ...] = ()
    forms: Forms = "auto"
    regex: str | None = None
    prefix_words: tuple[bool, ...] = ()  # per word: written with a trailing '*'


@dataclass(frozen=True)
class Group:
    """A named set of terms; it hits when any term occurs (in the title only if asked)."""

    name: str
    terms: tuple[Term, ...]
    where: Literal["title", "text"] = "text"


@dataclass(frozen=True)
class Rule:
    """Holds when every ``all`` group hits, at least one ``any`` group hits (if given) and no
    ``none`` group hits."""

    name: str
    all: tuple[str, ...] = ()
    any: tuple[str, ...] = ()
    none: tuple[str, ...] = ()


@dataclass(frozen=True)
class Watchlist:
    """One topic: matches an item when any rule holds and no watchlist-level veto hits."""

    id: str
    title: str
    description: str
    groups: tuple[Group, ...]
    rules: tuple[Rule, ...]
    none: tuple[str, ...] = ()
    path: Path | None = None


#: Marks that belong inside a word although ``\w`` and str.isalnum() reject them: the vowel
#: signs and viramas of Indic scripts (विमान, அஜர்பைஜான்), Arabic harakat, Hebrew points.
#: (Combining accents on Latin/Cyrillic letters never reach here: fold turns them into "'".)
WORD_MARKS = frozenset(chr(cp) for cp in range(0x0300, 0x10000)
                       if unicodedata.category(chr(cp)) in ("Mn", "Mc"))
_WCH = "(?:[^\\W_]|[" + re.escape("".join(sorted(WORD_MARKS))) + "])"
WORD_RE = re.compile(f"{_WCH}+(?:'{_WCH}+)*", re.UNICODE)
_WORD_STAR_RE = re.compile(f"({_WCH}+(?:'{_WCH}+)*)(\\*?)", re.UNICODE)


def parse_term(raw: str | dict) -> Term:
    """Parse one term as written in YAML. Raises ValueError with a human message when unusable.

    String syntax: ``word`` (automatic word forms), ``word*`` (any ending; in a phrase each
    word may carry its own ``*``: ``железн* дорог*``), ``=word`` (exact whole words).
    Object syntax: ``{term: ..., forms: auto|exact|prefix}`` or ``{regex: ...}``.
    """
    if isinstance(raw, dict):
        if "regex" in raw:
            return Term(text=raw["regex"], regex=raw["regex"])
        text = raw["term"]
        forms: Forms = raw.get("forms", "auto")
        body = text
    else:
        text = raw
        forms = "auto"
        body = raw.strip()
        if body.startswith("=") and len(body) > 1:
            forms, body = "exact", body[1:]
    folded = fold(body)
    words: list[str] = []
    stars: list[bool] = []
    for m in _WORD_STAR_RE.finditer(folded):
        words.append(m.group(1))
        stars.append(bool(m.group(2)))
        if m.group(2) and m.end() < len(folded) and folded[m.end()].isalnum():
            raise ValueError(f"term {text!r}: '*' is allowed only at the end of a word")
    leftover = _WORD_STAR_RE.sub(" ", folded)
    if not words:
        raise ValueError(f"term {text!r} has no letters or digits")
    if "*" in leftover:
        raise ValueError(f"term {text!r}: '*' is allowed only at the end of a word")
    if any(stars) and forms == "exact":
        raise ValueError(f"term {text!r}: '=' (exact) and '*' (any ending) contradict")
    return Term(text=text, words=tuple(words), forms=forms, prefix_words=tuple(stars))


def _group_from(raw: Any) -> tuple[list[Any], str]:
    if isinstance(raw, dict):
        return list(raw.get("any") or []), raw.get("in", "text")
    return list(raw or []), "text"


def _compile_regex_problem(pattern: str) -> str | None:
    try:
        import re2

        options = re2.Options()
        options.log_errors = False  # the problem is reported here, not on stderr
        re2.compile(pattern, options)
    except Exception as exc:  # re2.error and friends: report, never crash `check`
        detail = exc.args[0] if exc.args else ""
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        return str(detail) or "invalid regular expression"
    return None


def _load_one(path: Path) -> tuple[Watchlist | None, list[ConfigProblem], Any]:
    shown = str(path)
    data, root, problems = load_yaml_with_tree(path, SCHEMA)
    if data is None or problems:
        return None, problems, None
    groups: list[Group] = []
    for gname, graw in data["groups"].items():
        raw_terms, where = _group_from(graw)
        terms: list[Term] = []
        seen: set[tuple] = set()
        for i, raw in enumerate(raw_terms):
            tpath = ["groups", gname] + (["any"] if isinstance(graw, dict) else []) + [i]
            try:
                term = parse_term(raw)
            except ValueError as exc:
                line, col = locate(root, tpath)
                problems.append(ConfigProblem(shown, line, col, str(exc),
                                              "write a word or phrase, or use {regex: ...}"))
                continue
            if term.regex is not None:
                err = _compile_regex_problem(term.regex)
                if err:
                    line, col = locate(root, tpath + ["regex"])
                    problems.append(ConfigProblem(
                        shown, line, col, f"bad regex {term.regex!r}: {err}",
                        "RE2 syntax (no backreferences/lookaround); text is folded to lower case"))
                    continue
            key = (term.words, term.forms, term.regex, term.prefix_words)
            if key in seen:
                continue  # look-alikes after folding (Bakı/Bakü) are harmless: keep one
            seen.add(key)
            terms.append(term)
        groups.append(Group(name=gname, terms=tuple(terms), where=where))
    names = {g.name for g in groups}

    def check_refs(refs: list[str], where_path: list[Any]) -> None:
        for j, ref in enumerate(refs):
            if ref not in names:
                import difflib

                line, col = locate(root, where_path + [j])
                close = difflib.get_close_matches(ref, sorted(names), n=1, cutoff=0.6)
                hint = (f"did you mean '{close[0]}'?" if close
                        else "define it under 'groups:' (known: " + ", ".join(sorted(names)) + ")")
                problems.append(ConfigProblem(shown, line, col, f"unknown group '{ref}'", hint))

    rules: list[Rule] = []
    rule_names: set[str] = set()
    for i, r in enumerate(data["rules"]):
        for key in ("all", "any", "none"):
            check_refs(list(r.get(key) or []), ["rules", i, key])
        if r["name"] in rule_names:
            line, col = locate(root, ["rules", i, "name"])
            problems.append(ConfigProblem(shown, line, col, f"duplicate rule name '{r['name']}'",
                                          "give each rule its own name"))
        rule_names.add(r["name"])
        rules.append(Rule(name=r["name"], all=tuple(r.get("all") or ()),
                          any=tuple(r.get("any") or ()), none=tuple(r.get("none") or ())))
    check_refs(list(data.get("none") or []), ["none"])
    if problems:
        return None, problems, root
    wl = Watchlist(id=data["id"], title=data["title"], description=data.get("description", ""),
                   groups=tuple(groups), rules=tuple(rules), none=tuple(data.get("none") or ()),
                   path=path)
    return wl, problems, root


def load_watchlists(folder: Path) -> tuple[list[Watchlist], list[ConfigProblem]]:
    """Load every ``*.yaml`` and ``*.yml`` in ``folder`` except the timeline, sorted by name.

    Returns the valid watchlists and ALL problems found (unknown keys, wrong types, empty
    groups, unknown group names, bad regexes, duplicate ids across files), each located at
    ``file:line:column`` with a hint. A file with any problem contributes no watchlist.
    """
    folder = Path(folder)
    watchlists: list[Watchlist] = []
    problems: list[ConfigProblem] = []
    if not folder.is_dir():
        return [], [ConfigProblem(str(folder), None, None, "watchlist folder not found",
                                  "create it or point the configuration at the right folder")]
    first_by_id: dict[str, Path] = {}
    files = [p for p in rule_files(folder) if p.name not in (TIMELINE_FILE, "timeline.yml")]
    stray = folder / "timeline.yml"
    if stray.exists():
        problems.append(ConfigProblem(str(stray), None, None, "the timeline must be named timeline.yaml",
                                      "rename it: timeline.yml is not read"))
    for path in files:
        wl, found, root = _load_one(path)
        problems.extend(found)
        if wl is None:
            continue
        if wl.id in first_by_id:
            line, col = locate(root, ["id"])
            problems.append(ConfigProblem(
                str(path), line, col, f"duplicate watchlist id '{wl.id}'",
                f"already used by {first_by_id[wl.id]}; ids must be unique"))
            continue
        first_by_id[wl.id] = path
        watchlists.append(wl)
    if not files:
        problems.append(ConfigProblem(str(folder), None, None, "no watchlist files (*.yaml, *.yml)",
                                      "add at least one watchlist, see watchlists/README.md"))
    return watchlists, problems
