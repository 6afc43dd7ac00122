"""Thin commands over the library; the only reader of argv and the environment.

Exit codes (README "Exit codes"): 0 success; 1 a failed cycle or command (`run --once` when
every feed failed or the channel refused what was due; `health` when unhealthy; `try` on an
unreadable feed); 2 unusable configuration (settings, feed list, watchlists, timeline, or a chat
Telegram refuses), with every problem printed as file:line:column: message; 64 a usage error
(unknown option, missing argument), as in sysexits.h.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

# Everything else is imported inside the command that needs it: `watchbot --help` and `check`
# must not pay for httpx, feedparser, python-telegram-bot or rich (issue 15; the test
# tests/test_cli.py::test_help_imports_no_stage_libraries keeps it so).
if TYPE_CHECKING:
    from bot.config import Settings
    from bot.models import Item
    from bot.pipeline import FeedListRead, Pipeline
    from bot.rules import Rules
    from bot.store import StateLock

log = logging.getLogger("watchbot")
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_USAGE = 64  # sysexits.h EX_USAGE: distinct from 2, which means "fix the configuration"


def _fail_config(problems) -> None:
    # Plain lines, never wrapped: editors and CI parse "file:line:column: message".
    for p in problems:
        click.echo(f"error: {p}", err=True)
    raise SystemExit(EXIT_CONFIG)


class _UtcFormatter(logging.Formatter):
    """``2026-12-01T22:28:24+00:00 INFO message``: UTC with its offset, as `status` shows times."""

    def formatTime(self, record, datefmt=None):
        from datetime import datetime, timezone

        return datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="seconds")


class _JsonFormatter(_UtcFormatter):
    """One JSON object per line (WATCHBOT_LOG_FORMAT=json) for journald/Loki/ELK shippers."""

    def format(self, record):
        import json

        out = {"time": self.formatTime(record), "level": record.levelname, "logger": record.name,
               "message": record.getMessage()}
        if record.exc_info:  # exc_text first: the redacting filter scrubbed the token from it
            out["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def _setup_logging(settings: Settings) -> None:
    from bot.redact import RedactingFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if settings.watchbot_log_format == "json"
                         else _UtcFormatter("%(asctime)s %(levelname)s %(message)s"))
    # The token must never reach a log line: some library errors embed the request URL.
    handler.addFilter(RedactingFilter(settings.telegram_bot_token))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.watchbot_log_level.upper())
    for noisy in ("httpx", "httpcore", "apscheduler", "telegram"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _config_path(ctx: click.Context) -> str | None:
    return ctx.find_root().obj.get("config")


def _settings(ctx: click.Context, **overrides) -> Settings:
    from bot.config import ConfigError, load_settings

    try:
        settings = load_settings(_config_path(ctx), overrides={k: v for k, v in overrides.items() if v is not None})
    except ConfigError as exc:
        _fail_config(exc.problems)
    _setup_logging(settings)
    return settings


def _channel(settings: Settings):
    from bot.channels.console import ConsoleChannel
    from bot.channels.telegram import TelegramChannel

    if settings.telegram_enabled:
        return TelegramChannel(settings.telegram_bot_token, settings.telegram_chat_id,
                               api_url=settings.telegram_api_url,
                               min_interval=settings.watchbot_send_interval,
                               per_minute=settings.watchbot_send_per_minute,
                               proxy=settings.watchbot_proxy)
    return ConsoleChannel()


def _admin(settings: Settings):
    """A callable that reports operational problems to the admin chat, if one is configured."""
    if not (settings.telegram_bot_token and settings.telegram_admin_chat_id):
        return None
    from bot.channels.telegram import TelegramChannel

    admin = TelegramChannel(settings.telegram_bot_token, settings.telegram_admin_chat_id,
                            api_url=settings.telegram_api_url, proxy=settings.watchbot_proxy)

    async def notify(message: str) -> None:
        import html
        await admin.start()
        await admin.send_html("⚠️ watchbot\n" + html.escape(message[:3500]), message[:3500])
    return notify


def _lock(state: Path, database_url: str = "", *, shared: bool = False):
    """The state's lock, acquired (the state folder's, or with ``database_url`` the PostgreSQL
    database's, ``shared`` by several workers); a conflicting running instance is a
    configuration error."""
    from bot.storage import StateLockedError
    from bot.store import StateLock

    if database_url:
        from bot.store_pg import DatabaseLock

        lock = DatabaseLock(database_url, shared=shared)
    else:
        lock = StateLock(state)
    try:
        lock.acquire()
    except StateLockedError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_CONFIG)
    return lock


def _rules(settings: Settings) -> Rules:
    from bot.rules import Rules, RulesError

    try:
        return Rules.load(settings.watchbot_watchlists)
    except RulesError as exc:
        _fail_config(exc.problems)


def _checked_rules(settings: Settings) -> Rules:
    """The rules `run` works with: loaded, and every setting that names a watchlist naming an
    existing one; RulesError lists the problems. The timeline's warnings are logged."""
    from bot.config import check_against_rules
    from bot.rules import Rules, RulesError

    rules = Rules.load(settings.watchbot_watchlists)
    problems = check_against_rules(settings, [w.id for w in rules.watchlists])
    if problems:
        raise RulesError(problems)
    for warning in (rules.timeline.warnings if rules.timeline else ()):
        log.warning("%s", warning)
    return rules


