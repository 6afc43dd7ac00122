"""The digest: what happened on each watchlist over a period, from the state folder.

Not a stage: it only reads the store (built by ``run`` or ``replay --state``) and the baseline
timeline, and renders. ``build_digest`` returns pure data (``Digest``); the renderers turn it into
plain text, Markdown, a standalone HTML page, JSON, or Telegram messages.

Periods and time zones. A period is [since, until): ``since`` inclusive, ``until`` exclusive,
compared with each item's ``first_seen`` (when the bot first recorded it — for ``replay`` that
is its publication time). ``parse_since``/``parse_until`` accept a duration back from now
("24h", "7d", "2w", "90m"), a date ("2025-10-19": midnight at the start of that day) or a date
and time ("2025-10-19T08:00"), read in the digest time zone (WATCHBOT_DIGEST_TIMEZONE) unless
they carry an offset. A bare date given as ``until`` means the END of that day, so
``--since 2025-10-19 --until 2025-10-19`` is that whole day. Every time in the output is shown in
the digest time zone; JSON carries ISO 8601 timestamps with that zone's offset.

JSON shape (``render_json``)::

    {
      "period":   {"since": ISO, "until": ISO, "timezone": "Asia/Baku"},
      "feeds":    {"total": int, "polled": int,
                   "failing": [{"url", "title", "problem", "consecutive_errors", "paused",
                                "last_success": ISO|null}],
                   "quiet":   [{"url", "title", "problem", "last_item": ISO|null}]},
      "totals":   {"items": int, "stories": int, "updates": int, "known": int,
                   "ignored": int, "seeded": int},
      "watchlists": [{"id", "title", "known": int, "earlier_updates": int,
                      "stories": [{"id", "title", "link", "outlet", "first_seen": ISO,
                                   "published": ISO|null, "sources": int,
                                   "languages": [str], "outlets": [str], "excerpt": str}],
                      "baseline": [{"id", "start": "YYYY-MM-DD", "end": "YYYY-MM-DD",
                                    "what": str}]}],
      "quiet_watchlists": [{"id", "title"}]
    }

``stories`` are the developments first seen in the period, oldest first; ``sources`` counts the
story's own report plus the updates folded into it up to ``until``. ``known`` counts items of
the period that restated the baseline or an earlier story (an item matching two watchlists
counts in both); ``earlier_updates`` counts new sources of stories first seen before the
period. ``totals`` cover every watchlist whatever the selection; ``ignored`` (matched no watchlist)
and ``seeded`` (recorded unseen on a feed's first poll) exist only there: they belong to no
watchlist. ``baseline`` holds the most recent
timeline events of the watchlist that started before ``until``, latest start first, for context.
``quiet_watchlists`` are the selected watchlists with nothing at all in the period.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence
from zoneinfo import ZoneInfo

from bot.channels.telegram_html import CAPTION_LIMIT, TEXT_LIMIT, fit_html, html_to_plain, visible_length
from bot.models import SendOutcome
from bot.storage import Store
from bot.text import cut, one_line, safe_url
from bot.timeline import Timeline

log = logging.getLogger(__name__)

RECENT_EVENTS = 3  # baseline events shown per watchlist for context
QUIET_AFTER = timedelta(days=3)  # a feed with no new item for this long is "quiet"
_TITLE_MAX = 300
_EXCERPT_MAX = 220


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Periods
# ---------------------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+)\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def _moment(text: str, tz: ZoneInfo, *, end_of_day: bool) -> datetime:
    text = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        day = date.fromisoformat(text) + timedelta(days=1 if end_of_day else 0)
        return datetime.combine(day, time(0), tzinfo=tz)
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def parse_since(text: str, now: datetime, tz: str | ZoneInfo = "UTC") -> datetime:
    """Start of a period: "24h"/"7d"/"2w"/"90m" back from ``now``, or a date/date-time in ``tz``.

    Raises ValueError with a readable message on anything else.
    """
    zone = _zone(tz)
    m = _DURATION.match(text)
    if m:
        return now - timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2).lower()])
    try:
        return _moment(text, zone, end_of_day=False)
    except ValueError:
        raise ValueError(f"cannot read {text!r} as a period start: use 24h, 7d, 2w, "
                         "YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None


def parse_until(text: str | None, now: datetime, tz: str | ZoneInfo = "UTC") -> datetime:
    """End of a period: ``now`` when None; a bare date means the end of that day in ``tz``."""
    if not text:
        return now
    try:
        return _moment(text, _zone(tz), end_of_day=True)
    except ValueError:
        raise ValueError(f"cannot read {text!r} as a period end: use YYYY-MM-DD or "
                         "YYYY-MM-DDTHH:MM") from None


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------


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
    zone = _zone(tz)
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


# ---------------------------------------------------------------------------------------------
# Rendering helpers
# ---------------------------------------------------------------------------------------------


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def _zone_label(digest: Digest) -> str:
    offset = digest.since.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}" if offset else ""
    return f"{digest.tz}, UTC{offset}" if digest.tz != "UTC" else "UTC"


def _period(digest: Digest) -> str:
    return f"{_when(digest.since)} – {_when(digest.until)} ({_zone_label(digest)})"


def _sources_phrase(story: DigestStory) -> str:
    n = story.sources
    langs = f" ({', '.join(story.languages)})" if story.languages else ""
    return f"{n} source{'s' if n != 1 else ''}{langs}"


def _meta_line(story: DigestStory) -> str:
    """'2025-10-20 08:15 · Outlet · 3 sources (en, ru)': the line under a story's title."""
    return f"{_when(story.first_seen)} · {story.outlet or '-'} · {_sources_phrase(story)}"


