"""Building a digest: the store's rows of a period become a ``Digest`` (pure data, no rendering).

Not a stage: it only reads the store (through its digest queries, ``bot.storage``) and the
baseline timeline. What each count means is in the package docstring (bot/digest/__init__.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Mapping, Sequence
from zoneinfo import ZoneInfo

from bot.text import cut, one_line
from bot.digest.periods import to_zone
from bot.storage import Store
from bot.timeline import Timeline

RECENT_EVENTS = 3  # baseline events shown per watchlist for context
QUIET_AFTER = timedelta(days=3)  # a feed with no new item for this long is "quiet"
_EXCERPT_MAX = 220


@dataclass(frozen=True)
class DigestStory:
    """One development first seen in the period, with its folded sources counted."""

    id: int
    watchlist: str
    title: str
    link: str | None
    outlet: str
    first_seen: datetime
    published: datetime | None
    sources: int
    languages: tuple[str, ...]
    outlets: tuple[str, ...]
    excerpt: str


@dataclass(frozen=True)
class DigestEvent:
    """A baseline timeline event shown for context."""

    id: str
    start: date
    end: date
    what: str


@dataclass(frozen=True)
class WatchlistDigest:
    id: str
    title: str
    stories: tuple[DigestStory, ...]
    known: int
    earlier_updates: int
    baseline: tuple[DigestEvent, ...]

    @property
    def empty(self) -> bool:
        return not (self.stories or self.known or self.earlier_updates)


@dataclass(frozen=True)
class FeedNote:
    """A feed worth the reader's attention: failing, paused, or quiet, and why."""

    url: str
    title: str
    problem: str
    consecutive_errors: int = 0
    paused: bool = False
    last_success: datetime | None = None
    last_item: datetime | None = None


@dataclass(frozen=True)
class Digest:
    """Everything a digest shows; times are aware datetimes in ``tz``."""

    since: datetime
    until: datetime
    tz: str
    feeds_total: int
    feeds_polled: int
    failing: tuple[FeedNote, ...]
    quiet: tuple[FeedNote, ...]
    watchlists: tuple[WatchlistDigest, ...]  # with something in the period (or asked for)
    quiet_watchlists: tuple[tuple[str, str], ...]  # (id, title) with nothing in the period
    totals: Mapping[str, int]

    @property
    def stories(self) -> int:
        return sum(len(w.stories) for w in self.watchlists)


def build_digest(store: Store, *, since: datetime, until: datetime,
                 watchlists: Sequence[str] | None, timeline: Timeline | None,
                 watchlist_titles: Mapping[str, str], tz: str | ZoneInfo = "UTC",
                 recent_events: int = RECENT_EVENTS, quiet_after: timedelta = QUIET_AFTER,
                 progress: Callable[[int, int], None] | None = None) -> Digest:
    """Collect the digest of [since, until) from ``store``; pure data, no rendering.

    ``watchlists``: ids to include (in that order), or None/empty for every watchlist in
    ``watchlist_titles`` plus any other id that has stories in the period. Explicitly named
    watchlists always get a section, even when empty; otherwise empty ones are only listed in
    ``quiet_watchlists``. ``progress(done, total)`` is called while items are counted.
    """
    zone = to_zone(tz)
    since, until = since.astimezone(zone), until.astimezone(zone)
    # The store compares at one-second precision; so do the checks below.
    since_s = since.astimezone(timezone.utc).replace(microsecond=0)

    # Items of the period: counts per decision and per watchlist.
    rows = store.period_items(since, until)
    totals: Counter[str] = Counter()
    known: Counter[str] = Counter()
    later_updates: Counter[str] = Counter()
    # The period's stories, plus the earlier ones its updates were folded into (not every
    # story of the retention window).
    story_rows = {r.id: r for r in store.period_stories(since, until)}
    for n, row in enumerate(rows, 1):
        totals[row.decision] += 1
        if row.decision == "known":
            for wl in row.watchlists:
                known[wl] += 1
        elif row.decision == "update" and row.story_id in story_rows:
            story = story_rows[row.story_id]
            if story.first_seen < since_s:
                later_updates[story.watchlist] += 1
        if progress is not None and (n % 200 == 0 or n == len(rows)):
            progress(n, len(rows))

    # Stories first seen in the period, with their sources up to ``until``: one query for all
    # of them (not one per story).
    sources_of: dict[int, list] = {}
    for src in store.period_sources(since, until):
        sources_of.setdefault(src.story_id, []).append(src)
    stories: dict[str, list[DigestStory]] = {}
    for sid, srow in story_rows.items():
        if srow.first_seen < since_s:
            continue
        sources = sources_of.get(sid, [])
        excerpt = cut(one_line(srow.summary), _EXCERPT_MAX)
        stories.setdefault(srow.watchlist, []).append(DigestStory(
            id=sid, watchlist=srow.watchlist, title=one_line(srow.title) or "(untitled)",
            link=srow.link, outlet=one_line(srow.outlet),
            first_seen=srow.first_seen.astimezone(zone),
            published=srow.published.astimezone(zone) if srow.published else None,
            sources=max(1, len(sources)),
            languages=tuple(dict.fromkeys(s.language for s in sources if s.language)),
            outlets=tuple(dict.fromkeys(one_line(s.outlet) for s in sources if s.outlet)),
            excerpt=excerpt))

    explicit = bool(watchlists)
    if explicit:
        selected = list(dict.fromkeys(watchlists))
    else:
        selected = list(watchlist_titles) + sorted(set(stories) - set(watchlist_titles))
    sections, quiet_lists = [], []
    for wl in selected:
        title = watchlist_titles.get(wl, wl)
        section = WatchlistDigest(
            id=wl, title=title,
            stories=tuple(sorted(stories.get(wl, ()), key=lambda s: (s.first_seen, s.id))),
            known=known.get(wl, 0), earlier_updates=later_updates.get(wl, 0),
            baseline=_baseline(timeline, wl, until.date(), recent_events))
        if section.empty and not explicit:
            quiet_lists.append((wl, title))
        else:
            sections.append(section)

    failing, quiet_feeds, polled, total = _feed_notes(store, since_s, until, quiet_after, zone)
    return Digest(
        since=since, until=until, tz=zone.key, feeds_total=total, feeds_polled=polled,
        failing=failing, quiet=quiet_feeds, watchlists=tuple(sections),
        quiet_watchlists=tuple(quiet_lists),
        totals={"items": len(rows), "stories": sum(len(v) for v in stories.values()),
                "updates": totals["update"], "known": totals["known"],
                "ignored": totals["ignored"], "seeded": totals["seeded"]})


