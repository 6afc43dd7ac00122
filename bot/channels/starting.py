"""Starting a channel in the background, so a run's first fetches need not wait for it.

The CLI wraps the channel it built (``bot.cli._channel``) in ``StartingChannel``: polling
starts at once, and the first delivery waits for the start to finish (issue 15). Why it is
here and not in the CLI: what starting costs and what a refusal means is the channel's
knowledge (today Telegram's: importing python-telegram-bot, getMe, getChat).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable

from bot.channels import DeliveryError
from bot.models import SendOutcome

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger("watchbot")


TELEGRAM_START_DELAY = 0.1  # s; see StartingChannel._start

# `run --once` remembers in the store's meta table when Telegram last accepted the bot and the
# chat, so that the next cron runs within TELEGRAM_RECHECK, when they have nothing to send,
# make no Bot API call at all (issue 15): two round trips and the python-telegram-bot import
# were the largest fixed cost of a run that found nothing new. A run that does send starts
# the channel then, and a refusal at that point exits 2 as before.
TELEGRAM_VERIFIED_META = "telegram_verified"
TELEGRAM_RECHECK = timedelta(hours=1)


class StartingChannel:
    """A channel whose start runs in the background, so the first fetches need not wait for it.

    Starting a Telegram channel costs two round trips (the channel's getMe, then getChat:
    ``TelegramChannel.check_chat``) and importing python-telegram-bot
    (~0.2 s of CPU). Polling needs the channel only to deliver, after the fetches (issue 15), so
    here the import runs in a thread from the start and the round trips overlap the first
    fetches. ``ready`` resolves to None, or to why Telegram refused the bot or the chat: the
    caller then exits 2 (unusable configuration), having delivered nothing; what the cycle
    found waits in the outbox for a usable configuration. A ``deferred`` channel starts only
    when ``begin()`` is called or something is sent: a cron run that Telegram accepted within
    TELEGRAM_RECHECK and that has nothing to send asks it nothing (``bot.cli._remember_telegram``).
    """

    def __init__(self, settings: "Settings", channel, not_before: asyncio.Event | None = None,
                 *, deferred: bool = False):
        """``not_before``: set when the start may begin (`run --once`: when its first response
        is in, see ``Pipeline.first_response``); None: after TELEGRAM_START_DELAY.
        ``deferred``: the start waits for ``begin()`` or for the first send, whichever comes
        first; a run that calls neither makes no call to the channel's API."""
        self.channel = channel
        self._settings = settings
        self._not_before = not_before
        self._ready: asyncio.Future | None = None
        # Told the outcome of the start: on_verified() when Telegram accepted the bot and the
        # chat, on_refused() when it refused either (the CLI keeps the store's memory of it).
        self.on_verified: Callable[[], None] | None = None
        self.on_refused: Callable[[], None] | None = None
        if not deferred:
            self.begin()

    def begin(self) -> None:
        """Start in the background now (a no-op once started)."""
        if self._ready is None:
            self._ready = asyncio.ensure_future(self._start(self._not_before, TELEGRAM_START_DELAY))

    @property
    def started(self) -> bool:
        return self._ready is not None

    @property
    def ready(self) -> asyncio.Future:
        """Resolves to None, or to why the channel is unusable; a deferred channel not yet
        begun starts here, at once: something is about to be sent and waits for it."""
        if self._ready is None:
            self._ready = asyncio.ensure_future(self._start(None, 0.0))
        return self._ready

    async def _start(self, not_before: asyncio.Event | None, delay: float) -> str | None:
        settings = self._settings
        if not settings.telegram_enabled:
            await self.channel.start()
            return None
        # The import thread holds the GIL for ~0.2 s of CPU: started at once, it halved the
        # main thread's pace while the first polls set up their connections. A run delivers
        # only after its fetches, so the first requests go out first: a cron run waits until
        # a response is back (then every first request is out and the loop waits on the
        # network), as a fixed delay did not when start-up itself was slowed by load.
        if not_before is not None:
            await not_before.wait()
        elif delay:
            await asyncio.sleep(delay)
        await asyncio.to_thread(import_telegram)

        try:
            await self.channel.start()  # getMe, with the client that will send
        except DeliveryError as exc:
            if exc.fatal:  # a refused token is unusable configuration, not a crash
                self._told(self.on_refused)
                return f"Telegram refused the bot: {exc}; check TELEGRAM_BOT_TOKEN"
            # Unreachable right now is transient: poll anyway; alerts stay in the outbox
            # and the channel connects on its first send once Telegram answers.
            log.warning("Telegram is unreachable (%s); polling anyway, alerts stay queued", exc)
            return None
        # A chat Telegram does not know would otherwise surface only at the first alert, hours
        # later, as a line in the log: refuse it now. Asked with the channel's own client, so
        # the start costs one getMe (a separate verify_telegram client said it a second time).
        tg = await self.channel.check_chat()
        if tg.refused:
            self._told(self.on_refused)
            return tg.detail
        if tg.ok:
            log.info("Telegram: %s", tg.detail)
            self._told(self.on_verified)
        else:
            log.warning("%s; polling anyway, alerts stay queued", tg.detail)
        return None

    @staticmethod
    def _told(callback: Callable[[], None] | None) -> None:
        # Remembering is an optimisation: a store that cannot write it must not fail the start.
        if callback is None:
            return
        try:
            callback()
        except Exception as exc:
            log.warning("could not remember Telegram's answer: %s", exc)

    async def deliver(self, alert):
        refusal = await self.ready
        if refusal is not None:
            return SendOutcome("fatal", error=refusal)
        return await self.channel.deliver(alert)

    # Every other way of sending waits for the start too: passed straight through, a send
    # before ``ready`` started a second client (another getMe) beside the background one, or
    # posted to a chat the start was about to refuse.
    async def send_html(self, html_text: str, plain: str):
        refusal = await self.ready
        if refusal is not None:
            return SendOutcome("fatal", error=refusal)
        return await self.channel.send_html(html_text, plain)

    async def send_photo(self, path: str, caption_html: str):
        refusal = await self.ready
        if refusal is not None:
            return SendOutcome("fatal", error=refusal)
        return await self.channel.send_photo(path, caption_html)

    async def post_digest(self, digest, **kwargs):
        refusal = await self.ready
        if refusal is not None:
            return [SendOutcome("fatal", error=refusal)]
        return await self.channel.post_digest(digest, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.channel, name)


