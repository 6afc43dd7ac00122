"""One Settings object, built and validated once at start-up.

Every setting has one name, used both as the key in ``watchbot.toml`` and as the environment
variable that overrides it (the environment wins). ``SETTINGS`` below is the single source of
their types, defaults and help: ``watchbot check`` validates against it, ``watchbot settings``
prints it, and a test fails when README.md does not document one of them.

Secrets come only from the environment: TELEGRAM_BOT_TOKEN in the file is an error, so a token
never ends up committed next to the configuration.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from bot.models import DEFAULT_USER_AGENT, Feed
from bot.yamlconf import ConfigProblem

DEFAULT_CONFIG = "watchbot.toml"


@dataclass(frozen=True)
class SettingSpec:
    name: str
    kind: Callable[[str], Any] | type
    default: Any
    help: str
    secret: bool = False
    env_only: bool = False


def _bool(value: str) -> bool:
    lowered = str(value).strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true/false, got {value!r}")


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("TELEGRAM_BOT_TOKEN", str, "", "Bot token from @BotFather. Environment only; "
                "without it alerts are printed to the console.", secret=True, env_only=True),
    SettingSpec("TELEGRAM_CHAT_ID", str, "", "Channel or chat to post alerts to (@name or numeric id)."),
    SettingSpec("TELEGRAM_ADMIN_CHAT_ID", str, "", "Optional chat that receives operational "
                "problems (broken watchlist edit, Telegram refusing the channel)."),
    SettingSpec("TELEGRAM_API_URL", str, "https://api.telegram.org", "Bot API server root: "
                "a self-hosted telegram-bot-api server or a test stand-in goes here."),
    SettingSpec("WATCHBOT_FEEDS", str, "feeds.opml", "The feed list, an OPML file (each "
                "outline's xmlUrl; optional per-feed attributes interval and backfill)."),
    SettingSpec("WATCHBOT_WATCHLISTS", str, "watchlists", "Folder of watchlist YAML files and timeline.yaml."),
    SettingSpec("WATCHBOT_STATE", str, "state", "Folder for runtime data (SQLite database, lock file)."),
    SettingSpec("WATCHBOT_DATABASE_URL", str, "", "Where the state lives: empty means the SQLite "
                "file in WATCHBOT_STATE; postgresql://user@host:port/db means a PostgreSQL database "
                "(password from PGPASSWORD or ~/.pgpass, or in the URL from the environment only)."),
    SettingSpec("WATCHBOT_INTERVAL", int, 900, "Default seconds between polls of one feed."),
    SettingSpec("WATCHBOT_JITTER", int, 60, "Random seconds added to each poll so feeds of one "
                "host are not hit at the same instant."),
    SettingSpec("WATCHBOT_MAX_BACKOFF", int, 6 * 3600, "Cap, in seconds, of the back-off after "
                "consecutive errors of one feed (first retry after 60 s, then doubling)."),
    SettingSpec("WATCHBOT_BACKFILL", int, 0, "On the first poll of a feed, let the N newest "
                "items through to matching instead of recording them all as seen."),
    SettingSpec("WATCHBOT_CONCURRENCY", int, 64, "Feeds fetched at the same time, overall."),
    SettingSpec("WATCHBOT_PER_HOST", int, 4, "Feeds fetched at the same time from one host."),
    SettingSpec("WATCHBOT_TIMEOUT", float, 60.0, "Total seconds one fetch may take (connect, "
                "headers and body) before it is abandoned."),
    SettingSpec("WATCHBOT_LEASE", int, 300, "Seconds a worker's claim on a due feed holds "
                "while it polls it (several workers on one database): a worker that dies loses "
                "its feeds to the others after at most this long. More than WATCHBOT_TIMEOUT + "
                "WATCHBOT_JITTER, so a poll ends before its claim does."),
    SettingSpec("WATCHBOT_MAX_BODY_BYTES", int, 10 * 1024 * 1024, "Largest feed body read; "
                "a larger one is abandoned while streaming and reported."),
    SettingSpec("WATCHBOT_USER_AGENT", str, DEFAULT_USER_AGENT,
                "User-Agent sent with every request."),
    SettingSpec("WATCHBOT_PROXY", str, "", "HTTP(S) proxy for both feeds and Telegram, e.g. "
                "http://proxy:3128 (NO_PROXY still applies). Empty: HTTPS_PROXY/HTTP_PROXY/NO_PROXY "
                "from the environment, never for loopback hosts."),
    SettingSpec("WATCHBOT_PARSE_WORKERS", int, -1, "Processes that parse feeds; -1 = one per "
                "core, 0 = parse in the main process."),
    SettingSpec("WATCHBOT_RETENTION_DAYS", int, 400, "Items and stories older than this are "
                "pruned; their identities stay as tombstones so they never alert again."),
    SettingSpec("WATCHBOT_SEND_INTERVAL", float, 1.0, "Minimum seconds between two messages to "
                "the channel (Telegram allows about one per second per chat)."),
    SettingSpec("WATCHBOT_SEND_PER_MINUTE", int, 20, "Most messages per minute to the channel "
                "(Telegram's limit for channels and groups)."),
    SettingSpec("WATCHBOT_LOG_LEVEL", str, "INFO", "Logging level: DEBUG, INFO, WARNING, ERROR."),
    SettingSpec("WATCHBOT_LOG_FORMAT", str, "text", "Log lines as 'text' (time in UTC with its "
                "offset, level, message) or 'json' (one object per line, for log shippers)."),
    SettingSpec("WATCHBOT_METRICS_ADDR", str, "", "Serve /healthz and Prometheus /metrics on "
                "this HOST:PORT while the daemon runs ('9108' alone means 127.0.0.1:9108). Empty: off."),
    SettingSpec("WATCHBOT_LOCAL_FEEDS", str, "", "Comma-separated folders from which the feed "
                "list may read local files (archives, tests); a local path or file:// feed "
                "elsewhere is refused. Empty: none. `replay` and `try --feed FILE` read any file."),
    SettingSpec("WATCHBOT_DIGEST_CRON", str, "", "When the daemon posts a digest, as a crontab "
                "line (minute hour day month weekday), e.g. '0 8 * * *'. Empty: no scheduled digest."),
    SettingSpec("WATCHBOT_DIGEST_TIMEZONE", str, "UTC", "Time zone of WATCHBOT_DIGEST_CRON, e.g. Asia/Baku."),
    SettingSpec("WATCHBOT_DIGEST_SINCE", str, "24h", "Period a scheduled digest covers (24h, 7d)."),
    SettingSpec("WATCHBOT_DIGEST_WATCHLISTS", str, "", "Comma-separated watchlist ids for the "
                "scheduled digest; empty means all."),
)

_SPEC = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """Validated configuration. Paths are absolute (resolved against the config file's folder)."""

    telegram_bot_token: str = ""
    telegram_chat_id: str = ""
    telegram_admin_chat_id: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    watchbot_feeds: Path = Path("feeds.opml")
    watchbot_watchlists: Path = Path("watchlists")
    watchbot_state: Path = Path("state")
    watchbot_database_url: str = ""
    watchbot_interval: int = 900
    watchbot_jitter: int = 60
    watchbot_max_backoff: int = 6 * 3600
    watchbot_backfill: int = 0
    watchbot_concurrency: int = 64
    watchbot_per_host: int = 4
    watchbot_timeout: float = 60.0
    watchbot_lease: int = 300
    watchbot_max_body_bytes: int = 10 * 1024 * 1024
    watchbot_user_agent: str = DEFAULT_USER_AGENT
    watchbot_proxy: str = ""
    watchbot_parse_workers: int = -1
    watchbot_retention_days: int = 400
    watchbot_send_interval: float = 1.0
    watchbot_send_per_minute: int = 20
    watchbot_log_level: str = "INFO"
    watchbot_log_format: str = "text"
    watchbot_metrics_addr: str = ""
    watchbot_local_feeds: str = ""
    watchbot_digest_cron: str = ""
    watchbot_digest_timezone: str = "UTC"
    watchbot_digest_since: str = "24h"
    watchbot_digest_watchlists: str = ""
    config_path: Path | None = field(default=None, compare=False)

    @property
    def database(self) -> Path:
        return self.watchbot_state / "watchbot.sqlite3"

    @property
    def local_feed_folders(self) -> tuple[Path, ...]:
        """WATCHBOT_LOCAL_FEEDS as absolute folders (relative ones: to the config file's folder)."""
        base = self.config_path.parent if self.config_path else Path.cwd()
        return tuple((base / part.strip()).resolve() for part in self.watchbot_local_feeds.split(",")
                     if part.strip())

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token and self.telegram_chat_id)

    def redacted(self) -> dict[str, Any]:
        """Every setting as text, secrets masked: safe for logs and `watchbot settings`."""
        out = {}
        for spec in SETTINGS:
            value = getattr(self, spec.name.lower())
            out[spec.name] = ("***" if value else "") if spec.secret else str(value)
        if self.watchbot_database_url:  # a password given in the URL never reaches a log line
            out["WATCHBOT_DATABASE_URL"] = redact_url(self.watchbot_database_url)
        return out