def _event_when(event: DigestEvent) -> str:
    return event.start.isoformat() if event.start == event.end else f"{event.start}..{event.end}"


def _counts_line(section: WatchlistDigest) -> str:
    parts = [f"{section.known} restatement{'s' if section.known != 1 else ''} of known events (known)"]
    if section.earlier_updates:
        parts.append(f"{section.earlier_updates} new source{'s' if section.earlier_updates != 1 else ''} "
                     "for earlier stories")
    return "; ".join(parts)


def _feeds_lines(digest: Digest) -> list[str]:
    lines = [f"Feeds: {digest.feeds_polled} of {digest.feeds_total} polled in the period; "
             f"{len(digest.failing)} failing, {len(digest.quiet)} quiet."]
    for note in digest.failing:
        errors = note.consecutive_errors
        state = "paused" if note.paused else f"{errors} error{'s' if errors != 1 else ''} in a row"
        lines.append(f"  failing: {note.title} ({state}): {note.problem}")
    for note in digest.quiet:
        lines.append(f"  quiet: {note.title}: {note.problem}")
    return lines


def _totals_line(digest: Digest) -> str:
    t = digest.totals
    def n(count: int, word: str) -> str:
        return f"{count} {word}{'s' if count != 1 else ''}"
    return (f"All watchlists: {n(t['items'], 'item')} first seen — {n(t['stories'], 'new development')}, "
            f"{n(t['updates'], 'update')}, {t['known']} known, {t['ignored']} matched no watchlist "
            f"(ignored), {t['seeded']} seeded.")


def _empty_line(digest: Digest) -> str:
    return f"No new developments between {_when(digest.since)} and {_when(digest.until)}."


# ---------------------------------------------------------------------------------------------
# Text and Markdown
# ---------------------------------------------------------------------------------------------


def render_text(digest: Digest) -> str:
    """Plain text for a terminal or a pipe (no colour, no markup)."""
    out = [f"Digest {_period(digest)}", *_feeds_lines(digest), _totals_line(digest), ""]
    if not digest.stories:
        out += [_empty_line(digest), ""]
    for section in digest.watchlists:
        out.append(f"== {section.title} [{section.id}] ==")
        if not section.stories:
            out.append("  no new developments")
        for story in section.stories:
            out.append(f"  * {cut(story.title, _TITLE_MAX)}")
            out.append(f"    {_meta_line(story)}")
            if story.link:
                out.append(f"    {story.link}")
            if story.excerpt:
                out.append(f"    {story.excerpt}")
        out.append(f"  {_counts_line(section)}")
        if section.baseline:
            out.append("  Baseline (most recent):")
            out += [f"    - {_event_when(e)} {e.what}" for e in section.baseline]
        out.append("")
    if digest.quiet_watchlists:
        out.append("Nothing new on: " + ", ".join(t for _, t in digest.quiet_watchlists))
    return "\n".join(out).rstrip() + "\n"


