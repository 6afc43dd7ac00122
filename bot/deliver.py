"""Delivery: render an alert as Telegram HTML, and send it (or print it) with Telegram's limits.

Rendering contract (``render_alert``): every string that came from a feed is HTML-escaped
(``html.escape``; ``quote=True`` inside attributes), only http(s) links become ``<a href>``
(anything else — ``javascript:``, ``data:``, relative — is shown as text or dropped), and the
result is at most 4096 characters after entity parsing, counted in UTF-16 code units, which is
how Telegram measures (Bot API, "sendMessage": "1-4096 characters after entities parsing";
entity offsets are UTF-16). A feed therefore cannot inject markup, links or oversize text.

Sending contract (``TelegramChannel``): one call = one message (or one edit); the outcome is
data (``SendOutcome``), never an exception, and never contains the bot token.

Pacing follows Telegram's published limits (Bots FAQ, "My bot is hitting limits"): about one
message per second in a chat and 20 messages per minute in a group/channel; edits count too,
and so does every retry, because Telegram counts requests, not logical messages.

Delivery guarantees — what each failure means and what we do:

- 429 RetryAfter: Telegram did not accept the message. Wait ``retry_after`` (injected sleep)
  and try again if that wait is <= ``max_retry_wait``; otherwise return ``retry`` with it.
- 5xx answers and connection failures *before the request was sent* (connection refused,
  connect timeout, pool timeout): not delivered. Retry with exponential backoff a bounded number
  of times, then return ``retry``.
- The request was sent and no answer came (read/write timeout, connection dropped mid-request):
  Telegram may have posted it. We return ``maybe_sent`` and do NOT resend: for a news channel a
  rare missing alert (visible in ``status``/outbox) is better than a duplicate post, and the Bot
  API offers no idempotency key to make a resend safe.
- 400 "can't parse entities": resend once as plain text (no parse_mode); if that fails too the
  message is ``rejected``.
- 400 "message is not modified" on an edit: the message already shows this text → ``sent``.
- 400 "chat not found", 403 Forbidden (kicked, blocked), 401 invalid token, chat migrated →
  ``fatal``: nothing sent to this chat can succeed until the operator acts.
- any other 400 → ``rejected`` (this message only).
- an answer that is not the Bot API's (a 200 HTML page) or that python-telegram-bot cannot read
  (``{"ok": false}`` without an error code, ``result: null``, a result without ``message_id``,
  an absurd ``retry_after``): no message was posted that we could ever edit, so it is retried
  with back-off like a 5xx, then ``retry``.
"""

from __future__ import annotations

import asyncio
import functools
import html
import logging
import re
import sys
import time
from collections import deque
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Sequence, TextIO
from urllib.parse import quote, urlsplit

from bot.limits import MAX_SERVER_WAIT, server_seconds
from bot.models import Alert, Decision, Item, Match, SendOutcome, Source

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096  # Bot API sendMessage: 1-4096 characters after entities parsing
CAPTION_LIMIT = 1024  # Bot API sendPhoto: 0-1024 characters after entities parsing

# Field budgets (UTF-16 units) so the head of an alert stays well under the limit whatever a
# feed sends; the rest of the budget is for the "Also reported by" list.
_WATCHLIST_MAX = 150
_TITLE_MAX = 400
_OUTLET_MAX = 100
_EXCERPT_MAX = 300
_TERMS_MAX = 400
_URL_MAX = 2048  # longer links are almost certainly junk; Telegram rejects very long URLs

_HTTP_URL = re.compile(r"https?://[^\s<>\"\x00-\x1f\x7f]+", re.IGNORECASE)
# C0/C1 controls except \n and \t, and lone surrogates (st.text() and broken feeds make them;
# they cannot be encoded as UTF-8 for the request).
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_TAG_OR_ENTITY = re.compile(r"<[^<>]*>|&(?:#\d+|#[xX][0-9A-Fa-f]+|[A-Za-z]+);")


# ---------------------------------------------------------------------------------------------
# Text helpers
# ---------------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (astral characters such as most emoji count 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _clean(text: str | None) -> str:
    """Feed text made safe to transmit: controls dropped, whitespace collapsed per line."""
    if not text:
        return ""
    text = _BAD_CHARS.sub(lambda m: "\ufffd" if "\ud800" <= m.group() <= "\udfff" else "",
                          text.replace("\r\n", "\n").replace("\r", "\n"))
    return re.sub(r"[ \t\u00a0]+", " ", text).strip()


