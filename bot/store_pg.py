"""PostgreSQL state: the same store as bot/store.py, in a database several machines can share.

``PgStore`` keeps every decision of the SQLite store (identities inserted with conflict
handling so storage decides what is new, the outbox written in the item's transaction, batches
of savepoints, pruning that leaves tombstones) by running the *same methods*: it subclasses
``Store`` and gives it a connection that speaks PostgreSQL. Why not a second copy of each
query: several people change the store's queries at once, and two hand-kept copies drift
apart silently; here a query changed in store.py changes on both backends, and the store tests
run on both (tests/test_store_pg*.py) to prove it.

What the connection translates (``_translate``, once per distinct statement): ``?``
placeholders to psycopg's ``%s``; SQLite's ``INSERT OR IGNORE`` to ``ON CONFLICT DO NOTHING``;
``INSERT OR REPLACE`` to ``ON CONFLICT (key) DO UPDATE`` of every column (columns the
statement does not name get their default, as SQLite's delete-and-insert gives them);
``BEGIN IMMEDIATE`` to ``BEGIN``; an ``INSERT`` into a table with an ``id`` gets
``RETURNING id`` for ``lastrowid``. The tables are created by bot/migrations.py with
PostgreSQL types (``bytea`` identities, ``bigserial`` ids); ``items`` has a ``rowid`` column
so that "in the order recorded" reads the same on both.

Connections: one per ``PgStore``, in autocommit mode (``transaction()`` issues BEGIN/COMMIT
itself, exactly as with SQLite). The bot opens one store per thread that touches state (the
event loop's, the metrics server's), and a store is used by one thread at a time, so a pool
would hold the same connections: none is needed (psycopg_pool is not installed here).

Several workers on one database (issue 12; README "PostgreSQL"): feeds are claimed with a lease
(``claim_due_feeds``: one ``UPDATE ... WHERE url IN (SELECT ... FOR UPDATE SKIP LOCKED)``); a
response with matched items is decided under ``pg_advisory_xact_lock`` (``lock_novelty``), after
refreshing the novelty index through ``story_changes``; ``DatabaseLock`` is shared by the
workers and exclusive only for a command that needs the database alone.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from bot import migrations
from bot.config import redact_url
from bot.store import Store, _iso

# Advisory lock keys: any numbers, one per purpose (the schema's is in bot/migrations.py).
NOVELTY_LOCK = 0x77617463_00000002  # Store.lock_novelty: one decider at a time per database
# Store.sender_lock: the two-number form of advisory keys (a space apart from the one-number
# keys above), this constant and a 32-bit digest of the channel's identity.
SENDER_LOCK_CLASS = 0x77617464

_LITERAL = re.compile(r"('(?:[^']|'')*')")
_INSERT = re.compile(r"^\s*INSERT\s+(?:OR\s+(IGNORE|REPLACE)\s+)?INTO\s+(\w+)\s*(\(([^)]*)\))?",
                     re.IGNORECASE)


class _Row(tuple):
    """A result row readable by position and by column name, as ``sqlite3.Row`` is."""

    __slots__ = ()
    _names: dict[str, int] = {}

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


@lru_cache(maxsize=256)
def _row_type(names: tuple[str, ...]) -> type:
    # One class per column list (a class per query would cost more than the query's rows).
    return type("Row", (_Row,), {"__slots__": (), "_names": {n: i for i, n in enumerate(names)}})


def _row_factory(cursor):
    return _row_type(tuple(c.name for c in cursor.description or ()))


class _Cursor:
    """The part of ``sqlite3.Cursor`` the store uses: rows, ``rowcount``, ``lastrowid``."""

    def __init__(self, cursor, lastrowid: int | None = None):
        self._cursor = cursor
        self.rowcount = cursor.rowcount
        self.lastrowid = lastrowid

    def fetchone(self):
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list:
        return self._cursor.fetchall() if self._cursor.description else []

    def __iter__(self) -> Iterator:
        return iter(self.fetchall())


class PgConnection:
    """A psycopg connection that accepts the SQLite store's statements (see the module docstring)."""

    def __init__(self, url: str):
        import psycopg
        from psycopg.adapt import Loader

        self.url = url
        self.raw = psycopg.connect(url, autocommit=True, row_factory=_row_factory)

        class _Number(Loader):  # sum() of integers is numeric in PostgreSQL, an int in SQLite
            def load(self, data):
                value = float(bytes(data))
                return int(value) if value.is_integer() else value

        self.raw.adapters.register_loader("numeric", _Number)
        self._tables: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] | None = None
        self._layout_of: _Layout | None = None  # built once per schema, not per statement

    def close(self) -> None:
        self.raw.close()

    def tables(self) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
        """{table: (primary-key columns, all columns in order)} of the current schema."""
        if self._tables is None:
            columns: dict[str, list[str]] = {}
            for r in self.raw.execute(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"):
                columns.setdefault(r[0], []).append(r[1])
            keys: dict[str, list[str]] = {}
            for r in self.raw.execute(
                    "SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc "
                    "JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = "
                    "tc.constraint_name AND kcu.table_schema = tc.table_schema WHERE "
                    "tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema() "
                    "ORDER BY kcu.ordinal_position"):
                keys.setdefault(r[0], []).append(r[1])
            self._tables = {t: (tuple(keys.get(t, ())), tuple(cols)) for t, cols in columns.items()}
        return self._tables

    def schema_changed(self) -> None:
        """Forget the table layout (after a migration)."""
        self._tables = None
        self._layout_of = None
        _translate.cache_clear()

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> _Cursor:
        text, returning = _translate(sql, self._layout())
        cur = self.raw.execute(text, tuple(params or ()))
        lastrowid = None
        if returning:
            row = cur.fetchone()
            lastrowid = row[0] if row else None
        return _Cursor(cur, lastrowid)

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> None:
        text, _ = _translate(sql, self._layout(), many=True)
        rows = [tuple(p) for p in seq]
        if rows:
            with self.raw.cursor() as cur:
                cur.executemany(text, rows)

    def _layout(self) -> "_Layout":
        if self._layout_of is None:
            self._layout_of = _Layout(self.tables())
        return self._layout_of


class _Layout:
    """The table layout as a hashable value, so translations are cached per schema: keyed by
    its contents, so every connection to the same schema (a store per metrics scrape) shares them."""

    __slots__ = ("tables", "_key", "_hash")

    def __init__(self, tables: dict):
        self.tables = tables
        self._key = tuple(sorted(tables.items()))
        self._hash = hash(self._key)  # computed once: every statement's cache lookup hashes it

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Layout) and other._key == self._key