# Only what can start markup inside a line: emphasis, code, links/images, autolinks and HTML,
# tables and GFM strikethrough. Feed text never starts a line here, so "1." / "-" / "#" are safe.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def _md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def render_markdown(digest: Digest) -> str:
    """CommonMark to forward by mail or paste into a wiki; feed text is escaped."""
    out = [f"# Digest {_md(_period(digest))}", ""]
    out += [_md(line.strip()) if i == 0 else f"- {_md(line.strip())}" for i, line in enumerate(_feeds_lines(digest))]
    out += ["", _md(_totals_line(digest)), ""]
    if not digest.stories:
        out += [f"**{_md(_empty_line(digest))}**", ""]
    for section in digest.watchlists:
        out += [f"## {_md(section.title)} (`{section.id}`)", ""]
        if not section.stories:
            out += ["No new developments.", ""]
        for story in section.stories:
            title = _md(cut(story.title, _TITLE_MAX))
            url = safe_url(story.link)
            head = f"[{title}](<{url}>)" if url else title
            out.append(f"- **{head}**  ")
            meta = _meta_line(story)
            out.append(f"  {_md(meta)}" + ("  " if story.excerpt else ""))
            if story.excerpt:
                out.append(f"  _{_md(story.excerpt)}_")
        if section.stories:
            out.append("")
        out += [_md(_counts_line(section)), ""]
        if section.baseline:
            out.append("Baseline, most recent:")
            out.append("")
            out += [f"- {_md(_event_when(e))}: {_md(e.what)}" for e in section.baseline]
            out.append("")
    if digest.quiet_watchlists:
        out.append("Nothing new on: " + ", ".join(_md(t) for _, t in digest.quiet_watchlists))
    return "\n".join(out).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------
