"""What a healthy bot looks like, from outside the pipeline: for `check --online`, the start of
`run`, `watchbot health` and the optional /healthz + /metrics endpoint.

Not a stage: it reads the store and asks Telegram, nothing else. Everything here answers one
question an operator (or systemd, cron, a container runtime, Prometheus) asks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.config import Settings

# How the pipeline's event about a refusing channel begins (bot/pipeline.py logs it).
REFUSED_PREFIX = "Telegram refuses the channel"


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

    The token never appears in ``detail``.
    """
    from telegram import Bot
    from telegram.error import BadRequest, Forbidden, InvalidToken, TelegramError
    from telegram.request import HTTPXRequest

    token = settings.telegram_bot_token

    def clean(exc: Exception) -> str:
        return (str(exc) or type(exc).__name__).replace(token, "***") if token else str(exc)

    request = HTTPXRequest(connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout,
                           pool_timeout=timeout, proxy=settings.watchbot_proxy or None)
    bot = Bot(token, base_url=f"{settings.telegram_api_url}/bot",
              base_file_url=f"{settings.telegram_api_url}/file/bot", request=request)
    try:
        try:
            await bot.initialize()  # getMe
        except (InvalidToken, Forbidden) as exc:
            return TelegramCheck(False, refused=True,
                                 detail=f"the token is refused ({clean(exc)}); check TELEGRAM_BOT_TOKEN")
        except TelegramError as exc:
            return TelegramCheck(False, detail=f"Telegram is unreachable: {clean(exc)}")
        me = f"@{bot.username}" if bot.username else str(bot.id)
        chat_id: Any = settings.telegram_chat_id
        try:
            chat = await bot.get_chat(int(chat_id) if str(chat_id).lstrip("-").isdigit() else chat_id)
        except (BadRequest, Forbidden) as exc:
            return TelegramCheck(False, refused=True, bot=me,
                                 detail=f"TELEGRAM_CHAT_ID {chat_id}: {clean(exc)} (is {me} an "
                                        "administrator of the channel, and is the id right?)")
        except TelegramError as exc:
            return TelegramCheck(False, bot=me, detail=f"Telegram is unreachable: {clean(exc)}")
        except Exception as exc:  # an answer PTB cannot read: say so, never a traceback
            return TelegramCheck(False, bot=me, detail=f"unexpected answer to getChat: {clean(exc)}")
        title = chat.title or chat.username or str(chat.id)
        return TelegramCheck(True, bot=me, chat=title, detail=f"bot {me} can see chat {title!r}")
    finally:
        try:
            await bot.shutdown()
        except Exception:  # closing a client that never connected: nothing to report
            pass


# ---------------------------------------------------------------------------------------------
# Health of a running (or cron-run) bot, read from its state
# ---------------------------------------------------------------------------------------------


@dataclass
class Health:
    ok: bool
    problems: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


def assess(store, settings: Settings, now: datetime, feeds: list | None = None) -> Health:
    """Healthy means: some feed was fetched within three poll intervals of the most frequently
    polled listed feed (the bot is running), not every listed feed is failing, no alert waits in
    the outbox for more than an hour, and the channel did not refuse the bot since its last
    successful send. ``feeds``: the feed list (None: every feed the store knows)."""
    problems: list[str] = []
    listed = None if feeds is None else {f.url for f in feeds}
    states = [fs for fs in store.feed_states() if listed is None or fs.url in listed]
    fetched = [fs.last_fetch for fs in states if fs.last_fetch]
    last_fetch = max(fetched) if fetched else None
    interval = min([f.interval or settings.watchbot_interval for f in feeds or ()] or [settings.watchbot_interval])
    stale_after = timedelta(seconds=3 * interval + settings.watchbot_jitter)
    if last_fetch is None:
        problems.append("no feed has been fetched yet")
    elif now - last_fetch > stale_after:
        problems.append(f"no feed fetched since {last_fetch:%Y-%m-%d %H:%M} UTC "
                        f"(more than {int(stale_after.total_seconds() // 60)} min ago): is the bot running?")
    active = [fs for fs in states if not fs.paused_reason]
    failing = [fs for fs in active if fs.consecutive_errors]
    if active and len(failing) == len(active):
        problems.append(f"every feed is failing ({len(failing)})")
    counts = store.outbox_counts()
    oldest = store.oldest_pending()
    if oldest and now - oldest > timedelta(hours=1):
        problems.append(f"{counts.get('pending', 0)} alert(s) pending, the oldest since "
                        f"{oldest:%Y-%m-%d %H:%M} UTC: the channel is not taking them")
    refused = store.last_event("error", REFUSED_PREFIX)
    last_sent = store.last_sent()
    if refused and (last_sent is None or last_sent < refused.at):
        problems.append(f"{refused.at.isoformat()}: {refused.message}")
    facts = {"feeds": len(states), "feeds_failing": len(failing), "last_fetch":
             last_fetch.isoformat() if last_fetch else None, "outbox": counts}
    return Health(not problems, problems, facts)