def redact_url(url: str) -> str:
    """A database URL with its password masked: safe for log lines and error messages."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
    except ValueError:
        return "(unreadable URL)"
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _url_password(url: object) -> bool:
    from urllib.parse import urlsplit

    try:
        return isinstance(url, str) and urlsplit(url).password is not None
    except ValueError:
        return False


class ConfigError(Exception):
    """The configuration is unusable; ``problems`` says where and why."""

    def __init__(self, problems: list[ConfigProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class SettingsReport:
    """What ``load_settings_report`` found: the settings (every value that could be read; the
    default for the others), every problem, and where each value came from ("default", the
    file as ``path:line``, "environment" or "command line")."""

    settings: Settings
    problems: list[ConfigProblem]
    sources: dict[str, str]


def load_settings(config_path: Path | str | None = None, environ: Mapping[str, str] | None = None,
                  *, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Build Settings from defaults < watchbot.toml < environment < ``overrides``.

    The config path comes from the argument, else WATCHBOT_CONFIG, else ./watchbot.toml when it
    exists. Raises ConfigError listing every problem at once.
    """
    report = load_settings_report(config_path, environ, overrides=overrides)
    if report.problems:
        raise ConfigError(report.problems)
    return report.settings


def _did_you_mean(name: str) -> str:
    close = difflib.get_close_matches(name.upper(), list(_SPEC), n=1, cutoff=0.75)
    return f"did you mean {close[0]}?" if close else ""


