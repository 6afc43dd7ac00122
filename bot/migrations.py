"""Versioned schemas of the state database, for both backends, and the steps between versions.

The schema version is the ``schema_version`` row of the ``meta`` table. A store opened on:
- an empty database creates the current schema;
- an older version: SQLite applies the missing steps at once (one process owns a state
  folder, and ``make run`` must need nothing else); PostgreSQL refuses and says to run
  ``watchbot db upgrade``, because other workers of the older version may still be using it
  and the operator decides when they stop;
- a newer version than this watchbot knows: both refuse with a clear message (an older bot
  would misread or damage what a newer one wrote); upgrade watchbot instead.

A step is a list of statements taking version N-1 to N (``SQLITE_STEPS[N]``, ``PG_STEPS[N]``),
applied in one transaction with the new version number. Columns added before versions existed
(schema 2 as shipped lacked them) are still added in place by the SQLite store
(``Store._add_columns``), so every old state file keeps opening.
"""

from __future__ import annotations

from typing import Callable

LATEST = 5

# The current schema as the SQLite store creates it (bot/store.py) plus its added columns, in PostgreSQL
# types: ids are bigserial, identities bytea, times stay ISO text (compared as text, the same
# on both backends, and copied verbatim by `watchbot db copy`). items.rowid gives "the order
# recorded" that SQLite's implicit rowid gives.
PG_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE feeds (
    url TEXT PRIMARY KEY, current_url TEXT NOT NULL, title TEXT DEFAULT '',
    etag TEXT, last_modified TEXT, body_hash TEXT,
    last_fetch TEXT, last_success TEXT, last_status INTEGER, last_error TEXT,
    consecutive_errors INTEGER NOT NULL DEFAULT 0,
    next_check TEXT, paused_reason TEXT, ttl_minutes INTEGER,
    items_total INTEGER NOT NULL DEFAULT 0, last_new INTEGER NOT NULL DEFAULT 0,
    seeded INTEGER NOT NULL DEFAULT 0,
    last_warning TEXT, first_seen TEXT,
    lease_owner TEXT, lease_until TEXT
);
-- Store.claim_due_feeds looks for due, unleased feeds on every turn of each worker's claim loop,
-- most overdue first (never checked: '' sorts first), and stops after its limit (schema 5).
CREATE INDEX feeds_due ON feeds((COALESCE(next_check, '')), url);
CREATE TABLE items (
    key TEXT PRIMARY KEY,
    feed_url TEXT NOT NULL, link TEXT, title TEXT NOT NULL, summary TEXT, published TEXT,
    outlet TEXT, language TEXT, first_seen TEXT NOT NULL, matches TEXT,
    decision TEXT NOT NULL, story_id BIGINT, reasons TEXT, signature TEXT,
    rowid BIGSERIAL
);
CREATE INDEX items_first_seen ON items(first_seen);
CREATE INDEX items_story ON items(story_id);
-- Store.story_changes reads max(rowid) and rowid > mark before every novelty decision.
CREATE INDEX items_rowid ON items(rowid);
CREATE TABLE identities (ident BYTEA PRIMARY KEY);
CREATE TABLE stories (
    id BIGSERIAL PRIMARY KEY,
    watchlist TEXT NOT NULL, item_key TEXT NOT NULL, title TEXT NOT NULL, link TEXT,
    outlet TEXT, language TEXT, published TEXT, first_seen TEXT NOT NULL,
    signature TEXT NOT NULL, message_id BIGINT, message_chat TEXT
);
CREATE INDEX stories_first_seen ON stories(first_seen);
CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    story_id BIGINT, action TEXT NOT NULL, text TEXT NOT NULL, plain TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    created TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
    sent_at TEXT, message_id BIGINT, channel TEXT, sender TEXT, claimed_at TEXT
);
CREATE INDEX outbox_pending ON outbox(status, id);
CREATE TABLE story_messages (
    story_id BIGINT NOT NULL, channel TEXT NOT NULL, message_id BIGINT NOT NULL,
    PRIMARY KEY (story_id, channel)
);
CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY, at TEXT NOT NULL, level TEXT NOT NULL, message TEXT NOT NULL
);
CREATE TABLE once_keys (key TEXT PRIMARY KEY, at TEXT NOT NULL, owner TEXT);
"""

# Columns PostgreSQL has that SQLite keeps implicitly (left out when the two are compared).
PG_ONLY_COLUMNS = {("items", "rowid")}

_DUE_INDEX = ["DROP INDEX IF EXISTS feeds_due",
              "CREATE INDEX feeds_due ON feeds((COALESCE(next_check, '')), url)"]

# version -> statements from version-1 to version.
# 3: feed leases (issue 12): the worker polling a feed and until when its claim holds
#    (Store.claim_due_feeds), and an index on the due time the claim looks up.
# 4: one sender per channel (issue 12): which worker claimed an outbox row for sending and when
#    (outbox.sender, outbox.claimed_at; SQLite adds them in place, Store._add_columns), and the
#    once_keys table of Store.claim_once (one scheduled digest per fire time, not per worker).
# 5: the due index in the claim's order, (COALESCE(next_check, ''), url): the claim reads the
#    first due rows in order and stops at its limit, instead of sorting every due feed.
SQLITE_STEPS: dict[int, list[str]] = {
    3: ["ALTER TABLE feeds ADD COLUMN lease_owner TEXT",
        "ALTER TABLE feeds ADD COLUMN lease_until TEXT",
        "CREATE INDEX IF NOT EXISTS feeds_due ON feeds(next_check)"],
    4: ["CREATE TABLE IF NOT EXISTS once_keys (key TEXT PRIMARY KEY, at TEXT NOT NULL, owner TEXT)"],
    5: _DUE_INDEX,
}
PG_STEPS: dict[int, list[str]] = {
    3: ["ALTER TABLE feeds ADD COLUMN lease_owner TEXT, ADD COLUMN lease_until TEXT",
        "CREATE INDEX IF NOT EXISTS feeds_due ON feeds(next_check)"],
    4: ["ALTER TABLE outbox ADD COLUMN IF NOT EXISTS sender TEXT, ADD COLUMN IF NOT EXISTS claimed_at TEXT",
        "CREATE TABLE IF NOT EXISTS once_keys (key TEXT PRIMARY KEY, at TEXT NOT NULL, owner TEXT)"],
    5: _DUE_INDEX,
}

# Any number: the advisory lock that serialises creating and upgrading the PostgreSQL schema
# between workers starting at the same moment.
_PG_SCHEMA_LOCK = 0x77617463  # "watc"


class SchemaError(RuntimeError):
    """The database's schema is not one this watchbot can use as it is; the message says why."""


