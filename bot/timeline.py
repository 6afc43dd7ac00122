"""The baseline timeline: events already known when the bot starts (watchlists/timeline.yaml).

Not a stage: a validated configuration object that novelty compares items with. An item that
only restates one of these events is "known"; an item published on or before ``as_of`` is
"known" whatever it says (a live bot started on ``as_of`` could not have alerted it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

from bot.yamlconf import ConfigProblem, load_yaml_with_tree, locate

# Shipped inside the package so an installed watchbot validates without the repository;
# watchlists/timeline.schema.json is the copy editors use (a test keeps the two identical).
SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "timeline.schema.json"


@dataclass(frozen=True)
class Event:
    """One known event. ``start``/``end`` bound its date (a month or year spans the period)."""

    id: str
    start: date
    end: date
    topics: tuple[str, ...]
    what: str
    phrases: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()

    def label(self) -> str:
        """Short human name for reasons: date and the first sentence."""
        when = self.start.isoformat() if self.start == self.end else f"{self.start}..{self.end}"
        first = self.what.split(". ")[0].strip()
        if len(first) > 90:
            first = first[:87].rstrip() + "..."
        return f"{self.id} ({when}): {first}"


@dataclass(frozen=True)
class Timeline:
    """The baseline: the date it runs to and its events (in file order)."""

    as_of: date
    events: tuple[Event, ...]
    # Topics no watchlist in the folder has and that resemble none (a timeline shared with a
    # subset of the watchlists): not errors, but `check` and `run` say so.
    warnings: tuple[ConfigProblem, ...] = field(default=(), compare=False)

    def for_topics(self, topics: set[str] | frozenset[str]) -> tuple[Event, ...]:
        """Events tagged with any of ``topics``."""
        return tuple(e for e in self.events if topics.intersection(e.topics))


def _period(text: str, *, end: bool) -> date:
    """'YYYY-MM-DD' -> that day; 'YYYY-MM' / 'YYYY' -> first (or last, with end) day."""
    parts = [int(p) for p in text.split("-")]
    if len(parts) == 3:
        return date(*parts)
    if len(parts) == 2:
        y, m = parts
        if not end:
            return date(y, m, 1)
        nxt = date(y + (m == 12), m % 12 + 1, 1)
        return date.fromordinal(nxt.toordinal() - 1)
    return date(parts[0], 12, 31) if end else date(parts[0], 1, 1)


@lru_cache(maxsize=1)
def _schema() -> dict:
    """The packaged schema, read once: the daemon reloads the timeline on every edit."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def load_timeline(path: Path | str, known_topics: set[str] | frozenset[str] | None = None
                  ) -> tuple[Timeline | None, list[ConfigProblem]]:
    """Load and validate a timeline file. Returns (timeline, problems); the timeline is None
    whenever there is any problem, so a broken edit never silently shrinks the baseline.
    Every problem carries file:line:column: schema ones (bot.yamlconf) and semantic ones
    (impossible dates, 'until' before 'date', duplicate ids, and — when ``known_topics`` (the
    watchlist ids) is given — a topic that resembles a watchlist id without being one: a typo
    that would silently keep the event out of that topic's comparisons). A topic that
    resembles no id becomes a warning on the timeline instead."""
    import difflib

    path = Path(path)
    data, root, problems = load_yaml_with_tree(path, _schema())
    if data is None or problems:
        return None, problems
    shown = str(path)

    def problem(where: list, message: str, hint: str) -> None:
        line, col = locate(root, where)
        problems.append(ConfigProblem(shown, line, col, message, hint))

    events: list[Event] = []
    warnings: list[ConfigProblem] = []
    seen: set[str] = set()
    try:
        as_of = _period(data["as_of"], end=False)
    except ValueError as exc:
        problem(["as_of"], f"as_of: {exc}", "use a real calendar date")
        return None, problems
    for i, raw in enumerate(data["events"]):
        where = f"events[{i}] ({raw['id']})"
        try:
            start = _period(raw["date"], end=False)
        except ValueError as exc:
            problem(["events", i, "date"], f"{where}: date: {exc}", "use a real calendar date")
            continue
        try:
            end = _period(raw.get("until", raw["date"]), end=True)
        except ValueError as exc:
            problem(["events", i, "until"], f"{where}: until: {exc}", "use a real calendar date")
            continue
        if end < start:
            problem(["events", i, "until"], f"{where}: until is before date", "swap date and until")
        if raw["id"] in seen:
            problem(["events", i, "id"], f"{where}: duplicate id", "give each event its own id")
        seen.add(raw["id"])
        for j, topic in enumerate(raw["topics"]):
            if known_topics is not None and topic not in known_topics:
                close = difflib.get_close_matches(topic, sorted(known_topics), n=1, cutoff=0.75)
                if close:
                    problem(["events", i, "topics", j], f"{where}: unknown topic {topic!r}",
                            f"did you mean {close[0]}?")
                else:
                    line, col = locate(root, ["events", i, "topics", j])
                    warnings.append(ConfigProblem(shown, line, col, f"{where}: no watchlist has topic "
                                                  f"{topic!r}", "topics are watchlist ids: " +
                                                  ", ".join(sorted(known_topics))))
        events.append(Event(
            id=raw["id"], start=start, end=end, topics=tuple(raw["topics"]),
            what=" ".join(raw["what"].split()),
            phrases=tuple(raw.get("phrases", ())), entities=tuple(raw.get("entities", ())),
            numbers=tuple(str(n) for n in raw.get("numbers", ())),
        ))
    if problems:
        return None, problems
    return Timeline(as_of=as_of, events=tuple(events), warnings=tuple(warnings)), []