def import_telegram() -> None:
    """Import what TelegramChannel and verify_telegram use (a thread's work: see above)."""
    for name in ("telegram", "telegram.error", "telegram.request"):
        importlib.import_module(name)


def telegram_check_key(settings: "Settings") -> str:
    """What an acceptance by Telegram was for: the bot, the chat and the API server. A digest,
    so that the store never holds the token (nor anything a token can be read back from)."""
    raw = "\0".join((settings.telegram_bot_token, settings.telegram_chat_id, settings.telegram_api_url))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def remembered_check(key: str, now: datetime) -> str:
    """The meta value that records Telegram accepting ``key`` at ``now``."""
    return f"{key} {now.isoformat()}"


def recently_verified(remembered: str | None, key: str, now: datetime) -> bool:
    """Whether ``remembered`` (a ``remembered_check`` value, or None) says Telegram accepted
    this very bot, chat and server at most TELEGRAM_RECHECK before ``now``. A value from the
    future (a clock set back) or one that cannot be read counts as not verified."""
    if not remembered:
        return False
    try:
        seen_key, when_text = remembered.split(" ", 1)
        when = datetime.fromisoformat(when_text)
    except ValueError:
        return False
    if seen_key != key or when.tzinfo is None or now.tzinfo is None:
        return False
    return timedelta(0) <= now - when <= TELEGRAM_RECHECK
