"""The Telegram channel: sends alerts and digests to one chat with Telegram's limits.

Rendering is ``bot.channels.telegram_html`` (its contract: escaped, http(s) links only, within
4096 UTF-16 units); this module turns what the outbox holds into requests.

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
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from bot.channels import DeliveryError
from bot.channels.telegram_html import alert_text, html_to_plain, render_alert
from bot.limits import MAX_SERVER_WAIT, server_seconds
from bot.models import Alert, SendOutcome, StoryMessage
from bot.pacing import Pacer
from bot.redact import protect_logging, redact

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.digest.building import Digest

log = logging.getLogger(__name__)

# python-telegram-bot's loggers: they can print the request URL, which carries the token.
_LIBRARY_LOGGERS = ("telegram", "telegram.Bot", "telegram.request", "telegram.request.BaseRequest",
                    "telegram.ext", __name__)


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
        self.name = "Telegram"  # for log lines: "delivery refused by Telegram: ..."
        self.api_url = api_url.rstrip("/")
        self.max_retry_wait = max_retry_wait
        self.read_timeout = read_timeout
        self.network_retries = network_retries
        self.backoff = backoff
        self.sleep = sleep
        self.pacer = Pacer(min_interval, per_minute, clock, sleep)
        self._bot: Any = None
        self._started = False
        protect_logging(token, _LIBRARY_LOGGERS)

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Build the PTB Bot against ``api_url`` and call initialize() (getMe).

        Raises ``DeliveryError`` (token redacted) if the API refuses or cannot be reached.
        """
        from telegram import Bot
        from telegram.error import Forbidden, InvalidToken, RetryAfter, TelegramError
        from telegram.request import HTTPXRequest

        if self._bot is None:
            import httpx

            # One CA bundle load for both clients, with httpx's default verification: each
            # HTTPXRequest's client otherwise loads its own (~40-50 ms of CPU each, while a
            # cron run's first polls are under way; issue 15).
            tls = {"verify": httpx.create_ssl_context()}
            request = HTTPXRequest(connect_timeout=5.0, read_timeout=self.read_timeout,
                                   write_timeout=self.read_timeout, pool_timeout=5.0, proxy=self.proxy,
                                   httpx_kwargs=tls)
            self._bot = Bot(self.token, base_url=f"{self.api_url}/bot",
                            base_file_url=f"{self.api_url}/file/bot", request=request,
                            get_updates_request=HTTPXRequest(connect_timeout=5.0, httpx_kwargs=tls))
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

    async def check_chat(self) -> "TelegramCheck":
        """Whether the configured chat exists for this bot (getChat), asked with this channel's
        own started client: `run` checks the chat at start without a second getMe (that of
        ``verify_telegram``'s client). Call after ``start`` succeeded."""
        return await _check_chat(self._bot, self.chat_id, self.token)

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
    def render(self, message: StoryMessage) -> tuple[str, str]:
        """(Telegram HTML, plain twin) of a story's message (``telegram_html.render_alert``)."""
        return render_alert(message)

    async def deliver(self, alert: Alert) -> SendOutcome:
        """Post the alert or, for action "edit", edit ``alert.message_id``: its text, or its
        ``content`` rendered now when it carries no text."""
        html_text, plain = alert_text(alert)
        if not html_text.strip() and not plain.strip():
            return SendOutcome("rejected", error="nothing to send: the row has neither a story nor a text")
        if alert.action == "edit":
            if alert.message_id is None:
                return SendOutcome("rejected", error="edit without a message_id")
            return await self._send("edit", html_text, plain, message_id=alert.message_id)
        return await self._send("post", html_text, plain)

    async def post_digest(self, digest: Digest, *, chart: Path | str | None = None,
                          progress: Callable[[int, int], None] | None = None) -> list[SendOutcome]:
        """Post the digest as Telegram messages (the chart photo first), split within the limits;
        stops at the first message not sent (``telegram_digest.send_digest``)."""
        from bot.channels.telegram_digest import send_digest

        return await send_digest(self, digest, chart=chart, progress=progress)

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



@dataclass(frozen=True)
class TelegramCheck:
    """The answer to getMe + getChat. ``refused``: Telegram answered no (bad token, unknown
    chat, bot not in the channel) — a configuration problem; otherwise ``ok`` False means
    Telegram could not be reached, which is transient."""

    ok: bool
    refused: bool = False
    detail: str = ""
    bot: str = ""
    chat: str = ""


async def verify_telegram(settings: Settings, *, timeout: float = 10.0) -> TelegramCheck:
    """Ask the Bot API who the bot is (getMe) and whether the chat exists for it (getChat).

    The token never appears in ``detail``. (A running channel asks with its own client:
    ``TelegramChannel.check_chat``, so `run` says getMe once.)
    """
    from telegram import Bot
    from telegram.error import Forbidden, InvalidToken, TelegramError
    from telegram.request import HTTPXRequest

    token = settings.telegram_bot_token
    request = HTTPXRequest(connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout,
                           pool_timeout=timeout, proxy=settings.watchbot_proxy or None)
    bot = Bot(token, base_url=f"{settings.telegram_api_url}/bot",
              base_file_url=f"{settings.telegram_api_url}/file/bot", request=request)
    try:
        try:
            await bot.initialize()  # getMe
        except (InvalidToken, Forbidden) as exc:
            return TelegramCheck(False, refused=True, detail=(
                f"the token is refused ({_clean(exc, token)}); check TELEGRAM_BOT_TOKEN"))
        except TelegramError as exc:
            return TelegramCheck(False, detail=f"Telegram is unreachable: {_clean(exc, token)}")
        return await _check_chat(bot, settings.telegram_chat_id, token)
    finally:
        try:
            await bot.shutdown()
        except Exception:  # closing a client that never connected: nothing to report
            pass


def _clean(exc: Exception, token: str) -> str:
    # redact: also the URL-encoded and re-cased forms a library's error text may carry.
    return redact(str(exc) or type(exc).__name__, token)


async def _check_chat(bot: Any, chat_id: Any, token: str) -> TelegramCheck:
    """getChat for ``chat_id`` with an initialized PTB ``bot`` (its getMe answered)."""
    from telegram.error import BadRequest, Forbidden, TelegramError

    me = f"@{bot.username}" if bot.username else str(bot.id)
    try:
        chat = await bot.get_chat(int(chat_id) if str(chat_id).lstrip("-").isdigit() else chat_id)
    except (BadRequest, Forbidden) as exc:
        return TelegramCheck(False, refused=True, bot=me,
                             detail=f"TELEGRAM_CHAT_ID {chat_id}: {_clean(exc, token)} (is {me} an "
                                    "administrator of the channel, and is the id right?)")
    except TelegramError as exc:
        return TelegramCheck(False, bot=me, detail=f"Telegram is unreachable: {_clean(exc, token)}")
    except Exception as exc:  # an answer PTB cannot read: say so, never a traceback
        return TelegramCheck(False, bot=me, detail=f"unexpected answer to getChat: {_clean(exc, token)}")
    title = chat.title or chat.username or str(chat.id)
    return TelegramCheck(True, bot=me, chat=title, detail=f"bot {me} can see chat {title!r}")
