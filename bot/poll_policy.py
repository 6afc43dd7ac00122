"""Poll policy: what one poll of a feed means for its stored state, decided without I/O.

A pure decider (no store, no network, no clock, no logging: ``now`` and the feed's stored
state come in, typed values go out), so every rule below is tested from plain inputs
(tests/test_poll_policy.py) and the pipeline only carries the outcome out:

- ``PollPolicy.decide`` turns a fetch result (and its parse, if any) into a ``PollDecision``:
  the ``PollPlan`` for the store, the log lines to write, and whether items are to be admitted.
  It owns the back-off after errors (first retry soon, then doubling), a server's Retry-After,
  the RSS ``<ttl>`` floor, the 410 pause and the per-feed interval clamp.
- ``PollPolicy.admit`` takes the parsed items the store has never seen and says which are
  recorded silently (first sight of a feed, beyond its backfill) and which go on to matching,
  with implausible dates replaced by the first-seen time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Literal, Sequence

from bot.limits import server_seconds
from bot.models import Feed, FetchResult, Item, ParsedFeed, PollPlan

if TYPE_CHECKING:  # only the type: the decider never touches the store
    from bot.config import Settings
    from bot.storage import FeedState

FIRST_RETRY = 60  # seconds after a feed's first failure; doubled after each further one
# The longest interval between two polls of a feed, whatever the feed list or settings say.
MAX_INTERVAL = 30 * 24 * 3600
GONE_REASON = ("HTTP 410 Gone: the publisher removed this feed; polling stopped (remove it from "
               "the feed list)")

# A publication date this far before the feed's own first sight is not evidence that the item
# is old: CMSs write epoch 0 (1970-01-01) or a template's default year for "no date", and novelty
# would call such an item "known" because it looks older than the baseline (issue 13, class 12).
# An archive item that really is years old is not news to alert on either way.
IMPLAUSIBLE_BEFORE = datetime(1990, 1, 1, tzinfo=timezone.utc)
FIRST_SIGHT_SLACK = timedelta(days=2 * 365)


@dataclass(frozen=True)
class Notice:
    """A line for the log; with ``event``, also one for the store's event log (status, digest)."""

    level: Literal["info", "warning", "error"]
    message: str
    event: bool = False


@dataclass(frozen=True)
class PollDecision:
    """``plan``: what to record for this poll. ``items``: the parsed items, when there are
    any to admit (None: nothing was parsed, or the poll failed); the plan is then completed by
    ``PollPolicy.admit`` and recorded after them, in the same transaction."""

    plan: PollPlan
    notices: tuple[Notice, ...] = ()
    items: tuple[Item, ...] | None = None


@dataclass(frozen=True)
class Admission:
    """What becomes of a response's never-seen items: ``seed`` is recorded as seen without a
    decision (first sight beyond the backfill), ``process`` is matched and decided in
    publication order; ``plan`` is the poll's plan with their count and warnings."""

    seed: tuple[Item, ...]
    process: tuple[Item, ...]
    plan: PollPlan
    notices: tuple[Notice, ...] = ()


