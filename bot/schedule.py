"""The daemon: APScheduler jobs that call the pipeline. No business logic lives here.

The schedule of the feeds lives in the store, not in the scheduler: every CLAIM_EVERY seconds a
claim job leases the due feeds this worker has room for (``Pipeline.claim_due``, i.e.
``Store.claim_due_feeds``: next check passed, no other worker's lease) and starts their polls;
each poll records the feed's next check (interval, RSS ttl floor, error back-off, Retry-After)
and releases the lease in the same transaction. Why not one APScheduler job per feed, as
before: APScheduler 3 cannot share a job store between schedulers, and with several workers on
one PostgreSQL database (issue 12) each feed must be polled by one of them at a time, at its
interval. The lease gives that: a worker that dies loses its feeds after WATCHBOT_LEASE
seconds, and another one claims them. One process on SQLite runs the very same loop.

A worker claims at most WATCHBOT_CONCURRENCY feeds at once (minus the polls it is running), so
the due feeds spread over the workers instead of all going to whichever looked first. Each poll
waits a random part of WATCHBOT_JITTER first, so feeds of one host are not hit at the same
instant (the lease covers that wait: WATCHBOT_LEASE > WATCHBOT_TIMEOUT + WATCHBOT_JITTER). On a
shared database a thread renews the leases of the running polls every second, so a poll slowed
down by a blocked event loop is not taken over and repeated within its interval. A
poll that raised (e.g. a full disk) keeps its lease and is tried again by this worker after
CRASH_RETRY seconds (doubling while it keeps failing, capped by the interval): one exception
never stops a feed (issue 13, class 4). A sleeping laptop produces one catch-up poll per feed,
not a burst. Restarting picks up where it left off because every due time lives in the store.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.models import Feed
from bot.pipeline import Pipeline
from bot.storage import StateGoneError, Store, open_store

log = logging.getLogger("watchbot")

# Seconds: the channel's sender sends what any worker queued (also retries of deferred alerts,
# edits waiting for their post); a worker that is not the sender tries the sender lock instead.
DRAIN_EVERY = 1
DIGEST_GRACE = 300  # seconds a scheduled digest may start late (a busy event loop) and still post
RULES_EVERY = 10  # seconds: how soon a saved watchlist edit (or feed-list edit) takes effect
SHUTDOWN_GRACE = 30  # seconds in-flight polls and sends get to finish on SIGTERM
# After a poll that raised (e.g. a full disk): try again this soon (capped by the interval),
# doubling while it keeps failing. The stored next check is stale then, so it cannot be used.
CRASH_RETRY = 30
CLAIM_EVERY = 1  # seconds between two looks for due feeds in the store
RENEW_EVERY = 1  # seconds between two renewals of the running polls' leases (shared database)
# A poll still running after this many leases is presumed wedged: its lease is no longer
# renewed, so it runs out and another worker takes the feed over.
RENEW_AT_MOST = 10


class Daemon:
    """Runs the pipeline on schedule until ``stop()``."""

    def __init__(self, pipeline: Pipeline, *, digest_job: Callable[[], Awaitable[None]] | None = None):
        self.pipeline = pipeline
        self.settings = pipeline.settings
        self.scheduler = AsyncIOScheduler(timezone=timezone.utc)
        self.digest_job = digest_job
        self._feeds: dict[str, Feed] = {}
        self._polling: dict[str, asyncio.Task] = {}  # url -> its running poll (this worker's)
        self._crashes: dict[str, int] = {}  # url -> polls in a row that raised
        self._retry_at: dict[str, datetime] = {}  # url -> not before (after a poll that raised)
        self._inflight: set[asyncio.Task] = set()
        # url -> time.monotonic() of its claim, for the thread renewing the leases of running
        # polls (it reads it while the event loop may be busy, hence its own lock).
        self._running: dict[str, float] = {}
        self._running_lock = threading.Lock()
        self._stopping = asyncio.Event()
        self.fatal: Exception | None = None  # why the daemon stopped by itself (state gone)

    # Jobs are wrapped so shutdown can wait for what is running (an in-flight send finishes
    # and is recorded, or stays queued in the outbox).
    def _tracked(self, factory: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            if self._stopping.is_set():
                return
            task = asyncio.current_task()
            self._inflight.add(task)
            try:
                await factory()
            except StateGoneError as exc:
                self._give_up(exc)
            except Exception:
                log.exception("scheduled job failed; it is scheduled again")
            finally:
                self._inflight.discard(task)
        return run

    async def _claim(self) -> None:
        """Lease the due feeds this worker has room for and start their polls."""
        room = self.settings.watchbot_concurrency - len(self._polling)
        now = datetime.now(timezone.utc)
        candidates = [url for url in self._feeds if url not in self._polling
                      and self._retry_at.get(url, now) <= now]
        if room <= 0 or not candidates:
            return
        for url in self.pipeline.claim_due(candidates, room):
            feed = self._feeds[url]
            task = asyncio.ensure_future(self._poll(feed))
            self._polling[url] = task
            self._inflight.add(task)
            with self._running_lock:
                self._running[url] = time.monotonic()
            task.add_done_callback(lambda t, url=url: (self._polling.pop(url, None),
                                                       self._inflight.discard(t), self._ran(url)))

    def _ran(self, url: str) -> None:
        with self._running_lock:
            self._running.pop(url, None)

    def _renew_leases(self, store: Store, stop: threading.Event) -> None:
        """A thread on a connection of its own: every RENEW_EVERY seconds, extend the leases of
        this worker's running polls by WATCHBOT_LEASE. A thread, not a job of the event loop,
        because what makes a poll outlive its lease is mostly the loop itself being blocked
        (waiting for another worker's novelty lock, deciding, a slow query); a job would be
        blocked with it, the lease would run out, and another worker would fetch the feed
        again although this one had fetched it less than an interval before."""
        lease = timedelta(seconds=self.settings.watchbot_lease)
        limit = RENEW_AT_MOST * self.settings.watchbot_lease
        try:
            while not stop.wait(RENEW_EVERY):
                now = time.monotonic()
                with self._running_lock:
                    urls = [url for url, since in self._running.items() if now - since < limit]
                if not urls:
                    continue
                try:
                    store.renew_leases(urls, self.pipeline.worker_id, self.pipeline.clock(), lease)
                except Exception as exc:  # the next turn tries again; the leases run out meanwhile
                    log.warning("cannot renew the leases of %d running polls: %s", len(urls), exc)
        finally:
            store.close()

    async def _poll(self, feed: Feed) -> None:
        """One claimed feed: the jitter wait, the poll, delivery of what it found."""
        jitter = self.settings.watchbot_jitter
        if jitter:
            try:
                await asyncio.wait_for(self._stopping.wait(), random.uniform(0, jitter))
            except asyncio.TimeoutError:
                pass
        if self._stopping.is_set():  # not started: another worker may take it at once
            try:
                self.pipeline.release([feed.url])
            except Exception:
                log.exception("%s: cannot release its claim; it runs out by itself", feed.url)
            return
        try:
            report = await self.pipeline.poll(feed)
        except StateGoneError as exc:
            self._give_up(exc)
            return
        except Exception:
            # The lease is kept (the store may be what failed): this worker tries again later.
            crashes = self._crashes[feed.url] = self._crashes.get(feed.url, 0) + 1
            interval = feed.interval or self.settings.watchbot_interval
            delay = min(interval, CRASH_RETRY * 2 ** min(crashes - 1, 10), self.settings.watchbot_max_backoff)
            self._retry_at[feed.url] = datetime.now(timezone.utc) + timedelta(seconds=delay)
            log.exception("%s: the poll failed (%d in a row); next try in %ds", feed.url, crashes, delay)
            return
        self._crashes.pop(feed.url, None)
        self._retry_at.pop(feed.url, None)
        if report.alerts:
            try:
                await self.pipeline.drain()
            except StateGoneError as exc:
                self._give_up(exc)
            except Exception:
                log.exception("delivering after a poll failed; the drain job tries again")

    def _give_up(self, exc: Exception) -> None:
        if self.fatal is None:
            self.fatal = exc
            log.critical("%s", exc)
        self.stop()

    async def _refresh(self) -> None:
        """Pick up edits of the rules and of the feed list without a restart; notice a deleted
        state folder within RULES_EVERY seconds even when nothing is being sent."""
        self.pipeline.store.verify_on_disk()
        self.pipeline.reload_rules_if_changed()
        feeds = {f.url: f for f in self.pipeline.feeds()}  # new feeds get rows: due at once
        for url in set(self._feeds) - set(feeds):
            self._crashes.pop(url, None)
            self._retry_at.pop(url, None)
            log.info("feed removed from the list: %s", url)
        self._feeds = feeds

    async def run(self) -> None:
        """Schedule everything and run until ``stop()``; then shut down cleanly."""
        await self._refresh()
        # Before the first claim, off the loop: built by the first decision instead, the
        # novelty engine took ~5 s of CPU at load 4.5 (4.0 s the facts of the timeline's
        # events, 1.0 s the embedder) inside the novelty lock, with this loop blocked and the
        # other workers' loops blocked waiting for that lock; leases ran out (issue 12).
        try:
            await asyncio.to_thread(self.pipeline.rules.prepare)
        except Exception:
            log.exception("preparing the novelty engine failed; the first decision tries again")
        renewer, renewing = None, threading.Event()
        if self.settings.watchbot_database_url:  # SQLite: one process, nobody to take a feed over
            renewer = threading.Thread(target=self._renew_leases, args=(open_store(self.settings), renewing),
                                       name="lease-renewal", daemon=True)
            renewer.start()
        log.info("watching %d feeds", len(self._feeds))
        self.pipeline.start_window()
        self.scheduler.add_job(self._tracked(self._claim), "interval", seconds=CLAIM_EVERY,
                               id="claim", max_instances=1, coalesce=True,
                               next_run_time=datetime.now(timezone.utc))
        self.scheduler.add_job(self._tracked(self._drain), "interval", seconds=DRAIN_EVERY,
                               id="drain", max_instances=1, coalesce=True,
                               next_run_time=datetime.now(timezone.utc))
        self.scheduler.add_job(self._tracked(self._refresh), "interval", seconds=RULES_EVERY,
                               id="refresh", max_instances=1, coalesce=True)
        self.scheduler.add_job(self._tracked(self._prune), "interval", hours=24, id="prune",
                               max_instances=1, coalesce=True)
        if self.digest_job is not None and self.settings.watchbot_digest_cron:
            trigger = CronTrigger.from_crontab(self.settings.watchbot_digest_cron,
                                               timezone=self.settings.watchbot_digest_timezone)
            self.scheduler.add_job(self._tracked(lambda: self._digest(trigger)), trigger, id="digest",
                                   max_instances=1, coalesce=True, misfire_grace_time=DIGEST_GRACE)
        self.scheduler.start()
        await self._stopping.wait()
        # Wait BEFORE shutting the scheduler down: APScheduler's AsyncIOExecutor.shutdown()
        # cancels the coroutine jobs still running, which would cut a send off mid-request.
        # New job starts are no-ops now (_tracked checks _stopping).
        self.scheduler.pause()
        if self._inflight:
            log.info("waiting for %d running jobs to finish", len(self._inflight))
            await asyncio.wait(set(self._inflight), timeout=SHUTDOWN_GRACE)
        self.scheduler.shutdown(wait=False)
        if renewer is not None:
            renewing.set()
            await asyncio.to_thread(renewer.join)

    async def _drain(self) -> None:
        """As the channel's sender, send what is pending; otherwise only try to become it."""
        if self.pipeline.is_sender():
            await self.pipeline.drain()

    async def _digest(self, trigger: CronTrigger) -> None:
        """The scheduled digest, posted once per fire time whatever the number of workers: by the
        channel's sender (so it keeps the channel's pace), which first claims the fire time's
        slot in the store (Store.claim_once: a sender taking over from a dead one at that
        moment does not post it again). At most once: a sender killed between the claim and
        the post loses that digest."""
        now = datetime.now(timezone.utc)
        if not self.pipeline.is_sender():
            return
        slot = last_fire_time(trigger, now).astimezone(timezone.utc).isoformat()
        if self.pipeline.store.claim_once(f"digest:{slot}", self.pipeline.worker_id, now):
            await self.digest_job()
        else:
            log.info("scheduled digest of %s: already posted by another worker", slot)

    async def _prune(self) -> None:
        cutoff = self.pipeline.clock() - timedelta(days=self.settings.watchbot_retention_days)
        removed = self.pipeline.store.prune(cutoff)
        if removed:
            log.info("pruned %d items older than %s (identities kept)", removed, cutoff.date())

    def stop(self) -> None:
        self._stopping.set()


def last_fire_time(trigger: CronTrigger, now: datetime) -> datetime:
    """The trigger's latest fire time at or before ``now`` (looked for in the hour before it;
    ``now`` if none): the same for every worker whose job fired for it, clock skew of less than
    the schedule's period included, so it names the digest's slot."""
    last = None
    at = trigger.get_next_fire_time(None, now - timedelta(hours=1))
    while at is not None and at <= now:
        last = at
        at = trigger.get_next_fire_time(at, at + timedelta(microseconds=1))
    return last or now
