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


def _a_decides_while_b_polls(tmp_path, pg_url, b_entry: Entry) -> dict:
    """Worker A decides NEW in a transaction it holds open until worker B, polling a feed
    that now carries ``b_entry``, waits for the novelty lock (or, without the lock, has
    decided); then A commits. Returns A's decision and B's poll report."""
    clock = FixedClock(NOW)
    with FeedServer.in_thread() as srv:
        srv.set_feed("/b.rss", rss("B", OLD))
        settings = make_settings(tmp_path, [srv.url("/b.rss")], watchbot_database_url=pg_url)
        a = Pipeline.build(settings, channel=None, clock=clock)
        a_decided, a_commit = threading.Event(), threading.Event()
        results: dict = {}

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
                    srv.set_feed("/b.rss", rss("B", OLD + [b_entry]))
                    results["b"] = await b.poll(feed)
                finally:
                    await b.aclose()
                    b.store.close()
            asyncio.run(run())

        ta, tb = threading.Thread(target=worker_a), threading.Thread(target=worker_b)
        ta.start()
        tb.start()
        assert a_decided.wait(120)
        while tb.is_alive() and not _waiting_for_an_advisory_lock(pg_url):
            time.sleep(0.05)
        a_commit.set()
        ta.join(120)
        tb.join(120)
        a.store.close()
        asyncio.run(a.aclose())
    return results


def test_two_workers_deciding_one_development_at_once_start_one_story(tmp_path, pg_url):
    """Worker A has decided NEW (a story, not yet committed) when worker B polls another outlet's
    report of the same development: B waits for A's novelty lock, then sees A's story and folds
    its report into it, so the database holds one story, not two alerts."""
    results = _a_decides_while_b_polls(tmp_path, pg_url, SAME)
    assert results["a"].kind == "alert"
    assert results["b"].alerts == 0 and results["b"].updates == 1, results["b"]
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM stories").fetchone()[0] == 1
        assert [r[0] for r in conn.execute("SELECT action FROM outbox ORDER BY id")] == ["post", "edit"]


def test_an_item_another_worker_recorded_meanwhile_is_not_decided_again(tmp_path, pg_url):
    """B polls a second feed carrying the very item A is recording (same link, another GUID):
    new when B looked, but under the novelty lock B finds it recorded and leaves it alone."""
    twin = Entry(NEW.title, NEW.link, NEW.published, NEW.summary, guid="b-feed-guid-1")
    results = _a_decides_while_b_polls(tmp_path, pg_url, twin)
    assert results["a"].kind == "alert"
    assert results["b"].new_items == 0 and results["b"].alerts == results["b"].updates == 0, results["b"]
    with psycopg.connect(pg_url) as conn:
        assert [r[0] for r in conn.execute("SELECT action FROM outbox ORDER BY id")] == ["post"]


def test_a_poll_blocked_longer_than_its_lease_keeps_its_feed(tmp_path, pg_url):
    """Worker A's poll of a feed with a new matched item blocks A's event loop waiting for the
    novelty lock (held here) for longer than its lease: A's lease-renewal thread keeps the
    lease, so worker B cannot claim the feed and fetch it again less than an interval after A
    did (what the novelty engine's seconds-long first build under that lock caused)."""
    from bot.schedule import Daemon
    from bot.store_pg import NOVELTY_LOCK

    lease = 4
    with FeedServer.in_thread() as srv:
        srv.set_feed("/a.rss", rss("A", OLD))
        url = srv.url("/a.rss")
        settings = make_settings(tmp_path, [url], watchbot_database_url=pg_url, watchbot_interval=2,
                                 watchbot_lease=lease, watchbot_timeout=2)
        started: dict = {}

        def worker_a() -> None:
            async def run() -> None:
                a = Pipeline.build(settings, channel=None)
                started["daemon"], started["loop"] = Daemon(a), asyncio.get_running_loop()
                try:
                    await started["daemon"].run()
                finally:
                    await a.aclose()
                    a.store.close()
            asyncio.run(run())

        b = Pipeline.build(settings, channel=None)  # creates the schema before A looks
        ta = threading.Thread(target=worker_a)
        ta.start()
        holder = psycopg.connect(pg_url, autocommit=True)
        try:
            assert _until(lambda: _rows(pg_url, "SELECT seeded FROM feeds WHERE url = %s", (url,))
                          == [(1,)], 120)  # A's first poll: first sight, nothing decided
            holder.execute("SELECT pg_advisory_lock(%s)", (NOVELTY_LOCK,))
            srv.set_feed("/a.rss", rss("A", OLD + [NEW]))
            assert _until(lambda: _waiting_for_an_advisory_lock(pg_url), 60)  # A's second poll
            time.sleep(lease + 2)  # A's claim alone would have run out by now
            assert b.claim_due([url]) == [], "B took over a feed A is still polling"
        finally:
            holder.execute("SELECT pg_advisory_unlock(%s)", (NOVELTY_LOCK,))
            holder.close()
            assert _until(lambda: _rows(pg_url, "SELECT lease_owner FROM feeds WHERE url = %s",
                                        (url,)) == [(None,)], 60)  # A recorded its poll
            if "loop" in started:
                started["loop"].call_soon_threadsafe(started["daemon"].stop)
            ta.join(60)
            asyncio.run(b.aclose())
            b.store.close()