def load_settings_report(config_path: Path | str | None = None, environ: Mapping[str, str] | None = None,
                         *, overrides: Mapping[str, Any] | None = None) -> SettingsReport:
    """Like ``load_settings`` but never raises: ``check`` goes on to the feed list and the
    watchlists with what could be read, so one run reports every problem."""
    env = dict(os.environ if environ is None else environ)
    problems: list[ConfigProblem] = []
    path = Path(config_path or env.get("WATCHBOT_CONFIG") or DEFAULT_CONFIG)
    explicit = bool(config_path or env.get("WATCHBOT_CONFIG"))
    raw: dict[str, Any] = {}
    shown = str(path)
    if path.is_file():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            line, col = _toml_position(exc)
            problems.append(ConfigProblem(shown, line, col, f"not valid TOML: {_toml_message(exc)}"))
            # watchbot.toml is flat `KEY = value` lines: read the others one by one, so the
            # rest of the check (feeds, watchlists) runs on the folders actually configured.
            raw = _readable_lines(path.read_text(encoding="utf-8"), skip=line)
        except UnicodeDecodeError as exc:
            problems.append(ConfigProblem(shown, None, None, f"not UTF-8 text: {exc.reason}",
                                          "save the file as UTF-8"))
    elif explicit:
        problems.append(ConfigProblem(shown, None, None, "configuration file not found"))
    base = path.resolve().parent if path.is_file() else Path.cwd()

    values: dict[str, tuple[Any, str]] = {}
    sources = {spec.name: "default" for spec in SETTINGS}
    for key, value in raw.items():
        spec = _SPEC.get(key)
        line, col = _key_position(path, key)
        if spec is None:
            problems.append(ConfigProblem(shown, line, col, f"unknown setting {key!r}",
                                          _did_you_mean(key) or "run `watchbot settings` for the list"))
            continue
        if spec.env_only:
            problems.append(ConfigProblem(shown, line, col, f"{key} must not be in a file",
                                          "secrets come only from the environment: export it instead"))
            continue
        if key == "WATCHBOT_DATABASE_URL" and _url_password(value):
            problems.append(ConfigProblem(shown, line, col, f"{key} must not carry a password in a file",
                                          "secrets come only from the environment: use PGPASSWORD or "
                                          "~/.pgpass, or export the whole URL"))
            continue
        values[key] = (value, "file")
        sources[key] = f"{shown}:{line}" if line else shown
    for name in env:
        # A misspelt variable would otherwise be ignored without a word (TELEGRAM_CHATID).
        if name.startswith(("WATCHBOT_", "TELEGRAM_")) and name not in _SPEC and name not in ENV_ONLY_NAMES:
            hint = _did_you_mean(name)
            if hint:
                problems.append(ConfigProblem("environment", None, None,
                                              f"unknown setting {name!r}", hint))
    for spec in SETTINGS:
        if spec.name in env:
            values[spec.name] = (env[spec.name], "environment")
            sources[spec.name] = "environment"
    for key, value in (overrides or {}).items():
        values[key] = (value, "command line")
        sources[key] = "command line"

    kwargs: dict[str, Any] = {}
    for name, (value, origin) in values.items():
        spec = _SPEC[name]
        try:
            converted = _convert(spec, value)
        except (TypeError, ValueError) as exc:
            if origin == "file":
                line, col = _key_position(path, name, value=True)
                problems.append(ConfigProblem(shown, line, col, f"{name}: {exc}"))
            else:
                problems.append(ConfigProblem(origin, None, None, f"{name}: {exc}"))
            continue
        kwargs[name.lower()] = converted
    for name in ("WATCHBOT_FEEDS", "WATCHBOT_WATCHLISTS", "WATCHBOT_STATE"):
        if name.lower() not in kwargs and not path.is_file():
            # No configuration file at all (an installed tool run from anywhere): state goes
            # to the platform's state folder instead of wherever the shell happens to be, and
            # the shipped feed list and watchlists serve unless the folder has its own.
            from bot import defaults

            if name == "WATCHBOT_STATE":
                kwargs[name.lower()] = default_state_dir()
                sources[name] = "default (platform state folder)"
                continue
            local = base / _SPEC[name].default
            if not local.exists():
                kwargs[name.lower()] = (defaults.default_feeds() if name == "WATCHBOT_FEEDS"
                                        else defaults.default_watchlists())
                sources[name] = "default (shipped with watchbot)"
                continue
        value = kwargs.get(name.lower(), _SPEC[name].default)
        kwargs[name.lower()] = (base / Path(value)).resolve() if not Path(value).is_absolute() else Path(value)
    settings = Settings(**kwargs, config_path=path if path.is_file() else None)
    for problem in _check_values(settings):
        name = problem.message.split(":", 1)[0]
        if sources.get(name, "").startswith(shown):
            line, col = _key_position(path, name, value=True)
            problem = ConfigProblem(shown, line, col, problem.message, problem.hint)
        elif sources.get(name) in ("environment", "command line"):
            problem = ConfigProblem(sources[name], None, None, problem.message, problem.hint)
        problems.append(problem)
    return SettingsReport(settings, problems, sources)