class DatabaseUnavailableError(RuntimeError):
    """The configured database cannot be reached or opened (the message names it, no password)."""


def too_new(where: str, found: int) -> SchemaError:
    return SchemaError(
        f"{where} has schema version {found}, newer than this watchbot knows (up to {LATEST}): "
        "it was written by a newer watchbot. Run that version (or newer) instead; an older one "
        "would misread it. Nothing was changed.")


def _pg_refusal(found: int, where: str) -> SchemaError:
    """Why a PostgreSQL database at schema ``found`` (not LATEST) is not opened without an
    upgrade: one wording for `run` (open_pg) and `check` (probe)."""
    if found > LATEST:
        return too_new(where, found)
    return SchemaError(f"{where} has schema version {found}; this watchbot uses {LATEST}. Stop the "
                       "workers of the older version, then run `watchbot db upgrade`.")


def _version(raw: str | None, where: str) -> int:
    try:
        return int(raw or "")
    except ValueError:
        raise SchemaError(f"{where}: schema_version {raw!r} is not a number") from None


def pending(found: int, steps: dict[int, list[str]]) -> list[tuple[int, list[str]]]:
    """The steps from ``found`` to LATEST, in order."""
    return [(v, steps.get(v, [])) for v in range(found + 1, LATEST + 1)]


