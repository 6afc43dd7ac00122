"""SQLite state: feeds, items (+ identity tombstones), stories, outbox. Decides "already seen".

Why the store decides novelty of *identity*: an insert that did not happen is not new. Every item
is recorded under all of its identities (GUID, canonical link, and feed+title+date), so a feed
that changes GUIDs, re-orders, or re-publishes an item cannot make it alert twice, and pruned
items leave their identities behind as tombstones.

Why the outbox: an alert is written in the same transaction that records its item; sending
happens afterwards and marks the row sent with the channel's message_id. A crash before the send
leaves a pending row that the next start sends — never a lost alert. A row is marked 'sending'
(committed) just before its request goes out, so a crash while the channel may already have it
turns into 'maybe_sent' at the next start (``recover_interrupted_sends``; with several workers
on one database, when one takes the channel's sender lock, ``sender_lock``), never a doubled
post: the same policy as a read timeout (see bot/channels/).

Concurrency: one process owns a state folder (see ``StateLock``); inside it all calls come from
the event-loop thread, so one connection suffices. WAL + synchronous=NORMAL: commits survive a
process crash (the case we must handle) without an fsync per item.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from bot import migrations
from bot.models import (Alert, Decision, Feed, Item, Match, MatchedWatchlist, PollPlan, SendOutcome, Source,
                        Story, StoryMessage, Validators)
from bot.storage import (FeedState, LoggedEvent, PeriodItem, SourceRow, StateGoneError, StateLockedError,
                         StoryChanges, StoryRow, StoryUpdate)
from bot.text import fold

SCHEMA_VERSION = migrations.LATEST
# Inside Store.batch(), the longest a finished transaction waits for its commit.
BATCH_COMMIT_SECONDS = 0.5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,            -- as configured in the feed list
    current_url TEXT NOT NULL,       -- after permanent (301/308) redirects
    title TEXT DEFAULT '',
    etag TEXT, last_modified TEXT, body_hash TEXT,
    last_fetch TEXT, last_success TEXT, last_status INTEGER, last_error TEXT,
    consecutive_errors INTEGER NOT NULL DEFAULT 0,
    next_check TEXT, paused_reason TEXT, ttl_minutes INTEGER,
    items_total INTEGER NOT NULL DEFAULT 0, last_new INTEGER NOT NULL DEFAULT 0,
    seeded INTEGER NOT NULL DEFAULT 0,
    -- Schema 3 (an older file gets them from migrations.SQLITE_STEPS): the worker that claimed
    -- the feed's poll and until when that claim holds (claim_due_feeds).
    lease_owner TEXT, lease_until TEXT
);
CREATE INDEX IF NOT EXISTS feeds_due ON feeds((COALESCE(next_check, '')), url);  -- claim_due_feeds
CREATE TABLE IF NOT EXISTS items (
    key TEXT PRIMARY KEY,
    feed_url TEXT NOT NULL, link TEXT, title TEXT NOT NULL, summary TEXT, published TEXT,
    outlet TEXT, language TEXT, first_seen TEXT NOT NULL,
    matches TEXT,                    -- JSON [{watchlist, title, terms}]
    decision TEXT NOT NULL,          -- alert|update|known|ignored|seeded
    story_id INTEGER, reasons TEXT
);
CREATE INDEX IF NOT EXISTS items_first_seen ON items(first_seen);
CREATE INDEX IF NOT EXISTS items_story ON items(story_id);
-- Every identity of every item ever seen, including pruned ones (tombstones), as a 16-byte
-- digest: a million items keep ~3 million identities, so width decides the size of the index
-- that every poll looks up (WITHOUT ROWID: the primary key is the table, no second b-tree).
CREATE TABLE IF NOT EXISTS identities (ident BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stories (
    id INTEGER PRIMARY KEY,
    watchlist TEXT NOT NULL, item_key TEXT NOT NULL, title TEXT NOT NULL, link TEXT,
    outlet TEXT, language TEXT, published TEXT, first_seen TEXT NOT NULL,
    signature TEXT NOT NULL, message_id INTEGER
);
CREATE INDEX IF NOT EXISTS stories_first_seen ON stories(first_seen);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    story_id INTEGER, action TEXT NOT NULL, text TEXT NOT NULL, plain TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',   -- pending|sending|sent|maybe_sent|rejected|superseded|orphaned
    created TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
    sent_at TEXT, message_id INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(status, id);
-- A story's message in each channel that showed it (Channel.identity: "console", a chat): an
-- edit goes to the message of the channel sending it, never to another's by number.
CREATE TABLE IF NOT EXISTS story_messages (
    story_id INTEGER NOT NULL, channel TEXT NOT NULL, message_id INTEGER NOT NULL,
    PRIMARY KEY (story_id, channel)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, level TEXT NOT NULL, message TEXT NOT NULL
);
-- Schema 4: things done once per key across workers (Store.claim_once: a digest's fire time).
CREATE TABLE IF NOT EXISTS once_keys (key TEXT PRIMARY KEY, at TEXT NOT NULL, owner TEXT);
"""