@lru_cache(maxsize=1024)
def _translate(sql: str, layout: _Layout, many: bool = False) -> tuple[str, bool]:
    """(PostgreSQL statement, whether it returns the new row's id) for one SQLite statement."""
    stripped = sql.strip()
    if re.fullmatch(r"BEGIN\s+IMMEDIATE", stripped, re.IGNORECASE):
        return "BEGIN", False
    # Placeholders and literal percent signs outside (and inside) string literals.
    parts = _LITERAL.split(stripped)
    text = "".join(p.replace("%", "%%") if i % 2 else p.replace("%", "%%").replace("?", "%s")
                   for i, p in enumerate(parts))
    m = _INSERT.match(text)
    if not m:
        return text, False
    mode, table = (m.group(1) or "").upper(), m.group(2)
    keys, columns = layout.tables.get(table, ((), ()))
    text = re.sub(r"^\s*INSERT\s+OR\s+(IGNORE|REPLACE)\s+INTO", "INSERT INTO", text, flags=re.IGNORECASE)
    if mode == "IGNORE":
        text += " ON CONFLICT DO NOTHING"
    elif mode == "REPLACE":
        named = [c.strip() for c in m.group(4).split(",")] if m.group(4) else list(columns)
        sets = [f"{c} = EXCLUDED.{c}" if c in named else f"{c} = DEFAULT"
                for c in columns if c not in keys]
        text += f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {', '.join(sets)}"
    returning = not many and "id" in columns and "RETURNING" not in text.upper()
    if returning:
        text += " RETURNING id"
    return text, returning


