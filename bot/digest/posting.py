"""Posting a digest to a channel: on demand (`watchbot digest --post`) and as the daemon's
scheduled job."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

from bot.digest.building import Digest, build_digest, digest_context
from bot.digest.periods import parse_since
from bot.models import SendOutcome
from bot.storage import Store
from bot.timeline import Timeline

log = logging.getLogger("bot.digest")


async def post_digest(digest: Digest, channel: Any, *, chart: Path | str | None = None,
                      progress: Callable[[int, int], None] | None = None) -> list[SendOutcome]:
    """Post the digest (and the chart photo first, if given) through ``channel``, which renders
    it in its own markup (``Channel.post_digest``). Stops at the first message not sent;
    returns every outcome so the caller can report it."""
    return await channel.post_digest(digest, chart=chart, progress=progress)


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


__all__ = ["post_digest", "post_scheduled_digest"]