# (table, column, declaration) added since schema 2; see Store._add_columns.
_ADDED_COLUMNS = (
    ("feeds", "last_warning", "TEXT"),   # what the last good poll had to repair (bad byte ...)
    ("feeds", "first_seen", "TEXT"),     # first successful poll: dates long before it are bogus
    ("stories", "message_chat", "TEXT"),  # the channel message_id belongs to (console, chat id)
    ("items", "signature", "TEXT"),      # novelty's summary of an update (its vector)
    ("outbox", "channel", "TEXT"),       # the channel a row was sent to (set when it goes out)
    ("outbox", "sender", "TEXT"),        # schema 4: the worker that claimed the row for sending
    ("outbox", "claimed_at", "TEXT"),    # ... and when (mark_sending)
)


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds") if dt else None


def _iso_up(dt: datetime | None) -> str | None:
    """``_iso`` rounded up to the next whole second: a due time stored this way is never
    earlier than the one computed (claim_due_feeds compares at one-second precision, so a
    feed is never polled before its interval has passed)."""
    if dt is not None and dt.microsecond:
        dt += timedelta(microseconds=1_000_000 - dt.microsecond)
    return _iso(dt)


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _watchlists_of(matches_json: str | None) -> tuple[str, ...]:
    """The watchlists of an item's stored matches, each once (a damaged value: none)."""
    if not matches_json:
        return ()
    try:
        return tuple(dict.fromkeys(m["watchlist"] for m in json.loads(matches_json)))
    except (ValueError, KeyError, TypeError):
        return ()