# ---------------------------------------------------------------------------- real workers

import os  # noqa: E402
import random  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from collections import Counter  # noqa: E402

from tests.conftest import DEFAULT_CHAT, TOKEN  # noqa: E402
from tests.servers.botapi import BotApiStandIn  # noqa: E402
from tests.test_crash import FIRST_DAY, PLACES, ROLES, SYLLABLES, _headline, _watchlists  # noqa: E402

FEEDS = 300
INTERVAL = 5  # seconds between two polls of a feed
LEASE = 12  # seconds a worker's claim holds (> WATCHBOT_TIMEOUT + WATCHBOT_JITTER)


class Newsroom:
    """300 loopback feeds: every round some of them publish an item nobody watches, and a few a
    development of its own on the one watchlist (another person, days apart: each one alerts)."""

    def __init__(self, srv: FeedServer, feeds: int = FEEDS):
        self.srv = srv
        self.paths = [f"/f/{i:03}.rss" for i in range(feeds)]
        self.entries: dict[str, list[Entry]] = {p: [] for p in self.paths}
        self.rnd = random.Random(12)
        self.n = 0
        self.developments: list[str] = []  # links of the matching items published
        for path in self.paths:
            self._add(path, self._weather(path))

    def _weather(self, path: str) -> Entry:
        self.n += 1
        return Entry(f"Weather {self.n}: sunny in {self.rnd.choice(PLACES)}", f"https://w.example{path}/{self.n}",
                     FIRST_DAY + timedelta(days=self.n % 300))

    def _development(self, path: str) -> Entry:
        self.n += 1
        n = self.n
        place, role = self.rnd.choice(PLACES), self.rnd.choice(ROLES)
        person = "".join(self.rnd.choice(SYLLABLES) for _ in range(3)).capitalize() + "ov"
        link = f"https://live.example{path}/story-{n}"
        self.developments.append(link)
        return Entry(f"Sputnik Azerbaijan {role} {person} sentenced to {n % 9 + 2} years in {place}", link,
                     FIRST_DAY + timedelta(days=4 * (n % 120)),
                     f"A court in {place} sentenced Sputnik Azerbaijan {role} {person} to "
                     f"{n % 9 + 2} years after case {n * 7919 % 1000}.")

    def _add(self, path: str, entry: Entry) -> None:
        self.entries[path] = (self.entries[path] + [entry])[-6:]
        self.srv.set_feed(path, rss(f"Outlet {path}", self.entries[path]))

    def publish(self, quiet: int = 60, developments: int = 4) -> None:
        for path in self.rnd.sample(self.paths, quiet):
            self._add(path, self._weather(path))
        for path in self.rnd.sample(self.paths, developments):
            self._add(path, self._development(path))


def _workers_env(tmp_path, srv: FeedServer, api, pg_url: str, paths: list[str]) -> tuple[list[str], dict]:
    folder = _watchlists(tmp_path)
    (tmp_path / "feeds.opml").write_text(
        '<opml version="2.0"><body>' + "".join(f'<outline xmlUrl="{srv.url(p)}"/>' for p in paths)
        + "</body></opml>", encoding="utf-8")
    (tmp_path / "watchbot.toml").write_text(
        f'WATCHBOT_WATCHLISTS = "{folder}"\nWATCHBOT_STATE = "state"\nWATCHBOT_FEEDS = "feeds.opml"\n',
        encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WATCHBOT_"))}
    env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_CHAT_ID=str(DEFAULT_CHAT), TELEGRAM_API_URL=api.root,
               WATCHBOT_DATABASE_URL=pg_url, WATCHBOT_INTERVAL=str(INTERVAL), WATCHBOT_JITTER="0",
               WATCHBOT_LEASE=str(LEASE), WATCHBOT_TIMEOUT="10", WATCHBOT_PER_HOST="16",
               WATCHBOT_CONCURRENCY="32", WATCHBOT_SEND_INTERVAL="0", WATCHBOT_SEND_PER_MINUTE="100000",
               WATCHBOT_PARSE_WORKERS="0", WATCHBOT_LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")
    return [sys.executable, "-m", "bot", "--config", str(tmp_path / "watchbot.toml"), "run"], env


def _start(cmd, env, cwd, log) -> subprocess.Popen:
    with open(log, "ab") as fh:
        return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=fh)


