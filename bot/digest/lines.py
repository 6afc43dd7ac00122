"""The sentences every digest format shares (period, feed notes, totals, a story's meta line),
so that text, Markdown, HTML, the terminal and the channels say the same thing in their markup."""

from __future__ import annotations

from datetime import datetime

from bot.digest.building import Digest, DigestEvent, DigestStory, WatchlistDigest

TITLE_MAX = 300  # a story title is cut to this many characters in every format


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def zone_label(digest: Digest) -> str:
    offset = digest.since.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}" if offset else ""
    return f"{digest.tz}, UTC{offset}" if digest.tz != "UTC" else "UTC"


def period(digest: Digest) -> str:
    return f"{when(digest.since)} – {when(digest.until)} ({zone_label(digest)})"


def sources_phrase(story: DigestStory) -> str:
    n = story.sources
    langs = f" ({', '.join(story.languages)})" if story.languages else ""
    return f"{n} source{'s' if n != 1 else ''}{langs}"


def meta_line(story: DigestStory) -> str:
    """'2025-10-20 08:15 · Outlet · 3 sources (en, ru)': the line under a story's title."""
    return f"{when(story.first_seen)} · {story.outlet or '-'} · {sources_phrase(story)}"


def event_when(event: DigestEvent) -> str:
    return event.start.isoformat() if event.start == event.end else f"{event.start}..{event.end}"


def counts_line(section: WatchlistDigest) -> str:
    parts = [f"{section.known} restatement{'s' if section.known != 1 else ''} of known events (known)"]
    if section.earlier_updates:
        parts.append(f"{section.earlier_updates} new source{'s' if section.earlier_updates != 1 else ''} "
                     "for earlier stories")
    return "; ".join(parts)


def feeds_lines(digest: Digest) -> list[str]:
    lines = [f"Feeds: {digest.feeds_polled} of {digest.feeds_total} polled in the period; "
             f"{len(digest.failing)} failing, {len(digest.quiet)} quiet."]
    for note in digest.failing:
        errors = note.consecutive_errors
        state = "paused" if note.paused else f"{errors} error{'s' if errors != 1 else ''} in a row"
        lines.append(f"  failing: {note.title} ({state}): {note.problem}")
    for note in digest.quiet:
        lines.append(f"  quiet: {note.title}: {note.problem}")
    return lines


def totals_line(digest: Digest) -> str:
    t = digest.totals
    def n(count: int, word: str) -> str:
        return f"{count} {word}{'s' if count != 1 else ''}"
    return (f"All watchlists: {n(t['items'], 'item')} first seen — {n(t['stories'], 'new development')}, "
            f"{n(t['updates'], 'update')}, {t['known']} known, {t['ignored']} matched no watchlist "
            f"(ignored), {t['seeded']} seeded.")


def empty_line(digest: Digest) -> str:
    return f"No new developments between {when(digest.since)} and {when(digest.until)}."


__all__ = ["TITLE_MAX", "when", "zone_label", "period", "sources_phrase", "meta_line", "event_when",
           "counts_line", "feeds_lines", "totals_line", "empty_line"]