#: Variables read from the environment that are not settings (so not "unknown").
ENV_ONLY_NAMES = frozenset({"WATCHBOT_CONFIG"})


def default_state_dir() -> Path:
    """The platform's per-user state folder (XDG_STATE_HOME/watchbot on Linux)."""
    import platformdirs

    return Path(platformdirs.user_state_dir("watchbot", appauthor=False))


def _convert(spec: SettingSpec, value: Any) -> Any:
    if spec.kind is bool:
        return value if isinstance(value, bool) else _bool(value)
    if spec.kind is int and isinstance(value, float):
        raise ValueError(f"expected a whole number, got {value!r}")
    if spec.kind in (int, float) and isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        return spec.kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected {getattr(spec.kind, '__name__', 'a value')}, got {value!r}") from None


def _check_values(s: Settings) -> list[ConfigProblem]:
    problems = []

    def bad(name: str, message: str) -> None:
        problems.append(ConfigProblem("settings", None, None, f"{name}: {message}"))

    if s.watchbot_proxy and not s.watchbot_proxy.startswith(("http://", "https://", "socks5://")):
        bad("WATCHBOT_PROXY", "must start with http://, https:// or socks5://")
    if s.watchbot_database_url and not s.watchbot_database_url.startswith(("postgresql://", "postgres://")):
        bad("WATCHBOT_DATABASE_URL", "must start with postgresql:// (empty: SQLite in WATCHBOT_STATE)")
    if not s.telegram_api_url.startswith(("http://", "https://")):
        bad("TELEGRAM_API_URL", "must start with http:// or https://")
    for name in ("watchbot_interval", "watchbot_concurrency", "watchbot_per_host",
                 "watchbot_max_body_bytes", "watchbot_retention_days", "watchbot_send_per_minute"):
        if getattr(s, name) <= 0:
            bad(name.upper(), "must be greater than 0")
    for name in ("watchbot_jitter", "watchbot_backfill", "watchbot_max_backoff"):
        if getattr(s, name) < 0:
            bad(name.upper(), "must not be negative")
    if s.watchbot_timeout <= 0 or s.watchbot_send_interval < 0:
        bad("WATCHBOT_TIMEOUT/WATCHBOT_SEND_INTERVAL", "must be positive")
    elif s.watchbot_lease <= s.watchbot_timeout + s.watchbot_jitter:
        # A poll may take its jitter wait plus the fetch timeout; a claim that ran out before it
        # ends would let a second worker poll the feed at the same time.
        bad("WATCHBOT_LEASE", f"must be more than WATCHBOT_TIMEOUT + WATCHBOT_JITTER "
            f"({s.watchbot_timeout:g} + {s.watchbot_jitter} s)")
    if s.watchbot_log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        bad("WATCHBOT_LOG_LEVEL", "one of DEBUG, INFO, WARNING, ERROR")
    if s.watchbot_metrics_addr:
        try:
            metrics_address(s.watchbot_metrics_addr)
        except ValueError as exc:
            bad("WATCHBOT_METRICS_ADDR", str(exc))
    if s.watchbot_log_format not in ("text", "json"):
        bad("WATCHBOT_LOG_FORMAT", "'text' or 'json'")
    if s.telegram_bot_token and not s.telegram_chat_id:
        bad("TELEGRAM_CHAT_ID", "is required when TELEGRAM_BOT_TOKEN is set")
    zone = None
    try:
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(s.watchbot_digest_timezone)
    except Exception:
        bad("WATCHBOT_DIGEST_TIMEZONE", f"unknown time zone {s.watchbot_digest_timezone!r}")
    if s.watchbot_digest_cron:
        if len(s.watchbot_digest_cron.split()) != 5:
            bad("WATCHBOT_DIGEST_CRON", "expected five fields: minute hour day month weekday")
        else:
            # The daemon builds exactly this trigger at start: what it refuses, check refuses.
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(s.watchbot_digest_cron, timezone=zone or "UTC")
            except ValueError as exc:
                bad("WATCHBOT_DIGEST_CRON", f"{s.watchbot_digest_cron!r}: {exc}")
    if s.watchbot_digest_since != _SPEC["WATCHBOT_DIGEST_SINCE"].default:
        from datetime import datetime, timezone

        from bot.digest import parse_since  # the scheduled digest reads it with this function

        try:
            parse_since(s.watchbot_digest_since, datetime.now(timezone.utc), zone or "UTC")
        except ValueError as exc:
            bad("WATCHBOT_DIGEST_SINCE", str(exc))
    return problems