# ---------------------------------------------------------------------------- SQLite

def sqlite_version(db) -> int | None:
    """The schema version a SQLite database records (None: no schema yet)."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone() is None:
        return None
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return None if row is None else _version(row[0], "the state database")


def open_sqlite(db, create: Callable[[], None], *, where: str) -> tuple[int, int]:
    """Make a SQLite state database usable; returns (version found, 0 for a new one; version now).

    A newer schema is refused before anything is written. ``create`` makes the current tables
    (``CREATE ... IF NOT EXISTS`` and the added columns, harmless on an older file); the steps
    from the version found then run in one transaction with the new number.
    """
    found = sqlite_version(db)
    if found is not None and found > LATEST:
        raise too_new(where, found)
    create()
    if found is None:
        db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(LATEST),))
        return 0, LATEST
    if found < LATEST:
        db.execute("BEGIN IMMEDIATE")
        try:
            _apply(db.execute, pending(found, SQLITE_STEPS))
            db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(LATEST),))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    return found, LATEST


# ---------------------------------------------------------------------------- PostgreSQL

def open_pg(conn, *, upgrade: bool = False, where: str | None = None) -> tuple[int, int]:
    """Make ``conn``'s database usable by this watchbot; returns (version found, version now).

    Under an advisory lock (two workers starting together create the schema once). An empty
    database gets the current schema; an older one is upgraded only with ``upgrade`` (else
    SchemaError naming `watchbot db upgrade`); a newer one is refused.
    """
    where = where or "the PostgreSQL database"
    raw = conn.raw
    with raw.transaction():
        raw.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_SCHEMA_LOCK,))
        exists = raw.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()[0]
        if not exists:
            raw.execute(PG_SCHEMA)
            raw.execute("INSERT INTO meta VALUES ('schema_version', %s)", (str(LATEST),))
            conn.schema_changed()
            return 0, LATEST
        row = raw.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        found = _version(row[0] if row else None, where)
        if found > LATEST or (found < LATEST and not upgrade):
            raise _pg_refusal(found, where)
        if found < LATEST:
            _apply(lambda sql: raw.execute(sql), pending(found, PG_STEPS))
            raw.execute("UPDATE meta SET value=%s WHERE key='schema_version'", (str(LATEST),))
            conn.schema_changed()
        return found, LATEST


def probe(sqlite_path, url: str = "") -> str | None:
    """Why a store could not be opened on this state as it is (None: it can), reading only:
    for `watchbot check`, which accepts what `run` accepts and changes nothing."""
    if url:
        import psycopg

        from bot.config import redact_url

        where = f"the PostgreSQL database {redact_url(url)}"
        try:
            with psycopg.connect(url, connect_timeout=10) as conn:
                if not conn.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()[0]:
                    return None  # empty: the first run creates the schema
                row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except psycopg.Error as exc:
            return f"cannot open {where}: {' '.join(str(exc).replace(url, redact_url(url)).split())}"
        try:
            found = _version(row[0] if row else None, where)
        except SchemaError as exc:
            return str(exc)
        return str(_pg_refusal(found, where)) if found != LATEST else None
    import sqlite3
    from pathlib import Path

    path = Path(sqlite_path)
    if not path.exists():
        return None
    where = f"the state database {path}"
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            found = sqlite_version(db)
        finally:
            db.close()
    except sqlite3.Error as exc:
        return f"cannot read {where}: {exc}"
    except SchemaError as exc:
        return str(exc)
    return str(too_new(where, found)) if found is not None and found > LATEST else None


def _apply(run: Callable[[str], object], steps: list[tuple[int, list[str]]]) -> None:
    for _version_number, statements in steps:
        for sql in statements:
            run(sql)


__all__ = ["LATEST", "PG_SCHEMA", "SchemaError", "DatabaseUnavailableError", "open_pg", "open_sqlite",
           "sqlite_version", "pending", "probe", "too_new"]
