"""The digest as Telegram HTML messages (and the chart photo's caption), and how a channel posts
them: the digest package builds a ``Digest`` (pure data) and hands it to the channel
(``Channel.post_digest``), which renders it here."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from bot.channels.telegram_html import (CAPTION_LIMIT, TEXT_LIMIT, esc, fit_html, html_link, html_to_plain,
                                        visible_length)
from bot.digest.building import Digest
from bot.digest.lines import (TITLE_MAX, counts_line, empty_line, event_when, feeds_lines, meta_line,
                              period, totals_line, when)
from bot.models import SendOutcome
from bot.text import cut


def digest_blocks(digest: Digest) -> list[str]:
    """Telegram HTML blocks: header, then one block per story (a watchlist's heading travels
    with its first story), then each watchlist's counts and baseline. Each is well-formed."""
    feed_lines = feeds_lines(digest)
    head = [f"📰 <b>Digest</b> {esc(period(digest))}", esc(feed_lines[0])]
    head += [esc(cut(x.strip(), 300)) for x in feed_lines[1:11]]
    if len(feed_lines) > 11:
        head.append(esc(f"…and {len(feed_lines) - 11} more feeds with problems (see `watchbot status`)"))
    head.append(esc(totals_line(digest)))
    if not digest.stories:
        head.append(f"<b>{esc(empty_line(digest))}</b>")
    blocks = ["\n".join(head) + "\n"]
    for section in digest.watchlists:
        heading = f"<b>▌{esc(section.title)}</b>"
        if not section.stories:
            blocks.append(f"{heading}\nno new developments")
        for i, story in enumerate(section.stories):
            lines = [f"• <b>{html_link(esc(cut(story.title, TITLE_MAX)), story.link)}</b>",
                     esc(meta_line(story))]
            if story.excerpt:
                lines.append(f"<i>{esc(story.excerpt)}</i>")
            blocks.append((heading + "\n" if i == 0 else "") + "\n".join(lines))
        tail = [esc(counts_line(section))]
        if section.baseline:
            tail.append("<i>Baseline, most recent:</i>")
            tail += [esc(f"– {event_when(e)}: {e.what}") for e in section.baseline]
        blocks.append("\n".join(tail) + "\n")
    if digest.quiet_watchlists:
        blocks.append(esc("Nothing new on: " + ", ".join(t for _, t in digest.quiet_watchlists)))
    return blocks


def digest_messages(digest: Digest, limit: int = TEXT_LIMIT) -> list[tuple[str, str]]:
    """(html, plain) messages, each <= ``limit`` UTF-16 units after entity parsing (Bot API
    sendMessage: 1-4096), split between stories and never inside a tag (``fit_html``)."""
    return [(m, html_to_plain(m)) for m in fit_html(digest_blocks(digest), limit)]


def chart_caption(digest: Digest) -> str:
    """Telegram HTML caption for the chart photo, within the 1024-unit caption limit."""
    caption = (f"<b>Digest</b> {esc(period(digest))}: {digest.stories} new developments on "
               f"{sum(1 for w in digest.watchlists if w.stories)} watchlists")
    return caption if visible_length(caption) <= CAPTION_LIMIT else f"<b>Digest</b> {esc(when(digest.until))}"


async def send_digest(channel: Any, digest: Digest, *, chart: Path | str | None = None,
                      progress: Callable[[int, int], None] | None = None) -> list[SendOutcome]:
    """Send the digest (and the chart photo first, if given) through ``channel``'s
    ``send_photo``/``send_html``, as Telegram messages.

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


__all__ = ["digest_blocks", "digest_messages", "chart_caption", "send_digest"]