def fetch_proxies(s: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The proxies for fetching feeds, as bot.fetch.Fetcher takes them: WATCHBOT_PROXY for
    every scheme, else the environment's HTTPS_PROXY/HTTP_PROXY/ALL_PROXY (the curl convention,
    which Telegram's client follows too), NO_PROXY honoured either way. From the environment,
    loopback hosts are always direct: a proxy there cannot reach this machine's own servers."""
    env = os.environ if environ is None else environ
    no_proxy = env.get("NO_PROXY") or env.get("no_proxy") or ""
    if s.watchbot_proxy:
        proxies = {"http": s.watchbot_proxy, "https": s.watchbot_proxy}
    else:
        proxies = {}
        for scheme in ("http", "https", "all"):
            value = env.get(f"{scheme}_proxy") or env.get(f"{scheme.upper()}_PROXY")
            if value:
                proxies[scheme] = value
        if not proxies:
            return {}
        no_proxy = ",".join(p for p in (no_proxy, "localhost,127.0.0.1,::1,.localhost") if p)
    if no_proxy:
        proxies["no"] = no_proxy
    return proxies


def metrics_address(text: str) -> tuple[str, int]:
    """(host, port) of WATCHBOT_METRICS_ADDR: 'PORT' or ':PORT' mean loopback (metrics say how
    many feeds fail and alerts wait; exposing them beyond the machine must be deliberate)."""
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected PORT or HOST:PORT, got {text!r}")
    return host, int(port)


def rules_check_inputs(s: Settings) -> str:
    """What ``check_against_rules`` reads of the settings, as one string: part of the key under
    which `run --once` remembers that its rules passed (bot.rulefiles.verification_key). Keep
    the two in step: a setting checked there and missing here would be trusted unchecked."""
    return repr((s.watchbot_digest_watchlists,))


def check_against_rules(s: Settings, watchlist_ids: list[str]) -> list[ConfigProblem]:
    """Settings that name watchlists must name existing ones (run and check both ask)."""
    problems = []
    known = set(watchlist_ids)
    for wid in (w.strip() for w in s.watchbot_digest_watchlists.split(",")):
        if wid and wid not in known:
            close = difflib.get_close_matches(wid, sorted(known), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}?" if close else "known: " + ", ".join(sorted(known))
            problems.append(ConfigProblem("settings", None, None,
                                          f"WATCHBOT_DIGEST_WATCHLISTS: unknown watchlist {wid!r}", hint))
    return problems


def _toml_position(exc: Exception) -> tuple[int | None, int | None]:
    # tomllib gains .lineno/.colno only in Python 3.14; before that they are only in the
    # message, "... (at line 4, column 21)".
    line, col = getattr(exc, "lineno", None), getattr(exc, "colno", None)
    if line is None:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        if m:
            line, col = int(m.group(1)), int(m.group(2))
    return line, col


def _readable_lines(text: str, skip: int | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if number == skip or line.lstrip().startswith("["):
            continue
        try:
            values.update(tomllib.loads(line))
        except tomllib.TOMLDecodeError:
            continue  # a multi-line value, or the broken line itself: already reported
    return values


def _toml_message(exc: Exception) -> str:
    return getattr(exc, "msg", None) or re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))


