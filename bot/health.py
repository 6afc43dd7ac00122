"""What a healthy bot looks like, from outside the pipeline: for `check --online`, the start of
`run`, `watchbot health` and the optional /healthz + /metrics endpoint.

Not a stage: it reads the store, nothing else (asking the chat service whether the bot may post
is its channel module's job). Everything here answers one question an operator (or systemd, cron, a container runtime, Prometheus) asks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.channels import REFUSED_PREFIX
from bot.config import Settings


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