# HTML (a standalone page) and JSON
# ---------------------------------------------------------------------------------------------


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def render_html(digest: Digest) -> str:
    """A standalone UTF-8 HTML page (inline style, no scripts); feed text is escaped."""
    body = [f"<h1>Digest {_e(_period(digest))}</h1>"]
    feed_lines = _feeds_lines(digest)
    body.append(f"<p>{_e(feed_lines[0])}</p>")
    if feed_lines[1:]:
        body.append("<ul>" + "".join(f"<li>{_e(x.strip())}</li>" for x in feed_lines[1:]) + "</ul>")
    body.append(f"<p>{_e(_totals_line(digest))}</p>")
    if not digest.stories:
        body.append(f"<p><strong>{_e(_empty_line(digest))}</strong></p>")
    for section in digest.watchlists:
        body.append(f"<h2>{_e(section.title)} <small>({_e(section.id)})</small></h2>")
        if section.stories:
            body.append("<ul>")
            for story in section.stories:
                title = _e(cut(story.title, _TITLE_MAX))
                url = safe_url(story.link)
                head = f'<a href="{_e(url)}">{title}</a>' if url else title
                meta = _meta_line(story)
                excerpt = f"<br><em>{_e(story.excerpt)}</em>" if story.excerpt else ""
                body.append(f"<li><strong>{head}</strong><br>{_e(meta)}{excerpt}</li>")
            body.append("</ul>")
        else:
            body.append("<p>No new developments.</p>")
        body.append(f"<p>{_e(_counts_line(section))}</p>")
        if section.baseline:
            body.append("<p>Baseline, most recent:</p><ul>" + "".join(
                f"<li>{_e(_event_when(e))}: {_e(e.what)}</li>" for e in section.baseline) + "</ul>")
    if digest.quiet_watchlists:
        body.append("<p>Nothing new on: " + _e(", ".join(t for _, t in digest.quiet_watchlists)) + "</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e('watchbot digest ' + _period(digest))}</title>"
            "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto;line-height:1.4}"
            "small{color:#666}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def digest_dict(digest: Digest) -> dict[str, Any]:
    """The JSON document (see the module docstring for its shape)."""
    return {
        "period": {"since": _iso(digest.since), "until": _iso(digest.until), "timezone": digest.tz},
        "feeds": {
            "total": digest.feeds_total, "polled": digest.feeds_polled,
            "failing": [{"url": n.url, "title": n.title, "problem": n.problem,
                         "consecutive_errors": n.consecutive_errors, "paused": n.paused,
                         "last_success": _iso(n.last_success)} for n in digest.failing],
            "quiet": [{"url": n.url, "title": n.title, "problem": n.problem,
                       "last_item": _iso(n.last_item)} for n in digest.quiet],
        },
        "totals": dict(digest.totals),
        "watchlists": [{
            "id": w.id, "title": w.title, "known": w.known, "earlier_updates": w.earlier_updates,
            "stories": [{"id": s.id, "title": s.title, "link": s.link, "outlet": s.outlet,
                         "first_seen": _iso(s.first_seen), "published": _iso(s.published),
                         "sources": s.sources, "languages": list(s.languages),
                         "outlets": list(s.outlets), "excerpt": s.excerpt} for s in w.stories],
            "baseline": [{"id": e.id, "start": e.start.isoformat(), "end": e.end.isoformat(),
                          "what": e.what} for e in w.baseline],
        } for w in digest.watchlists],
        "quiet_watchlists": [{"id": i, "title": t} for i, t in digest.quiet_watchlists],
    }


def render_json(digest: Digest) -> str:
    return json.dumps(digest_dict(digest), ensure_ascii=False, indent=2) + "\n"


RENDERERS: dict[str, Callable[[Digest], str]] = {
    "text": render_text, "markdown": render_markdown, "html": render_html, "json": render_json}


# ---------------------------------------------------------------------------------------------
# Terminal (rich): colour and tables when stdout is a terminal; progress on a TTY stderr
# ---------------------------------------------------------------------------------------------


def print_rich(digest: Digest, console: Any) -> None:
    """The text digest with colour and one table per watchlist, for an interactive terminal."""
    from rich.table import Table
    from rich.text import Text

    console.print(Text(f"Digest {_period(digest)}", style="bold"))
    for i, line in enumerate(_feeds_lines(digest)):
        style = "" if i == 0 else ("red" if "failing:" in line else "yellow")
        console.print(Text(line, style=style))
    console.print(Text(_totals_line(digest)))
    if not digest.stories:
        console.print(Text(_empty_line(digest), style="bold"))
    for section in digest.watchlists:
        table = Table(title=f"{section.title} [{section.id}]", title_justify="left", expand=True,
                      show_lines=True)
        table.add_column("first seen", no_wrap=True)
        table.add_column("development", ratio=3)
        table.add_column("sources", ratio=1)
        for story in section.stories:
            url = safe_url(story.link)
            cell = Text(cut(story.title, _TITLE_MAX), style=f"bold link {url}" if url else "bold")
            if story.excerpt:
                cell.append("\n" + story.excerpt, style="dim")
            table.add_row(_when(story.first_seen), cell,
                          f"{_sources_phrase(story)}\n{', '.join(story.outlets)}")
        if section.stories:
            console.print(table)
        else:
            console.print(Text(f"{section.title} [{section.id}]: no new developments", style="italic"))
        console.print(Text("  " + _counts_line(section), style="cyan"))
        for e in section.baseline:
            console.print(Text(f"  baseline {_event_when(e)}: {e.what}", style="dim"))
    if digest.quiet_watchlists:
        console.print(Text("Nothing new on: " + ", ".join(t for _, t in digest.quiet_watchlists), style="dim"))


class terminal_progress:
    """Context manager yielding ``progress(label) -> callback(done, total)``; draws a rich
    progress bar on stderr only when stderr is a terminal (logs and pipes stay clean)."""

    def __init__(self, stream: Any = None) -> None:
        import sys

        self.stream = stream if stream is not None else sys.stderr
        self._progress: Any = None

    def __enter__(self) -> Callable[[str], Callable[[int, int], None] | None]:
        if hasattr(self.stream, "isatty") and self.stream.isatty():
            from rich.console import Console
            from rich.progress import Progress

            self._progress = Progress(console=Console(file=self.stream), transient=True)
            self._progress.start()

        def make(label: str) -> Callable[[int, int], None] | None:
            if self._progress is None:
                return None
            task = self._progress.add_task(label, total=None)

            def update(done: int, total: int) -> None:
                self._progress.update(task, completed=done, total=total)
            return update
        return make

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


# ---------------------------------------------------------------------------------------------
# Telegram
# ---------------------------------------------------------------------------------------------


def _t(text: str) -> str:
    return html.escape(text, quote=False)


def _tlink(text_html: str, url: str | None) -> str:
    safe = safe_url(url)
    return f'<a href="{html.escape(safe, quote=True)}">{text_html}</a>' if safe else text_html


def digest_blocks(digest: Digest) -> list[str]:
    """Telegram HTML blocks: header, then one block per story (a watchlist's heading travels
    with its first story), then each watchlist's counts and baseline. Each is well-formed."""
    feed_lines = _feeds_lines(digest)
    head = [f"📰 <b>Digest</b> {_t(_period(digest))}", _t(feed_lines[0])]
    head += [_t(cut(x.strip(), 300)) for x in feed_lines[1:11]]
    if len(feed_lines) > 11:
        head.append(_t(f"…and {len(feed_lines) - 11} more feeds with problems (see `watchbot status`)"))
    head.append(_t(_totals_line(digest)))
    if not digest.stories:
        head.append(f"<b>{_t(_empty_line(digest))}</b>")
    blocks = ["\n".join(head) + "\n"]
    for section in digest.watchlists:
        heading = f"<b>▌{_t(section.title)}</b>"
        if not section.stories:
            blocks.append(f"{heading}\nno new developments")
        for i, story in enumerate(section.stories):
            lines = [f"• <b>{_tlink(_t(cut(story.title, _TITLE_MAX)), story.link)}</b>",
                     _t(_meta_line(story))]
            if story.excerpt:
                lines.append(f"<i>{_t(story.excerpt)}</i>")
            blocks.append((heading + "\n" if i == 0 else "") + "\n".join(lines))
        tail = [_t(_counts_line(section))]
        if section.baseline:
            tail.append("<i>Baseline, most recent:</i>")
            tail += [_t(f"– {_event_when(e)}: {e.what}") for e in section.baseline]
        blocks.append("\n".join(tail) + "\n")
    if digest.quiet_watchlists:
        blocks.append(_t("Nothing new on: " + ", ".join(t for _, t in digest.quiet_watchlists)))
    return blocks


def digest_messages(digest: Digest, limit: int = TEXT_LIMIT) -> list[tuple[str, str]]:
    """(html, plain) messages, each <= ``limit`` UTF-16 units after entity parsing (Bot API
    sendMessage: 1-4096), split between stories and never inside a tag (``fit_html``)."""
    return [(m, html_to_plain(m)) for m in fit_html(digest_blocks(digest), limit)]


def chart_caption(digest: Digest) -> str:
    """Telegram HTML caption for the chart photo, within the 1024-unit caption limit."""
    caption = (f"<b>Digest</b> {_t(_period(digest))}: {digest.stories} new developments on "
               f"{sum(1 for w in digest.watchlists if w.stories)} watchlists")
    return caption if visible_length(caption) <= CAPTION_LIMIT else f"<b>Digest</b> {_t(_when(digest.until))}"


async def post_digest(digest: Digest, channel: Any, *, chart: Path | str | None = None,
                      progress: Callable[[int, int], None] | None = None) -> list[SendOutcome]:
    """Send the digest (and the chart photo first, if given) to ``channel``.

    Stops at the first outcome that is not "sent" (the rest would most likely fail the same
    way, and a half-posted digest is better than the tail without its head); returns every
    outcome so the caller can report it.
    """
    outcomes: list[SendOutcome] = []
    messages = digest_messages(digest)
    total = len(messages) + (1 if chart else 0)
    if chart:
        outcome = await channel.send_photo(str(chart), chart_caption(digest))
        outcomes.append(outcome)
        if progress:
            progress(1, total)
        if outcome.status != "sent":
            return outcomes
    for html_text, plain in messages:
        outcome = await channel.send_html(html_text, plain)
        outcomes.append(outcome)
        if progress:
            progress(len(outcomes), total)
        if outcome.status != "sent":
            break
    return outcomes


# ---------------------------------------------------------------------------------------------
# The daemon's scheduled job
# ---------------------------------------------------------------------------------------------


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


def _ids(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"[,\s]+", text or "") if p.strip()]


