"""Starting a channel in the background, so a run's first fetches need not wait for it.

The CLI wraps the channel it built (``bot.cli._channel``) in ``StartingChannel``: polling
starts at once, and the first delivery waits for the start to finish (issue 15). Why it is
here and not in the CLI: what starting costs and what a refusal means is the channel's
knowledge (today Telegram's: importing python-telegram-bot, getMe, getChat).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from typing import TYPE_CHECKING

from bot.channels import DeliveryError
from bot.models import SendOutcome

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger("watchbot")


TELEGRAM_START_DELAY = 0.1  # s; see StartingChannel._start


class StartingChannel:
    """A channel whose start runs in the background, so the first fetches need not wait for it.

    Starting a Telegram channel costs two round trips (the channel's getMe, then getChat:
    ``TelegramChannel.check_chat``) and importing python-telegram-bot
    (~0.2 s of CPU). Polling needs the channel only to deliver, after the fetches (issue 15), so
    here the import runs in a thread from the start and the round trips overlap the first
    fetches. ``ready`` resolves to None, or to why Telegram refused the bot or the chat: the
    caller then exits 2 (unusable configuration), having delivered nothing; what the cycle
    found waits in the outbox for a usable configuration.
    """

    def __init__(self, settings: "Settings", channel, not_before: asyncio.Event | None = None):
        """``not_before``: set when the start may begin (`run --once`: when its first response
        is in, see ``Pipeline.first_response``); None: after TELEGRAM_START_DELAY."""
        self.channel = channel
        self.ready = asyncio.ensure_future(self._start(settings, not_before))

    async def _start(self, settings: "Settings", not_before: asyncio.Event | None) -> str | None:
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
        else:
            await asyncio.sleep(TELEGRAM_START_DELAY)
        await asyncio.to_thread(import_telegram)

        try:
            await self.channel.start()  # getMe, with the client that will send
        except DeliveryError as exc:
            if exc.fatal:  # a refused token is unusable configuration, not a crash
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
            return tg.detail
        if tg.ok:
            log.info("Telegram: %s", tg.detail)
        else:
            log.warning("%s; polling anyway, alerts stay queued", tg.detail)
        return None

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