def one_line(text: str | None) -> str:
    """Feed text as one clean line: control characters and lone surrogates out, spaces collapsed."""
    return re.sub(r"\s+", " ", _clean(text)).strip()


def cut(text: str, limit: int) -> str:
    """At most ``limit`` UTF-16 units, cut at a word boundary when one is near, with "…"."""
    if utf16_len(text) <= limit:
        return text
    out, used = [], 0
    for ch in text:
        w = 2 if ord(ch) > 0xFFFF else 1
        if used + w > limit - 1:
            break
        out.append(ch)
        used += w
    head = "".join(out)
    space = head.rfind(" ")
    if space >= len(head) * 0.6:
        head = head[:space]
    return head.rstrip(" ,.;:-—") + "…"


def safe_url(url: str | None) -> str | None:
    """The URL if it is a plain absolute http(s) URL, else None (never a javascript: link)."""
    if not url:
        return None
    url = url.strip()
    if len(url) > _URL_MAX or not _HTTP_URL.fullmatch(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _link(text_html: str, url: str | None) -> str:
    safe = safe_url(url)
    if safe is None:
        return text_html
    return f'<a href="{html.escape(safe, quote=True)}">{text_html}</a>'


def visible_length(html_text: str) -> int:
    """Length of Telegram HTML after entity parsing, in UTF-16 code units.

    Tags count 0; ``&lt;``/``&#NNN;`` count as the character they stand for. Leading and
    trailing whitespace is included (Telegram trims it, so this never under-counts).
    """
    return utf16_len(html_to_plain(html_text))


def html_to_plain(html_text: str) -> str:
    """The visible text of Telegram HTML (tags removed, entities decoded)."""
    return html.unescape(re.sub(r"<[^<>]*>", "", html_text))


def _fmt_time(published: datetime | None) -> str:
    if published is None:
        return ""
    if published.tzinfo is None:
        published = published.replace(tzinfo=timezone.utc)
    return published.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def render_alert(item: Item, matches: Sequence[Match], decision: Decision,
                 sources: Sequence[Source] = ()) -> tuple[str, str]:
    """(html, plain) for a post, or for the edit of a story that gained sources.

    Layout: watchlist title(s); the linked item title; outlet · publication time (UTC); a short
    excerpt cut at a word; the matched terms; then, for stories with folded sources, "Also
    reported by:" with one linked outlet (+language) per source, trimmed with "and N more" so
    both versions stay within 4096 UTF-16 units. ``sources`` may include the item's own report;
    it is skipped (same link or same outlet+title).
    """
    html_lines: list[str] = []
    plain_lines: list[str] = []

    def add(h: str, p: str) -> None:
        html_lines.append(h)
        plain_lines.append(p)

    names = list(dict.fromkeys(one_line(m.title or m.watchlist) for m in matches))
    if not names and decision.watchlist:
        names = [one_line(decision.watchlist)]
    heading = cut(" · ".join(n for n in names if n), _WATCHLIST_MAX)
    # No "(update)" label: an edit re-renders the story's ORIGINAL message, which stays the
    # first report; the "Also reported by" list is what changes.
    if heading:
        add(f"🔔 <b>{_esc(heading)}</b>", f"🔔 {heading}")

    title_line, outlet_line = one_line(item.title), one_line(item.outlet)
    title = cut(title_line, _TITLE_MAX) or "(untitled)"
    url = safe_url(item.link)
    add(f"<b>{_link(_esc(title), url)}</b>", title)

    outlet = cut(outlet_line, _OUTLET_MAX)
    when = _fmt_time(item.published)
    meta = " · ".join(x for x in (outlet, when) if x)
    if meta:
        add(f"<i>{_esc(meta)}</i>", meta)
    if url:
        plain_lines.append(url)

    summary = one_line(item.summary)
    if summary and summary != title_line:
        excerpt = cut(summary, _EXCERPT_MAX)
        add("", "")
        add(_esc(excerpt), excerpt)

    terms = [t for t in dict.fromkeys(one_line(t) for m in matches for t in m.terms) if t]
    if terms:
        shown = cut(", ".join(terms), _TERMS_MAX)
        add("", "")
        add(f"<i>Matched:</i> {_esc(shown)}", f"Matched: {shown}")

    own = (outlet_line, title_line)
    others = [s for s in sources
              if not ((url and safe_url(s.link) == url)
                      or (one_line(s.outlet), one_line(s.title)) == own)]
    seen: set[tuple[str, str | None]] = set()
    uniq: list[Source] = []
    for s in others:
        key = (one_line(s.outlet) or one_line(s.title), safe_url(s.link))
        if key not in seen:
            seen.add(key)
            uniq.append(s)

    if uniq:
        head_html = "\n".join(html_lines)
        head_plain = "\n".join(plain_lines)
        header = "\n\n<b>Also reported by:</b>"
        header_plain = "\n\nAlso reported by:"
        reserve = 40  # room for "\n…and NNNN more"
        used_h = visible_length(head_html) + visible_length(header)
        used_p = utf16_len(head_plain) + utf16_len(header_plain)
        # The two versions are trimmed independently: plain carries the URLs, so it fits
        # fewer sources, and the HTML (the one normally shown) should not pay for that.
        lines_h: list[str] = []
        lines_p: list[str] = []
        full_h = full_p = False
        for i, s in enumerate(uniq):
            name = cut(one_line(s.outlet) or one_line(s.title) or "source", _OUTLET_MAX)
            lang = cut(one_line(s.language), 12)
            suffix = f" ({lang})" if lang else ""
            link = safe_url(s.link)
            line_h = f"\n• {_link(_esc(name), link)}{_esc(suffix)}"
            line_p = f"\n• {name}{suffix}" + (f" {link}" if link else "")
            room = TEXT_LIMIT - (0 if i == len(uniq) - 1 else reserve)
            if not full_h and used_h + visible_length(line_h) <= room:
                lines_h.append(line_h)
                used_h += visible_length(line_h)
            else:
                full_h = True
            if not full_p and used_p + utf16_len(line_p) <= room:
                lines_p.append(line_p)
                used_p += utf16_len(line_p)
            else:
                full_p = True
            if full_h and full_p:
                break
        tail_h = header + "".join(lines_h)
        tail_p = header_plain + "".join(lines_p)
        if len(uniq) > len(lines_h):
            tail_h += f"\n…and {len(uniq) - len(lines_h)} more"
        if len(uniq) > len(lines_p):
            tail_p += f"\n…and {len(uniq) - len(lines_p)} more"
        return head_html + tail_h, head_plain + tail_p
    return "\n".join(html_lines), "\n".join(plain_lines)


def _tokens(block: str) -> list[tuple[str, str]]:
    """Split Telegram HTML into ("tag", "<b>") / ("text", "word ") / ("ent", "&amp;") tokens."""
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _TAG_OR_ENTITY.finditer(block):
        if m.start() > pos:
            out.extend(("text", w) for w in re.findall(r"\S+\s*|\s+", block[pos:m.start()]))
        out.append(("tag" if m.group().startswith("<") else "ent", m.group()))
        pos = m.end()
    if pos < len(block):
        out.extend(("text", w) for w in re.findall(r"\S+\s*|\s+", block[pos:]))
    return out


def _split_block(block: str, limit: int) -> list[str]:
    """Split one oversize block between words (or characters), closing and reopening tags."""
    chunks: list[str] = []
    stack: list[tuple[str, str]] = []  # (name, opening tag)
    cur: list[str] = []
    used = 0

    def flush() -> None:
        nonlocal cur, used
        closers = "".join(f"</{name}>" for name, _ in reversed(stack))
        body = "".join(cur)
        if html_to_plain(body).strip():
            chunks.append(body + closers)
        cur = [open_tag for _, open_tag in stack]
        used = 0

    for kind, tok in _tokens(block):
        if kind == "tag":
            m = re.match(r"<(/?)([A-Za-z][\w-]*)", tok)
            if m and m.group(1):
                if stack:
                    stack.pop()
            elif m:
                stack.append((m.group(2).lower(), tok))
            cur.append(tok)
            continue
        width = visible_length(tok)
        if used + width <= limit:
            cur.append(tok)
            used += width
            continue
        if used:
            flush()
        if width <= limit:
            cur.append(tok)
            used += width
            continue
        for ch in tok:  # a single "word" longer than a message: cut by characters
            w = utf16_len(ch)
            if used + w > limit:
                flush()
            cur.append(ch)
            used += w
    body = "".join(cur)
    if html_to_plain(body).strip():
        chunks.append(body)
    return chunks


def fit_html(blocks: Sequence[str], limit: int = TEXT_LIMIT, *, sep: str = "\n") -> list[str]:
    """Pack HTML blocks into as few messages as possible, each <= ``limit`` visible units.

    Blocks are joined with ``sep`` and never split while they fit; a block that alone exceeds
    the limit is split between words (characters as a last resort), never inside a tag or an
    entity, with open tags closed at the end of a part and reopened at the start of the next.
    Every block is assumed to be well-formed Telegram HTML on its own.
    """
    messages: list[str] = []
    current = ""
    sep_len = visible_length(sep)
    for block in blocks:
        if not html_to_plain(block).strip():
            continue
        parts = [block] if visible_length(block) <= limit else _split_block(block, limit)
        for part in parts:
            if not current:
                current = part
            elif visible_length(current) + sep_len + visible_length(part) <= limit:
                current = current + sep + part
            else:
                messages.append(current)
                current = part
    if current:
        messages.append(current)
    return messages


# ---------------------------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------------------------


def redact(text: str, secret: str) -> str:
    """``text`` with every occurrence of ``secret`` (raw or URL-encoded, in ANY letter case)
    replaced by "<token>".

    Case-insensitive because libraries re-case error texts: python-telegram-bot capitalises a
    "Bad Request: ..." description (``str.capitalize`` lower-cases the rest), so a 400 that
    echoes the request path carries the token lower-cased (issue 13, class 14); percent-escapes
    may come in either case too.
    """
    if not secret or not text:
        return text
    return _secret_pattern(secret).sub("<token>", text)


@functools.lru_cache(maxsize=8)
def _secret_pattern(secret: str) -> "re.Pattern[str]":
    forms = sorted({secret, quote(secret, safe=""), quote(secret, safe=":")}, key=len, reverse=True)
    return re.compile("|".join(re.escape(f) for f in forms), re.IGNORECASE)


class RedactingFilter(logging.Filter):
    """Scrubs secrets from a log record: message, arguments, exception and stack text.

    PTB and httpx put the request URL (which contains the bot token) into log lines and
    exception messages, so every record that passes a handler must be cleaned.
    """

    def __init__(self, *secrets: str) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = redact(text, secret)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: keep the raw msg
            message = str(record.msg)
        record.msg = self._scrub(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self._scrub(text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self._scrub(record.stack_info)
        return True


def protect_logging(secret: str) -> RedactingFilter:
    """Install a RedactingFilter on the loggers that can print the token and on root handlers."""
    flt = RedactingFilter(secret)
    loggers = [logging.getLogger(name) for name in (
        "httpx", "httpcore", "telegram", "telegram.Bot", "telegram.request",
        "telegram.request.BaseRequest", "telegram.ext", "bot", __name__)]
    for target in [*loggers, *logging.getLogger().handlers]:
        if not any(isinstance(f, RedactingFilter) and f.secrets == flt.secrets
                   for f in target.filters):
            target.addFilter(flt)
    return flt


# ---------------------------------------------------------------------------------------------
# Pacing
# ---------------------------------------------------------------------------------------------


class Pacer:
    """Telegram's per-chat limits as a minimum gap plus a sliding 60-second window.

    ``wait()`` sleeps (injected sleep, reading the injected clock) until one more request is
    allowed, and records it. Every request counts: posts, edits and retries.
    """

    def __init__(self, min_interval: float, per_minute: int,
                 clock: Callable[[], float], sleep: Callable[[float], Awaitable[Any]]) -> None:
        self.min_interval = min_interval
        self.per_minute = max(1, per_minute)
        self.clock = clock
        self.sleep = sleep
        self.sent: deque[float] = deque()

    def delay(self) -> float:
        now = self.clock()
        while self.sent and now - self.sent[0] >= 60.0:
            self.sent.popleft()
        wait = 0.0
        if self.sent:
            wait = max(wait, self.sent[-1] + self.min_interval - now)
        if len(self.sent) >= self.per_minute:
            wait = max(wait, self.sent[-self.per_minute] + 60.0 - now)
        return wait

    async def wait(self) -> None:
        for _ in range(100):  # a clock that never advances must not hang us forever
            delay = self.delay()
            if delay <= 0:
                break
            await self.sleep(delay)
        self.sent.append(self.clock())


# ---------------------------------------------------------------------------------------------
# Channels
# ---------------------------------------------------------------------------------------------


class TelegramChannel:
    """Posts to one Telegram chat through python-telegram-bot; see the module docstring.

    ``api_url`` is the Bot API root (a local stand-in in tests). ``clock``/``sleep`` drive
    pacing, 429 waits and backoff, so tests run on a fake clock. ``network_retries`` bounds
    the retries of 5xx/refused connections (backoff ``backoff``·2^n seconds).
    """

    def __init__(self, token: str, chat_id: str | int, *,
                 api_url: str = "https://api.telegram.org",
                 min_interval: float = 1.0, per_minute: int = 20, max_retry_wait: float = 300,
                 read_timeout: float = 10, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 network_retries: int = 3, backoff: float = 1.0, proxy: str | None = None) -> None:
        self.token = token
        # None: httpx follows HTTPS_PROXY/NO_PROXY from the environment; WATCHBOT_PROXY sets one.
        self.proxy = proxy or None
        self.chat_id = chat_id
        # Message ids are per chat: the store keeps each story's id with this name.
        self.identity = f"telegram:{chat_id}"
        self.api_url = api_url.rstrip("/")
        self.max_retry_wait = max_retry_wait
        self.read_timeout = read_timeout
        self.network_retries = network_retries
        self.backoff = backoff
        self.sleep = sleep
        self.pacer = Pacer(min_interval, per_minute, clock, sleep)
        self._bot: Any = None
        self._started = False
        protect_logging(token)

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Build the PTB Bot against ``api_url`` and call initialize() (getMe).

        Raises ``DeliveryError`` (token redacted) if the API refuses or cannot be reached.
        """
        from telegram import Bot
        from telegram.error import Forbidden, InvalidToken, RetryAfter, TelegramError
        from telegram.request import HTTPXRequest

        if self._bot is None:
            request = HTTPXRequest(connect_timeout=5.0, read_timeout=self.read_timeout,
                                   write_timeout=self.read_timeout, pool_timeout=5.0, proxy=self.proxy)
            self._bot = Bot(self.token, base_url=f"{self.api_url}/bot",
                            base_file_url=f"{self.api_url}/file/bot", request=request,
                            get_updates_request=HTTPXRequest(connect_timeout=5.0))
        try:
            await self._bot.initialize()
        except (InvalidToken, Forbidden) as exc:
            raise DeliveryError(self._describe(exc), fatal=True) from None
        except RetryAfter as exc:  # a flood wait at start-up is still the wait Telegram asked for
            raise DeliveryError(self._describe(exc), retry_after=_retry_after(exc)) from None
        except TelegramError as exc:
            raise DeliveryError(self._describe(exc)) from None
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise DeliveryError(f"malformed Bot API answer to getMe: {self._describe(exc)}") from None
        self._started = True

    async def aclose(self) -> None:
        if self._bot is not None:
            try:
                await self._bot.shutdown()
            except Exception as exc:  # closing must never raise into the daemon's shutdown
                log.warning("closing the Telegram client: %s", self._describe(exc))
            self._bot = None
            self._started = False

    async def __aenter__(self) -> "TelegramChannel":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- sending ------------------------------------------------------------------------------
    async def deliver(self, alert: Alert) -> SendOutcome:
        """Post ``alert.text`` or, for action "edit", edit ``alert.message_id`` to it."""
        if alert.action == "edit":
            if alert.message_id is None:
                return SendOutcome("rejected", error="edit without a message_id")
            return await self._send("edit", alert.text, alert.plain, message_id=alert.message_id)
        return await self._send("post", alert.text, alert.plain)

    async def send_html(self, html_text: str, plain: str) -> SendOutcome:
        """Post one HTML message (digests, status notes); ``plain`` is the fallback."""
        return await self._send("post", html_text, plain)

    async def send_photo(self, path: str, caption_html: str) -> SendOutcome:
        """Post a photo (e.g. a chart) with an HTML caption (<= 1024 visible units)."""
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            return SendOutcome("rejected", error=f"cannot read photo {path}: {exc.strerror}")
        return await self._send("photo", caption_html, html_to_plain(caption_html), photo=data)

    async def _call(self, kind: str, text: str, html_mode: bool, message_id: int | None,
                    photo: bytes | None) -> Any:
        from telegram.constants import ParseMode

        mode = ParseMode.HTML if html_mode else None
        if kind == "edit":
            return await self._bot.edit_message_text(text, chat_id=self.chat_id,
                                                     message_id=message_id, parse_mode=mode)
        if kind == "photo":
            return await self._bot.send_photo(self.chat_id, photo, caption=text or None,
                                              parse_mode=mode)
        return await self._bot.send_message(self.chat_id, text, parse_mode=mode)

    async def _send(self, kind: str, text: str, plain: str, *, message_id: int | None = None,
                    photo: bytes | None = None) -> SendOutcome:
        import httpx
        from telegram.error import (BadRequest, ChatMigrated, Forbidden, InvalidToken,
                                    NetworkError, RetryAfter, TelegramError, TimedOut)

        if not self._started:
            try:
                await self.start()
            except DeliveryError as exc:
                # Unreachable API at start is transient; a refused token is not.
                if exc.fatal:
                    return SendOutcome("fatal", error=str(exc))
                return SendOutcome("retry", retry_after=exc.retry_after or self.backoff, error=str(exc))

        html_mode = True
        waited = 0.0
        failures = 0
        while True:
            await self.pacer.wait()
            try:
                msg = await self._call(kind, text if html_mode else plain, html_mode,
                                       message_id, photo)
            except RetryAfter as exc:
                wait = _retry_after(exc)
                if wait > self.max_retry_wait or waited + wait > self.max_retry_wait:
                    return SendOutcome("retry", retry_after=wait, error=self._describe(exc))
                waited += wait
                await self.sleep(wait)
                continue
            except BadRequest as exc:
                desc = str(exc).lower()
                if "message is not modified" in desc and kind == "edit":
                    return SendOutcome("sent", message_id=message_id)
                if "can't parse entities" in desc or "can't find end tag" in desc:
                    if html_mode:
                        log.warning("Telegram rejected the HTML (%s); resending as plain text",
                                    self._describe(exc))
                        html_mode = False
                        continue
                    return SendOutcome("rejected", error=self._describe(exc))
                if "chat not found" in desc or "not enough rights" in desc \
                        or "need administrator rights" in desc:
                    return SendOutcome("fatal", error=self._describe(exc))
                return SendOutcome("rejected", error=self._describe(exc))
            except (Forbidden, InvalidToken) as exc:
                return SendOutcome("fatal", error=self._describe(exc))
            except ChatMigrated as exc:
                return SendOutcome("fatal", error=f"chat migrated to {exc.new_chat_id}: "
                                                  "update the configured chat id")
            except TimedOut as exc:
                cause = exc.__cause__
                if isinstance(cause, (httpx.ConnectTimeout, httpx.PoolTimeout)) or \
                        "Pool timeout" in str(exc):
                    failures += 1
                    if (give_up := await self._back_off(failures, exc)) is not None:
                        return give_up
                    continue
                return SendOutcome("maybe_sent", error="no answer after the request was sent "
                                   f"(read timeout {self.read_timeout}s): {self._describe(exc)}")
            except NetworkError as exc:
                cause = exc.__cause__
                # httpx transport errors other than connect failures can happen after the
                # request reached Telegram: treat as ambiguous (see module docstring).
                if isinstance(cause, httpx.TransportError) and not isinstance(
                        cause, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout,
                                httpx.UnsupportedProtocol, httpx.ProxyError)):
                    return SendOutcome("maybe_sent", error=self._describe(exc))
                failures += 1
                if (give_up := await self._back_off(failures, exc)) is not None:
                    return give_up
                continue
            except TelegramError as exc:
                if "invalid server response" not in str(exc).lower():
                    return SendOutcome("rejected", error=self._describe(exc))
                # A 200 that is not JSON (a proxy's or front end's HTML page) did not come from
                # the Bot API: nothing was posted, so it is retried like a 5xx.
                failures += 1
                if (give_up := await self._back_off(failures, exc, "not a Bot API answer")) is not None:
                    return give_up
                continue
            except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
                # python-telegram-bot could not read the answer: a 200 with {"ok": false} and no
                # error code, a result that is not a Message, an absurd retry_after. None of
                # them is a posted message; retried with back-off, never left "sending".
                failures += 1
                if (give_up := await self._back_off(failures, exc, "malformed Bot API answer")) is not None:
                    return give_up
                continue
            posted_id = getattr(msg, "message_id", None) if not isinstance(msg, bool) else None
            if kind == "edit" and (msg is True or isinstance(posted_id, int)):
                return SendOutcome("sent", message_id=posted_id or message_id)
            if kind != "edit" and isinstance(posted_id, int):
                return SendOutcome("sent", message_id=posted_id)
            # "ok" with result null, true or a message without an id: no message we could ever
            # edit or count as posted.
            failures += 1
            if (give_up := await self._back_off(
                    failures, RuntimeError(f"answer without a message: {type(msg).__name__}"),
                    "malformed Bot API answer")) is not None:
                return give_up

    async def _back_off(self, failures: int, exc: Exception, what: str = "") -> SendOutcome | None:
        """After a failure that never reached Telegram: wait and return None to try again, or
        give up with a "retry" outcome once ``network_retries`` is spent."""
        delay = self.backoff * (2 ** (failures - 1))
        if failures > self.network_retries:
            error = self._describe(exc)
            return SendOutcome("retry", retry_after=delay, error=f"{what}: {error}" if what else error)
        await self.sleep(delay)
        return None

    def _describe(self, exc: BaseException) -> str:
        """One line about an error, with the token removed wherever it appears."""
        text = f"{type(exc).__name__}: {exc}"
        cause = exc.__cause__
        if cause is not None and str(cause) and str(cause) not in text:
            text += f" ({type(cause).__name__}: {cause})"
        return redact(text.replace("\n", " "), self.token)


class DeliveryError(RuntimeError):
    """The Telegram client could not be started; the message never contains the token.

    ``fatal`` is True when retrying cannot help (token refused, bot banned).
    """

    def __init__(self, message: str, *, fatal: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.fatal = fatal
        self.retry_after = retry_after  # seconds Telegram asked us to wait, if it did


def _retry_after(exc: Any) -> float:
    """RetryAfter.retry_after in seconds: an int or a timedelta depending on PTB settings
    (PTB 22.2+ warns on reading the int form; the value is what we need either way), clamped
    like every number a server sends."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    wait = server_seconds(value)
    return MAX_SERVER_WAIT if wait is None else wait


class ConsoleChannel:
    """Same interface as TelegramChannel; writes the plain text to a stream (stdout default).

    Used by ``run --dry-run``/``try``: always "sent", with increasing fake message ids. They
    are recorded under ``identity`` "console", so no Telegram chat ever edits its own message
    number 1, 2, 3 for them.
    """

    identity = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._next_id = 1

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def __aenter__(self) -> "ConsoleChannel":
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def _write(self, header: str, body: str) -> int:
        mid = self._next_id
        self._next_id += 1
        self.stream.write(f"── {header} ──\n{body}\n\n")
        self.stream.flush()
        return mid

    async def deliver(self, alert: Alert) -> SendOutcome:
        if alert.action == "edit":
            self._write(f"edit of message {alert.message_id}", alert.plain)
            return SendOutcome("sent", message_id=alert.message_id)
        return SendOutcome("sent", message_id=self._write(f"message {self._next_id}",
                                                          alert.plain))

    async def send_html(self, html_text: str, plain: str) -> SendOutcome:
        return SendOutcome("sent", message_id=self._write(f"message {self._next_id}", plain))

    async def send_photo(self, path: str, caption_html: str) -> SendOutcome:
        return SendOutcome("sent", message_id=self._write(
            f"photo {path}", html_to_plain(caption_html)))