class _Group(click.Group):
    """click's group with usage errors exiting EXIT_USAGE instead of 2 (our configuration code)."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            exc.exit_code = EXIT_USAGE
            raise

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            exc.exit_code = EXIT_USAGE
            raise

    def group(self, *args, **kwargs):
        kwargs.setdefault("cls", _Group)
        return super().group(*args, **kwargs)


def _remember_config(ctx: click.Context, _param, value):
    # `--config` is accepted before or after the subcommand; the one nearest the end wins.
    if value is not None:
        ctx.find_root().ensure_object(dict)["config"] = value
    return value


def _config_option() -> click.Option:
    return click.Option(["--config"], type=click.Path(dir_okay=False), default=None,
                        expose_value=False, is_eager=True, callback=_remember_config,
                        help="Configuration file (default: $WATCHBOT_CONFIG, else ./watchbot.toml).")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(dir_okay=False), default=None,
              help="Configuration file (default: $WATCHBOT_CONFIG, else ./watchbot.toml).")
@click.version_option(package_name="watchbot")
@click.pass_context
def cli(ctx: click.Context, config: str | None) -> None:
    """watchbot: posts only new developments on your watchlists to a Telegram channel."""
    ctx.ensure_object(dict)
    ctx.obj.setdefault("config", config)


# ---------------------------------------------------------------------------------------------


@cli.command()
@click.option("--once", is_flag=True, help="Poll every feed once, deliver, and exit (for cron and tests).")
@click.pass_context
def run(ctx: click.Context, once: bool) -> None:
    """Poll the feeds on schedule and post new developments (the daemon)."""
    import asyncio

    settings = _settings(ctx)
    from bot.yamlconf import use_validation_cache

    # Rule files whose bytes passed their schema before are not validated again (see there);
    # `check` always validates.
    use_validation_cache(settings.watchbot_state / "cache")
    # The daemon refuses unusable rules before it starts. `run --once` reads them in a thread
    # once its first response is in (bot.pipeline.Pipeline.build's load_rules), so that a cron
    # run's first requests do not wait 0.07 s (validated before) to 0.3 s (new or edited files)
    # for them; unusable rules still end the run with exit code 2, before anything of a
    # response with items is recorded (issue 15). Rules that passed in an earlier run, with
    # the same files, settings and code (bot.rulefiles.verification_key), are loaded only
    # for a response with items: an all-304 run neither imports nor loads them.
    rules = None
    if not once:
        from bot.rules import RulesError

        try:
            rules = _checked_rules(settings)
        except RulesError as exc:
            _fail_config(exc.problems)
    from bot.pipeline import read_feed_list

    feed_list = read_feed_list(settings.watchbot_feeds)  # the first cycle uses this read
    feeds, problems = feed_list.feeds, feed_list.problems
    if problems and not feeds:
        _fail_config(problems)
    # On PostgreSQL any number of workers (`run`, `run --once`) share the database (issue 12):
    # leases, the novelty lock and the sender lock keep them apart where it matters.
    lock = _lock(settings.watchbot_state, settings.watchbot_database_url, shared=True)
    if not settings.telegram_enabled:
        click.echo("TELEGRAM_BOT_TOKEN/TELEGRAM_CHAT_ID not set: alerts are printed to the console.", err=True)
    try:
        code = asyncio.run(_run(settings, rules, once, feed_list))
    finally:
        lock.release()
    if once:
        # Pipeline, channel, store and lock are closed and the event loop is gone: what is
        # left for the interpreter's teardown is freeing memory (bot.entry: skipped).
        global closed_everything
        closed_everything = True
    if code:
        raise SystemExit(code)


# Set by a `run --once` whose pipeline, channel, store and lock are all closed (see run).
closed_everything = False
# Set by bot.entry (the console script, python -m bot): this interpreter runs one command
# and nothing else, so what is process-wide (the garbage collector) is the command's to tune.
owns_process = False


def _spare_the_collector() -> None:
    """Keep what start-up built out of the cyclic garbage collector's work from now on.

    The imported modules, classes and functions live as long as the process, yet each
    collection of an older generation walked them again; and a 1,000-feed cycle's tasks,
    requests and responses started a young collection every 700 allocations. Measured (gc
    callbacks) on a warm 1,000-feed `run --once`: 165-169 collections taking 52-76 ms of the
    main process's CPU before, 83 taking 26-35 ms after (most of those during the imports,
    before this runs). Cycles are still collected, in fewer and larger young sweeps. Only in
    a process of its own (``owns_process``): frozen objects are never freed by the collector
    (reference counting still frees what holds no cycle), so a test process invoking the CLI
    again and again would keep each invocation's garbage; in the daemon what is frozen is
    start-up's alone (the rules it started with; a reload's rules are collected as usual).
    """
    if not owns_process:
        return
    import gc

    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    if log.isEnabledFor(logging.DEBUG):  # counting walks every frozen object
        log.debug("garbage collector: %d start-up objects frozen", gc.get_freeze_count())


async def _run(settings: Settings, rules: Rules | None, once: bool, feed_list: FeedListRead | None = None) -> int:
    """The daemon, or one cycle (``once``); ``rules`` None: loaded by the pipeline (see run)."""
    import asyncio
    import signal

    from functools import partial

    from bot.pipeline import Pipeline
    from bot.storage import StateGoneError

    # The fetcher's HTTP stack (httpcore, and anyio for its pools' locks; both are otherwise
    # imported at the first connection), imported before the Telegram import thread starts:
    # that thread imports them too, and a module one thread is importing blocks the other, so
    # the first requests waited 0.1-0.2 s for the thread (issue 15).
    import anyio._backends._asyncio  # noqa: F401
    import httpcore  # noqa: F401

    from bot.channels.starting import StartingChannel

    _spare_the_collector()
    # `run --once` delivers after its cycle: the channel starts once the first response is in,
    # or, when Telegram accepted this bot and chat within the hour, only if there is something
    # to send (_remember_telegram). The daemon waits for the channel before it polls.
    not_before = asyncio.Event() if once else None
    channel = StartingChannel(settings, _channel(settings), not_before, deferred=True)
    from bot.config import fetch_proxies, rules_check_inputs
    from bot.rulefiles import verification_key

    # The key of what _checked_rules reads: once a run's check passed, a run that finds the
    # same key and no response with items neither imports nor loads the rules (issue 15).
    rules_key = None if rules else verification_key(settings.watchbot_watchlists,
                                                     rules_check_inputs(settings))
    pipeline = Pipeline.build(settings, channel=channel, rules=rules, notify_admin=_admin(settings),
                              proxies=fetch_proxies(settings),
                              load_rules=None if rules else partial(_checked_rules, settings),
                              rules_key=rules_key)
    _remember_telegram(channel, pipeline, settings, cron=once)
    if not_before is not None:
        pipeline.first_response = not_before
    if feed_list is not None:
        pipeline.use_feed_list(feed_list)
    try:
        if once:
            # Cron: only feeds that are due, as the daemon would (interval, back-off, Retry-After).
            try:
                report = await pipeline.run_once(due_only=True)
            except StateGoneError as exc:
                click.echo(f"error: {exc}", err=True)
                return EXIT_FAILED
            except Exception as exc:
                # bot.rules is imported only now: before the first request it cost 0.04 s.
                from bot.rules import RulesError

                if not isinstance(exc, RulesError):
                    raise
                _fail_config(exc.problems)
            # A channel never started sent nothing and was not asked: nothing was refused.
            refusal = await channel.ready if channel.started else None
            if refusal is not None:  # unusable configuration; the cycle's alerts stay queued
                click.echo(f"error: {refusal}", err=True)
                raise SystemExit(EXIT_CONFIG)
            # The outbox's own count, as `status` shows it (edits waiting for their post included).
            pending = pipeline.store.outbox_counts().get("pending", 0)
            log.info("%s", report.summary(pending))
            failing = [p for p in report.polls if p.error]
            if report.polls and len(failing) == len(report.polls):
                log.error("every feed failed this cycle")
                return EXIT_FAILED
            if report.delivery_refused and pending and not report.sent:
                log.error("nothing could be delivered: %s", report.delivery_error)
                return EXIT_FAILED
            return 0
        refusal = await channel.ready
        if refusal is not None:
            click.echo(f"error: {refusal}", err=True)
            raise SystemExit(EXIT_CONFIG)
        from bot.schedule import Daemon

        metrics = None
        if settings.watchbot_metrics_addr:
            from bot.metrics import MetricsServer

            try:
                metrics = MetricsServer(settings).start()
            except OSError as exc:  # port taken: a configuration problem, said before polling
                click.echo(f"error: WATCHBOT_METRICS_ADDR {settings.watchbot_metrics_addr}: {exc}", err=True)
                raise SystemExit(EXIT_CONFIG)
            log.info("serving /healthz and /metrics on http://%s", metrics.address)
        daemon = Daemon(pipeline, digest_job=_digest_job(settings, pipeline, channel))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, daemon.stop)
        try:
            await daemon.run()
        finally:
            if metrics is not None:
                metrics.stop()
        if daemon.fatal is not None:
            click.echo(f"error: {daemon.fatal}", err=True)
            return EXIT_FAILED
        log.info("stopped")
        return 0
    finally:
        if channel.started:
            channel.ready.cancel()  # done by now unless the cycle failed
        await pipeline.aclose()
        await channel.aclose()


def _remember_telegram(channel, pipeline, settings: Settings, *, cron: bool) -> None:
    """Start ``channel`` (a deferred StartingChannel) unless a cron run may skip the start.

    Telegram's answer is kept in the store (meta TELEGRAM_VERIFIED_META: a digest of bot, chat
    and API server with the time, never the token). A cron run (``cron``) begins the start only
    when that memory is missing, for another bot or chat, or older than TELEGRAM_RECHECK: cron
    runs every few minutes and most find nothing new, so most make no Bot API call. One that
    has something to send starts the channel at its first send and is refused there, as at the
    start, if the token was revoked or the bot removed meanwhile; the memory is then cleared.
    The daemon always starts at once: it runs for days and checks before it polls.
    """
    if not settings.telegram_enabled:
        channel.begin()  # the console: nothing to ask
        return
    from bot.channels.starting import (TELEGRAM_VERIFIED_META, recently_verified, remembered_check,
                                       telegram_check_key)

    store, clock = pipeline.store, pipeline.clock
    key = telegram_check_key(settings)
    channel.on_verified = lambda: store.set_meta(TELEGRAM_VERIFIED_META, remembered_check(key, clock()))
    channel.on_refused = lambda: store.set_meta(TELEGRAM_VERIFIED_META, None)
    if not cron or not recently_verified(store.get_meta(TELEGRAM_VERIFIED_META), key, clock()):
        channel.begin()


def _digest_job(settings: Settings, pipeline: Pipeline, channel):
    """The scheduled digest job, if a schedule is configured."""
    if not settings.watchbot_digest_cron:
        return None
    from bot.digest import post_scheduled_digest

    async def job() -> None:
        rules = pipeline.rules  # the running set: a broken edit on disk does not blank titles
        await post_scheduled_digest(settings, pipeline.store, channel, now=pipeline.clock(),
                                    titles={w.id: w.title for w in rules.watchlists},
                                    timeline=rules.timeline)
    return job


# ---------------------------------------------------------------------------------------------


@cli.command()
@click.option("--online", is_flag=True, help="Also ask Telegram (getMe, getChat) and send one "
              "conditional GET to every feed.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout: ok, problems, counts.")
@click.pass_context
def check(ctx: click.Context, online: bool, as_json: bool) -> None:
    """Validate configuration, feed list, watchlists and timeline; report every problem."""
    import asyncio
    import json

    from bot.config import check_against_rules, load_feeds, load_settings_report
    from bot.rules import Rules, RulesError

    report = load_settings_report(_config_path(ctx))
    settings = report.settings
    problems = list(report.problems)
    feeds, feed_problems = load_feeds(settings.watchbot_feeds)
    problems += feed_problems + _local_feed_problems(settings, feeds)
    from bot.migrations import probe
    from bot.yamlconf import ConfigProblem

    state_problem = probe(settings.database, settings.watchbot_database_url)
    if state_problem:  # run would stop on it: the schema of another version, no server
        problems.append(ConfigProblem("state", None, None, state_problem))
    try:
        rules = Rules.load(settings.watchbot_watchlists)
    except RulesError as exc:
        problems += exc.problems
        rules = None
    ids = [w.id for w in rules.watchlists] if rules else []
    if rules:
        problems += check_against_rules(settings, ids)
    notes: list[str] = []
    if online:
        online_problems, notes = asyncio.run(_check_online(settings, feeds))
        problems += online_problems
    telegram = (("configured and answering" if online else "configured (not asked: `check --online` asks it)")
                if settings.telegram_enabled else "not configured (console output)")
    if as_json:
        click.echo(json.dumps({
            "ok": not problems, "feeds": len(feeds), "watchlists": ids,
            "telegram": "configured" if settings.telegram_enabled else "console",
            "online": notes if online else None,
            "warnings": [str(w) for w in (rules.timeline.warnings
                                          if rules and rules.timeline else ())],
            "problems": [{"path": p.path, "line": p.line, "column": p.column, "message": p.message,
                          "hint": p.hint, "text": str(p)} for p in problems]}, ensure_ascii=False))
        if problems:
            raise SystemExit(EXIT_CONFIG)
        return
    for note in notes:
        click.echo(note)
    for warning in (rules.timeline.warnings if rules and rules.timeline else ()):
        click.echo(f"warning: {warning}", err=True)
    if problems:
        _fail_config(problems)
    click.echo(f"ok: {len(feeds)} feeds, {len(ids)} watchlists ({', '.join(ids)}), "
               f"timeline valid; Telegram {telegram}")


def _feed_positions(path: Path) -> dict[str, tuple[int, int]]:
    """feed_key(url) -> (line, column) of its outline, for problems found after load_feeds."""
    from bot.opml import feed_key, read_outlines

    base = path.resolve().parent
    positions: dict[str, tuple[int, int]] = {}
    try:
        for o in read_outlines(path.read_bytes()):
            url = o.get("xmlUrl").strip()
            if url and "://" not in url and not Path(url).is_absolute():
                url = str((base / url).resolve())  # as load_feeds resolves it
            positions.setdefault(feed_key(url), (o.line, o.column))
    except Exception:  # an unreadable list is already reported by load_feeds
        pass
    return positions


def _local_feed_problems(settings: Settings, feeds) -> list:
    """Local feed files `run` would refuse: outside every folder named in WATCHBOT_LOCAL_FEEDS."""
    import os
    from urllib.parse import urlsplit
    from urllib.request import url2pathname

    from bot.opml import feed_key
    from bot.yamlconf import ConfigProblem

    roots = [os.path.realpath(r) for r in settings.local_feed_folders]
    positions = None
    problems = []
    for feed in feeds:
        if feed.url.lower().startswith(("http://", "https://")):
            continue
        path = url2pathname(urlsplit(feed.url).path) if feed.url.lower().startswith("file:") else feed.url
        real = os.path.realpath(os.path.expanduser(path))
        if any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in roots):
            continue
        positions = positions if positions is not None else _feed_positions(settings.watchbot_feeds)
        line, col = positions.get(feed_key(feed.url), (None, None))
        problems.append(ConfigProblem(str(settings.watchbot_feeds), line, col,
                                      f"feed {feed.url}: a local file outside WATCHBOT_LOCAL_FEEDS "
                                      f"({', '.join(roots) or 'none set'}); run refuses to read it",
                                      f"add {os.path.dirname(real)} to WATCHBOT_LOCAL_FEEDS"))
    return problems


async def _check_online(settings: Settings, feeds) -> tuple[list, list[str]]:
    """Problems found by asking Telegram and every feed, plus one line per thing that is fine."""
    import asyncio

    from bot.fetch import Fetcher
    from bot.channels.telegram import verify_telegram
    from bot.models import Validators
    from bot.opml import feed_key
    from bot.storage import has_state, open_store
    from bot.yamlconf import ConfigProblem

    problems, notes = [], []
    if settings.telegram_enabled:
        tg = await verify_telegram(settings)
        if tg.ok:
            notes.append(f"telegram: {tg.detail}")
        else:
            problems.append(ConfigProblem("telegram",
                                          None, None, tg.detail))
    positions = _feed_positions(settings.watchbot_feeds)
    validators = {}
    if has_state(settings):
        store = open_store(settings)
        try:
            validators = {fs.url: fs.validators for fs in store.feed_states()}
        finally:
            store.close()
    from bot.config import fetch_proxies

    async with Fetcher(proxies=fetch_proxies(settings),
                       max_concurrency=settings.watchbot_concurrency, per_host=settings.watchbot_per_host,
                       max_bytes=settings.watchbot_max_body_bytes, total_timeout=settings.watchbot_timeout,
                       user_agent=settings.watchbot_user_agent) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(f.url, validators.get(f.url) or Validators())
                                         for f in feeds))
    for feed, result in zip(feeds, results):
        if result.ok or result.not_modified:
            notes.append(f"feed {feed.url}: HTTP {result.status}" + (" (not modified)" if result.not_modified else ""))
            continue
        line, col = positions.get(feed_key(feed.url), (None, None))
        problems.append(ConfigProblem(str(settings.watchbot_feeds), line, col,
                                      f"feed {feed.url}: {result.error or f'HTTP {result.status}'}"))
    return problems, notes


STATUS_WIDTH = 100  # columns: fits a laptop terminal split in two and an 100-column pager


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout: feeds (in feed-list "
              "order), outbox counts, recent events.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """A table per feed: last fetch, HTTP status, items, errors, next check, why paused."""
    import json

    from bot.config import load_feeds
    from bot.storage import has_state, open_store

    settings = _settings(ctx)
    if not has_state(settings):
        if as_json:
            click.echo(json.dumps({"state": None, "feeds": [], "outbox": {}, "events": []}))
            return
        click.echo(f"no state yet in {settings.watchbot_state}: run `watchbot run --once` first")
        return
    listed, _ = load_feeds(settings.watchbot_feeds)
    store = open_store(settings)
    try:
        states = {fs.url: fs for fs in store.feed_states()}
        counts = store.outbox_counts()
        claim = store.last_claim()
        events = store.recent_events(5)
    finally:
        store.close()
    # The feed list's order, and only what it lists: a removed feed's row stays in the store
    # (its identities keep old items from re-alerting) but is no longer the operator's concern.
    shown = [(feed, states.get(feed.url)) for feed in listed]
    if as_json:
        click.echo(json.dumps({
            "state": str(settings.watchbot_state),
            "feeds": [_feed_json(feed, fs) for feed, fs in shown],
            "outbox": {k: counts.get(k, 0) for k in ("pending", "sending", "sent", "maybe_sent",
                                                     "rejected", "superseded", "orphaned")},
            "sender": claim and {"worker": claim[0], "claimed_at": claim[1].isoformat()},
            "events": [{"at": e.at.isoformat(), "level": e.level, "message": e.message} for e in events],
        }, ensure_ascii=False))
        return
    _print_status_table(shown)
    line = (f"outbox: {counts.get('pending', 0)} pending, {counts.get('sent', 0)} sent, "
            f"{counts.get('maybe_sent', 0)} possibly sent (timeout), {counts.get('rejected', 0)} rejected")
    # Every other state too ("sending" left by a stopped run, orphaned edits ...): none is hidden.
    line += "".join(f", {n} {state}" for state, n in sorted(counts.items())
                    if state not in ("pending", "sent", "maybe_sent", "rejected"))
    click.echo(line)
    if claim:  # with several workers: which one is the channel's sender
        click.echo(f"last outbox claim: {claim[0]} at {claim[1].isoformat()}")
    for event in events:
        message = " ".join(event.message.split())  # one line each; `status --json` has it whole
        click.echo(_fit(f"{event.at.isoformat()} {event.level}: {message}", STATUS_WIDTH))


def _feed_json(feed, fs) -> dict:
    iso = (lambda d: d.isoformat() if d else None)
    if fs is None:
        return {"url": feed.url, "title": feed.title, "polled": False}
    return {"url": feed.url, "current_url": fs.current_url, "title": fs.title or feed.title,
            "polled": fs.last_fetch is not None, "last_fetch": iso(fs.last_fetch),
            "last_success": iso(fs.last_success), "http_status": fs.last_status,
            "items": fs.items_total, "new": fs.last_new, "errors": fs.consecutive_errors,
            "next_check": None if fs.paused_reason else iso(fs.next_check),
            "paused": fs.paused_reason, "problem": fs.paused_reason or fs.last_error,
            "warning": fs.last_warning}


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _short_url(url: str) -> str:
    return url.split("://", 1)[-1].removeprefix("www.")


def _fit_middle(text: str, width: int) -> str:
    """Both ends of a long name survive (host and file name): 'example.com/…/missing.xml'."""
    if len(text) <= width:
        return text
    tail = (width - 1) * 2 // 3
    return text[: width - 1 - tail] + "…" + text[len(text) - tail:]


def _print_status_table(shown) -> None:
    """One line per feed, never wider than STATUS_WIDTH: the problem gets what is left."""
    header = ("feed", "fetched UTC", "HTTP", "items", "new", "err", "next UTC", "problem")
    rows = []
    for feed, fs in shown:
        name = (fs.title if fs and fs.title else feed.title) or _short_url(feed.url)
        if fs is None:
            rows.append((name, "-", "-", "0", "0", "0", "not yet", ""))
            continue
        if fs.current_url != fs.url:
            name += " → " + _short_url(fs.current_url)
        rows.append((name, _when_short(fs.last_fetch), str(fs.last_status or "-"), str(fs.items_total),
                     str(fs.last_new), str(fs.consecutive_errors),
                     "paused" if fs.paused_reason else _when_short(fs.next_check),
                     " ".join((fs.paused_reason or fs.last_error or fs.last_warning or "").split())))
    fixed = [11, 4, 6, 4, 3, 11]  # last fetch, HTTP, items, new, err, next check
    name_w = min(28, max([4] + [len(r[0]) for r in rows]))
    problem_w = STATUS_WIDTH - name_w - sum(fixed) - 7  # one space between the 8 columns
    widths = [name_w, *fixed, problem_w]

    import textwrap

    def lines(cells) -> list[str]:
        out = []
        for i, (cell, w) in enumerate(zip(cells[:-1], widths)):
            cell = _fit_middle(cell, w) if i == 0 else _fit(cell, w)
            out.append(cell.rjust(w) if i in (2, 3, 4, 5) else cell.ljust(w))
        # The problem is what the operator reads: wrapped under its column, never cut.
        problem = textwrap.wrap(cells[-1], problem_w, break_long_words=True) or [""]
        indent = " " * (STATUS_WIDTH - problem_w)
        return [(" ".join(out) + " " + problem[0]).rstrip()] + [indent + p for p in problem[1:]]

    for row in [header, *rows]:
        for text in lines(row):
            click.echo(text)


def _when_short(dt) -> str:
    return dt.strftime("%m-%d %H:%M") if dt else "-"


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout: ok, problems, facts.")
@click.pass_context
def health(ctx: click.Context, as_json: bool) -> None:
    """Exit 0 if the bot is healthy (recent fetches, not every feed failing, outbox moving, channel accepting), else 1 with the reasons."""
    import json
    from datetime import datetime, timezone

    from bot.config import load_feeds
    from bot.health import assess
    from bot.storage import has_state, open_store

    settings = _settings(ctx)
    if not has_state(settings):
        ok, problems, facts = False, [f"no state in {settings.watchbot_state}: the bot has not run"], {}
    else:
        store = open_store(settings)
        try:
            result = assess(store, settings, datetime.now(timezone.utc), load_feeds(settings.watchbot_feeds)[0])
        finally:
            store.close()
        ok, problems, facts = result.ok, result.problems, result.facts
    if as_json:
        click.echo(json.dumps({"ok": ok, "problems": problems, **facts}, ensure_ascii=False))
    elif ok:
        click.echo(f"healthy: {facts['feeds']} feeds, {facts['feeds_failing']} failing, last fetch "
                   f"{facts['last_fetch']}, {facts['outbox'].get('pending', 0)} pending")
    else:
        for problem in problems:
            click.echo(f"unhealthy: {problem}", err=True)
    if not ok:
        raise SystemExit(EXIT_FAILED)


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False), default=".")
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
def init(folder: str, force: bool) -> None:
    """Write an editable configuration into FOLDER: watchbot.toml, feeds.opml, watchlists/."""
    import shutil

    from bot.defaults import defaults_dir

    source, target = defaults_dir(), Path(folder)
    files = [Path("watchbot.toml"), Path("feeds.opml")] + sorted(
        Path("watchlists") / p.name for p in (source / "watchlists").iterdir()
        if p.is_file() and p.suffix in (".yaml", ".yml", ".json", ".md"))
    existing = [str(target / f) for f in files if (target / f).exists()]
    if existing and not force:
        click.echo("error: these files exist (nothing was written; --force overwrites): "
                   + ", ".join(existing), err=True)
        raise SystemExit(EXIT_FAILED)
    for f in files:
        (target / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / f, target / f)
    config = target / "watchbot.toml"
    click.echo(f"wrote {config}, {target / 'feeds.opml'} and {target / 'watchlists'}/ "
               f"({len(files) - 2} files). Next:\n"
               f"  1. list your feeds in {target / 'feeds.opml'} (or `watchbot feeds add URL`)\n"
               f"  2. edit or add topics in {target / 'watchlists'}/ (rules: watchlists/README.md)\n"
               f"  3. export TELEGRAM_BOT_TOKEN=... and set TELEGRAM_CHAT_ID in {config}\n"
               f"  4. watchbot --config {config} check --online, then run")


@cli.command()
@click.pass_context
def settings(ctx: click.Context) -> None:
    """List every setting: name (file key = environment variable), value, where it came from, help."""
    from bot.config import SETTINGS, load_settings_report

    report = load_settings_report(_config_path(ctx))
    if report.problems:  # printing defaults for a broken file would hide what is wrong
        _fail_config(report.problems)
    current = report.settings.redacted()
    for spec in SETTINGS:
        click.echo(f"{spec.name} = {current[spec.name]}  ({report.sources[spec.name]})\n    {spec.help}")


# ---------------------------------------------------------------------------------------------


@cli.group()
def feeds() -> None:
    """Manage the feed list (an OPML file)."""


def _feed_list(settings: Settings):
    """The feed list as an editable document (an empty one if the file does not exist yet)."""
    from bot.opml import OpmlDocument, OpmlError
    from bot.yamlconf import ConfigProblem

    try:
        return OpmlDocument.load(settings.watchbot_feeds)
    except OpmlError as exc:
        _fail_config([ConfigProblem(str(settings.watchbot_feeds), exc.line, exc.column, exc.message,
                                    "fix the feed list before editing it with watchbot")])


@feeds.command("import")
@click.argument("opml", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Show what would be added; write nothing.")
@click.pass_context
def feeds_import(ctx: click.Context, opml: str, dry_run: bool) -> None:
    """Merge the feeds of an OPML file into the feed list, keeping folders, titles and htmlUrl."""
    from bot.config import outline_feed
    from bot.opml import OpmlError, feed_key, read_outlines, write_atomically
    from bot.yamlconf import ConfigProblem

    settings = _settings(ctx)
    try:
        outlines = read_outlines(Path(opml).read_bytes())
    except OpmlError as exc:
        _fail_config([ConfigProblem(opml, exc.line, exc.column, exc.message)])
    doc = _feed_list(settings)
    known = doc.urls()
    added, already, invalid = [], 0, []
    for outline in outlines:
        feed, message, hint = outline_feed(outline, Path(opml))
        if feed is None and not message:
            continue  # a folder: created when one of its feeds is added
        attrs = dict(outline.original or {})
        if feed is not None:
            key = feed_key(feed.url)
            if key in known:
                already += 1
                continue
            url_attr = next(k for k in attrs if k.lower() == "xmlurl")
            attrs[url_attr] = feed.url  # a relative local path, resolved against the imported file
            known[key] = attrs
        else:
            # Kept, not dropped: the operator sees it in the list and in `check`, and fixes it.
            invalid.append(ConfigProblem(opml, outline.line, outline.column, message,
                                         (hint + "; " if hint else "") + "kept in the feed list: fix or remove it"))
        added.append((attrs, outline.folders))
        if not dry_run:
            doc.add(attrs, outline.folders)
    for problem in invalid:
        click.echo(f"warning: {problem}", err=True)
    target = settings.watchbot_feeds
    if dry_run:
        for attrs, folders in added:
            url = next((v for k, v in attrs.items() if k.lower() == "xmlurl"), "(no xmlUrl)")
            title = next((v for k, v in attrs.items() if k.lower() in ("title", "text")), "")
            click.echo(f"+ {url}" + (f"  {title}" if title else "") + (f"  [{' / '.join(folders)}]" if folders else ""))
        click.echo(f"dry run: would add {len(added)} feeds ({len(invalid)} with problems), "
                   f"{already} already listed; {target} not changed")
        return
    backup = write_atomically(target, doc.text())
    click.echo(f"{len(added)} feeds added ({len(invalid)} with problems, kept), {already} already listed; "
               f"{len(doc.feed_elements())} in {target}" + (f"; previous list saved as {backup}" if backup else ""))


@feeds.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="File to write (default: stdout).")
@click.pass_context
def feeds_export(ctx: click.Context, output: str | None) -> None:
    """Write the feed list as OPML 2.0, folders and every attribute included."""
    settings = _settings(ctx)
    if not settings.watchbot_feeds.exists():
        _fail_config([f"{settings.watchbot_feeds}: feed list not found"])
    text = _feed_list(settings).text()
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feed on stdout.")
@click.pass_context
def feeds_list(ctx: click.Context, as_json: bool) -> None:
    """List the feeds in feed-list order: URL, title, folder; problems after them."""
    import json

    from bot.config import outline_feed
    from bot.opml import OpmlError, read_outlines
    from bot.yamlconf import ConfigProblem

    settings = _settings(ctx)
    path = settings.watchbot_feeds
    try:
        outlines = read_outlines(path.read_bytes())
    except FileNotFoundError:
        _fail_config([f"{path}: feed list not found (`watchbot init` writes one)"])
    except OpmlError as exc:
        _fail_config([ConfigProblem(str(path), exc.line, exc.column, exc.message)])
    problems = []
    for outline in outlines:
        feed, message, hint = outline_feed(outline, path)
        if feed is None and not message:
            continue
        url = outline.get("xmlUrl").strip()
        folder = " / ".join(outline.folders)
        title = outline.get("title") or outline.get("text")
        if message:
            problems.append(ConfigProblem(str(path), outline.line, outline.column, message, hint))
        if as_json:
            click.echo(json.dumps({"url": url, "title": title, "folder": folder or None,
                                   "html_url": outline.get("htmlUrl") or None, "line": outline.line,
                                   "problem": message or None}, ensure_ascii=False))
        else:
            click.echo(f"{url}" + (f"  {title}" if title and title != url else "") + (f"  [{folder}]" if folder else ""))
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)


@feeds.command("add")
@click.argument("url")
@click.option("--title", default=None, help="Title to list the feed under (default: the feed's own).")
@click.option("--folder", default=None, help="Folder (category) to put it in; nested with '/'.")
@click.option("--no-fetch", is_flag=True, help="Add the URL as given, without fetching it to check "
              "that it is a feed (or finding the feed of a web page).")
@click.pass_context
def feeds_add(ctx: click.Context, url: str, title: str | None, folder: str | None, no_fetch: bool) -> None:
    """Add a feed; given a web page, add the feed it announces (<link rel="alternate">)."""
    import asyncio

    from bot.opml import feed_key, looks_like_host, write_atomically

    settings = _settings(ctx)
    url = url.strip()
    if "://" not in url and looks_like_host(url):
        url = "https://" + url
        click.echo(f"no scheme given: using {url}", err=True)
    if not url.lower().startswith(("http://", "https://")):
        raise click.UsageError(f"{url}: give an http(s) URL")
    feed_title = ""
    doc = _feed_list(settings)
    if not no_fetch and feed_key(url) not in doc.urls():
        url, feed_title = asyncio.run(_find_feed(url, settings))
    if feed_key(url) in doc.urls():
        click.echo(f"{url} is already listed in {settings.watchbot_feeds}")
        return
    name = title or feed_title or url
    attrs = {"type": "rss", "text": name, "title": name, "xmlUrl": url}
    doc.add(attrs, tuple(p.strip() for p in folder.split("/") if p.strip()) if folder else ())
    backup = write_atomically(settings.watchbot_feeds, doc.text())
    click.echo(f"added {url}" + (f" ({name})" if name != url else "") + f" to {settings.watchbot_feeds}"
               + (f"; previous list saved as {backup}" if backup else ""))


async def _find_feed(url: str, settings: Settings) -> tuple[str, str]:
    """(feed URL, feed title): ``url`` itself when it is a feed, else the first feed its page
    announces that parses. Exits 1 with the reason when there is none."""
    from bot.fetch import Fetcher
    from bot.opml import discover_feed_links
    from bot.parse import parse_feed

    from bot.config import fetch_proxies

    async with Fetcher(proxies=fetch_proxies(settings),
                       user_agent=settings.watchbot_user_agent, max_bytes=settings.watchbot_max_body_bytes,
                       total_timeout=settings.watchbot_timeout) as fetcher:
        result = await fetcher.fetch(url)
        if not result.ok:
            click.echo(f"error: could not fetch {url}: {result.error or f'HTTP {result.status}'} "
                       "(--no-fetch adds it anyway)", err=True)
            raise SystemExit(EXIT_FAILED)
        parsed = parse_feed(result.body, result.headers, url)
        if parsed.items or (parsed.title and not parsed.error):
            return url, parsed.title
        page = result.body.decode(_charset(result.headers), "replace")
        candidates = discover_feed_links(page, url)
        for candidate, _label in candidates:
            found = await fetcher.fetch(candidate)
            if found.ok:
                parsed = parse_feed(found.body, found.headers, candidate)
                if parsed.items or (parsed.title and not parsed.error):
                    click.echo(f"{url} is a web page; it announces the feed {candidate}", err=True)
                    return candidate, parsed.title
    click.echo(f"error: {url} is not a feed" + (" and none of the feeds its page announces could be read"
               if candidates else " and its page announces none (<link rel=\"alternate\" type=\"application/rss+xml\">)"),
               err=True)
    raise SystemExit(EXIT_FAILED)


def _charset(headers: dict[str, str]) -> str:
    import codecs

    ctype = headers.get("content-type", "")
    for part in ctype.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset":
            try:
                return codecs.lookup(value.strip('"')).name
            except LookupError:
                break
    return "utf-8"


@feeds.command("remove")
@click.argument("url")
@click.pass_context
def feeds_remove(ctx: click.Context, url: str) -> None:
    """Remove a feed from the feed list (its history stays in the state)."""
    import difflib

    from bot.opml import attr, write_atomically

    settings = _settings(ctx)
    doc = _feed_list(settings)
    removed = doc.remove(url)
    if removed is None:
        listed = [(attr(e, "xmlUrl") or "").strip() for _, e in doc.feed_elements()]
        close = difflib.get_close_matches(url, listed, n=1, cutoff=0.6)
        click.echo(f"error: {url} is not in {settings.watchbot_feeds}" +
                   (f" (did you mean {close[0]}?)" if close else ""), err=True)
        raise SystemExit(EXIT_FAILED)
    backup = write_atomically(settings.watchbot_feeds, doc.text())
    click.echo(f"removed {(attr(removed, 'xmlUrl') or '').strip()} from {settings.watchbot_feeds}; "
               f"previous list saved as {backup}")


# ---------------------------------------------------------------------------------------------


@cli.command("try")
@click.argument("text", required=False)
@click.option("--feed", "feed", default=None, help="A feed file or http(s) URL: report every item in it.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per item on stdout: matches "
              "with their terms, vetoes, and the decision with its reasons.")
@click.pass_context
def try_(ctx: click.Context, text: str | None, feed: str | None, as_json: bool) -> None:
    """Show what the watchlists make of TEXT (or of each item of a feed), and why."""
    if not text and not feed:
        raise click.UsageError("give TEXT or --feed FILE_OR_URL")
    import asyncio
    from datetime import datetime, timezone

    from bot.match import format_report
    from bot.models import Item
    from bot.storage import has_state, open_store

    settings = _settings(ctx)
    rules = _rules(settings)
    if has_state(settings):
        store = open_store(settings)
        try:  # the stories novelty compares with: its window, as `run` loads them
            rules.novelty.load(store.stories(rules.stories_since(datetime.now(timezone.utc))))
        finally:
            store.close()
    if feed:
        items = asyncio.run(_items_of(feed, settings))
    else:
        title, _, summary = text.partition("\n")
        items = [Item(key="try:1", feed_url="try", title=title, summary=summary, outlet="(try)")]
    now = datetime.now(timezone.utc)
    if as_json:
        import json

        for item in items:
            report = rules.matcher.report(item)
            decision = rules.novelty.decide(item, report.matches, item.published or now) if report.matches else None
            click.echo(json.dumps(_try_json(item, report, decision), ensure_ascii=False))
        return
    for item in items:
        report = rules.matcher.report(item)
        click.echo(f"── {item.title}" + (f"  ({item.published:%Y-%m-%d})" if item.published else ""))
        click.echo(format_report(item, report))
        if report.matches:
            decision = rules.novelty.decide(item, report.matches, item.published or now)
            click.echo(f"  facts: {decision.facts}")
            for line in decision.compared:
                click.echo(f"  {line}")
            score = f", p={decision.score:.2f}" if decision.score is not None else ""
            click.echo(f"  decision: {decision.kind} (step {decision.step}{score})")
            for reason in decision.reasons:
                click.echo(f"    - {reason}")
        click.echo("")


def _try_json(item, report, decision) -> dict:
    hits = (lambda hs: [{"term": h.term, "group": h.group, "where": h.where, "text": h.surface} for h in hs])
    return {
        "key": item.key, "title": item.title, "link": item.link,
        "published": item.published.isoformat() if item.published else None,
        "matches": [{"watchlist": m.watchlist, "title": m.title, "hits": hits(m.hits)} for m in report.matches],
        "vetoes": [{"watchlist": v.watchlist, "group": v.group, "hits": hits(v.hits)} for v in report.vetoes],
        "decision": None if decision is None else {
            "kind": decision.kind, "watchlist": decision.watchlist, "reasons": list(decision.reasons),
            "nearest": decision.nearest, "similarity": round(decision.similarity, 3),
            "new_facts": list(decision.new_facts), "step": decision.step, "score": decision.score,
            "facts": decision.facts, "compared": list(decision.compared)},
    }


async def _items_of(source: str, settings: Settings) -> list[Item]:
    """The items `run` would read from ``source`` (same fetch settings, same identities)."""
    from bot.config import fetch_proxies
    from bot.pipeline import read_feed_once

    url = source if "://" in source else str(Path(source).resolve())
    result, parsed = await read_feed_once(settings, url, proxies=fetch_proxies(settings))
    if parsed is None:
        click.echo(f"error: could not read {source}: {result.error or result.status}", err=True)
        raise SystemExit(1)
    if parsed.error and not parsed.items:
        click.echo(f"error: {source}: {parsed.error}", err=True)
        raise SystemExit(1)
    return list(parsed.items)


# ---------------------------------------------------------------------------------------------


@cli.command("replay")
@click.argument("paths", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per item on stdout.")
@click.option("--post", is_flag=True, help="Send alerts and updates to Telegram as they would go live.")
@click.option("--state", "state_dir", default=None,
              help="State to build: a folder (SQLite) or a postgresql:// URL (default: a fresh "
                   "temporary folder; WATCHBOT_DATABASE_URL is never used by replay).")
@click.pass_context
def replay_cmd(ctx: click.Context, paths: tuple[str, ...], as_json: bool, post: bool, state_dir: str | None) -> None:
    """Run archived feed files through the pipeline in publication order (backtest an edit)."""
    import asyncio
    import json
    import tempfile
    from dataclasses import replace

    from bot.replay import feed_files

    settings = _settings(ctx)
    rules = _rules(settings)
    try:
        files = feed_files(paths)
    except FileNotFoundError as exc:
        raise click.UsageError(str(exc))
    with tempfile.TemporaryDirectory(prefix="watchbot-replay-") as tmp:
        # A backtest writes only where it is told: never into the configured database.
        url = state_dir if state_dir and state_dir.startswith(("postgresql://", "postgres://")) else ""
        state = Path(state_dir) if state_dir and not url else Path(tmp)
        settings = replace(settings, watchbot_state=state, watchbot_database_url=url)
        lock = _lock(state, url)
        try:
            records = asyncio.run(_replay(settings, rules, files, post))
        finally:
            lock.release()
    if as_json:
        for record in records:
            click.echo(json.dumps(record, ensure_ascii=False))
        return
    counts: dict[str, int] = {}
    for r in records:
        counts[r["decision"]] = counts.get(r["decision"], 0) + 1
        if r["decision"] in ("alert", "update"):
            mark = "ALERT " if r["decision"] == "alert" else "  +src"
            click.echo(f"{mark} [{','.join(r['watchlists'])}] story {r['story']}: {r['title']}")
    click.echo(f"{len(records)} items: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))


async def _replay(settings: Settings, rules: Rules, files, post: bool) -> list[dict]:
    from bot.replay import replay_state

    channel = _channel(settings) if post else None
    if channel is None:
        return await replay_state(settings, rules, files)
    await channel.start()
    try:
        return await replay_state(settings, rules, files, channel=channel)
    finally:
        await channel.aclose()


@cli.command("digest")
@click.option("--since", default=None, help="Period start: 24h, 7d, 2w, or a date/date-time in the "
              "digest time zone (default: WATCHBOT_DIGEST_SINCE).")
@click.option("--until", default=None, help="Period end (default: now); a bare date means the end of that day.")
@click.option("--watchlist", "watchlist_ids", multiple=True, help="Only this watchlist id (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "html", "json"]), default="text",
              show_default=True, help="Output format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write to this file instead of stdout.")
@click.option("--post", is_flag=True, help="Send the digest to the channel (split into messages of <= 4096 characters).")
@click.option("--chart", "chart_path", type=click.Path(dir_okay=False), default=None,
              help="Also draw a timeline PNG (needs the 'chart' extra); posted as a photo with --post.")
@click.option("--state", "state_dir", type=click.Path(file_okay=False), default=None,
              help="State folder to read (SQLite; default: the configured state or WATCHBOT_DATABASE_URL), "
                   "e.g. one built by `replay --state`.")
@click.pass_context
def digest_cmd(ctx: click.Context, since: str | None, until: str | None, watchlist_ids: tuple[str, ...],
               fmt: str, output: str | None, post: bool, chart_path: str | None, state_dir: str | None) -> None:
    """Summarise a period per watchlist: new developments, restatements, feed problems."""
    import asyncio
    from dataclasses import replace
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from rich.console import Console

    from bot import digest as dg
    from bot.storage import has_state, open_store

    settings = _settings(ctx)
    if state_dir:  # that folder's SQLite state, whatever database is configured
        settings = replace(settings, watchbot_state=Path(state_dir), watchbot_database_url="")
    if chart_path:
        from bot.chart import INSTALL_HINT, chart_available
        if not chart_available():
            click.echo(f"error: {INSTALL_HINT}", err=True)
            raise SystemExit(1)
    if not has_state(settings):
        click.echo(f"error: no state in {settings.watchbot_state}: run `watchbot run --once` or "
                   "`watchbot replay --state DIR` first", err=True)
        raise SystemExit(1)
    tz = ZoneInfo(settings.watchbot_digest_timezone)
    now = datetime.now(timezone.utc)
    try:
        start = dg.parse_since(since or settings.watchbot_digest_since, now, tz)
        end = dg.parse_until(until, now, tz)
    except ValueError as exc:
        raise click.UsageError(str(exc))
    if end <= start:
        raise click.UsageError("the period is empty: --until must be after --since")
    titles, timeline = dg.digest_context(settings.watchbot_watchlists)
    unknown = [w for w in watchlist_ids if titles and w not in titles]
    if unknown:
        raise click.UsageError(f"unknown watchlist {', '.join(unknown)}; known: {', '.join(titles)}")
    store = open_store(settings)
    try:
        with dg.terminal_progress() as progress:
            digest = dg.build_digest(store, since=start, until=end, watchlists=list(watchlist_ids) or None,
                                     timeline=timeline, watchlist_titles=titles, tz=tz,
                                     progress=progress("counting items"))
    finally:
        store.close()
    if chart_path:
        from bot.chart import render_chart
        render_chart(digest, chart_path)
        click.echo(f"chart written to {chart_path}", err=True)
    if post:
        outcomes = asyncio.run(_post_digest(settings, digest, chart_path))
        bad = [o for o in outcomes if o.status != "sent"]
        click.echo(f"posted {len(outcomes) - len(bad)} of {len(outcomes)} messages", err=True)
        if bad:
            click.echo(f"error: {bad[0].status}: {bad[0].error}", err=True)
            raise SystemExit(1)
        return
    if output:
        Path(output).write_text(dg.RENDERERS[fmt](digest), encoding="utf-8")
        click.echo(f"digest written to {output}", err=True)
    elif fmt == "text" and sys.stdout.isatty():
        dg.print_rich(digest, Console())
    else:
        click.echo(dg.RENDERERS[fmt](digest), nl=False)


async def _post_digest(settings: Settings, digest, chart_path: str | None):
    from bot import digest as dg

    channel = _channel(settings)
    await channel.start()
    try:
        with dg.terminal_progress() as progress:
            return await dg.post_digest(digest, channel, chart=chart_path, progress=progress("posting"))
    finally:
        await channel.aclose()


@cli.group()
def db() -> None:
    """The state database: upgrade its schema, copy a SQLite state into PostgreSQL."""


def _where(settings: Settings) -> str:
    from bot.config import redact_url

    if settings.watchbot_database_url:
        return f"the PostgreSQL database {redact_url(settings.watchbot_database_url)}"
    return f"the state database {settings.database}"


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Bring the configured database's schema to this watchbot's version (creates it if empty)."""
    from bot import migrations

    settings = _settings(ctx)
    if settings.watchbot_database_url:
        from bot.store_pg import PgStore

        store = PgStore(settings.watchbot_database_url, upgrade=True)
    else:
        from bot.store import Store

        lock = _lock(settings.watchbot_state)  # a running bot must not see its schema change
        try:
            store = Store(settings.database)
        finally:
            lock.release()
    found = store.schema_found
    store.close()
    if found == 0:
        click.echo(f"{_where(settings)}: created at schema {migrations.LATEST}")
    elif found < migrations.LATEST:
        click.echo(f"{_where(settings)}: upgraded from schema {found} to {migrations.LATEST}")
    else:
        click.echo(f"{_where(settings)}: already at schema {migrations.LATEST}, nothing to do")


