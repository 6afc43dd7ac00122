"""The only module that knows the order: fetch → parse → store (new?) → match → novelty →
store + outbox → deliver.

``run --once``, the daemon (via ``schedule``), ``replay`` (``bot.replay``) and the tests all go
through ``Pipeline``; stage modules never call each other. Every I/O boundary — the HTTP fetcher, the
parser pool, the channel, the clock, the state folder — is passed in, so tests run the
real code against local servers and a fixed clock.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Hashable, NamedTuple, Sequence

from bot.config import Settings, load_feeds
from bot.channels import REFUSED_PREFIX, Channel
from bot.fetch import Fetcher
from bot.delivery_gate import DeliveryGate
from bot.models import Alert, Decision, Feed, FetchResult, Item, Match, ParsedFeed, SendOutcome, Validators
from bot.parse import ParsePool
from bot.poll_policy import Notice, PollPolicy
from bot.storage import FeedState, Store, open_store
from bot.store import utcnow
from bot.yamlconf import ConfigProblem

if TYPE_CHECKING:  # bot.rules (watchlists, timeline, text tables) is imported where rules load
    from bot.rules import Rules, RulesReloader

log = logging.getLogger("watchbot")

Clock = Callable[[], datetime]

_START_BATCH = 32  # polls started per turn of the event loop (see Pipeline._start_polls)
# Meta key: the rules_key of the last deferred rules load that succeeded (Pipeline._await_rules).
RULES_VERIFIED_META = "rules_verified"



# ---------------------------------------------------------------------------------------------
# Reports (what a cycle did; printed by the CLI, asserted by tests)
# ---------------------------------------------------------------------------------------------


@dataclass
class PollReport:
    feed: str
    status: int
    new_items: int = 0
    alerts: int = 0
    error: str | None = None
    seeded: int = 0  # first sight: items recorded as seen without alerting
    updates: int = 0


@dataclass
class CycleReport:
    polls: list[PollReport] = field(default_factory=list)
    sent: int = 0
    pending: int = 0
    delivery_error: str | None = None
    delivery_refused: bool = False  # the channel refused us (not a transient failure)
    not_due: int = 0  # feeds skipped by run_once(due_only=True): their next check is ahead

    @property
    def new_items(self) -> int:
        return sum(p.new_items for p in self.polls)

    @property
    def alerts(self) -> int:
        return sum(p.alerts for p in self.polls)

    def summary(self, pending: int | None = None) -> str:
        """The one INFO line a cycle logs: what was polled and found, what failed."""
        failing = [p for p in {p.feed: p for p in self.polls}.values() if p.error]  # last poll of each
        feeds = len({p.feed for p in self.polls})
        polled = f"{feeds} feeds polled" + (f" ({len(self.polls)} polls)" if len(self.polls) > feeds else "")
        line = (f"cycle: {polled}, {self.new_items} new items, "
                f"{sum(p.seeded for p in self.polls)} seeded on first sight, {self.alerts} alerts, "
                f"{sum(p.updates for p in self.polls)} updates, {len(failing)} feeds failing")
        if failing:
            line += " (" + ", ".join(p.feed for p in failing[:3]) + (", ..." if len(failing) > 3 else "") + ")"
        if self.not_due:
            line += f"; {self.not_due} not due yet"
        if pending is not None:
            line += f"; {self.sent} sent, {pending} pending"
        return line


# ---------------------------------------------------------------------------------------------
# Reading a feed: what `run` and `try --feed` share
# ---------------------------------------------------------------------------------------------


def build_fetcher(settings: Settings, *, transport=None, proxies: dict[str, str] | None = None,
                  any_local_file: bool = False) -> Fetcher:
    """The fetcher with every fetch setting (concurrency overall and per host, body cap, timeout,
    User-Agent, local feed folders). ``any_local_file``: read any local file named (`try --feed
    FILE`, whose operator names the file on the command line) instead of WATCHBOT_LOCAL_FEEDS only."""
    return Fetcher(transport, max_concurrency=settings.watchbot_concurrency,
                   per_host=settings.watchbot_per_host, max_bytes=settings.watchbot_max_body_bytes,
                   total_timeout=settings.watchbot_timeout, user_agent=settings.watchbot_user_agent,
                   proxies=proxies, local_roots=None if any_local_file else settings.local_feed_folders)


def build_parser(settings: Settings) -> ParsePool:
    """The parser pool WATCHBOT_PARSE_WORKERS asks for (negative: one worker per core)."""
    return ParsePool(None if settings.watchbot_parse_workers < 0 else settings.watchbot_parse_workers)


async def read_feed(fetcher: Fetcher, parser: ParsePool, url: str, *, feed_url: str,
                    validators: Validators = Validators(),
                    known_body: str | None = None) -> tuple[FetchResult, ParsedFeed | None]:
    """Fetch ``url`` and parse its body as the subscription ``feed_url`` (items carry it, and
    opaque GUIDs are scoped to it). The parse is None when there is no body, or when the body's
    hash is ``known_body``: parsing is the dominant cost, and a server that ignores validators
    but returns the same bytes must not make us pay it again."""
    result = await fetcher.fetch(url, validators)
    if not result.ok or result.body_hash == known_body:
        return result, None
    return result, await parser.parse(result.body, result.headers, url, feed_url=feed_url)


async def read_feed_once(settings: Settings, url: str, *, transport=None,
                         proxies: dict[str, str] | None = None) -> tuple[FetchResult, ParsedFeed | None]:
    """What a poll of the feed ``url`` reads now, as `run` would read it (for `try --feed`):
    the same fetch settings, the same parse and identities; any local file may be named."""
    parser = ParsePool(0)  # one body: parse_feed inline, the very call run's workers make
    async with build_fetcher(settings, transport=transport, proxies=proxies,
                             any_local_file=True) as fetcher:
        return await read_feed(fetcher, parser, url, feed_url=url)


# ---------------------------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------------------------


class Pipeline:
    def __init__(self, *, settings: Settings, store: Store, rules: Rules | None, channel: Channel | None,
                 fetcher: Fetcher | None = None, parser: ParsePool | None = None,
                 clock: Clock = utcnow, notify_admin: Callable[[str], Any] | None = None,
                 load_rules: Callable[[], Rules] | None = None, rules_key: str | None = None):
        self.settings = settings
        self.store = store
        # None until ``load_rules`` has run (see _await_rules): `run --once` does not make its
        # first requests wait for the watchlists to be read, validated and compiled.
        self.rules = rules
        if rules is None and load_rules is None:
            raise ValueError("Pipeline needs rules, or load_rules to load them with")
        self._load_rules = load_rules
        self._rules_loading: asyncio.Future | None = None
        # What load_rules depends on (bot.rulefiles.verification_key). Stored once a load
        # succeeded; while the stored key is this one, run_once loads the rules only for a
        # response with items: the files it verified then are the files it would read now.
        self._rules_key = rules_key
        self._rules_verified = False
        self.channel = channel
        self.fetcher = fetcher
        self.parser = parser
        self.clock = clock
        self.notify_admin = notify_admin
        self.gate = DeliveryGate(store)  # persisted: `run --once` processes remember a wait
        self.policy = PollPolicy.from_settings(settings)  # settings are fixed for a Pipeline's life
        self._process_lock = asyncio.Lock()
        self._drain_lock = asyncio.Lock()
        self._reloader: RulesReloader | None = None
        self._feeds_cache: tuple[tuple | None, list[Feed]] | None = None
        self._feeds_read: FeedListRead | None = None  # see use_feed_list
        # Set when a poll's response (or failure) is in, and at a cycle's end: `run --once`
        # starts the Telegram channel then, not while the first requests are being set up.
        self.first_response = asyncio.Event()
        # The daemon polls feed by feed; every WATCHBOT_INTERVAL the polls since the last
        # summary are logged as one "cycle" line (run_once logs its own).
        self._window = CycleReport()
        self._window_start = clock()
        self._in_cycle = False
        # What novelty's index has seen of the store (see refresh_stories), and for which engine.
        self._story_mark: Hashable | None = None
        self._story_engine: Any = None
        # Seconds spent applying responses (the serial part of a worker's poll: store, match,
        # novelty) and waiting for / holding the novelty lock, logged on close: what
        # `make bench-scale` reads to say where several workers on one database queue.
        self.timers = {"applied": 0, "apply_s": 0.0, "decided": 0, "lock_wait_s": 0.0, "lock_held_s": 0.0}
        # Who this process is when it leases feeds (Store.claim_due_feeds): unique per
        # Pipeline, readable in the feeds table (host and pid).
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        store.recover_leases()  # SQLite: a killed predecessor's claims (see Store.recover_leases)
        self._sender_turn = 0  # the sender lock's acquisition this pipeline last saw (is_sender)
        if channel is not None:
            self.is_sender()  # a first try: on SQLite, what a crash left 'sending' is settled now
        # Novelty's story index is not loaded here: the first decision loads it (process_item
        # refreshes before every decision). A cron run that decides nothing (all 304, or every
        # item seeded on first sight) then never reads the stories nor loads the embedding
        # model (issue 15: 0.3-0.6 s of an empty state's start-up, seconds after a year).

    # ------------------------------------------------------------------ construction

    @classmethod
    def build(cls, settings: Settings, *, channel: Channel | None, clock: Clock = utcnow,
              transport=None, store: Store | None = None, rules: Rules | None = None,
              notify_admin: Callable[[str], Any] | None = None,
              proxies: dict[str, str] | None = None,
              load_rules: Callable[[], Rules] | None = None,
              rules_key: str | None = None) -> "Pipeline":
        """Wire the real components from settings. Raises RulesError on unusable rules.
        ``proxies``: for fetching, as bot.config.fetch_proxies gives them (None: direct).
        ``load_rules`` (instead of ``rules``): called in a thread once the first response is
        in, and waited for before anything is matched; its RulesError ends the cycle with
        nothing of it recorded but its unchanged (304) feeds (see ``_await_rules``).
        ``rules_key``: what ``load_rules`` depends on; once a load with this key succeeded (the
        store remembers it), a cycle in which no response has items does not load the rules."""
        if rules is None and load_rules is None:
            from bot.rules import Rules

            rules = Rules.load(settings.watchbot_watchlists)
        store = store or open_store(settings)
        return cls(settings=settings, store=store, rules=rules, channel=channel,
                   fetcher=build_fetcher(settings, transport=transport, proxies=proxies),
                   parser=build_parser(settings), clock=clock, notify_admin=notify_admin,
                   load_rules=load_rules, rules_key=rules_key)

    def log_timers(self) -> None:
        """One log line of ``timers`` (totals since start; a reader takes differences)."""
        t = self.timers
        log.info("timers: %d responses applied in %.3f s; %d decided under the novelty lock, "
                 "waited %.3f s, held %.3f s", t["applied"], t["apply_s"], t["decided"],
                 t["lock_wait_s"], t["lock_held_s"])

    async def aclose(self) -> None:
        self.log_timers()
        if self.fetcher is not None:
            await self.fetcher.aclose()
        if self.parser is not None:
            self.parser.close()

    def refresh_stories(self) -> None:
        """The one way novelty's story index follows the store, whose stories it caches.

        The store says what changed since the last refresh (``Store.story_changes``): new
        stories are remembered, updates folded into their stories. A new engine (rules
        reloaded) or a rollback since the last refresh gets the stories of its comparison
        window afresh, never the whole retention period: start-up costs the same after a year
        of use as after a month (each story's facts and vectors are stored with it). Called
        before every decision, so nothing (a commit, a rollback, a reload, another writer of
        the same database) can leave the index behind; when nothing changed it costs two
        index look-ups."""
        novelty = self.rules.novelty
        mark = self._story_mark if self._story_engine is novelty else None
        since = self.rules.stories_since(self.clock())
        changes = self.store.story_changes(mark, since)
        if changes.reset:
            novelty.replace_index(changes.stories)
        else:
            for story in changes.stories:
                novelty.remember(story)
            for update in changes.updates:
                novelty.add_source(update.story_id, update.item)
        self._story_mark, self._story_engine = changes.mark, novelty

    # ------------------------------------------------------------------ rules reload

    def _start_loading_rules(self) -> None:
        """Start the deferred ``load_rules`` in a thread (once; no-op when rules are loaded)."""
        if self.rules is None and self._rules_loading is None:
            self._rules_loading = asyncio.ensure_future(asyncio.to_thread(self._load_rules))

    async def _await_rules(self) -> None:
        """Return once ``rules`` is set; a deferred load's RulesError is raised to every caller."""
        if self.rules is not None:
            return
        self._start_loading_rules()
        # Shielded: a poll cancelled while it waits must not cancel the load the others share.
        rules = await asyncio.shield(self._rules_loading)
        if self.rules is None:
            self.rules = rules
            if self._rules_key is not None and not self._rules_verified:
                self._rules_verified = True
                self.store.set_meta(RULES_VERIFIED_META, self._rules_key)

    def _check_rules_verified(self) -> None:
        """Note whether the deferred load would read what a load already accepted (rules_key)."""
        if self.rules is None and self._rules_key is not None and not self._rules_verified:
            self._rules_verified = self.store.get_meta(RULES_VERIFIED_META) == self._rules_key

    @property
    def reloader(self) -> RulesReloader:
        if self._reloader is None:
            from bot.rules import RulesReloader

            self._reloader = RulesReloader()
        return self._reloader

    def reload_rules_if_changed(self) -> bool:
        """Swap in edited watchlists/timeline; a broken edit keeps the last good set running.

        Returns True when new rules were loaded. Problems are logged, kept in ``rules_problems``
        for `status`, and sent to the admin chat once per broken version (bot.rules.RulesReloader).
        Rules still being loaded for the first time (``load_rules``) are not looked at: that
        load reads the files as they are now.
        """
        if self.rules is None:
            return False
        change = self.reloader.check(self.settings.watchbot_watchlists, self.rules)
        if change is None:
            return False
        if change.rules is None:
            log.error(change.message)
            self.store.log_event("error", change.message, self.clock())
            self._tell_admin(change.message)
            return False
        # Its engine's story index is loaded by the first decision (process_item refreshes, and
        # a new engine gets its window afresh), not here: a reload that decides nothing reads none.
        self.rules = change.rules
        log.info("%s", change.message)
        self.store.log_event("info", "watchlists reloaded", self.clock())
        return True

    @property
    def rules_problems(self) -> list[ConfigProblem]:
        """The problems of the last rejected watchlist edit (empty once a good one loaded)."""
        return self.reloader.problems

    def _tell_admin(self, message: str) -> None:
        if self.notify_admin is not None:
            try:
                result = self.notify_admin(message)
                if asyncio.iscoroutine(result):
                    task = asyncio.ensure_future(result)
                    task.add_done_callback(_log_admin_failure)
            except Exception:  # the admin chat is best effort: never let it stop the pipeline
                log.exception("could not notify the admin chat")

    # ------------------------------------------------------------------ polling

    def feeds(self) -> list[Feed]:
        """The configured feeds, re-read only when the feed list file changed (the daemon asks
        every few seconds); problems are logged once per version of the file."""
        path = self.settings.watchbot_feeds
        fingerprint = _fingerprint(path)
        if self._feeds_cache is not None and fingerprint is not None and self._feeds_cache[0] == fingerprint:
            return list(self._feeds_cache[1])
        read, self._feeds_read = self._feeds_read, None
        if read is not None and fingerprint is not None and read.fingerprint == fingerprint:
            feeds, problems = read.feeds, read.problems
        else:
            feeds, problems = load_feeds(path)
        for p in problems:
            log.warning("%s", p)
        self.store.sync_feeds(feeds)
        self._feeds_cache = (fingerprint, feeds)
        return list(feeds)

    def use_feed_list(self, read: "FeedListRead") -> None:
        """Take the feed list as the caller already read it (`run` reads it before building
        the pipeline, to refuse an unusable one), so the first ``feeds()`` need not read and
        parse it again (~20 ms per 1,000 feeds before a cron run's first request, issue 15).
        Used only while the file's size and mtime are still those seen before that read;
        its problems are logged and the store synced as on any read."""
        self._feeds_read = read

    async def run_once(self, feeds: Sequence[Feed] | None = None, *,
                       due_only: bool = False) -> CycleReport:
        """One cycle over every feed (paused ones skipped), then deliver. For cron and tests.

        ``due_only`` (what `run --once` uses): feeds whose next check is still ahead — their
        interval, RSS ttl, error back-off or a server's Retry-After — are not fetched; cron
        runs then keep the same waits as the daemon (issue 13, class 13).
        """
        self.reload_rules_if_changed()
        if feeds is None:
            feeds = self.feeds()  # reads the feed list and syncs the store with it
        else:
            feeds = list(feeds)
            self.store.sync_feeds(feeds)
        report = CycleReport()
        self._check_rules_verified()
        claimed: list[str] = []
        if due_only:
            # Only the due feeds this process leased: another `run --once` or daemon on the
            # same database polls the rest. The claim never leases a paused feed.
            now = self.clock()
            claimed = self.claim_due([f.url for f in feeds])
        # Every polled feed's state in one read, after the claim (what this process leased is
        # its own until recorded): two thousand single-row reads were a tenth of a warm
        # 1,000-feed cycle's CPU (issue 15).
        states = {s.url: s for s in self.store.feed_states()}
        if due_only:
            # Paused feeds whose pause is due are reported (never fetched), as on every cycle.
            paused = {f.url for f in feeds if (s := states.get(f.url)) and s.paused_reason
                      and (s.next_check is None or s.next_check <= now)}
            report.not_due = len(feeds) - len(claimed) - len(paused)
            taken = set(claimed) | paused
            feeds = [f for f in feeds if f.url in taken]
        self._in_cycle = True
        try:
            with self.store.batch():  # one commit per interval, not one per feed
                report.polls = await _all_or_none(await self._start_polls(feeds, states))
                # Unusable rules stop the cycle even when no response needed them (all 304);
                # rules verified unchanged are not loaded for nothing.
                if not (self._rules_verified and self._rules_loading is None):
                    await self._await_rules()
        except Exception:
            if self.rules is not None:
                self.refresh_stories()  # a failed commit: novelty may know stories the store lost
            raise
        finally:
            self.first_response.set()  # no poll, or none got as far as a response
            self._in_cycle = False
            self._window, self._window_start = CycleReport(), self.clock()
            if claimed:  # a poll that raised recorded nothing: its feed is free again
                self.release(claimed)
        await self.drain(report)
        return report

    def start_window(self) -> None:
        """Begin the interval the daemon's next cycle line sums up now (when it starts polling,
        not when the pipeline was built: start-up work before the first claim is no interval)."""
        self._window, self._window_start = CycleReport(), self.clock()

    def claim_due(self, urls: Sequence[str], limit: int | None = None) -> list[str]:
        """Lease (for WATCHBOT_LEASE seconds) up to ``limit`` of the due feeds among ``urls``
        for this process, most overdue first (Store.claim_due_feeds): what it may poll now."""
        return self.store.claim_due_feeds(urls, self.worker_id, self.clock(),
                                          timedelta(seconds=self.settings.watchbot_lease), limit)

    def release(self, urls: Sequence[str], next_check: datetime | None = None) -> int:
        """Give up this process's leases of ``urls`` that no poll recorded (Store.release_feeds)."""
        return self.store.release_feeds(urls, self.worker_id, next_check)

    async def _start_polls(self, feeds: Sequence[Feed], states: dict[str, FeedState]) -> list[asyncio.Task]:
        """One task per feed's poll, in order, letting the event loop run between every few
        dozen: a task's first step (its feed row, its slot) only starts a connection, and the
        request goes out on a later turn of the loop. Created all at once, a thousand tasks'
        first steps came before any first request (0.3 s of a cron run's start, issue 15)."""
        tasks = []
        for i, feed in enumerate(feeds, 1):
            tasks.append(asyncio.ensure_future(self.poll(feed, states.get(feed.url))))
            if i % _START_BATCH == 0:
                await asyncio.sleep(0)
        return tasks

    async def poll(self, feed: Feed, state: FeedState | None = None) -> PollReport:
        """Fetch, parse and process one feed; every outcome ends up in the store's feed row.
        ``state``: the feed's stored state, when the caller has just read it (else read here)."""
        if state is None:
            state = self.store.feed_state(feed.url)
        if state.paused_reason:
            return PollReport(feed.url, state.last_status or 0, error=state.paused_reason)
        result, parsed = await read_feed(self.fetcher, self.parser, state.current_url, feed_url=feed.url,
                                         validators=state.validators, known_body=state.body_hash)
        self.first_response.set()
        # Deferred rules load from now on, while the other requests are in flight; a response
        # with a body (items to admit) waits for them. 304s and failures are recorded without,
        # and when the rules are verified unchanged, only a body starts the load.
        if not self._rules_verified:
            self._start_loading_rules()
        if parsed is not None:
            await self._await_rules()
        async with self._process_lock:
            began = time.perf_counter()
            report = self._apply_poll(feed, state, result, parsed)
            self.timers["applied"] += 1
            self.timers["apply_s"] += time.perf_counter() - began
        log.debug("poll %s: HTTP %s, %d new, %d seeded, %d alerts, %d updates%s", feed.url, report.status,
                  report.new_items, report.seeded, report.alerts, report.updates,
                  f", error: {report.error}" if report.error else "")
        self._window.polls.append(report)
        now = self.clock()
        if not self._in_cycle and now - self._window_start >= timedelta(seconds=self.settings.watchbot_interval):
            log.info("%s", self._window.summary())
            self.log_timers()
            self._window, self._window_start = CycleReport(), now
        return report

    def _apply_poll(self, feed: Feed, state: FeedState, result: FetchResult,
                    parsed: ParsedFeed | None) -> PollReport:
        """Carry out what the poll policy decides: record the poll, and admit the new items."""
        now = self.clock()
        policy = self.policy
        decision = policy.decide(feed, state, result, parsed, now)
        report = PollReport(feed.url, result.status, error=decision.plan.error)
        if decision.items is None:
            self.store.record_poll(feed.url, decision.plan, self.worker_id)
            self._announce(decision.notices, now)
            return report
        self._announce(decision.notices, now)
        admission = policy.admit(decision, self.store.unseen(decision.items), feed=feed,
                                 state=state, now=now)
        # One automaton pass for the whole response: the same matches as item by item.
        # None to match (all seeded on first sight): the matcher is not even compiled.
        matched = list(zip(admission.process, self.rules.matcher.match_many(admission.process))) \
            if admission.process else []
        deciding = any(matches for _, matches in matched)
        # One transaction per response: its items, their outbox rows and the new validators
        # commit together (a crash re-fetches instead of skipping). In run_once's batch the
        # commits of many responses coalesce into one, except a response with something to
        # decide: it is its own transaction under the novelty lock (Store.lock_novelty), taken
        # first and released at its commit, so other workers wait for it only that long.
        began = locked = 0.0
        try:
            with self.store.transaction(durable=deciding):
                if deciding:
                    began = time.perf_counter()
                    self.store.lock_novelty()
                    locked = time.perf_counter()
                    # Under the lock, what another worker recorded meanwhile (a lease that ran
                    # out mid-poll, one link in two feeds polled at once) is no longer new.
                    fresh = {id(i) for i in self.store.unseen([i for i, m in matched if m])}
                    matched = [(i, m) for i, m in matched if not m or id(i) in fresh]
                self._announce(admission.notices, now)
                if admission.seed:
                    self.store.record_seen(admission.seed, now)
                report.seeded = len(admission.seed)
                report.new_items = len(matched)
                for item, matches in matched:
                    _, item_decision = self.process_item(item, now, matches)
                    report.alerts += item_decision.kind == "alert"
                    report.updates += item_decision.kind == "update"
                self.store.record_poll(feed.url, admission.plan, self.worker_id)
        except Exception:
            # Rolled back: novelty may have learnt stories the store no longer has.
            self.refresh_stories()
            raise
        if deciding:  # held from the lock to the commit that released it
            self.timers["decided"] += 1
            self.timers["lock_wait_s"] += locked - began
            self.timers["lock_held_s"] += time.perf_counter() - locked
        return report

    def _announce(self, notices: Sequence[Notice], now: datetime) -> None:
        """Write the policy's notices to the log (and the event log, where it asks)."""
        for notice in notices:
            log.log(logging.getLevelName(notice.level.upper()), "%s", notice.message)
            if notice.event:
                self.store.log_event(notice.level, notice.message, now)

    # ------------------------------------------------------------------ one item

    def process_item(self, item: Item, now: datetime,
                     matches: Sequence[Match] | None = None) -> tuple[list[Match], Decision]:
        """Match (unless ``matches`` are given), decide and record one new item, with its outbox
        rows, atomically."""
        matches = list(self.rules.matcher.match(item) if matches is None else matches)
        if not matches:
            decision = Decision("ignored", reasons=("matched no watchlist",))
            self.store.record_item(item, (), decision, now)
            return matches, decision
        # The engine learns a story only from the store, after it was recorded (so a crash in
        # between loses nothing), and before it decides the next item: under the novelty lock,
        # so what other workers of the same database decided is in the index too.
        self.store.lock_novelty()
        self.refresh_stories()
        decision = self.rules.novelty.decide(item, matches, now)
        # The outbox row says what to send; the channel renders it when it sends (drain).
        story_id, _ = self.store.record_item(item, matches, decision, now)
        if decision.kind == "alert":
            log.info("alert: [%s] %s", decision.watchlist, item.title)
        return matches, (replace(decision, story_id=story_id) if story_id is not None else decision)

    # ------------------------------------------------------------------ delivery

    def is_sender(self) -> bool:
        """Whether this worker is its channel's one sender (Store.sender_lock; tried again at
        every call, so a dead sender's channel is taken over). On taking the lock, rows a dead
        sender left 'sending' become maybe_sent first: only now can no live worker have one of
        them in flight (they were marked under the lock just taken)."""
        turn = self.store.sender_lock(self._channel_id or "")
        if turn and turn != self._sender_turn:
            interrupted = self.store.recover_interrupted_sends(self.clock(), self._channel_id)
            if interrupted:
                log.warning("%d alert(s) were being sent when the last sender stopped; recorded "
                            "as possibly sent, not resent", interrupted)
        self._sender_turn = turn
        return bool(turn)

    async def drain(self, report: CycleReport | None = None) -> CycleReport:
        """Send pending outbox rows in order until done, told to wait, or refused; while the
        delivery gate is closed (a refusal's cool-down, a flood wait) nothing is tried, nor by
        a worker that is not the channel's sender (another worker sends what it queued)."""
        report = report or CycleReport()
        async with self._drain_lock:
            if self.channel is not None and self.gate.is_open(self.clock()) and self.is_sender():
                await self._send_pending(report)
            report.pending = len(self.store.pending_alerts(self._channel_id))
        return report

    async def _send_pending(self, report: CycleReport) -> None:
        while batch := self.store.pending_alerts(self._channel_id):
            progressed = False
            for alert in batch:
                # The state must still be ours: a deleted folder means another instance may
                # start on it and post this very alert (StateGoneError stops us).
                self.store.verify_on_disk()
                outcome = await self._send(alert)
                if outcome is None:  # nothing left to send: orphaned, or taken by another worker
                    progressed = True
                    continue
                if outcome.status in ("retry", "fatal"):
                    self._close_gate(outcome)
                    report.delivery_error = outcome.error
                    report.delivery_refused = outcome.status == "fatal"
                    return
                if outcome.status == "maybe_sent":
                    log.warning("alert %d may have been delivered (no answer); not resending", alert.id)
                if outcome.status == "rejected":
                    log.error("alert %d rejected by %s: %s", alert.id, self._channel_name, outcome.error)
                report.sent += outcome.status == "sent"
                progressed = True
            if not progressed:
                return

    async def _send(self, alert: Alert) -> SendOutcome | None:
        """One outbox row to the channel, its outcome recorded; None if its story is gone or
        another worker took the row first."""
        if not alert.text:  # rows hold what to send; the channel renders the story's message now
            content = self.store.story_message(alert.story_id, folded=alert.folded) \
                if alert.story_id is not None else None
            if content is None:
                self.store.mark_orphaned(alert, "the story is gone; nothing to send")
                return None
            text, plain = self.channel.render(content)
            alert = replace(alert, content=content, text=text, plain=plain)
        # Committed before the request, with the text it sends: a crash from here on cannot
        # cause a resend, and the outbox keeps what went out. A row another worker of the same
        # database marked first is its to send, not ours.
        if not self.store.mark_sending(alert, self._channel_id, sender=self.worker_id, now=self.clock()):
            return None
        try:
            outcome = await self.channel.deliver(alert)
        except Exception as exc:  # a channel broke its never-raise contract
            # The request may have gone out: recorded as possibly sent (visible in `status`),
            # never left "sending" and never resent blindly.
            log.exception("delivering alert %d failed unexpectedly", alert.id)
            outcome = SendOutcome("maybe_sent", error=f"unexpected {type(exc).__name__} "
                                                      "while sending; not resent")
        self.store.record_outcome(alert, outcome, self.clock(), self._channel_id)
        return outcome

    def _close_gate(self, outcome: SendOutcome) -> None:
        now = self.clock()
        if outcome.status == "retry":
            self.gate.wait(now, outcome.retry_after)
            log.warning("delivery deferred: %s", outcome.error)
            return
        self.gate.refused(now)
        message = (f"{REFUSED_PREFIX} by {self._channel_name}: {outcome.error}. "
                   "Alerts stay queued in the outbox; fix the channel or its settings.")
        log.error(message)
        self.store.log_event("error", message, now)
        self._tell_admin(message)

    @property
    def _channel_name(self) -> str:
        return getattr(self.channel, "name", None) or "the channel"

    @property
    def _channel_id(self) -> str | None:
        """Where messages go, so message ids are kept per channel (see Store.pending_alerts)."""
        return getattr(self.channel, "identity", None)

    def next_due(self, feed: Feed) -> datetime | None:
        """When the feed should be polled next (None: paused)."""
        state = self.store.feed_state(feed.url)
        if state.paused_reason:
            return None
        return state.next_check or self.clock()


class FeedListRead(NamedTuple):
    """The feed list as ``read_feed_list`` read it: the file's (size, mtime_ns) taken before
    the read (None: no such file), and what ``load_feeds`` returned."""
    fingerprint: tuple[int, int] | None
    feeds: list[Feed]
    problems: list[ConfigProblem]


async def _all_or_none(tasks: Sequence[asyncio.Task]) -> list:
    """The tasks' results, in order; when one raises, the others are cancelled and waited for
    before its exception goes on, so none of them writes after the caller's transaction ended."""
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _fingerprint(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def read_feed_list(path: Path) -> FeedListRead:
    """``load_feeds(path)`` with the fingerprint ``Pipeline.feeds`` compares (taken first, so
    an edit during the read makes the next ``feeds()`` read the file again)."""
    fingerprint = _fingerprint(path)
    return FeedListRead(fingerprint, *load_feeds(path))


def _log_admin_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("could not notify the admin chat: %s", task.exception())