def ident_digest(ident: str) -> bytes:
    """The stored form of one identity (see the identities table)."""
    return hashlib.blake2b(ident.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def identities(item: Item) -> tuple[str, ...]:
    """All identities of an item: its key, its link, and feed + folded title + date.

    The extra identities are what keep an item from re-alerting when a feed changes its GUIDs
    (a common CMS migration bug) or its links' tracking parameters.
    """
    idents = [item.key]
    if item.link:
        idents.append("link:" + item.link)
    day = item.published.date().isoformat() if item.published else ""
    title_id = hashlib.sha1(f"{item.feed_url}\n{fold(item.title).strip()}\n{day}".encode()).hexdigest()
    if item.title.strip():
        idents.append("title:" + title_id)
    return tuple(dict.fromkeys(idents))


class StateLock:
    """An exclusive advisory lock on the state folder, so two daemons never double-post.

    flock is released by the kernel when the process dies (even by SIGKILL), so a crash never
    leaves a stale lock behind.
    """

    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / "watchbot.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise StateLockedError(f"state folder {self.path.parent} is in use by pid {owner}; "
                                   "refusing to start a second watchbot on it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "StateLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Store:
    """The SQLite database of one state folder (``bot.storage.Store``'s embedded backend).
    All times are stored as UTC ISO strings."""

    # Bumped by every rollback: a story-change mark of an older generation may name stories
    # that no longer exist (and ids about to be reused), so ``story_changes`` starts afresh.
    # A class default, so a subclass with its own __init__ (bot/store_pg.py) starts at 0 too.
    _generation = 0

    def __init__(self, path: Path | str):
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        # A larger page cache keeps the identity index in memory at a million items.
        self.db.execute("PRAGMA cache_size=-32000")
        self.db.execute("PRAGMA temp_store=MEMORY")
        # Versions and the steps between them: bot/migrations.py (a newer schema is refused
        # untouched; an older one is upgraded here, and columns added before versions existed
        # are added in place).
        self.schema_found, _ = migrations.open_sqlite(
            self.db, lambda: (self.db.executescript(_SCHEMA), self._add_columns()),
            where=f"the state database {path}")
        # The database file's identity, to notice it being deleted or replaced (verify_on_disk).
        self._file_id = self._stat_id() if str(path) != ":memory:" else None
        self._depth = 0
        # While batch() is active: when its oldest uncommitted unit began (None: not batching).
        self._batch_since: float | None = None
        self._batch_open = False  # batch() holds an uncommitted transaction
        # Digests of the items this transaction looked up: ``unseen`` computes them and the
        # insert that follows reuses them (emptied when the transaction ends).
        self._digest_memo: dict[tuple, tuple[bytes, ...]] = {}

    def close(self) -> None:
        self.db.close()

    def _stat_id(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_dev, st.st_ino

    def verify_on_disk(self) -> None:
        """Raise StateGoneError unless the database file is still the one this Store opened.

        One stat() call: cheap enough to do before every message sent.
        """
        if self._file_id is None:
            return
        now = self._stat_id()
        if now is None:
            raise StateGoneError(f"the state database {self.path} was deleted while watchbot was "
                                 "running (its lock went with it); stopping so that no second "
                                 "instance posts the same alerts")
        if now != self._file_id:
            raise StateGoneError(f"the state database {self.path} was replaced by another file "
                                 "while watchbot was running; stopping")

    def _add_columns(self) -> None:
        """Columns added after schema 2 shipped: added in place, so existing state keeps working
        (SQLite's ADD COLUMN is a metadata change; old rows read NULL)."""
        have: dict[str, set[str]] = {}  # each table's columns read once (this runs at every open)
        for table, column, decl in _ADDED_COLUMNS:
            if table not in have:
                have[table] = {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}
            if column not in have[table]:
                self.db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")

    # ------------------------------------------------------------------ meta

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str | None) -> None:
        """Store (or, with None, remove) a small piece of state that must survive a restart."""
        with self.transaction(durable=True):
            if value is None:
                self.db.execute("DELETE FROM meta WHERE key=?", (key,))
            else:
                self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    @contextmanager
    def transaction(self, *, durable: bool = False) -> Iterator[None]:
        """One atomic unit; nested uses join the outer transaction.

        Inside ``batch()`` a top-level unit is a savepoint of the batch's transaction: it is
        still all-or-nothing, but its commit may come up to ``BATCH_COMMIT_SECONDS`` later.
        ``durable=True`` means committed when the block ends, batch or not (what must be on
        disk before a request goes out).
        """
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        if self._batch_since is not None and not durable:
            if not self._batch_open:
                self.db.execute("BEGIN IMMEDIATE")
                self._batch_open = True
                self._batch_since = time.monotonic()
            begin, undo, done = "SAVEPOINT unit", ("ROLLBACK TO unit", "RELEASE unit"), ("RELEASE unit",)
        else:
            self._flush_batch()
            begin, undo, done = "BEGIN IMMEDIATE", ("ROLLBACK",), ("COMMIT",)
        self.db.execute(begin)
        self._depth = 1
        try:
            yield
        except BaseException:
            self._generation += 1
            for sql in undo:
                self.db.execute(sql)
            raise
        else:
            for sql in done:
                self.db.execute(sql)
        finally:
            self._depth = 0
            self._digest_memo.clear()
        if self._batch_open and time.monotonic() - self._batch_since >= BATCH_COMMIT_SECONDS:
            self._flush_batch()

    def _flush_batch(self) -> None:
        if self._batch_open:
            self._batch_open = False
            self._batch_since = time.monotonic()
            try:
                self.db.execute("COMMIT")
            except BaseException:
                self._generation += 1  # the batch's work may be lost (SQLite may roll it back)
                raise

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Coalesce the commits of the transactions in this block (a polling cycle's feeds).

        A commit costs about as much as recording a whole feed's items (every new identity
        dirties its own index page), so a 1,000-feed cycle commits at most every
        ``BATCH_COMMIT_SECONDS`` instead of once per feed. Each transaction stays atomic (a
        savepoint); a crash loses at most the last interval's uncommitted work, which the next
        poll fetches again: nothing was sent from it, because sending commits first
        (``durable``). Whatever was done is committed when the block ends, even on an error.
        """
        if self._batch_since is not None:  # already batching: join
            yield
            return
        self._batch_since = time.monotonic()
        try:
            yield
        finally:
            try:
                self._flush_batch()
            finally:
                self._batch_since = None

    def _digests(self, item: Item) -> tuple[bytes, ...]:
        """The stored forms of ``identities(item)``, computed once per transaction."""
        memo_key = (item.key, item.feed_url, item.link, item.title, item.published)
        digests = self._digest_memo.get(memo_key)
        if digests is None:
            if len(self._digest_memo) > 50_000:  # lookups outside a transaction: stay bounded
                self._digest_memo.clear()
            digests = self._digest_memo[memo_key] = tuple(ident_digest(i) for i in identities(item))
        return digests

    # ------------------------------------------------------------------ feeds

    def sync_feeds(self, feeds: Sequence[Feed]) -> None:
        """Make sure every configured feed has a row (rows of removed feeds stay for history)."""
        with self.transaction():
            # In URL order: two workers syncing one list at once then wait for each other's
            # new rows in the same order, never in a cycle (a deadlock on PostgreSQL).
            self.db.executemany("INSERT OR IGNORE INTO feeds(url, current_url, title) VALUES (?,?,?)",
                                [(f.url, f.url, f.title) for f in sorted(feeds, key=lambda f: f.url)])

    def feed_state(self, url: str) -> FeedState:
        row = self.db.execute("SELECT * FROM feeds WHERE url=?", (url,)).fetchone()
        if row is None:
            raise KeyError(url)
        return self._feed_state(row)

    def feed_states(self) -> list[FeedState]:
        return [self._feed_state(r) for r in self.db.execute("SELECT * FROM feeds ORDER BY url")]

    @staticmethod
    def _feed_state(row: sqlite3.Row) -> FeedState:
        return FeedState(
            url=row["url"], current_url=row["current_url"], title=row["title"] or "",
            validators=Validators(row["etag"], row["last_modified"]), body_hash=row["body_hash"],
            last_fetch=_dt(row["last_fetch"]), last_success=_dt(row["last_success"]),
            last_status=row["last_status"], last_error=row["last_error"],
            consecutive_errors=row["consecutive_errors"], next_check=_dt(row["next_check"]),
            paused_reason=row["paused_reason"], ttl_minutes=row["ttl_minutes"],
            items_total=row["items_total"], last_new=row["last_new"], seeded=bool(row["seeded"]),
            last_warning=row["last_warning"], first_seen=_dt(row["first_seen"]))

    def record_poll(self, url: str, plan: PollPlan, owner: str | None = None) -> None:
        """See ``bot.storage.Store.record_poll``.

        Validators are stored only here, after the items of the response were recorded, so a
        crash in between re-fetches instead of skipping them."""
        sets = ["last_fetch=?", "last_status=?", "last_error=?", "paused_reason=?", "last_new=?"]
        # Both times rounded up alike (see _iso_up): the stored wait is the planned one.
        polled, next_check = _iso_up(plan.polled_at), _iso_up(plan.next_check)
        args: list = [polled, plan.status, plan.error, plan.paused_reason, plan.new_items]
        if owner is None:
            sets += ["next_check=?", "lease_owner=NULL", "lease_until=NULL"]
            args.append(next_check)
        else:
            # A poll that outlived its lease (another worker claimed the feed since, and may
            # have recorded its own, later poll already) neither frees that worker's claim nor
            # moves the due time earlier than that poll set it: either would let a third worker
            # poll the feed again before its interval has passed. Its own claim ends here.
            sets += ["next_check=CASE WHEN COALESCE(lease_owner, '') <> ? AND next_check > ? "
                     "THEN next_check ELSE ? END",
                     "lease_until=CASE WHEN lease_owner=? THEN NULL ELSE lease_until END",
                     "lease_owner=CASE WHEN lease_owner=? THEN NULL ELSE lease_owner END"]
            args += [owner, next_check, next_check, owner, owner]
        if plan.success:
            sets += ["consecutive_errors=0", "last_success=?", "items_total=items_total+?",
                     "first_seen=COALESCE(first_seen, ?)"]
            args += [polled, plan.new_items, polled]
        else:
            sets.append("consecutive_errors=consecutive_errors+1")
        if plan.validators is not None:
            sets += ["etag=?", "last_modified=?"]
            args += [plan.validators.etag, plan.validators.last_modified]
        if plan.body_hash is not None:  # a newly parsed body: its own warning replaces the old one
            sets.append("last_warning=?")
            args.append(plan.warning)
        for column, value in (("body_hash", plan.body_hash), ("current_url", plan.current_url),
                              ("title", plan.title), ("ttl_minutes", plan.ttl_minutes)):
            if value is not None:
                sets.append(f"{column}=?")
                args.append(value)
        if plan.seeded is not None:
            sets.append("seeded=?")
            args.append(int(plan.seeded))
        args.append(url)
        with self.transaction():
            self.db.execute(f"UPDATE feeds SET {', '.join(sets)} WHERE url=?", args)

    def claim_due_feeds(self, urls: Sequence[str], owner: str, now: datetime, lease: timedelta,
                        limit: int | None = None) -> list[str]:
        """See ``bot.storage.Store.claim_due_feeds``. SQLite has one writer at a time (BEGIN
        IMMEDIATE), so reading the due rows and leasing them is one atomic step here."""
        wanted = set(urls)
        if not wanted or (limit is not None and limit <= 0):
            return []
        stamp, until = _iso(now), _iso(now + lease)
        with self.transaction(durable=True):  # other processes must see the claim at once
            rows = self.db.execute(
                "SELECT url FROM feeds WHERE paused_reason IS NULL AND COALESCE(next_check, '') <= ? "
                "AND (lease_until IS NULL OR lease_until <= ? OR lease_owner = ?) "
                "ORDER BY COALESCE(next_check, ''), url", (stamp, stamp, owner)).fetchall()
            chosen = [r[0] for r in rows if r[0] in wanted][:limit]
            self.db.executemany("UPDATE feeds SET lease_owner=?, lease_until=? WHERE url=?",
                                [(owner, until, url) for url in chosen])
        return chosen

    def release_feeds(self, urls: Sequence[str], owner: str, next_check: datetime | None = None) -> int:
        """See ``bot.storage.Store.release_feeds``."""
        with self.transaction(durable=True):
            if next_check is None:
                rows = [(owner, url) for url in urls]
                sql = "UPDATE feeds SET lease_owner=NULL, lease_until=NULL WHERE lease_owner=? AND url=?"
            else:
                rows = [(_iso_up(next_check), owner, url) for url in urls]
                sql = ("UPDATE feeds SET lease_owner=NULL, lease_until=NULL, next_check=? "
                       "WHERE lease_owner=? AND url=?")
            return sum(self.db.execute(sql, row).rowcount for row in rows)

    def renew_leases(self, urls: Sequence[str], owner: str, now: datetime, lease: timedelta) -> int:
        """See ``bot.storage.Store.renew_leases``."""
        until = _iso(now + lease)
        with self.transaction(durable=True):
            return sum(self.db.execute("UPDATE feeds SET lease_until=? WHERE lease_owner=? AND url=?",
                                       (until, owner, url)).rowcount for url in sorted(urls))

    def recover_leases(self) -> int:
        """See ``bot.storage.Store.recover_leases``: every lease goes, since the caller holds the
        state folder's lock and no other process polls this state."""
        with self.transaction():
            return self.db.execute("UPDATE feeds SET lease_owner=NULL, lease_until=NULL "
                                   "WHERE lease_owner IS NOT NULL").rowcount

    def lock_novelty(self) -> None:
        """See ``bot.storage.Store.lock_novelty``. Nothing to take: SQLite's BEGIN IMMEDIATE
        already makes one writer at a time, and one process owns a state folder."""

    def last_item_times(self) -> dict[str, datetime]:
        return {r[0]: _dt(r[1]) for r in self.db.execute(
            "SELECT feed_url, max(first_seen) FROM items GROUP BY feed_url")}

    # ------------------------------------------------------------------ items

    def unseen(self, items: Iterable[Item]) -> list[Item]:
        """The items none of whose identities were ever recorded (tombstones included).

        One query per batch of identities, not one per item: a first poll of a large feed list
        looks up tens of thousands of items in the event loop's thread.
        """
        items = list(items)
        digests = [self._digests(item) for item in items]
        wanted = list({d for ds in digests for d in ds})
        known: set[bytes] = set()
        for start in range(0, len(wanted), 500):  # SQLite caps the number of parameters
            part = wanted[start:start + 500]
            known.update(row[0] for row in self.db.execute(
                f"SELECT ident FROM identities WHERE ident IN ({','.join('?' * len(part))})", part))
        fresh = []
        for item, ds in zip(items, digests):
            if any(d in known for d in ds):
                continue  # seen before, or the same item twice in one batch (duplicate GUIDs)
            known.update(ds)
            fresh.append(item)
        return fresh

    def record_seen(self, items: Sequence[Item], now: datetime, decision: str = "seeded") -> None:
        """Record items without deciding anything about them (first sight of a feed)."""
        stamp = _iso(now)
        with self.transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO items(key, feed_url, link, title, summary, published, outlet,"
                " language, first_seen, decision) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(i.key, i.feed_url, i.link, i.title, i.summary, _iso(i.published), i.outlet,
                  i.language, stamp, decision) for i in items])
            self.db.executemany("INSERT OR IGNORE INTO identities(ident) VALUES (?)",
                                [(d,) for i in items for d in self._digests(i)])

    def record_item(self, item: Item, matches: Sequence[Match], decision: Decision,
                    now: datetime) -> tuple[int | None, list[int]]:
        """Record one decided item and, in the same transaction, what it sends: an alert's story
        and its post, an update's edit of its story (superseding the story's pending edits).

        The outbox row says what to send (story, action), not how it reads: the channel renders
        it when it sends (``story_message``), so an update costs one row however many sources
        the story has. Returns (story_id, outbox ids).
        """
        with self.transaction():
            story_id = decision.story_id
            if decision.kind == "alert":
                cur = self.db.execute(
                    "INSERT INTO stories(watchlist, item_key, title, link, outlet, language, published,"
                    " first_seen, signature) VALUES (?,?,?,?,?,?,?,?,?)",
                    (decision.watchlist or (matches[0].watchlist if matches else ""), item.key,
                     item.title, item.link, item.outlet, item.language, _iso(item.published),
                     _iso(now), json.dumps(decision.signature or {}, ensure_ascii=False)))
                story_id = cur.lastrowid
            self._insert_item(item, now, matches, decision.kind, story_id, decision.reasons,
                              decision.signature if decision.kind == "update" else None)
            outbox_ids = []
            if decision.kind in ("alert", "update") and story_id is not None:
                action = "post" if decision.kind == "alert" else "edit"
                if action == "edit":
                    # Only the newest edit of a story matters: older pending ones would only
                    # spend the channel's rate limit on texts about to be replaced.
                    self.db.execute("UPDATE outbox SET status='superseded' WHERE story_id=? AND "
                                    "action='edit' AND status='pending'", (story_id,))
                cur = self.db.execute(
                    "INSERT INTO outbox(story_id, action, text, plain, created) VALUES (?,?,'','',?)",
                    (story_id, action, _iso(now)))
                outbox_ids.append(cur.lastrowid)
            return story_id, outbox_ids

    def _insert_item(self, item: Item, now: datetime, matches: Sequence[Match], decision: str,
                     story_id: int | None, reasons: Sequence[str], signature: dict | None = None) -> None:
        matches_json = json.dumps([{"watchlist": m.watchlist, "title": m.title, "terms": list(m.terms)}
                                   for m in matches], ensure_ascii=False) if matches else None
        self.db.execute(
            "INSERT OR REPLACE INTO items(key, feed_url, link, title, summary, published, outlet, language,"
            " first_seen, matches, decision, story_id, reasons, signature)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (item.key, item.feed_url, item.link, item.title, item.summary, _iso(item.published),
             item.outlet, item.language, _iso(now), matches_json, decision, story_id,
             json.dumps(list(reasons), ensure_ascii=False) if reasons else None,
             json.dumps(signature, ensure_ascii=False) if signature else None))
        self.db.executemany("INSERT OR IGNORE INTO identities(ident) VALUES (?)",
                            [(d,) for d in self._digests(item)])

    def item(self, key: str) -> Item | None:
        row = self.db.execute("SELECT * FROM items WHERE key=?", (key,)).fetchone()
        return self._item(row) if row else None

    @staticmethod
    def _item(row: sqlite3.Row) -> Item:
        return Item(key=row["key"], feed_url=row["feed_url"], title=row["title"], link=row["link"],
                    summary=row["summary"] or "", published=_dt(row["published"]),
                    outlet=row["outlet"] or "", language=row["language"])

    def count_items(self) -> int:
        return self.db.execute("SELECT count(*) FROM items").fetchone()[0]

    # SQLite upkeep (not in the protocol: a server backend looks after itself).

    def count_identities(self) -> int:
        """How many identities are kept, tombstones included."""
        return self.db.execute("SELECT count(*) FROM identities").fetchone()[0]

    def checkpoint(self) -> None:
        """Move the write-ahead log into the database file and empty it (its size then shows)."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def compact(self) -> None:
        """Give the space of deleted rows back to the file system (VACUUM, then a checkpoint)."""
        self.db.execute("VACUUM")
        self.checkpoint()

    def period_items(self, since: datetime, until: datetime) -> list[PeriodItem]:
        return [PeriodItem(r["decision"], _watchlists_of(r["matches"]), r["story_id"])
                for r in self.db.execute(
                    "SELECT decision, matches, story_id FROM items WHERE first_seen >= ? "
                    "AND first_seen < ? ORDER BY first_seen, rowid", (_iso(since), _iso(until)))]

    # ------------------------------------------------------------------ stories

    def stories(self, since: datetime | None = None) -> list[Story]:
        """Stories first seen at or after ``since`` (all when None), oldest first, with sources."""
        rows = self.db.execute("SELECT * FROM stories WHERE first_seen >= ? ORDER BY id",
                               (_iso(since) or "",)).fetchall()
        return [self._story(r) for r in rows]

    def story(self, story_id: int) -> Story | None:
        row = self.db.execute("SELECT * FROM stories WHERE id=?", (story_id,)).fetchone()
        return self._story(row) if row else None

    def _story(self, row: sqlite3.Row) -> Story:
        sources = tuple(
            Source(title=r["title"], link=r["link"], outlet=r["outlet"] or "", language=r["language"],
                   published=_dt(r["published"]),
                   signature=json.loads(r["signature"]) if r["signature"] else None)
            for r in self.db.execute("SELECT title, link, outlet, language, published, signature "
                                     "FROM items WHERE story_id=? ORDER BY first_seen, rowid",
                                     (row["id"],)))
        return Story(id=row["id"], watchlist=row["watchlist"], title=row["title"], link=row["link"],
                     outlet=row["outlet"] or "", published=_dt(row["published"]),
                     first_seen=_dt(row["first_seen"]), signature=json.loads(row["signature"]),
                     sources=sources, message_id=row["message_id"])

    def story_changes(self, mark, since: datetime) -> StoryChanges:
        """See ``bot.storage.Store.story_changes``. The mark is (generation, newest story id,
        newest item rowid): stories get increasing ids and a recorded item a rowid above every
        committed one, and a rollback (which may hand the same numbers out again) starts a new
        generation."""
        top_story = self.db.execute("SELECT max(id) FROM stories").fetchone()[0] or 0
        top_item = self.db.execute("SELECT max(rowid) FROM items").fetchone()[0] or 0
        now_mark = (self._generation, top_story, top_item)
        if mark is None or mark[0] != self._generation:
            return StoryChanges(now_mark, True, tuple(self.stories(since)), ())
        _, seen_story, seen_item = mark
        if (top_story, top_item) == (seen_story, seen_item):
            return StoryChanges(now_mark, False, (), ())
        new = tuple(self._story(r) for r in self.db.execute(
            "SELECT * FROM stories WHERE id > ? ORDER BY id", (seen_story,)).fetchall())
        updates = tuple(
            StoryUpdate(r["story_id"], self._item(r)) for r in self.db.execute(
                "SELECT * FROM items WHERE rowid > ? AND decision='update' AND story_id <= ? "
                "ORDER BY rowid", (seen_item, seen_story)).fetchall())
        return StoryChanges(now_mark, False, new, updates)

    def period_stories(self, since: datetime, until: datetime) -> list[StoryRow]:
        since_iso, until_iso = _iso(since), _iso(until)
        return [StoryRow(id=r["id"], watchlist=r["watchlist"], item_key=r["item_key"], title=r["title"],
                         link=r["link"], outlet=r["outlet"], published=_dt(r["published"]),
                         first_seen=_dt(r["first_seen"]), summary=r["summary"])
                for r in self.db.execute(
                    "SELECT s.*, (SELECT summary FROM items WHERE key=s.item_key) AS summary "
                    "FROM stories s WHERE s.first_seen < ? AND (s.first_seen >= ? OR s.id IN ("
                    "SELECT story_id FROM items WHERE decision = 'update' AND first_seen >= ? "
                    "AND first_seen < ?)) ORDER BY s.first_seen, s.id",
                    (until_iso, since_iso, since_iso, until_iso))]

    def period_sources(self, since: datetime, until: datetime) -> list[SourceRow]:
        return [SourceRow(r["story_id"], r["outlet"], r["language"]) for r in self.db.execute(
            "SELECT story_id, outlet, language FROM items WHERE story_id IN (SELECT id FROM stories "
            "WHERE first_seen >= ? AND first_seen < ?) AND first_seen < ? ORDER BY first_seen, rowid",
            (_iso(since), _iso(until), _iso(until)))]

    # ------------------------------------------------------------------ outbox

    def pending_alerts(self, channel: str | None = None) -> list[Alert]:
        """Unsent outbox rows in order, as ``channel`` can send them. An edit waits until its
        story's post has a message id.

        An edit whose post can no longer get one (it ended maybe_sent or rejected: we never learnt
        the message id) is closed as 'orphaned' instead of waiting forever.

        ``channel`` names where the rows go (``Channel.identity``: "console", a chat). Message
        ids live per channel (``story_messages``): an edit goes to the story's message in this
        channel; a story whose message is only elsewhere (printed on the console before a token
        was set, or posted to another chat) gets a post here, with its sources, never an edit of
        an unrelated message with the same number (issue 13, class 8). A story's id kept from
        before ids were per channel (``stories.message_id``) counts as this channel's when it was
        not tagged or tagged with this channel. ``channel`` None: any id the story has.
        """
        with self.transaction():
            self.db.execute(
                "UPDATE outbox SET status='orphaned', last_error='the story''s post has no known "
                "message id (possibly sent or rejected); nothing to edit' WHERE status='pending' "
                "AND action='edit' AND story_id IN (SELECT story_id FROM outbox WHERE action='post' "
                "AND status IN ('maybe_sent', 'rejected'))")
        rows = self.db.execute(
            "SELECT o.id, o.story_id, o.action, o.text, o.plain, s.message_id AS story_message, "
            "s.message_chat AS story_chat, m.message_id AS channel_message, "
            "(SELECT count(*) FROM story_messages a WHERE a.story_id=o.story_id) AS shown, "
            "(SELECT count(*) FROM outbox p WHERE p.story_id=o.story_id AND p.action='post' "
            "AND p.status IN ('pending', 'sending')) AS post_waiting "
            "FROM outbox o LEFT JOIN stories s ON s.id=o.story_id "
            "LEFT JOIN story_messages m ON m.story_id=o.story_id AND m.channel=? "
            "WHERE o.status='pending' ORDER BY o.id", (channel or "",)).fetchall()
        alerts = []
        for r in rows:
            action, message_id = r["action"], None
            if action == "edit":
                message_id = r["channel_message"]
                if message_id is None and (channel is None or r["story_chat"] in (None, channel)):
                    message_id = r["story_message"]
                if message_id is None:
                    if r["post_waiting"] or not (r["shown"] or r["story_message"] is not None):
                        continue  # its post has not gone out yet
                    action = "post"  # the story's message is not in this channel
            alerts.append(Alert(id=r["id"], story_id=r["story_id"], action=action, text=r["text"],
                                plain=r["plain"], message_id=message_id, folded=r["action"] == "edit"))
        return alerts

    def story_message(self, story_id: int, *, folded: bool) -> StoryMessage | None:
        """What a channel renders for story ``story_id``: its first report (from the story's own
        row if the item was pruned), what it matched, and with ``folded`` its other
        reports in the order recorded. None when the story is gone."""
        row = self.db.execute("SELECT * FROM stories WHERE id=?", (story_id,)).fetchone()
        if row is None:
            return None
        first = self.db.execute("SELECT * FROM items WHERE key=?", (row["item_key"],)).fetchone()
        if first is not None:
            item = self._item(first)
            matches = tuple(MatchedWatchlist(m["watchlist"], m["title"] or "", tuple(dict.fromkeys(m["terms"])))
                            for m in json.loads(first["matches"] or "[]"))
        else:
            item = Item(key=row["item_key"], feed_url="", title=row["title"], link=row["link"],
                        outlet=row["outlet"] or "", published=_dt(row["published"]),
                        language=row["language"])
            matches = ()
        others: tuple[Source, ...] = ()
        if folded:
            # Signatures (vectors) are not read: rendering needs none of them.
            others = tuple(
                Source(title=r["title"], link=r["link"], outlet=r["outlet"] or "", language=r["language"],
                       published=_dt(r["published"]))
                for r in self.db.execute("SELECT title, link, outlet, language, published FROM items "
                                         "WHERE story_id=? ORDER BY first_seen, rowid", (story_id,)))[1:]
        return StoryMessage(story_id=story_id, watchlist=row["watchlist"], item=item, matches=matches,
                            others=others)

    def record_outcome(self, alert: Alert, outcome: SendOutcome, now: datetime,
                       channel: str | None = None) -> None:
        """Apply what the channel said about one outbox row; a post's message id is kept with
        the ``channel`` it belongs to (see ``pending_alerts``)."""
        with self.transaction():
            if outcome.status in ("sent", "maybe_sent", "rejected"):
                self.db.execute("UPDATE outbox SET status=?, attempts=attempts+1, sent_at=?, message_id=?,"
                                " last_error=? WHERE id=?",
                                (outcome.status, _iso(now), outcome.message_id, outcome.error, alert.id))
                if alert.action == "post" and outcome.message_id is not None and alert.story_id is not None:
                    if channel is not None:
                        self.db.execute("INSERT OR REPLACE INTO story_messages(story_id, channel, message_id)"
                                        " VALUES (?,?,?)", (alert.story_id, channel, outcome.message_id))
                    # The latest post, as before ids were per channel (older readers, `status`).
                    self.db.execute("UPDATE stories SET message_id=?, message_chat=? WHERE id=?",
                                    (outcome.message_id, channel, alert.story_id))
            else:  # retry / fatal: not delivered, queued again
                self.db.execute("UPDATE outbox SET status='pending', attempts=attempts+1, last_error=?"
                                " WHERE id=?", (outcome.error, alert.id))

    def mark_sending(self, alert: Alert, channel: str | None = None, *, sender: str | None = None,
                     now: datetime | None = None) -> bool:
        """Commit that ``alert``'s request is about to go out to ``channel`` (see the module
        docstring), with the text it carries (the channel rendered it just now), claimed by
        ``sender`` (a worker id) at ``now``: the outbox keeps what was sent where, and by whom.
        False: the row was no longer pending (another worker on the same database took it
        first), so it must not be sent."""
        with self.transaction(durable=True):
            return self.db.execute(
                "UPDATE outbox SET status='sending', text=?, plain=?, channel=?, sender=?, claimed_at=? "
                "WHERE id=? AND status='pending'",
                (alert.text, alert.plain, channel, sender, _iso(now), alert.id)).rowcount == 1

    def sender_lock(self, channel: str) -> int:
        """See ``bot.storage.Store.sender_lock``. SQLite: the one process that owns the state
        folder (StateLock) is always the sender, so always 1 (the same "acquisition")."""
        return 1

    def claim_once(self, key: str, owner: str, now: datetime) -> bool:
        """True for the first caller of ``key`` on this state, ever (until pruned): an insert
        with conflict handling, so of N workers racing for one key exactly one gets True."""
        with self.transaction(durable=True):
            return self.db.execute("INSERT OR IGNORE INTO once_keys(key, at, owner) VALUES (?,?,?)",
                                   (key, _iso(now), owner)).rowcount == 1

    def mark_orphaned(self, alert: Alert, reason: str) -> None:
        """Close a row that can never be sent (its story is gone)."""
        with self.transaction():
            self.db.execute("UPDATE outbox SET status='orphaned', last_error=? WHERE id=? AND "
                            "status='pending'", (reason, alert.id))

    def recover_interrupted_sends(self, now: datetime, channel: str | None = None) -> int:
        """Rows a crashed process left 'sending' (to ``channel``; None: to any) become
        'maybe_sent' (the channel may have them).

        Call only as the channel's sender (``sender_lock``) before its first send: then no live
        worker can have one of these rows in flight. Returns the count.
        """
        only = "" if channel is None else " AND (channel=? OR channel IS NULL)"
        with self.transaction():
            return self.db.execute(
                "UPDATE outbox SET status='maybe_sent', sent_at=?, last_error=? WHERE status='sending'" + only,
                (_iso(now), "interrupted while sending (process stopped before the channel answered); "
                            "not resent to avoid a duplicate") + (() if channel is None else (channel,))).rowcount

    def last_claim(self) -> tuple[str, datetime] | None:
        """(worker, when) of the most recent outbox claim (mark_sending), None if none recorded."""
        row = self.db.execute("SELECT sender, claimed_at FROM outbox WHERE claimed_at IS NOT NULL "
                              "AND sender IS NOT NULL ORDER BY claimed_at DESC, id DESC LIMIT 1").fetchone()
        return (row[0], _dt(row[1])) if row else None

    def outbox_counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.execute("SELECT status, count(*) FROM outbox GROUP BY status")}

    def oldest_pending(self) -> datetime | None:
        return _dt(self.db.execute("SELECT min(created) FROM outbox WHERE status='pending'").fetchone()[0])

    def last_sent(self) -> datetime | None:
        return _dt(self.db.execute("SELECT max(sent_at) FROM outbox WHERE status='sent'").fetchone()[0])

    # ------------------------------------------------------------------ events & retention

    def log_event(self, level: str, message: str, now: datetime) -> None:
        """Operational events (paused feeds, refused channel) for `status` and the digest."""
        self.db.execute("INSERT INTO events(at, level, message) VALUES (?,?,?)", (_iso(now), level, message))

    def recent_events(self, limit: int = 10) -> list[LoggedEvent]:
        return [self._event(r) for r in
                self.db.execute("SELECT * FROM events ORDER BY id DESC LIMIT ?", (limit,))]

    def last_event(self, level: str, prefix: str) -> LoggedEvent | None:
        # substr, not LIKE: a prefix holding '%' or '_' means itself.
        row = self.db.execute("SELECT * FROM events WHERE level=? AND substr(message, 1, ?)=? "
                              "ORDER BY id DESC LIMIT 1", (level, len(prefix), prefix)).fetchone()
        return self._event(row) if row else None

    @staticmethod
    def _event(row: sqlite3.Row) -> LoggedEvent:
        return LoggedEvent(row["id"], _dt(row["at"]), row["level"], row["message"])

    def prune(self, older_than: datetime) -> int:
        """Delete items and stories first seen before ``older_than``; identities stay (tombstones).

        Stories still referenced by a pending outbox row are kept so nothing unsent is lost.
        """
        cutoff = _iso(older_than)
        with self.transaction():
            n = self.db.execute("DELETE FROM items WHERE first_seen < ?", (cutoff,)).rowcount
            self.db.execute("DELETE FROM stories WHERE first_seen < ? AND id NOT IN "
                            "(SELECT story_id FROM outbox WHERE status='pending' AND story_id IS NOT NULL)",
                            (cutoff,))
            self.db.execute("DELETE FROM outbox WHERE status!='pending' AND created < ?", (cutoff,))
            self.db.execute("DELETE FROM story_messages WHERE story_id NOT IN (SELECT id FROM stories)")
            self.db.execute("DELETE FROM events WHERE at < ?", (cutoff,))
            self.db.execute("DELETE FROM once_keys WHERE at < ?", (cutoff,))
        return n


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


__all__ = ["Store", "StateLock", "StateLockedError", "StateGoneError", "FeedState", "identities", "utcnow"]
