"""Digest formats for people and programs: plain text, Markdown, a standalone HTML page, JSON
(its shape is in the package docstring) and a rich terminal view. A channel's messages are the
channel's own (bot/channels/). A new format: one ``render_x(digest) -> str`` here and an entry in
``RENDERERS`` (the CLI's ``--format`` choices come from it)."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from typing import Any, Callable

from bot.text import cut, safe_url
from bot.digest.building import Digest
from bot.digest.lines import (TITLE_MAX, counts_line, empty_line, event_when, feeds_lines, meta_line,
                              period, sources_phrase, totals_line, when)


def render_text(digest: Digest) -> str:
    """Plain text for a terminal or a pipe (no colour, no markup)."""
    out = [f"Digest {period(digest)}", *feeds_lines(digest), totals_line(digest), ""]
    if not digest.stories:
        out += [empty_line(digest), ""]
    for section in digest.watchlists:
        out.append(f"== {section.title} [{section.id}] ==")
        if not section.stories:
            out.append("  no new developments")
        for story in section.stories:
            out.append(f"  * {cut(story.title, TITLE_MAX)}")
            out.append(f"    {meta_line(story)}")
            if story.link:
                out.append(f"    {story.link}")
            if story.excerpt:
                out.append(f"    {story.excerpt}")
        out.append(f"  {counts_line(section)}")
        if section.baseline:
            out.append("  Baseline (most recent):")
            out += [f"    - {event_when(e)} {e.what}" for e in section.baseline]
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
    out = [f"# Digest {_md(period(digest))}", ""]
    out += [_md(line.strip()) if i == 0 else f"- {_md(line.strip())}" for i, line in enumerate(feeds_lines(digest))]
    out += ["", _md(totals_line(digest)), ""]
    if not digest.stories:
        out += [f"**{_md(empty_line(digest))}**", ""]
    for section in digest.watchlists:
        out += [f"## {_md(section.title)} (`{section.id}`)", ""]
        if not section.stories:
            out += ["No new developments.", ""]
        for story in section.stories:
            title = _md(cut(story.title, TITLE_MAX))
            url = safe_url(story.link)
            head = f"[{title}](<{url}>)" if url else title
            out.append(f"- **{head}**  ")
            meta = meta_line(story)
            out.append(f"  {_md(meta)}" + ("  " if story.excerpt else ""))
            if story.excerpt:
                out.append(f"  _{_md(story.excerpt)}_")
        if section.stories:
            out.append("")
        out += [_md(counts_line(section)), ""]
        if section.baseline:
            out.append("Baseline, most recent:")
            out.append("")
            out += [f"- {_md(event_when(e))}: {_md(e.what)}" for e in section.baseline]
            out.append("")
    if digest.quiet_watchlists:
        out.append("Nothing new on: " + ", ".join(_md(t) for _, t in digest.quiet_watchlists))
    return "\n".join(out).rstrip() + "\n"


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def render_html(digest: Digest) -> str:
    """A standalone UTF-8 HTML page (inline style, no scripts); feed text is escaped."""
    body = [f"<h1>Digest {_e(period(digest))}</h1>"]
    feed_lines = feeds_lines(digest)
    body.append(f"<p>{_e(feed_lines[0])}</p>")
    if feed_lines[1:]:
        body.append("<ul>" + "".join(f"<li>{_e(x.strip())}</li>" for x in feed_lines[1:]) + "</ul>")
    body.append(f"<p>{_e(totals_line(digest))}</p>")
    if not digest.stories:
        body.append(f"<p><strong>{_e(empty_line(digest))}</strong></p>")
    for section in digest.watchlists:
        body.append(f"<h2>{_e(section.title)} <small>({_e(section.id)})</small></h2>")
        if section.stories:
            body.append("<ul>")
            for story in section.stories:
                title = _e(cut(story.title, TITLE_MAX))
                url = safe_url(story.link)
                head = f'<a href="{_e(url)}">{title}</a>' if url else title
                meta = meta_line(story)
                excerpt = f"<br><em>{_e(story.excerpt)}</em>" if story.excerpt else ""
                body.append(f"<li><strong>{head}</strong><br>{_e(meta)}{excerpt}</li>")
            body.append("</ul>")
        else:
            body.append("<p>No new developments.</p>")
        body.append(f"<p>{_e(counts_line(section))}</p>")
        if section.baseline:
            body.append("<p>Baseline, most recent:</p><ul>" + "".join(
                f"<li>{_e(event_when(e))}: {_e(e.what)}</li>" for e in section.baseline) + "</ul>")
    if digest.quiet_watchlists:
        body.append("<p>Nothing new on: " + _e(", ".join(t for _, t in digest.quiet_watchlists)) + "</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e('watchbot digest ' + period(digest))}</title>"
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


def print_rich(digest: Digest, console: Any) -> None:
    """The text digest with colour and one table per watchlist, for an interactive terminal."""
    from rich.table import Table
    from rich.text import Text

    console.print(Text(f"Digest {period(digest)}", style="bold"))
    for i, line in enumerate(feeds_lines(digest)):
        style = "" if i == 0 else ("red" if "failing:" in line else "yellow")
        console.print(Text(line, style=style))
    console.print(Text(totals_line(digest)))
    if not digest.stories:
        console.print(Text(empty_line(digest), style="bold"))
    for section in digest.watchlists:
        table = Table(title=f"{section.title} [{section.id}]", title_justify="left", expand=True,
                      show_lines=True)
        table.add_column("first seen", no_wrap=True)
        table.add_column("development", ratio=3)
        table.add_column("sources", ratio=1)
        for story in section.stories:
            url = safe_url(story.link)
            cell = Text(cut(story.title, TITLE_MAX), style=f"bold link {url}" if url else "bold")
            if story.excerpt:
                cell.append("\n" + story.excerpt, style="dim")
            table.add_row(when(story.first_seen), cell,
                          f"{sources_phrase(story)}\n{', '.join(story.outlets)}")
        if section.stories:
            console.print(table)
        else:
            console.print(Text(f"{section.title} [{section.id}]: no new developments", style="italic"))
        console.print(Text("  " + counts_line(section), style="cyan"))
        for e in section.baseline:
            console.print(Text(f"  baseline {event_when(e)}: {e.what}", style="dim"))
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


__all__ = ["render_text", "render_markdown", "render_html", "render_json", "digest_dict", "RENDERERS",
           "print_rich", "terminal_progress"]