@dataclass(frozen=True)
class PollPolicy:
    """The settings the decisions depend on (seconds; backfill in items)."""

    interval: int  # WATCHBOT_INTERVAL: between polls of a feed that sets none
    max_backoff: int  # WATCHBOT_MAX_BACKOFF: the longest wait after repeated errors
    backfill: int = 0  # WATCHBOT_BACKFILL: on first sight, the newest N items may alert

    @classmethod
    def from_settings(cls, settings: Settings) -> "PollPolicy":
        return cls(interval=settings.watchbot_interval, max_backoff=settings.watchbot_max_backoff,
                   backfill=settings.watchbot_backfill)

    def interval_of(self, feed: Feed) -> float:
        """Seconds between polls of ``feed``: its own interval, else the global one.

        Clamped like a server's number: an OPML outline's interval="99999999999999" (a feed
        reader's export, a typo) must not overflow a timedelta for the whole cycle."""
        return server_seconds(feed.interval or self.interval, ceiling=MAX_INTERVAL) or self.interval

    def decide(self, feed: Feed, state: FeedState, result: FetchResult, parsed: ParsedFeed | None,
               now: datetime) -> PollDecision:
        """The plan for one poll of ``feed`` whose stored state was ``state``; ``parsed`` is
        the parse of ``result``'s body (None when it was not parsed: 304, the same body again,
        or no body)."""
        notices: list[Notice] = []
        if result.permanent_url:
            notices.append(Notice("info", f"{feed.url} moved permanently to {result.permanent_url}"))
        if parsed is not None and parsed.internal_error:
            notices.append(Notice("error", f"{feed.url}: the parser failed on this feed (a bug in "
                                           f"watchbot, not the feed's fault): {parsed.internal_error}"))

        if result.gone:
            notices.append(Notice("warning", f"{feed.url}: {GONE_REASON}", event=True))
            return PollDecision(PollPlan(now, result.status, next_check=now, success=False,
                                         error=GONE_REASON, paused_reason=GONE_REASON,
                                         current_url=result.permanent_url), tuple(notices))

        interval = self.interval_of(feed)
        failure = result.error
        if result.ok and parsed is not None and parsed.error and not parsed.items:
            failure = f"not a usable feed: {parsed.error}"
        elif not result.ok and not result.not_modified:
            failure = failure or f"HTTP {result.status}"
        if failure:
            errors = state.consecutive_errors + 1
            # The first retry comes soon (a network blip at boot must not stall every feed for
            # two intervals), then the wait doubles up to WATCHBOT_MAX_BACKOFF; a server's
            # Retry-After can only make it longer.
            backoff = min(self.max_backoff, min(FIRST_RETRY, interval) * 2 ** min(errors - 1, 16))
            wait = max(backoff, server_seconds(result.retry_after) or 0)
            notices.append(Notice("warning", f"{feed.url}: {failure} (error {errors} in a row, "
                                             f"next try in {int(wait)}s)"))
            return PollDecision(PollPlan(now, result.status, next_check=now + timedelta(seconds=wait),
                                         success=False, error=failure,
                                         current_url=result.permanent_url), tuple(notices))

        ttl_minutes = parsed.ttl_minutes if parsed and parsed.ttl_minutes else state.ttl_minutes or 0
        next_check = now + timedelta(seconds=max(interval, ttl_minutes * 60))  # RSS <ttl> is a floor
        if parsed is None:  # 304, or the same body again
            return PollDecision(PollPlan(now, result.status, next_check=next_check,
                                         validators=result.validators,
                                         current_url=result.permanent_url), tuple(notices))

        if parsed.warning and parsed.warning != state.last_warning:
            # Once per change, not every poll: the feed was read, but something was repaired.
            notices.append(Notice("warning", f"{feed.url}: {parsed.warning}", event=True))
        plan = PollPlan(now, result.status, next_check=next_check, validators=result.validators,
                        current_url=result.permanent_url, body_hash=result.body_hash,
                        title=parsed.title or None, ttl_minutes=parsed.ttl_minutes,
                        warning=parsed.warning, seeded=True,
                        # First sight counts every item of the body, seeded or not.
                        new_items=0 if state.seeded else len(parsed.items))
        return PollDecision(plan, tuple(notices), items=parsed.items)

    def admit(self, decision: PollDecision, fresh: Sequence[Item], *, feed: Feed,
              state: FeedState, now: datetime) -> Admission:
        """Which of ``fresh`` (the decision's items the store has never seen) are seeded and
        which processed, and the decision's plan completed with them."""
        fresh, redated = credible_dates(fresh, state.first_seen or now, now)
        notices: list[Notice] = []
        warning = decision.plan.warning
        if redated:
            note = (f"{redated} new item(s) dated before 1990 or years before this feed was "
                    "first seen: their first-seen time is used as their date")
            warning = f"{warning}; {note}" if warning else note
            notices.append(Notice("warning", f"{feed.url}: {note}", event=True))
        seed: list[Item] = []
        if not state.seeded:
            # First sight: what a feed already holds is not news, except its newest `backfill`.
            backfill = feed.backfill if feed.backfill is not None else self.backfill
            newest = sorted(fresh, key=publication_order, reverse=True)
            let_through = newest[:backfill] if backfill else []
            seed = newest[len(let_through):]
            fresh = let_through
        process = tuple(sorted(fresh, key=publication_order))
        # First sight already counted every item of the body (the let-through ones among
        # them); adding them again showed a one-item feed as "2 items, 2 new" in `status`.
        plan = replace(decision.plan, warning=warning,
                       new_items=len(process) if state.seeded else decision.plan.new_items)
        return Admission(tuple(seed), process, plan, tuple(notices))


def credible_dates(items: Sequence[Item], feed_first_seen: datetime,
                   now: datetime) -> tuple[list[Item], int]:
    """New items with implausible dates re-dated to ``now`` (their first-seen time); and how many.

    Implausible: before 1990, or more than two years before the feed was first seen."""
    floor = max(IMPLAUSIBLE_BEFORE, feed_first_seen - FIRST_SIGHT_SLACK)
    out, redated = [], 0
    for item in items:
        if item.published is not None and item.published < floor:
            item = replace(item, published=now)
            redated += 1
        out.append(item)
    return out, redated


def publication_order(item: Item) -> tuple:
    """Sort key: oldest first; items without a date after dated ones (a stable sort keeps
    their feed order among themselves)."""
    return (item.published is None, item.published or datetime.min.replace(tzinfo=timezone.utc))


def jittered(when: datetime, jitter: int, rng: random.Random | None = None) -> datetime:
    """``when`` moved up to ``jitter`` seconds later, so feeds of one host spread out."""
    return when + timedelta(seconds=(rng or random).uniform(0, jitter)) if jitter else when
