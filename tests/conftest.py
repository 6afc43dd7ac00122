"""Shared fixtures: real local servers (feeds, Telegram Bot API) and settings on a temp state."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.config import Settings, write_opml
from bot.models import Feed
from tests.servers.botapi import DEFAULT_CHAT, BotApiStandIn
from tests.servers.feedserver import FeedServer

REPO = Path(__file__).resolve().parent.parent
WATCHLISTS = REPO / "watchlists"
TOKEN = "123456:TEST-token-never-logged"


class FixedClock:
    """An injectable clock that only moves when a test moves it."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        from datetime import timedelta

        self.now += timedelta(**delta)


@pytest.fixture(autouse=True, scope="session")
def _user_cache_in_a_temp_folder(tmp_path_factory):
    """The suite (and the processes it starts) keep what bot.embed persists in the user's cache
    folder (the timeline's vectors) in a temporary one, not in the home of whoever runs it."""
    import os

    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


@pytest.fixture
async def feed_server():
    async with FeedServer() as srv:
        yield srv


@pytest.fixture
async def bot_api():
    async with BotApiStandIn() as api:
        yield api


@pytest.fixture
def clock():
    return FixedClock(datetime(2025, 10, 25, 12, 0, tzinfo=timezone.utc))


def make_settings(tmp_path: Path, feed_urls: list[str], **overrides) -> Settings:
    """Settings on a fresh state folder with the shipped watchlists and the given feeds."""
    opml = tmp_path / "feeds.opml"
    opml.write_text(write_opml([Feed(url=u) for u in feed_urls]), encoding="utf-8")
    base = Settings(watchbot_feeds=opml, watchbot_watchlists=WATCHLISTS, watchbot_state=tmp_path / "state",
                    watchbot_parse_workers=0, watchbot_jitter=0, watchbot_send_interval=0.0,
                    watchbot_user_agent="watchbot-test")
    return replace(base, **overrides)


def cli_run(tmp_path: Path, feed_urls: list[str], api_root: str, *, once: bool,
            **env_extra: str) -> tuple[list[str], dict]:
    """The command line and environment of `watchbot run` (``--once`` or the daemon) over the
    shipped watchlists and ``feed_urls``, posting to the Bot API stand-in at ``api_root``."""
    import os
    import sys

    (tmp_path / "feeds.opml").write_text(
        '<opml version="2.0"><body>' + "".join(f'<outline xmlUrl="{u}"/>' for u in feed_urls)
        + "</body></opml>", encoding="utf-8")
    (tmp_path / "watchbot.toml").write_text(
        f'WATCHBOT_WATCHLISTS = "{WATCHLISTS}"\nWATCHBOT_STATE = "state"\n'
        'WATCHBOT_FEEDS = "feeds.opml"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WATCHBOT_"))}
    env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_CHAT_ID=str(DEFAULT_CHAT), TELEGRAM_API_URL=api_root,
               WATCHBOT_JITTER="0", WATCHBOT_SEND_INTERVAL="0", WATCHBOT_BACKFILL="5", **env_extra)
    cmd = [sys.executable, "-m", "bot", "--config", str(tmp_path / "watchbot.toml"), "run"]
    return (cmd + ["--once"] if once else cmd), env


__all__ = ["cli_run", "DEFAULT_CHAT", "TOKEN", "REPO", "WATCHLISTS", "FixedClock", "make_settings"]


# ---------------------------------------------------------------------------- PostgreSQL

def _in_ci() -> bool:
    import os

    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def pg_server():
    """One throw-away PostgreSQL server for the whole session (tests/pg_server.py), started on
    first use. Skipped with the reason when this machine cannot run one; in CI that fails."""
    from tests.pg_server import PgServer

    reason = PgServer.unavailable()
    if reason:
        if _in_ci():
            pytest.fail(f"PostgreSQL tests cannot run in CI: {reason}")
        pytest.skip(f"PostgreSQL tests skipped: {reason}")
    server = PgServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    """The URL of a fresh, empty PostgreSQL database."""
    return pg_server.create_database()


class StoreBackend:
    """One backend the store tests run on: opens stores on one database and reads what another
    connection (another process, after a crash) would find committed there."""

    def __init__(self, name: str, target):
        self.name = name
        self.target = target  # a SQLite file path or a PostgreSQL URL

    def open(self):
        if self.name == "sqlite":
            from bot.store import Store

            return Store(self.target)
        from bot.store_pg import PgStore

        return PgStore(self.target)

    def committed(self, sql: str) -> list[tuple]:
        """Rows of ``sql`` as a separate connection sees them."""
        if self.name == "sqlite":
            import sqlite3

            other = sqlite3.connect(str(self.target))
            try:
                return [tuple(r) for r in other.execute(sql)]
            finally:
                other.close()
        import psycopg

        with psycopg.connect(self.target) as other:
            return [tuple(r) for r in other.execute(sql)]

    def settings_overrides(self) -> dict:
        """What make_settings needs to put a pipeline's state on this backend."""
        return {} if self.name == "sqlite" else {"watchbot_database_url": self.target}


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path) -> StoreBackend:
    """Each store test that takes this runs twice: on a SQLite file and on a fresh PostgreSQL
    database (skipped with the reason where no PostgreSQL can be started, failing in CI)."""
    if request.param == "sqlite":
        return StoreBackend("sqlite", tmp_path / "state.sqlite3")
    return StoreBackend("postgresql", request.getfixturevalue("pg_url"))