class PgStore(Store):
    """The store of one PostgreSQL database (``postgresql://...``), same contract as ``Store``."""

    def __init__(self, url: str, *, upgrade: bool = False):
        """Connect and check the schema (see bot/migrations.py): an empty database gets it, an
        older one only with ``upgrade`` (`watchbot db upgrade`), a newer one is refused.
        An unreachable server raises DatabaseUnavailableError naming it (never the password)."""
        import psycopg

        # Not Store.__init__: that opens SQLite. The attributes its methods rely on are set here.
        self.url = url
        self.path = Path(redact_url(url))  # only named in messages
        where = f"the PostgreSQL database {redact_url(url)}"
        try:
            self.db = PgConnection(url)
        except psycopg.Error as exc:
            reason = " ".join(str(exc).replace(url, redact_url(url)).split())
            raise migrations.DatabaseUnavailableError(f"cannot open {where}: {reason}") from None
        try:
            self.schema_found, _ = migrations.open_pg(self.db, upgrade=upgrade, where=where)
        except BaseException:
            self.db.close()
            raise
        self._file_id = None
        self._depth = 0
        self._batch_since = None
        self._batch_open = False
        self._digest_memo = {}
        self._sender_locks: dict[str, int] = {}  # channel -> its acquisition (sender_lock)
        self._claimable: frozenset[str] = frozenset()  # what the session's claimable table holds

    _sender_acquisitions = 0  # numbers sender_lock hands out, distinct across this process's stores

    def verify_on_disk(self) -> None:
        """Nothing to check: a server's database cannot be replaced by a file under us."""

    def claim_due_feeds(self, urls: Sequence[str], owner: str, now: datetime, lease: timedelta,
                        limit: int | None = None) -> list[str]:
        """See ``bot.storage.Store.claim_due_feeds``. One statement: the due rows are locked as
        they are chosen, and rows another worker is claiming at this instant are skipped
        (``SKIP LOCKED``) rather than waited for, so N workers claiming at once get disjoint
        sets; a row claimed and committed meanwhile is re-checked against the condition
        (READ COMMITTED re-reads a changed row before locking it), so its new lease counts."""
        if not urls or (limit is not None and limit <= 0):
            return []
        stamp, wanted = _iso(now), frozenset(urls)
        # The feeds that may be claimed live in a temporary table of this session, loaded only
        # when ``urls`` has one it lacks or lacks many of it (about once per run: the daemon
        # passes its feed list minus the few it is polling, which go in a short array): not a
        # 2,000-URL array bound every second, which a prepared plan matches by a linear search
        # per row and a one-off plan costs ~0.7 ms to plan. The COALESCE form walks the
        # feeds_due index, most overdue first, and stops after ``limit`` rows (schema 5).
        loaded = self._claimable
        reload = not wanted <= loaded or len(loaded - wanted) > max(64, len(loaded) // 8)
        if reload:
            loaded = wanted
        with self.transaction(durable=True):
            if reload:
                self.db.raw.execute("CREATE TEMP TABLE IF NOT EXISTS claimable (url TEXT PRIMARY KEY)")
                self.db.raw.execute("TRUNCATE claimable")
                with self.db.raw.cursor().copy("COPY claimable (url) FROM STDIN") as copy:
                    for url in sorted(loaded):
                        copy.write_row((url,))
                self.db.raw.execute("ANALYZE claimable")
            rows = self.db.raw.execute(
                "UPDATE feeds SET lease_owner = %s, lease_until = %s WHERE url IN ("
                "SELECT url FROM feeds WHERE EXISTS (SELECT 1 FROM claimable c WHERE c.url = feeds.url) "
                "AND url <> ALL(%s::text[]) AND paused_reason IS NULL AND COALESCE(next_check, '') <= %s "
                "AND (lease_until IS NULL OR lease_until <= %s OR lease_owner = %s) "
                "ORDER BY COALESCE(next_check, ''), url LIMIT %s FOR UPDATE SKIP LOCKED) "
                "RETURNING url, next_check",
                (owner, _iso(now + lease), sorted(loaded - wanted), stamp, stamp, owner, limit)).fetchall()
        self._claimable = loaded  # committed (a rolled-back load left the table as it was)
        return [r[0] for r in sorted(rows, key=lambda r: (r[1] or "", r[0]))]  # the claim's order

    def recover_leases(self) -> int:
        """Nothing: the other leases may be live workers' (see ``bot.storage.Store.recover_leases``)."""
        return 0

    def lock_novelty(self) -> None:
        """See ``bot.storage.Store.lock_novelty``: a transaction-level advisory lock, released
        by the server at commit or rollback, also when the worker's connection dies."""
        self.db.raw.execute("SELECT pg_advisory_xact_lock(%s)", (NOVELTY_LOCK,))

    def sender_lock(self, channel: str) -> int:
        """See ``bot.storage.Store.sender_lock``: a session advisory lock per channel, taken with
        ``pg_try_advisory_lock`` (never waited for) on this store's own connection, so the lock
        and ``mark_sending``'s claims share one session: if it ends (the worker died, even by
        SIGKILL, or its connection broke) the server drops the lock, and no claim can be made
        through it any more. Held until the store is closed."""
        held = self._sender_locks.get(channel)
        if held:
            return held
        objid = int.from_bytes(hashlib.blake2b(channel.encode(), digest_size=4).digest(), "big", signed=True)
        if not self.db.raw.execute("SELECT pg_try_advisory_lock(%s, %s)", (SENDER_LOCK_CLASS, objid)).fetchone()[0]:
            return 0
        PgStore._sender_acquisitions += 1
        self._sender_locks[channel] = PgStore._sender_acquisitions
        return self._sender_locks[channel]

    def is_empty(self) -> bool:
        """True while nothing was recorded (no feed, item, identity, story, outbox row or event)."""
        return not self.db.raw.execute(
            "SELECT EXISTS (SELECT 1 FROM feeds) OR EXISTS (SELECT 1 FROM items) OR EXISTS "
            "(SELECT 1 FROM identities) OR EXISTS (SELECT 1 FROM stories) OR EXISTS "
            "(SELECT 1 FROM outbox) OR EXISTS (SELECT 1 FROM events)").fetchone()[0]


class DatabaseLock:
    """Who may use a PostgreSQL database at the same time, as the state folder's flock does for
    SQLite: any number of workers (``shared``: `run`, `run --once`), or one command alone
    (`replay --state postgresql://...`, whose backtest must not mix with live workers' state).

    A session advisory lock on a connection of its own, shared or exclusive: the server
    releases it when the connection ends, also when the process is killed (its socket closes),
    so a crash never leaves it behind. What several workers must not do at once (poll one feed,
    decide one development, send to one channel) is guarded by leases and locks of its own.
    """

    _KEY = 0x77617463_00000001  # any number; one per purpose (see migrations for the schema's)

    def __init__(self, url: str, *, shared: bool = False):
        self.url = url
        self.shared = shared
        self._conn = None

    def acquire(self) -> None:
        import psycopg

        from bot.storage import StateLockedError

        try:
            conn = psycopg.connect(self.url, autocommit=True)
        except psycopg.Error as exc:
            raise migrations.DatabaseUnavailableError(
                f"cannot open the PostgreSQL database {redact_url(self.url)}: {' '.join(str(exc).split())}") from None
        take = "pg_try_advisory_lock_shared" if self.shared else "pg_try_advisory_lock"
        got = conn.execute(f"SELECT {take}(%s)", (self._KEY,)).fetchone()[0]
        if not got:
            holder = conn.execute(
                "SELECT a.client_addr, a.application_name, a.pid FROM pg_locks l JOIN pg_stat_activity a "
                "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.objid = %s AND l.granted",
                (self._KEY & 0xFFFFFFFF,)).fetchone()
            conn.close()
            who = f" (server backend {holder[2]}, client {holder[0] or 'local socket'})" if holder else ""
            if self.shared:
                raise StateLockedError(f"the PostgreSQL database {redact_url(self.url)} is in use by another "
                                       f"running watchbot that needs it alone (a replay){who}; refusing to "
                                       "start a worker on it until that ends")
            raise StateLockedError(f"the PostgreSQL database {redact_url(self.url)} is in use by another "
                                   f"running watchbot{who}; this command needs it alone, stop the workers first")
        self._conn = conn

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()  # ends the session: the server drops its advisory locks
            self._conn = None


# The order rows are copied in: stories before the items, outbox rows and per-channel message
# ids that name them (without story_messages an edit in any channel but the story's latest
# post's would come back as a second post).
COPIED_TABLES = ("meta", "feeds", "identities", "stories", "story_messages", "items", "outbox", "events")


def copy_from_sqlite(source: Store, target: PgStore) -> dict[str, int]:
    """Copy every row of a SQLite state into an empty PostgreSQL one; {table: rows copied}.

    Identities (tombstones of pruned items included) come along, so nothing the SQLite bot had
    seen is new on PostgreSQL; story and outbox ids are kept (outbox rows and items name their
    stories) and the id sequences continue after them. One transaction: a failure copies
    nothing. ``source`` should be at this watchbot's schema (opening it as a ``Store`` does
    that); the schema version row of ``meta`` is the target's own. Refuses a target that
    already holds state (merging two histories is not a copy).
    """
    if not target.is_empty():
        raise ValueError(f"{target.path} already holds watchbot state; `db copy` fills only an "
                         "empty database (create a new one, or drop this one's tables)")
    pg_columns = target.db.tables()
    counts: dict[str, int] = {}
    raw = target.db.raw
    with raw.transaction():
        for table in COPIED_TABLES:
            have = [r[1] for r in source.db.execute(f"PRAGMA table_info({table})")]
            columns = [c for c in pg_columns[table][1] if c in have]
            where = " WHERE key != 'schema_version'" if table == "meta" else ""
            order = "" if table == "identities" else " ORDER BY rowid"  # items: recorded order
            rows = source.db.execute(f"SELECT {', '.join(columns)} FROM {table}{where}{order}")
            n = 0
            with raw.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(tuple(row))
                    n += 1
            counts[table] = n
            if "id" in columns:  # new rows continue after the copied ids
                raw.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)")
    return counts


__all__ = ["PgStore", "PgConnection", "DatabaseLock", "copy_from_sqlite", "COPIED_TABLES"]
