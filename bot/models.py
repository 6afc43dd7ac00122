"""Types named by their role between pipeline stages.

Every stage module (fetch, parse, match, novelty, deliver) imports only this module and the
shared helpers (``text``); none imports another stage. ``pipeline`` wires them:

    Feed --fetch--> FetchResult --parse--> ParsedFeed(Item...) --store: new?--> Item
         --match--> Match... --novelty--> Decision --store+outbox--> Alert(StoryMessage) --channel--> message_id

All types are frozen: a stage returns new data instead of mutating what it was given, so the
daemon, ``run --once``, ``replay`` and ``try`` can share exactly the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal, Sequence

# The one User-Agent: fetch sends it, config offers it as WATCHBOT_USER_AGENT's default. Here
# rather than in fetch so that reading settings does not import httpx (issue 15).
DEFAULT_USER_AGENT = "watchbot/0.1 (+https://github.com/watchbot; feed monitor)"


# ---------------------------------------------------------------------------------------------
# Feeds and fetching
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feed:
    """One subscribed feed as the configuration (feeds.opml) and the store know it.

    ``url`` is an http(s) URL or a local file path the operator configured. ``interval`` and
    ``backfill`` are per-feed overrides; None means "use the global setting".
    """

    url: str
    title: str = ""
    interval: int | None = None  # seconds between polls
    backfill: int | None = None  # on first sight, let the N newest items alert


@dataclass(frozen=True)
class Validators:
    """HTTP cache validators remembered from the previous 200 (RFC 9110 §8.8)."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """What one poll of a feed produced. Never raises out of fetch: errors are data.

    - ``status``: the final HTTP status; 0 when no response arrived (DNS, refused, timeout,
      body too large, bad scheme). ``error`` then says why in one line.
    - ``body`` is None unless status is 200 and the body was read completely.
    - ``permanent_url``: set when a 301/308 chain ended at a different URL; the store replaces the
      feed's URL with it. 302/307 never set it (RFC 9110 §15.4: temporary).
    - ``retry_after``: seconds the server asked us to wait (429/503 Retry-After).
    - ``validators``: the ETag / Last-Modified to send next time (the old ones on 304).
    - ``body_hash``: sha256 of the body, so an unchanged body from a server that ignores
      validators is recognised and not parsed again.
    """

    url: str
    status: int
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    validators: Validators = Validators()
    permanent_url: str | None = None
    retry_after: float | None = None
    error: str | None = None
    body_hash: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.body is not None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def gone(self) -> bool:
        return self.status == 410


@dataclass(frozen=True)
class PollPlan:
    """What one poll changes in a feed's stored row: the typed intent ``bot.poll_policy``
    decides and ``Store.record_poll`` applies as it is (plain values, any backend).

    - ``success``: the feed was read (200 or 304): the error count resets, ``last_success``
      and (the first time) the feed's ``first_seen`` are set and ``new_items`` adds to its
      total; otherwise the error count grows by one.
    - Always written: ``polled_at``, ``status``, ``next_check``, ``error`` and
      ``paused_reason`` (None clears them), ``new_items`` (the last poll's count).
    - Written only when not None (None keeps the stored value): ``validators``,
      ``current_url`` (after a permanent redirect), ``title``, ``ttl_minutes``, ``seeded``
      (the first-sight flag) and ``body_hash`` (a body that was parsed; its ``warning``
      then replaces the stored one, None clearing it).
    """

    polled_at: datetime
    status: int
    next_check: datetime
    success: bool = True
    error: str | None = None
    paused_reason: str | None = None
    new_items: int = 0
    validators: Validators | None = None
    current_url: str | None = None
    title: str | None = None
    ttl_minutes: int | None = None
    seeded: bool | None = None
    body_hash: str | None = None
    warning: str | None = None


@dataclass(frozen=True)
class Item:
    """One feed entry, cleaned and identified; the unit every later stage works on.

    ``key`` is the identity used for "seen before": GUID (an opaque one scoped to the feed it
    was polled from), else the canonical link (tracking parameters stripped), else a hash of
    title and date — prefixed with the kind ("guid:", "link:", "hash:") so the kinds never
    collide. ``title`` and ``summary`` are plain text
    (HTML stripped, entities decoded, whitespace collapsed). ``published`` is timezone-aware UTC
    or None when the feed gave no usable date.
    """

    key: str
    feed_url: str
    title: str
    link: str | None = None
    summary: str = ""
    published: datetime | None = None
    outlet: str = ""
    language: str | None = None

    @property
    def text(self) -> str:
        """Title and summary as one string, the text matching and novelty look at."""
        return f"{self.title}\n{self.summary}" if self.summary else self.title


@dataclass(frozen=True)
class ParsedFeed:
    """parse's output: the items plus feed-level facts the scheduler and status need."""

    items: tuple[Item, ...]
    title: str = ""
    language: str | None = None
    ttl_minutes: int | None = None  # RSS <ttl>: a floor on the polling interval
    error: str | None = None  # feedparser's bozo exception, when nothing usable was found
    warning: str | None = None  # a bozo problem that still yielded items
    # Set (with ``error``) only when parsing itself broke on an exception nothing anticipated: a
    # bug in watchbot, not a fault of the feed. Logged as an error; tests assert it never is.
    internal_error: str | None = None


# ---------------------------------------------------------------------------------------------
# Watchlists and matching
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TermHit:
    """One occurrence of a watchlist term in an item: what matched, where, as written."""

    term: str  # the term as written in the watchlist file
    group: str  # the group (rule) it belongs to, e.g. "place" or "none:port"
    where: Literal["title", "summary"]
    surface: str  # the text as it appears in the item (original case and script)


@dataclass(frozen=True)
class Match:
    """An item belongs to a watchlist: which one, and the evidence."""

    watchlist: str  # watchlist id, e.g. "aktau_crash"
    title: str  # the watchlist's human title
    hits: tuple[TermHit, ...]

    @property
    def terms(self) -> tuple[str, ...]:
        """Distinct matched terms in first-seen order, for the alert's 'matched' line."""
        return tuple(dict.fromkeys(h.term for h in self.hits))


@dataclass(frozen=True)
class Veto:
    """An exclusion that stopped a watchlist from matching (shown by `watchbot try`)."""

    watchlist: str
    group: str
    hits: tuple[TermHit, ...]


@dataclass(frozen=True)
class MatchReport:
    """Everything the matcher can say about one item: matches plus vetoes, for `try`."""

    matches: tuple[Match, ...]
    vetoes: tuple[Veto, ...] = ()


# ---------------------------------------------------------------------------------------------
# Novelty
# ---------------------------------------------------------------------------------------------

DecisionKind = Literal["alert", "update", "known", "ignored"]


@dataclass(frozen=True)
class Story:
    """A development that was alerted; later reports of it fold into it as sources.

    ``signature`` is novelty's own JSON-serialisable summary of the first report (features it
    compares later items with); the store keeps it opaque.
    """

    id: int
    watchlist: str
    title: str
    link: str | None
    outlet: str
    published: datetime | None
    first_seen: datetime
    signature: dict
    sources: tuple["Source", ...] = ()
    message_id: int | None = None


@dataclass(frozen=True)
class Source:
    """One report of a story: the alert's own item or a folded update (``signature``: novelty's
    opaque summary of an update, e.g. its vector; None for the alert's own item)."""

    title: str
    link: str | None
    outlet: str
    language: str | None
    published: datetime | None
    signature: dict | None = None


@dataclass(frozen=True)
class Decision:
    """novelty's verdict on one matched item, with the reasons a person can check.

    - alert: new development; starts a story (``story_id`` None until the store assigns one).
    - update: same development as story ``story_id``; folded into it.
    - known: restates the baseline timeline or an earlier story, or predates the baseline.
    - ignored: matched no watchlist.
    ``nearest`` names the closest known event or story, ``similarity`` how close (0..1),
    ``new_facts`` the facts not found in it. ``signature`` is what to store with a new story
    (alert) or with the report folded into one (update: its vector).
    ``step`` names the decision step that decided (bot.novelty), ``score`` the fitted model's
    probability there, ``facts`` what novelty found in the item and ``compared`` the nearest
    baseline event and story with their similarity (both for ``watchbot try``).
    """

    kind: DecisionKind
    watchlist: str | None = None
    story_id: int | None = None
    reasons: tuple[str, ...] = ()
    nearest: str | None = None
    similarity: float = 0.0
    new_facts: tuple[str, ...] = ()
    signature: dict | None = None
    step: str = ""
    score: float | None = None
    facts: str = ""
    compared: tuple[str, ...] = ()

    def with_facts(self, note: str, compared: tuple[str, ...] = ()) -> "Decision":
        """This decision with ``facts`` (a one-line account of the facts novelty found) and
        ``compared`` (the nearest baseline event and story, with their similarity)."""
        return replace(self, facts=note, compared=compared)


# ---------------------------------------------------------------------------------------------
# Delivery
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatchedWatchlist:
    """What a story's first report matched, as the store keeps it: a watchlist's id and title and
    the distinct terms that matched, in first-seen order (the alert's heading and 'Matched' line)."""

    watchlist: str
    title: str
    terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoryMessage:
    """Everything a channel needs to render a story's message, as the store returns it.

    ``item`` is the story's first report; ``matches`` what it matched; ``watchlist`` the story's
    watchlist id (the heading when no match was recorded); ``others`` the story's other reports
    in the order recorded (empty for the first post, which shows the first report alone; an
    edit lists them).
    """

    story_id: int
    watchlist: str
    item: Item
    matches: tuple[MatchedWatchlist, ...] = ()
    others: tuple[Source, ...] = ()

    @classmethod
    def from_matches(cls, story_id: int, item: Item, matches: Sequence[Match], watchlist: str = "",
                     others: Sequence[Source] = ()) -> StoryMessage:
        """The message of ``item`` with the matcher's ``matches`` (what the store records of them)."""
        return cls(story_id, watchlist, item,
                   tuple(MatchedWatchlist(m.watchlist, m.title, m.terms) for m in matches),
                   tuple(others))


@dataclass(frozen=True)
class Alert:
    """An outbox entry: what to send, a post of a story or an edit of its earlier message.

    Rows written since channels render their own messages carry no text until they are sent:
    just before, the channel renders ``content`` (the store's ``StoryMessage``) into ``text``
    and ``plain``, which the outbox then records with the row.
    ``folded`` says the message lists the story's other sources (the row is an update's edit,
    possibly sent as a post where the story's message is not in this channel). Rows from older
    state files carry ``text`` (pre-rendered HTML, escaped and within limits) and ``plain`` (the
    same without markup, used once if the channel rejects the markup); they are sent as they are.
    """

    id: int
    story_id: int | None
    action: Literal["post", "edit"]
    text: str = ""
    plain: str = ""
    message_id: int | None = None  # for edits: the message to edit
    folded: bool = False
    content: StoryMessage | None = None


@dataclass(frozen=True)
class SendOutcome:
    """What delivery learnt from one attempt; the pipeline records it in the outbox.

    status:
    - sent: the channel confirmed; ``message_id`` is set.
    - retry: transient (429, 5xx, network before the request was sent); wait ``retry_after``.
    - maybe_sent: the request went out and no answer came (read timeout): it may have been
      delivered, so it is not resent blindly (see README, "Delivery guarantees").
    - fatal: 400/403 and the like: stop sending to this chat, keep the outbox, report ``error``.
    - rejected: this one message is unacceptable (e.g. still unparsable as plain text); skip it.
    """

    status: Literal["sent", "retry", "maybe_sent", "fatal", "rejected"]
    message_id: int | None = None
    retry_after: float | None = None
    error: str | None = None
