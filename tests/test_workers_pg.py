"""Several workers on one PostgreSQL database (issue 12): one alert per development, each feed
polled by one worker at its interval, every alert posted once, a killed worker's feeds taken
over when its lease runs out. Real servers throughout: the throw-away PostgreSQL server
(tests/pg_server.py), the loopback feed server and the Telegram Bot API stand-in.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timedelta, timezone

import psycopg

from bot.models import Item
from bot.pipeline import Pipeline
from tests.conftest import FixedClock, make_settings
from tests.feedgen import Entry, rss
from tests.servers.feedserver import FeedServer
from tests.test_pipeline import NEW, OLD

NOW = datetime(2025, 10, 25, 12, tzinfo=timezone.utc)
# Another outlet's report of NEW's development, in Russian: an update of NEW's story.
SAME = Entry("Шеф-редактор «Sputnik Азербайджан» Евгений Белоусов освобождён в Баку",
             "https://other.example/belousov", NEW.published + timedelta(minutes=1),
             "Шеф-редактор Sputnik Азербайджан Евгений Белоусов освобождён и вылетел в Москву.")


def _waiting_for_an_advisory_lock(url: str) -> bool:
    """Whether some backend of this database waits for an advisory lock right now."""
    with psycopg.connect(url) as conn:
        return bool(conn.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE "
            "l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()").fetchone()[0])


def test_two_workers_deciding_one_development_at_once_start_one_story(tmp_path, pg_url):
    """Worker A has decided NEW (a story, not yet committed) when worker B polls another outlet's
    report of the same development: B waits for A's novelty lock, then sees A's story and folds
    its report into it, so the database holds one story, not two alerts."""
    clock = FixedClock(NOW)
    with FeedServer.in_thread() as srv:
        srv.set_feed("/b.rss", rss("B", OLD))
        settings = make_settings(tmp_path, [srv.url("/b.rss")], watchbot_database_url=pg_url)
        a = Pipeline.build(settings, channel=None, clock=clock)
        a_decided, a_commit = threading.Event(), threading.Event()
        results: dict[str, object] = {}

        def worker_a() -> None:
            item = Item(key="link:" + NEW.link, feed_url="https://a.example/rss", title=NEW.title,
                        link=NEW.link, summary=NEW.summary, published=NEW.published, outlet="A",
                        language="en")
            with a.store.transaction(durable=True):  # as _apply_poll's transaction of a response
                results["a"] = a.process_item(item, clock())[1]
                a_decided.set()
                a_commit.wait(120)

        def worker_b() -> None:
            async def run() -> None:
                b = Pipeline.build(settings, channel=None, clock=clock)
                try:
                    feed = b.feeds()[0]
                    await b.poll(feed)  # first sight: seeded, nothing decided
                    await asyncio.to_thread(a_decided.wait, 120)
                    srv.set_feed("/b.rss", rss("B", OLD + [SAME]))
                    results["b"] = await b.poll(feed)
                finally:
                    await b.aclose()
                    b.store.close()
            asyncio.run(run())

        ta, tb = threading.Thread(target=worker_a), threading.Thread(target=worker_b)
        ta.start()
        tb.start()
        # A commits only once B waits for the lock (or, without the lock, B has decided).
        assert a_decided.wait(120)
        while tb.is_alive() and not _waiting_for_an_advisory_lock(pg_url):
            time.sleep(0.05)
        a_commit.set()
        ta.join(120)
        tb.join(120)
        a.store.close()
        asyncio.run(a.aclose())
    assert results["a"].kind == "alert"
    assert results["b"].alerts == 0 and results["b"].updates == 1, results["b"]
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM stories").fetchone()[0] == 1
        assert [r[0] for r in conn.execute("SELECT action FROM outbox ORDER BY id")] == ["post", "edit"]