async def post_scheduled_digest(settings: Any, store: Store, channel: Any, now: datetime, *,
                                titles: Mapping[str, str] | None = None,
                                timeline: Timeline | None = None) -> list[SendOutcome]:
    """Build the digest of WATCHBOT_DIGEST_SINCE back from ``now`` for WATCHBOT_DIGEST_WATCHLISTS
    (empty: all) in WATCHBOT_DIGEST_TIMEZONE and post it; failures are logged, never raised.

    ``titles`` and ``timeline``: the rules the daemon is running (its last good set, even while
    an edit on disk is broken); without them they are read from WATCHBOT_WATCHLISTS."""
    tz = ZoneInfo(settings.watchbot_digest_timezone or "UTC")
    try:
        since = parse_since(settings.watchbot_digest_since or "24h", now, tz)
    except ValueError as exc:
        log.error("scheduled digest: WATCHBOT_DIGEST_SINCE: %s", exc)
        return []
    if titles is None:
        titles, timeline = digest_context(settings.watchbot_watchlists)
    digest = build_digest(store, since=since, until=now, watchlists=_ids(settings.watchbot_digest_watchlists),
                          timeline=timeline, watchlist_titles=titles, tz=tz)
    outcomes = await post_digest(digest, channel)
    bad = [o for o in outcomes if o.status != "sent"]
    if bad:
        log.warning("scheduled digest: %d of %d messages not sent: %s", len(bad), len(outcomes), bad[0].error)
    else:
        log.info("scheduled digest posted: %d stories in %d messages", digest.stories, len(outcomes))
    return outcomes


__all__ = ["Digest", "DigestStory", "DigestEvent", "WatchlistDigest", "FeedNote", "build_digest",
           "parse_since", "parse_until", "render_text", "render_markdown", "render_html",
           "render_json", "digest_dict", "digest_blocks", "digest_messages", "chart_caption",
           "post_digest", "post_scheduled_digest", "digest_context", "RENDERERS", "print_rich",
           "terminal_progress"]
