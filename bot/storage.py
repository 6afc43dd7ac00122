"""The store boundary: what every part of watchbot may ask of its state, whatever the backend.

``Store`` (the protocol below) lists every call the rest of the code makes on the state; no
module outside a backend runs SQL or touches a connection. Backends: ``bot.store.Store``
(SQLite, the embedded default: one file in WATCHBOT_STATE) and ``bot.store_pg.PgStore``
(PostgreSQL, WATCHBOT_DATABASE_URL). ``open_store(settings)`` is the one
place that builds a store; a new backend is one more module plus one branch there.

Rows cross the boundary as frozen dataclasses (below, and ``bot.models``), never as driver
rows, so a caller cannot depend on a backend's row type. All datetimes are timezone-aware UTC;
a backend stores them with one-second precision, and every period bound a caller passes is
compared at that precision (``since`` 10:00:00.7 includes a row first seen at 10:00:00).

Contracts every backend keeps (tests/test_store*.py check both, through the ``backend`` fixture):
- identity novelty: ``unseen`` says an item is new only if none of its identities (see
  ``bot.store.identities``) was ever recorded, tombstones of pruned items included;
- atomicity: the writes inside one ``transaction()`` commit together or not at all; an item and
  the outbox rows it sends commit together;
- the outbox: a row is marked 'sending' durably before its request goes out, so an interrupted
  send becomes 'maybe_sent' (``recover_interrupted_sends``), never a second post; one worker
  at a time sends to a channel (``sender_lock``);
- stories: the store owns them; the novelty engine's index is a cache of them, refreshed only
  through ``story_changes`` (see there);
- several workers on one database (issue 12): a feed is polled by the worker that leased it
  (``claim_due_feeds``), and decisions are taken under ``lock_novelty``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Hashable, Iterable, Protocol, Sequence, runtime_checkable

from bot.models import Alert, Decision, Feed, Item, Match, PollPlan, SendOutcome, Story, StoryMessage, Validators

if TYPE_CHECKING:
    from bot.config import Settings


class StateLockedError(RuntimeError):
    """Another watchbot process owns this state."""


class StateGoneError(RuntimeError):
    """The state database was deleted or replaced under a running watchbot.

    SQLite keeps writing to the open (deleted) file, the lock file went with the folder, and a
    second watchbot could start on the same path and post the same alerts again; the only safe
    move is to stop (issue 13, class 7).
    """


# ---------------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedState:
    """What the store remembers about one feed (one row of `watchbot status`)."""

    url: str
    current_url: str
    title: str
    validators: Validators
    body_hash: str | None
    last_fetch: datetime | None
    last_success: datetime | None
    last_status: int | None
    last_error: str | None
    consecutive_errors: int
    next_check: datetime | None
    paused_reason: str | None
    ttl_minutes: int | None
    items_total: int
    last_new: int
    seeded: bool
    last_warning: str | None = None
    first_seen: datetime | None = None


@dataclass(frozen=True)
class LoggedEvent:
    """One operational event (``log_event``): a paused feed, a refused channel, a reload."""

    id: int
    at: datetime
    level: str
    message: str


@dataclass(frozen=True)
class PeriodItem:
    """One item first seen in a period, as the digest counts it: its decision, the watchlists it
    matched (in match order, each once) and the story it started or was folded into."""

    decision: str
    watchlists: tuple[str, ...]
    story_id: int | None


@dataclass(frozen=True)
class StoryRow:
    """A story's own row, without its sources (``summary``: its first report's summary, None
    when that item was pruned)."""

    id: int
    watchlist: str
    item_key: str
    title: str
    link: str | None
    outlet: str | None
    published: datetime | None
    first_seen: datetime
    summary: str | None


@dataclass(frozen=True)
class SourceRow:
    """One report recorded under a story (the alert's own item or a folded update)."""

    story_id: int
    outlet: str | None
    language: str | None


@dataclass(frozen=True)
class StoryUpdate:
    """An update folded into story ``story_id``: the recorded item, as it was decided."""

    story_id: int
    item: Item


@dataclass(frozen=True)
class StoryChanges:
    """What changed in the stories since a mark (see ``Store.story_changes``).

    ``reset``: the mark was None or no longer valid (a rollback since, another generation);
    ``stories`` is then every story of the window and the index must be rebuilt from it alone.
    Otherwise ``stories`` were created since the mark (with their sources so far) and
    ``updates`` were folded into stories that existed at the mark, oldest first. ``mark``: pass
    it to the next call.
    """

    mark: Hashable
    reset: bool
    stories: tuple[Story, ...]
    updates: tuple[StoryUpdate, ...]


# ---------------------------------------------------------------------------------------------
# The protocol
# ---------------------------------------------------------------------------------------------


@runtime_checkable
class Store(Protocol):
    """Every call the rest of watchbot makes on its state (see the module docstring)."""

    # -------------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Release the connection(s); the store is unusable afterwards."""

    def verify_on_disk(self) -> None:
        """Raise ``StateGoneError`` if the state this store opened was deleted or
        replaced under it (another instance could start on the same place). Cheap: called
        before every message sent. A server backend does nothing."""

    # -------------------------------------------------------------- meta
    def get_meta(self, key: str) -> str | None:
        """A small piece of state kept across restarts (None: never set)."""

    def set_meta(self, key: str, value: str | None) -> None:
        """Store (None: remove) ``key`` durably (committed on return, even inside ``batch``)."""

    # -------------------------------------------------------------- transactions
    def transaction(self, *, durable: bool = False) -> AbstractContextManager[None]:
        """One atomic unit; nested uses join the outer one. An exception rolls it back and
        propagates. Inside ``batch()`` the commit may come later (still all-or-nothing);
        ``durable=True``: committed when the block ends, batch or not."""

    def batch(self) -> AbstractContextManager[None]:
        """Coalesce the commits of the transactions inside (a polling cycle); whatever was done
        is committed when the block ends, even on an error. Nested uses join."""

    # -------------------------------------------------------------- feeds
    def sync_feeds(self, feeds: Sequence[Feed]) -> None:
        """Give every configured feed a row (rows of removed feeds stay, for their history)."""

    def feed_state(self, url: str) -> FeedState:
        """The row of feed ``url``; KeyError if it has none (``sync_feeds`` first)."""

    def feed_states(self) -> list[FeedState]:
        """Every feed row, by URL."""

    def record_poll(self, url: str, plan: PollPlan, owner: str | None = None) -> None:
        """Apply one poll's plan to the feed's row (``bot.models.PollPlan`` says what each
        field does) and end the poll's lease: ``owner``'s own only (a lease another worker took
        after ours ran out stays theirs, and the due time that worker's poll set is not moved
        earlier), or whoever's when ``owner`` is None. Validators are
        stored only here, after the response's items were recorded, so a crash in between
        re-fetches instead of skipping them."""

    def claim_due_feeds(self, urls: Sequence[str], owner: str, now: datetime, lease: timedelta,
                        limit: int | None = None) -> list[str]:
        """Lease up to ``limit`` (None: all) of the feeds ``urls`` that are due for ``owner``
        (one worker), and return them, most overdue first.

        Due: a row exists (``sync_feeds``), not paused, its next check is unset or at or before
        ``now``, and no other owner's lease holds it (none, one that ran out at or before
        ``now``, or ``owner``'s own: a poll of its own that ended without recording). A
        leased feed is the owner's to poll until ``now + lease``: no other worker of the same
        database gets it from this call meanwhile, even when several claim at the same
        instant, and a worker that dies loses it when the lease runs out. The claim is
        committed on return (even inside ``batch``). ``record_poll`` releases it; so does
        ``release_feeds``. Comparisons are at one-second precision with the workers' clocks,
        which must agree (NTP)."""

    def release_feeds(self, urls: Sequence[str], owner: str, next_check: datetime | None = None) -> int:
        """Give up ``owner``'s leases of ``urls`` (feeds claimed and then not polled: a stop, a
        poll that raised); with ``next_check``, the feed is also not due before then. Leases of
        other owners are untouched. Committed on return; returns how many were released."""

    def renew_leases(self, urls: Sequence[str], owner: str, now: datetime, lease: timedelta) -> int:
        """Extend ``owner``'s leases of ``urls`` (polls still running) to ``now + lease``; a
        lease another owner holds now, or none, is untouched. Committed on return; returns how
        many were renewed."""

    def recover_leases(self) -> int:
        """At the start of the process that polls: release the leases a stopped process left
        where no other can be alive, returning how many. SQLite: all of them (one process owns a
        state folder, and the caller holds its lock), so a restart after a crash polls at once.
        A shared database: none, since other workers may be alive; a dead one's leases run out
        by themselves."""

    def lock_novelty(self) -> None:
        """Take the database's novelty lock until the current transaction ends: other writers
        of the same database wait for it before deciding, so after taking it (and refreshing
        through ``story_changes``) this writer sees every story and update they committed, and
        two reports of one development decided at the same instant cannot both start a
        story. One lock for all watchlists, because ``story_changes`` marks are global and
        must be handed out in commit order. Take it first in a transaction that commits when
        it ends (``durable=True``), before writing anything: a writer waiting for it then
        holds no row another one waits for. Taking it again in the same transaction is harmless."""

    def last_item_times(self) -> dict[str, datetime]:
        """Feed URL -> when its newest recorded item was first seen (feeds with items only)."""

    # -------------------------------------------------------------- items
    def unseen(self, items: Iterable[Item]) -> list[Item]:
        """The items none of whose identities was ever recorded (tombstones included), in the
        given order; of two with a shared identity in one call, only the first."""

    def record_seen(self, items: Sequence[Item], now: datetime, decision: str = "seeded") -> None:
        """Record items (and all their identities) without deciding anything about them."""

    def record_item(self, item: Item, matches: Sequence[Match], decision: Decision,
                    now: datetime) -> tuple[int | None, list[int]]:
        """Record one decided item, its identities and, for an alert, a new story, in one
        transaction with what it sends: an alert's post, an update's edit of its story (which
        supersedes the story's pending edits). The rows hold no text: the channel renders
        ``story_message`` when it sends. Returns (story id, outbox row ids)."""

    def item(self, key: str) -> Item | None:
        """The recorded item with this key, None if never recorded or pruned."""

    def count_items(self) -> int:
        """How many items are recorded (tombstones not counted)."""

    def period_items(self, since: datetime, until: datetime) -> list[PeriodItem]:
        """Items first seen in [since, until), in the order they were first seen."""

    # -------------------------------------------------------------- stories
    def stories(self, since: datetime | None = None) -> list[Story]:
        """Stories first seen at or after ``since`` (all when None), oldest first, each with its
        sources in the order they were recorded."""

    def story(self, story_id: int) -> Story | None:
        """One story with its sources; None if there is none with this id (pruned)."""

    def story_changes(self, mark: Hashable | None, since: datetime) -> StoryChanges:
        """The one way the novelty index learns what the store holds.

        ``mark`` None (or a mark a rollback has since invalidated): every story first seen at
        or after ``since``, ``reset`` True. Otherwise what was created or folded since ``mark``
        (visible to this store's own open transaction too), and ``since`` is not used. Cheap
        when nothing changed (no story is read); never reads stories outside the answer.
        A backend shared by several writers must hand out marks in commit order for the
        stories it answers about (e.g. decide under a lock held until commit), or an update
        committed late behind a newer mark is never seen."""

    def period_stories(self, since: datetime, until: datetime) -> list[StoryRow]:
        """Stories first seen in [since, until), plus the earlier ones an update first seen in
        that period was folded into; by first seen, then id."""

    def period_sources(self, since: datetime, until: datetime) -> list[SourceRow]:
        """The reports of the stories first seen in [since, until) that were first seen before
        ``until``, in the order they were recorded."""

    # -------------------------------------------------------------- outbox
    def pending_alerts(self, channel: str | None = None) -> list[Alert]:
        """Unsent outbox rows in order, as ``channel`` can send them (see
        ``bot.store.Store.pending_alerts``: edits wait for their post's message id; message ids
        are kept per channel, and an edit of a story shown only in another channel comes back as
        a post)."""

    def record_outcome(self, alert: Alert, outcome: SendOutcome, now: datetime,
                       channel: str | None = None) -> None:
        """Apply what the channel said about one outbox row; a post's message id is kept with
        the ``channel`` it belongs to."""

    def mark_sending(self, alert: Alert, channel: str | None = None, *, sender: str | None = None,
                     now: datetime | None = None) -> bool:
        """Durably mark ``alert`` as going out now to ``channel`` (its identity), with the text
        it carries, claimed by ``sender`` at ``now``; only a pending row is marked. False: it
        was not pending any more (another worker took it), and the caller must not send it."""

    def story_message(self, story_id: int, *, folded: bool) -> StoryMessage | None:
        """What a channel renders for the story: its first report, what it matched and, with
        ``folded``, its other reports in the order recorded; None if gone."""

    def mark_orphaned(self, alert: Alert, reason: str) -> None:
        """Close a pending row that can never be sent."""

    def recover_interrupted_sends(self, now: datetime, channel: str | None = None) -> int:
        """Rows left 'sending' (to ``channel``; None: any) by a stopped process become
        'maybe_sent'; returns how many. Only the channel's sender calls it, on taking the lock."""

    def sender_lock(self, channel: str) -> int:
        """Try to be (or stay) the one sender of ``channel`` (its identity) among the workers of
        this state; never waits. 0: another worker is; else a number that changes each time this
        store acquires the lock anew (then what a dead sender left 'sending' is recovered, see
        ``recover_interrupted_sends``, before the first send). Only the sender drains the
        channel's outbox: in order, at the channel's pace, one request at a time."""

    def claim_once(self, key: str, owner: str, now: datetime) -> bool:
        """True for exactly one caller of ``key`` among all workers (e.g. a scheduled digest's
        fire time); False for every later one. Keys are pruned with the events."""

    def last_claim(self) -> tuple[str, datetime] | None:
        """(worker id, when) of the most recent outbox row claimed for sending: who sends now
        (or last sent); None when no row recorded its sender."""

    def outbox_counts(self) -> dict[str, int]:
        """Outbox rows per status (statuses with no row are absent)."""

    def oldest_pending(self) -> datetime | None:
        """When the oldest pending outbox row was created (None: nothing pending)."""

    def last_sent(self) -> datetime | None:
        """When the most recent row was confirmed sent (None: never)."""

    # -------------------------------------------------------------- events & retention
    def log_event(self, level: str, message: str, now: datetime) -> None:
        """Record an operational event (shown by `status`, used by `health`)."""

    def recent_events(self, limit: int = 10) -> list[LoggedEvent]:
        """The ``limit`` most recent events, newest first."""

    def last_event(self, level: str, prefix: str) -> LoggedEvent | None:
        """The most recent event of ``level`` whose message starts with ``prefix``."""

    def prune(self, older_than: datetime) -> int:
        """Delete items, stories, finished outbox rows and events older than ``older_than``;
        identities stay (tombstones) and so do stories a pending row still needs. Returns the
        number of items deleted."""


def open_store(settings: "Settings") -> Store:
    """The store the settings name: the one place a store is built. WATCHBOT_DATABASE_URL
    (postgresql://...) means ``bot.store_pg.PgStore``; unset, the SQLite file in WATCHBOT_STATE."""
    if settings.watchbot_database_url:
        from bot.store_pg import PgStore

        return PgStore(settings.watchbot_database_url)
    from bot.store import Store as SQLiteStore

    return SQLiteStore(settings.database)


def has_state(settings: "Settings") -> bool:
    """Whether there is state to read: the SQLite file exists, or a database URL is configured
    (a server's database is there to ask; an empty one reads as no feeds, items or events)."""
    return bool(settings.watchbot_database_url) or settings.database.exists()


__all__ = ["Store", "open_store", "has_state", "StateGoneError", "StateLockedError", "FeedState", "LoggedEvent", "PeriodItem", "StoryRow",
           "SourceRow", "StoryUpdate", "StoryChanges"]