@db.command("copy")
@click.option("--from", "source", type=click.Path(file_okay=False, exists=True), required=True,
              help="The SQLite state folder to copy (a WATCHBOT_STATE folder with watchbot.sqlite3).")
@click.option("--to", "target", default=None,
              help="PostgreSQL URL to copy into (default: WATCHBOT_DATABASE_URL); must hold no state yet.")
@click.pass_context
def db_copy(ctx: click.Context, source: str, target: str | None) -> None:
    """Copy a SQLite state folder into an empty PostgreSQL database, identities and tombstones
    included, so nothing already seen alerts again after the move."""
    from bot.config import redact_url
    from bot.store import Store
    from bot.store_pg import PgStore, copy_from_sqlite

    settings = _settings(ctx)
    url = target or settings.watchbot_database_url
    if not url.startswith(("postgresql://", "postgres://")):
        click.echo("error: no PostgreSQL database to copy into: pass --to postgresql://... or set "
                   "WATCHBOT_DATABASE_URL", err=True)
        raise SystemExit(EXIT_CONFIG)
    path = Path(source) / "watchbot.sqlite3"
    if not path.is_file():
        click.echo(f"error: {source} holds no watchbot state ({path.name} not found)", err=True)
        raise SystemExit(EXIT_CONFIG)
    lock = _lock(Path(source))  # no bot may write to it while it is copied
    try:
        sqlite_store = Store(path)
        pg_store = PgStore(url)
        try:
            counts = copy_from_sqlite(sqlite_store, pg_store)
        except ValueError as exc:
            click.echo(f"error: {exc}", err=True)
            raise SystemExit(EXIT_FAILED)
        finally:
            pg_store.close()
            sqlite_store.close()
    finally:
        lock.release()
    click.echo(f"copied {path} into {redact_url(url)}: "
               + ", ".join(f"{n} {table}" for table, n in counts.items()))


def _add_config_everywhere(group: click.Group) -> None:
    for command in group.commands.values():
        command.params.append(_config_option())
        if isinstance(command, click.Group):
            _add_config_everywhere(command)


_add_config_everywhere(cli)


def main() -> None:
    from bot.migrations import DatabaseUnavailableError, SchemaError

    try:
        cli(obj={})
    except (SchemaError, DatabaseUnavailableError) as exc:
        # The state cannot be used as it is (schema of another version, server unreachable):
        # a configuration problem, said in one line without a traceback.
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_CONFIG)


if __name__ == "__main__":  # pragma: no cover
    main()
