"""The digest: what happened on each watchlist over a period, from the state folder.

The package's rooms: ``periods`` (reading --since/--until), ``building`` (the store's rows
become a ``Digest``, pure data), ``lines`` (sentences all formats share), ``formats`` (text,
Markdown, HTML, JSON, rich terminal), ``posting`` (to a channel, on demand or scheduled: the
channel renders the digest in its own markup, see ``bot.channels``). Everything public is
re-exported here.

Not a stage: it only reads the store (built by ``run`` or ``replay --state``) and the baseline
timeline, and renders. ``build_digest`` returns pure data (``Digest``); the renderers turn it into
plain text, Markdown, a standalone HTML page or JSON; a channel renders its own messages.

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

from bot.digest.building import (QUIET_AFTER, RECENT_EVENTS, Digest, DigestEvent, DigestStory, FeedNote,
                                 WatchlistDigest, build_digest, digest_context)
from bot.digest.formats import (RENDERERS, digest_dict, print_rich, render_html, render_json,
                                render_markdown, render_text, terminal_progress)
from bot.digest.periods import parse_since, parse_until
from bot.digest.posting import post_digest, post_scheduled_digest

__all__ = ["Digest", "DigestStory", "DigestEvent", "WatchlistDigest", "FeedNote", "build_digest",
           "parse_since", "parse_until", "render_text", "render_markdown", "render_html",
           "render_json", "digest_dict", "post_digest", "post_scheduled_digest", "digest_context",
           "RENDERERS", "print_rich", "terminal_progress", "RECENT_EVENTS", "QUIET_AFTER"]