def _baseline(timeline: Timeline | None, watchlist: str, before: date, n: int) -> tuple[DigestEvent, ...]:
    if timeline is None or n <= 0:
        return ()
    events = [e for e in timeline.for_topics({watchlist}) if e.start <= before]
    events.sort(key=lambda e: (e.start, e.end), reverse=True)
    return tuple(DigestEvent(e.id, e.start, e.end, cut(e.what.split(". ")[0].strip().rstrip("."), 160))
                 for e in events[:n])


def _feed_notes(store: Store, since: datetime, until: datetime, quiet_after: timedelta,
                zone: ZoneInfo) -> tuple[tuple[FeedNote, ...], tuple[FeedNote, ...], int, int]:
    last_item = store.last_item_times()
    failing, quiet = [], []
    polled = total = 0

    def local(moment: datetime | None) -> datetime | None:
        return moment.astimezone(zone) if moment else None

    for fs in store.feed_states():
        total += 1
        if fs.last_fetch and fs.last_fetch.replace(microsecond=0) >= since:
            polled += 1
        title = fs.title or fs.url
        if fs.paused_reason or fs.consecutive_errors > 0:
            problem = fs.paused_reason or fs.last_error or f"HTTP {fs.last_status}"
            failing.append(FeedNote(fs.url, title, one_line(problem), fs.consecutive_errors,
                                    bool(fs.paused_reason), local(fs.last_success),
                                    local(last_item.get(fs.url))))
            continue
        newest = last_item.get(fs.url)
        if fs.last_fetch is None:
            continue  # configured but not polled yet: nothing to say
        if fs.last_success is None:
            quiet.append(FeedNote(fs.url, title, "never fetched successfully"))
        elif newest is None:
            quiet.append(FeedNote(fs.url, title, "no items yet", last_success=local(fs.last_success)))
        elif until - newest >= quiet_after:
            days = (until - newest).days
            quiet.append(FeedNote(fs.url, title, f"no new item for {days} days",
                                  last_success=local(fs.last_success), last_item=local(newest)))
    return tuple(failing), tuple(quiet), polled, total


def digest_context(watchlists_dir: Path) -> tuple[dict[str, str], Timeline | None]:
    """(watchlist id -> title, timeline) from the watchlist folder; a broken file yields what
    could be loaded (the digest still works, with ids as titles or without baseline)."""
    from bot.timeline import load_timeline
    from bot.watchlists import TIMELINE_FILE, load_watchlists

    loaded, _ = load_watchlists(Path(watchlists_dir))
    titles = {w.id: w.title for w in loaded}
    timeline_path = Path(watchlists_dir) / TIMELINE_FILE
    timeline = load_timeline(timeline_path)[0] if timeline_path.exists() else None
    return titles, timeline


__all__ = ["Digest", "DigestStory", "DigestEvent", "WatchlistDigest", "FeedNote", "build_digest",
           "digest_context", "RECENT_EVENTS", "QUIET_AFTER"]
