"""The daemon: APScheduler jobs that call the pipeline. No business logic lives here.

Each feed has its own one-shot job, re-armed after every poll for the time the pipeline stored
(interval, RSS ttl floor, error back-off, Retry-After), plus jitter so feeds of one host are not
hit at the same instant. The re-arm happens in a scheduler listener, i.e. after APScheduler
counted the run as finished, whatever the poll did (returned, raised, was cancelled): armed from
inside the still-running job, a due time in the past made APScheduler skip the new run
("maximum number of running instances") and drop the one-shot job, so one exception in a poll
silently stopped that feed until a restart (issue 13, class 4). ``max_instances=1`` means one feed is never polled twice at once;
``coalesce`` means a sleeping laptop or a long stall produces one catch-up poll, not a burst.
Restarting picks up where it left off because every due time lives in the store.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable

from apscheduler.events import (EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES,
                                EVENT_JOB_MISSED, JobExecutionEvent)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from bot.models import Feed
from bot.pipeline import Pipeline
from bot.poll_policy import jittered
from bot.storage import StateGoneError

log = logging.getLogger("watchbot")

DRAIN_EVERY = 15  # seconds: retries of deferred alerts, edits waiting for their post
RULES_EVERY = 10  # seconds: how soon a saved watchlist edit (or feed-list edit) takes effect
SHUTDOWN_GRACE = 30  # seconds in-flight polls and sends get to finish on SIGTERM
# After a poll that raised (e.g. a full disk): try again this soon (capped by the interval),
# doubling while it keeps failing. The stored next check is stale then, so it cannot be used.
CRASH_RETRY = 30


def job_id(feed: Feed) -> str:
    return "poll-" + hashlib.sha1(feed.url.encode()).hexdigest()[:16]


class Daemon:
    """Runs the pipeline on schedule until ``stop()``."""

    def __init__(self, pipeline: Pipeline, *, digest_job: Callable[[], Awaitable[None]] | None = None):
        self.pipeline = pipeline
        self.settings = pipeline.settings
        self.scheduler = AsyncIOScheduler(timezone=timezone.utc)
        self.digest_job = digest_job
        self._feeds: dict[str, Feed] = {}
        self._by_job: dict[str, Feed] = {}  # job id -> feed, for the re-arm listener
        self._crashes: dict[str, int] = {}  # job id -> polls in a row that raised
        self._inflight: set[asyncio.Task] = set()
        self._stopping = asyncio.Event()
        self.fatal: Exception | None = None  # why the daemon stopped by itself (state gone)
        self.scheduler.add_listener(self._poll_finished, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
                                    | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)

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

    def _arm(self, feed: Feed, not_before: datetime | None = None) -> None:
        now = datetime.now(timezone.utc)
        try:
            due = self.pipeline.next_due(feed)
        except Exception:  # the store itself failing: keep the feed scheduled regardless
            log.exception("%s: cannot read its next check; trying again later", feed.url)
            due = now
        if due is None:
            return  # paused (410): `status` says why
        when = max(jittered(due, self.settings.watchbot_jitter), not_before or now, now)
        jid = job_id(feed)
        self._by_job[jid] = feed
        self.scheduler.add_job(self._tracked(lambda: self._poll(feed)), DateTrigger(when),
                               id=jid, replace_existing=True, max_instances=1,
                               coalesce=True, misfire_grace_time=None)

    async def _poll(self, feed: Feed) -> None:
        jid = job_id(feed)
        try:
            report = await self.pipeline.poll(feed)
        except Exception:
            self._crashes[jid] = self._crashes.get(jid, 0) + 1
            raise
        self._crashes.pop(jid, None)
        if report.alerts:
            await self.pipeline.drain()

    def _poll_finished(self, event: JobExecutionEvent) -> None:
        """Re-arm a feed's poll once its run is over, however it ended (see module docstring)."""
        feed = self._by_job.get(event.job_id)
        if feed is None or self._stopping.is_set() or self._feeds.get(feed.url) != feed:
            return
        crashes = self._crashes.get(event.job_id, 0)
        not_before = None
        if crashes:
            interval = feed.interval or self.settings.watchbot_interval
            delay = min(interval, CRASH_RETRY * 2 ** min(crashes - 1, 10), self.settings.watchbot_max_backoff)
            not_before = datetime.now(timezone.utc) + timedelta(seconds=delay)
            log.warning("%s: the poll failed (%d in a row); next try in %ds", feed.url, crashes, delay)
        self._arm(feed, not_before)

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
        feeds = {f.url: f for f in self.pipeline.feeds()}
        for url in set(self._feeds) - set(feeds):
            self._by_job.pop(job_id(self._feeds[url]), None)
            if self.scheduler.get_job(job_id(self._feeds[url])):
                self.scheduler.remove_job(job_id(self._feeds[url]))
            log.info("feed removed from the list: %s", url)
        added = [f for url, f in feeds.items() if url not in self._feeds or self._feeds[url] != f]
        self._feeds = feeds
        for feed in added:
            self._arm(feed)

    async def run(self) -> None:
        """Schedule everything and run until ``stop()``; then shut down cleanly."""
        await self._refresh()
        log.info("watching %d feeds", len(self._feeds))
        self.scheduler.add_job(self._tracked(self.pipeline.drain), "interval", seconds=DRAIN_EVERY,
                               id="drain", max_instances=1, coalesce=True,
                               next_run_time=datetime.now(timezone.utc))
        self.scheduler.add_job(self._tracked(self._refresh), "interval", seconds=RULES_EVERY,
                               id="refresh", max_instances=1, coalesce=True)
        self.scheduler.add_job(self._tracked(self._prune), "interval", hours=24, id="prune",
                               max_instances=1, coalesce=True)
        if self.digest_job is not None and self.settings.watchbot_digest_cron:
            trigger = CronTrigger.from_crontab(self.settings.watchbot_digest_cron,
                                               timezone=self.settings.watchbot_digest_timezone)
            self.scheduler.add_job(self._tracked(self.digest_job), trigger, id="digest",
                                   max_instances=1, coalesce=True)
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

    async def _prune(self) -> None:
        cutoff = self.pipeline.clock() - timedelta(days=self.settings.watchbot_retention_days)
        removed = self.pipeline.store.prune(cutoff)
        if removed:
            log.info("pruned %d items older than %s (identities kept)", removed, cutoff.date())

    def stop(self) -> None:
        self._stopping.set()
