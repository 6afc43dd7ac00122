"""One Settings object, built and validated once at start-up.

Every setting has one name, used both as the key in ``watchbot.toml`` and as the environment
variable that overrides it (the environment wins). ``SETTINGS`` below is the single source of
their types, defaults and help: ``watchbot check`` validates against it, ``watchbot settings``
prints it, and a test fails when README.md does not document one of them.

Secrets come only from the environment: TELEGRAM_BOT_TOKEN in the file is an error, so a token
never ends up committed next to the configuration.
"""

from __future__ import annotations

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
    SettingSpec("WATCHBOT_INTERVAL", int, 900, "Default seconds between polls of one feed."),
    SettingSpec("WATCHBOT_JITTER", int, 60, "Random seconds added to each poll so feeds of one "
                "host are not hit at the same instant."),
    SettingSpec("WATCHBOT_MAX_BACKOFF", int, 6 * 3600, "Cap, in seconds, of the exponential "
                "back-off after consecutive errors of one feed."),
    SettingSpec("WATCHBOT_BACKFILL", int, 0, "On the first poll of a feed, let the N newest "
                "items through to matching instead of recording them all as seen."),
    SettingSpec("WATCHBOT_CONCURRENCY", int, 64, "Feeds fetched at the same time, overall."),
    SettingSpec("WATCHBOT_PER_HOST", int, 4, "Feeds fetched at the same time from one host."),
    SettingSpec("WATCHBOT_TIMEOUT", float, 60.0, "Total seconds one fetch may take (connect, "
                "headers and body) before it is abandoned."),
    SettingSpec("WATCHBOT_MAX_BODY_BYTES", int, 10 * 1024 * 1024, "Largest feed body read; "
                "a larger one is abandoned while streaming and reported."),
    SettingSpec("WATCHBOT_USER_AGENT", str, DEFAULT_USER_AGENT,
                "User-Agent sent with every request."),
    SettingSpec("WATCHBOT_PARSE_WORKERS", int, -1, "Processes that parse feeds; -1 = one per "
                "core, 0 = parse in the main process."),
    SettingSpec("WATCHBOT_RETENTION_DAYS", int, 400, "Items and stories older than this are "
                "pruned; their identities stay as tombstones so they never alert again."),
    SettingSpec("WATCHBOT_SEND_INTERVAL", float, 1.0, "Minimum seconds between two messages to "
                "the channel (Telegram allows about one per second per chat)."),
    SettingSpec("WATCHBOT_SEND_PER_MINUTE", int, 20, "Most messages per minute to the channel "
                "(Telegram's limit for channels and groups)."),
    SettingSpec("WATCHBOT_LOG_LEVEL", str, "INFO", "Logging level: DEBUG, INFO, WARNING, ERROR."),
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
    watchbot_interval: int = 900
    watchbot_jitter: int = 60
    watchbot_max_backoff: int = 6 * 3600
    watchbot_backfill: int = 0
    watchbot_concurrency: int = 64
    watchbot_per_host: int = 4
    watchbot_timeout: float = 60.0
    watchbot_max_body_bytes: int = 10 * 1024 * 1024
    watchbot_user_agent: str = DEFAULT_USER_AGENT
    watchbot_parse_workers: int = -1
    watchbot_retention_days: int = 400
    watchbot_send_interval: float = 1.0
    watchbot_send_per_minute: int = 20
    watchbot_log_level: str = "INFO"
    watchbot_digest_cron: str = ""
    watchbot_digest_timezone: str = "UTC"
    watchbot_digest_since: str = "24h"
    watchbot_digest_watchlists: str = ""
    config_path: Path | None = field(default=None, compare=False)

    @property
    def database(self) -> Path:
        return self.watchbot_state / "watchbot.sqlite3"

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token and self.telegram_chat_id)

    def redacted(self) -> dict[str, Any]:
        """Every setting as text, secrets masked: safe for logs and `watchbot settings`."""
        out = {}
        for spec in SETTINGS:
            value = getattr(self, spec.name.lower())
            out[spec.name] = ("***" if value else "") if spec.secret else str(value)
        return out