def _until(predicate, limit: float) -> bool:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def _rows(url: str, sql: str, args=()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return [tuple(r) for r in conn.execute(sql, args or None)]


def _seeded_everywhere(url: str, feeds: int = FEEDS) -> bool:
    try:
        return _rows(url, "SELECT count(*) FROM feeds WHERE seeded = 1")[0][0] >= feeds
    except psycopg.errors.UndefinedTable:  # the first worker has not created the schema yet
        return False


def _all_delivered(url: str, newsroom: Newsroom) -> bool:
    """Every development published so far is recorded, and no outbox row is pending or being sent."""
    links = {r[0] for r in _rows(url, "SELECT link FROM items WHERE link LIKE 'https://live.example%'")}
    return links >= set(newsroom.developments) and not _rows(
        url, "SELECT 1 FROM outbox WHERE status IN ('pending', 'sending')")


def _stop(workers: list[subprocess.Popen]) -> list[int]:
    """SIGTERM every worker and wait for each (a minute at most); their exit codes."""
    for w in workers:
        w.send_signal(signal.SIGTERM)
    return [w.wait(60) for w in workers]


def _check_each_alert_once(url: str, api, newsroom: Newsroom) -> dict:
    """Every published development was recorded once, every story's post is on the channel
    exactly once (maybe_sent: at most once), and nothing else is."""
    recorded = Counter(r[0] for r in _rows(url, "SELECT link FROM items WHERE link LIKE 'https://live.example%'"))
    assert set(recorded) == set(newsroom.developments), "a published development was not recorded"
    assert max(recorded.values()) == 1
    posts = _rows(url, "SELECT status, text FROM outbox WHERE action = 'post'")
    stories = _rows(url, "SELECT count(*) FROM stories")[0][0]
    assert stories == len(posts), "every story has exactly one post row"
    statuses = Counter(status for status, _ in posts)
    assert set(statuses) <= {"sent", "maybe_sent"}, statuses
    on_channel = Counter(_headline(m["text"]) for m in api.messages(DEFAULT_CHAT))
    assert not {h: c for h, c in on_channel.items() if c > 1}, "an alert was posted twice"
    assert {_headline(t) for s, t in posts if s == "sent"} <= set(on_channel)
    assert set(on_channel) <= {_headline(t) for _, t in posts}, "a message no post row decided"
    return {"developments": len(newsroom.developments), "stories": stories, **statuses,
            "messages": sum(on_channel.values())}


def _polls_spaced_by_the_interval(srv: FeedServer, paths: list[str]) -> tuple[int, list]:
    """The number of polls, and the (feed, gap) of every fetch that came sooner than the
    interval after the one before, by the feed server's receipt times. No tolerance: a poll's
    next check is computed after its response arrived and stored rounded up to the second, and
    a claim compares it with its own time rounded down, so the next request cannot arrive
    sooner than an interval after the one before."""
    polls, too_soon = 0, []
    for path in paths:
        times = [r.time for r in srv.requests(path)]
        polls += len(times)
        too_soon += [(path, round(b - a, 2)) for a, b in zip(times, times[1:]) if b - a < INTERVAL]
    return polls, too_soon


def test_three_workers_on_one_database_post_each_alert_once(tmp_path, pg_url):
    """Three `watchbot run` processes on one PostgreSQL database, 300 loopback feeds with new
    items in every round: the polls are shared out, every alert reaches the channel exactly
    once, and no feed is fetched twice within its interval."""
    log = tmp_path / "workers.log"
    with FeedServer.in_thread() as srv, BotApiStandIn.in_thread() as api:
        newsroom = Newsroom(srv)
        cmd, env = _workers_env(tmp_path, srv, api, pg_url, newsroom.paths)
        workers = [_start(cmd, env, tmp_path, log) for _ in range(3)]
        try:
            assert _until(lambda: _seeded_everywhere(pg_url), 120), log.read_text()[-3000:]
            for _ in range(6):  # rounds of news, a little faster than the interval
                newsroom.publish()
                time.sleep(INTERVAL * 0.7)
            assert _until(lambda: _all_delivered(pg_url, newsroom), 120), log.read_text()[-3000:]
        finally:
            codes = _stop(workers)
        assert codes == [0, 0, 0], log.read_text()[-3000:]
        figures = _check_each_alert_once(pg_url, api, newsroom)
        polls, too_soon = _polls_spaced_by_the_interval(srv, newsroom.paths)
    owners = _rows(pg_url, "SELECT count(*) FROM feeds WHERE lease_owner IS NOT NULL")[0][0]
    print(f"3 workers: {polls} polls of {FEEDS} feeds, {figures}, leases left {owners}, "
          f"fetched sooner than the interval: {too_soon}, "
          f"load {os.getloadavg()[0]:.1f}")
    assert figures["stories"] >= 10  # alerts really flowed
    assert not too_soon, "a feed was fetched twice within its interval"
    assert owners == 0  # a worker stopped by SIGTERM leaves no lease behind


def test_killed_workers_lose_no_alert_double_none_and_their_feeds_are_taken_over(tmp_path, pg_url):
    """Ten times a random one of three workers is killed with SIGKILL at a random moment and a
    new one started: no alert is lost or posted twice (fetches sooner than the interval are
    reported), and each feed the dead worker held is polled again by another once its lease ran
    out (not before)."""
    rnd = random.Random(1212)
    log = tmp_path / "workers.log"
    kills: list[tuple[float, dict[str, datetime]]] = []  # (when, {feed path: lease until})
    with FeedServer.in_thread() as srv, BotApiStandIn.in_thread() as api:
        newsroom = Newsroom(srv)
        base = srv.url("/")[:-1]
        cmd, env = _workers_env(tmp_path, srv, api, pg_url, newsroom.paths)
        workers = [_start(cmd, env, tmp_path, log) for _ in range(3)]
        try:
            assert _until(lambda: _seeded_everywhere(pg_url), 120), log.read_text()[-3000:]
            for _ in range(10):
                newsroom.publish(quiet=40, developments=2)
                time.sleep(rnd.uniform(0.5, 3.0))
                victim = workers.pop(rnd.randrange(len(workers)))
                # While it holds leases (a poll takes well under a second, and a new worker
                # prepares its novelty engine before claiming anything): a kill then tests a takeover.
                _until(lambda: _rows(pg_url, "SELECT count(*) FROM feeds WHERE lease_owner LIKE %s",
                                     (f"%:{victim.pid}:%",))[0][0] > 0, 20)
                victim.send_signal(signal.SIGKILL)
                victim.wait(10)
                killed_at = time.time()
                held = {url[len(base):]: datetime.fromisoformat(until) for url, until in _rows(
                    pg_url, "SELECT url, lease_until FROM feeds WHERE lease_owner LIKE %s",
                    (f"%:{victim.pid}:%",))}
                kills.append((killed_at, held))
                workers.append(_start(cmd, env, tmp_path, log))
            newsroom.publish(quiet=0, developments=2)

            def settled() -> bool:
                taken_over = all(any(r.time > at for r in srv.requests(path))
                                 for at, held in kills for path in held)
                return taken_over and _all_delivered(pg_url, newsroom)
            assert _until(settled, LEASE + 120), log.read_text()[-3000:]
        finally:
            codes = _stop(workers)
        assert codes == [0, 0, 0], log.read_text()[-3000:]
        figures = _check_each_alert_once(pg_url, api, newsroom)
        polls, too_soon = _polls_spaced_by_the_interval(srv, newsroom.paths)
        late = []
        for at, held in kills:
            for path, until in held.items():
                first = min(r.time for r in srv.requests(path) if r.time > at)
                # Stored at one-second precision (rounded down): the lease ended within 1 s of it.
                assert first >= until.timestamp(), (path, first, until)
                late.append(first - until.timestamp())
    held_total = sum(len(h) for _, h in kills)
    late.sort()
    print(f"10 kills: fetched sooner than the interval: {too_soon}; {held_total} leased feeds taken over, {late[len(late) // 2] if late else 0:.1f} s "
          f"(median) and at most {max(late, default=0):.1f} s after their lease ended; {polls} polls; "
          f"{figures}; load {os.getloadavg()[0]:.1f}")
    assert held_total > 0  # the kills really hit workers holding feeds