def _key_position(path: Path, key: str, *, value: bool = False) -> tuple[int | None, int | None]:
    """1-based (line, column) of ``key = ...`` in the TOML file, or of its value with ``value``
    (tomllib keeps no positions; top-level keys are all watchbot.toml has)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None, None
    pattern = re.compile(r"^(\s*)(?:\"?)" + re.escape(key) + r"(?:\"?)\s*=\s*")
    for number, line in enumerate(lines, 1):
        m = pattern.match(line)
        if m:
            return number, (m.end() + 1 if value else len(m.group(1)) + 1)
    return None, None


# ---------------------------------------------------------------------------------------------
# The feed list: OPML, the format every feed reader imports and exports
# ---------------------------------------------------------------------------------------------


def load_feeds(path: Path) -> tuple[list[Feed], list[ConfigProblem]]:
    """Read an OPML feed list: every outline with an xmlUrl, nested folders included.

    Attribute names are read case-insensitively (``xmlurl`` as exported by some readers).
    Per-feed attributes: ``interval`` (seconds) and ``backfill`` (items). Every problem is
    located at ``file:line:column`` of its outline: duplicate URLs (``/rss`` and ``/rss/`` are
    one feed), a URL without a scheme that names a host (``www.example.com/rss`` would
    otherwise be read as a local file), other schemes (refused so a feed list can never make
    the bot read arbitrary resources) and non-numeric attributes. The feeds without problems
    are returned; the others are skipped, and `check` fails on them.
    """
    from bot.opml import OpmlError, feed_key, read_outlines

    shown = str(path)
    try:
        outlines = read_outlines(Path(path).read_bytes())
    except FileNotFoundError:
        return [], [ConfigProblem(shown, None, None, "feed list not found",
                                  "set WATCHBOT_FEEDS or create feeds.opml (`watchbot init`)")]
    except OSError as exc:
        return [], [ConfigProblem(shown, None, None, f"cannot read the feed list: {exc.strerror or exc}")]
    except OpmlError as exc:
        return [], [ConfigProblem(shown, exc.line, exc.column, exc.message)]
    problems: list[ConfigProblem] = []
    feeds: list[Feed] = []
    seen: dict[str, int] = {}
    for outline in outlines:
        feed, message, hint = outline_feed(outline, Path(path))
        if feed is not None:
            key = feed_key(feed.url)
            if key in seen:
                feed, message, hint = None, f"feed {outline.get('xmlUrl').strip()}: listed twice", \
                    f"first at line {seen[key]}"
            else:
                seen[key] = outline.line
        if message:
            problems.append(ConfigProblem(shown, outline.line, outline.column, message, hint))
        if feed is not None:
            feeds.append(feed)
    return feeds, problems


def outline_feed(outline, list_path: Path) -> tuple[Feed | None, str, str]:
    """(feed, problem, hint) for one OPML outline of the list at ``list_path``: the feed when
    it is usable, else the problem; (None, "", "") for a folder. Duplicates are the caller's."""
    from bot.opml import looks_like_host

    url = outline.get("xmlUrl").strip()
    if not url:
        if outline.get("type").lower() in ("rss", "atom") and not outline.has_children:
            return None, f"outline of type {outline.get('type')} has no xmlUrl", \
                "add xmlUrl=\"https://...\" or remove the outline"
        return None, "", ""
    where = f"feed {url}"
    if "://" in url and not url.lower().startswith(("http://", "https://", "file://")):
        return None, f"{where}: only http(s) URLs or local paths", ""
    if "://" not in url and not Path(url).is_absolute():
        base = Path(list_path).resolve().parent
        if looks_like_host(url) and not (base / url).exists():
            return None, f"{where}: no scheme, so this would be read as a local file", \
                f"did you mean https://{url}?"
        url = str((base / url).resolve())
    try:
        interval = int(outline.get("interval")) if outline.get("interval") else None
        backfill = int(outline.get("backfill")) if outline.get("backfill") else None
    except ValueError:
        return None, f"{where}: interval/backfill must be whole numbers", ""
    if interval is not None and interval <= 0 or backfill is not None and backfill < 0:
        return None, f"{where}: interval must be > 0 and backfill >= 0", ""
    title = outline.get("title") or outline.get("text")
    return Feed(url=url, title=title, interval=interval, backfill=backfill), "", ""


def write_opml(feeds: list[Feed], title: str = "watchbot feeds") -> str:
    """The feed list as OPML 2.0 text (``feeds export``)."""
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(opml, "body")
    for feed in feeds:
        attrs = {"type": "rss", "text": feed.title or feed.url, "title": feed.title or feed.url,
                 "xmlUrl": feed.url}
        if feed.interval:
            attrs["interval"] = str(feed.interval)
        if feed.backfill is not None:
            attrs["backfill"] = str(feed.backfill)
        ET.SubElement(body, "outline", attrs)
    ET.indent(opml)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(opml, encoding="unicode") + "\n"