class ConfigError(Exception):
    """The configuration is unusable; ``problems`` says where and why."""

    def __init__(self, problems: list[ConfigProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def load_settings(config_path: Path | str | None = None, environ: Mapping[str, str] | None = None,
                  *, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Build Settings from defaults < watchbot.toml < environment < ``overrides``.

    The config path comes from the argument, else WATCHBOT_CONFIG, else ./watchbot.toml when it
    exists. Raises ConfigError listing every problem at once.
    """
    env = dict(os.environ if environ is None else environ)
    problems: list[ConfigProblem] = []
    path = Path(config_path or env.get("WATCHBOT_CONFIG") or DEFAULT_CONFIG)
    explicit = bool(config_path or env.get("WATCHBOT_CONFIG"))
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            problems.append(ConfigProblem(str(path), _toml_line(exc), None, f"not valid TOML: {exc}"))
    elif explicit:
        problems.append(ConfigProblem(str(path), None, None, "configuration file not found"))
    base = path.resolve().parent if path.exists() else Path.cwd()

    values: dict[str, Any] = {}
    for key, value in raw.items():
        spec = _SPEC.get(key)
        if spec is None:
            close = [n for n in _SPEC if n.endswith(key.upper().split("_")[-1])]
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(ConfigProblem(str(path), _key_line(path, key), None,
                                          f"unknown setting {key!r}{hint}",
                                          "run `watchbot settings` for the list"))
            continue
        if spec.env_only:
            problems.append(ConfigProblem(str(path), _key_line(path, key), None,
                                          f"{key} must not be in a file",
                                          "secrets come only from the environment: export it instead"))
            continue
        values[key] = (value, str(path))
    for spec in SETTINGS:
        if spec.name in env:
            values[spec.name] = (env[spec.name], "environment")
    for key, value in (overrides or {}).items():
        values[key] = (value, "command line")

    kwargs: dict[str, Any] = {}
    for name, (value, origin) in values.items():
        spec = _SPEC[name]
        try:
            converted = _convert(spec, value)
        except (TypeError, ValueError) as exc:
            line = _key_line(path, name) if origin == str(path) else None
            problems.append(ConfigProblem(origin, line, None, f"{name}: {exc}"))
            continue
        kwargs[name.lower()] = converted
    for name in ("WATCHBOT_FEEDS", "WATCHBOT_WATCHLISTS", "WATCHBOT_STATE"):
        value = kwargs.get(name.lower(), _SPEC[name].default)
        kwargs[name.lower()] = (base / Path(value)).resolve() if not Path(value).is_absolute() else Path(value)
    settings = Settings(**kwargs, config_path=path if path.exists() else None)
    problems.extend(_check_values(settings))
    if problems:
        raise ConfigError(problems)
    return settings


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
    if s.watchbot_log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        bad("WATCHBOT_LOG_LEVEL", "one of DEBUG, INFO, WARNING, ERROR")
    if s.telegram_bot_token and not s.telegram_chat_id:
        bad("TELEGRAM_CHAT_ID", "is required when TELEGRAM_BOT_TOKEN is set")
    if s.watchbot_digest_cron:
        if len(s.watchbot_digest_cron.split()) != 5:
            bad("WATCHBOT_DIGEST_CRON", "expected five fields: minute hour day month weekday")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(s.watchbot_digest_timezone)
    except Exception:
        bad("WATCHBOT_DIGEST_TIMEZONE", f"unknown time zone {s.watchbot_digest_timezone!r}")
    return problems


def _toml_line(exc: Exception) -> int | None:
    # tomllib gains .lineno only in Python 3.13; before that the line is only in the message,
    # "... (at line 4, column 21)".
    line = getattr(exc, "lineno", None)
    if line is None:
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(m.group(1)) if m else None
    return line


def _key_line(path: Path, key: str) -> int | None:
    """Line of ``key = ...`` in the TOML file (tomllib keeps no positions)."""
    try:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip().startswith(key) and "=" in line:
                return number
    except OSError:
        return None
    return None


# ---------------------------------------------------------------------------------------------
# The feed list: OPML, the format every feed reader imports and exports
# ---------------------------------------------------------------------------------------------


def load_feeds(path: Path) -> tuple[list[Feed], list[ConfigProblem]]:
    """Read an OPML feed list: every outline with an xmlUrl, nested folders included.

    Per-feed attributes: ``interval`` (seconds) and ``backfill`` (items). Duplicate URLs are
    reported; a URL must be http(s) or a local path (archives, tests) — other schemes are refused
    so a feed list can never make the bot read arbitrary resources.
    """
    problems: list[ConfigProblem] = []
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        return [], [ConfigProblem(str(path), None, None, "feed list not found",
                                  "set WATCHBOT_FEEDS or create feeds.opml")]
    except ET.ParseError as exc:
        line, col = exc.position
        return [], [ConfigProblem(str(path), line, col, f"not valid OPML/XML: {exc.msg if hasattr(exc, 'msg') else exc}")]
    feeds: list[Feed] = []
    seen: set[str] = set()
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or "").strip()
        if not url:
            continue
        title = outline.get("title") or outline.get("text") or ""
        where = f"feed {url}"
        if "://" in url and not url.startswith(("http://", "https://", "file://")):
            problems.append(ConfigProblem(str(path), None, None, f"{where}: only http(s) URLs or local paths"))
            continue
        if not url.startswith(("http://", "https://", "file://")) and not Path(url).is_absolute():
            url = str((path.resolve().parent / url).resolve())
        if url in seen:
            problems.append(ConfigProblem(str(path), None, None, f"{where}: listed twice"))
            continue
        seen.add(url)
        try:
            interval = int(outline.get("interval")) if outline.get("interval") else None
            backfill = int(outline.get("backfill")) if outline.get("backfill") else None
        except ValueError:
            problems.append(ConfigProblem(str(path), None, None, f"{where}: interval/backfill must be whole numbers"))
            continue
        feeds.append(Feed(url=url, title=title, interval=interval, backfill=backfill))
    return feeds, problems


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


def merge_feeds(current: list[Feed], incoming: list[Feed]) -> tuple[list[Feed], int]:
    """Current feeds plus the incoming ones not already listed; returns (merged, added)."""
    urls = {f.url for f in current}
    added = [f for f in incoming if f.url not in urls]
    return current + added, len(added)
