"""The delivery gate: whether sending may be tried now, after a channel refused the bot or asked
us to wait.

Two closings, both kept in the store's ``meta`` rather than in memory: each `run --once` is a new
process, and one that forgot a flood wait sent into a 3,600 s wait again (issue 13, class 13).

- ``refused``: the channel refused the bot (403 kicked, 400 chat not found: a human must act).
  Closed for ``cooldown``, then sending is probed again, so the bot heals by itself once the
  channel is fixed without hammering the service.
- ``wait``: the service asked for a pause (a flood wait's Retry-After) or a transient failure
  outlasted the channel's own retries. Closed for that long (clamped like every number a server
  sends).

Pure bookkeeping on an injected time: the pipeline asks ``is_open(now)`` before draining and
reports each outcome; the gate never sends, logs or decides what an outcome means.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from bot.limits import server_seconds

# Why 30 min: a 400 "chat not found"/403 "kicked" needs a human; probing again now and then
# lets the bot heal by itself once the channel is fixed, without hammering the service.
FATAL_COOLDOWN = timedelta(minutes=30)
DEFAULT_WAIT = 30  # seconds, when a "retry" outcome names no wait

# The meta keys are those of earlier versions, so a state file's pending wait survives an upgrade.
RETRY_AT_KEY = "deliver_retry_at"
BLOCKED_KEY = "deliver_blocked_until"


class _Meta(Protocol):
    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str | None) -> None: ...


class DeliveryGate:
    """Open unless a refusal's cool-down or a requested wait is still running (see module)."""

    def __init__(self, store: _Meta, *, cooldown: timedelta = FATAL_COOLDOWN) -> None:
        self.store = store
        self.cooldown = cooldown

    @property
    def blocked_until(self) -> datetime | None:
        """End of the cool-down after a refusal (None: not refused)."""
        return _parse_time(self.store.get_meta(BLOCKED_KEY))

    @property
    def retry_at(self) -> datetime | None:
        """End of the wait the service asked for (None: no wait)."""
        return _parse_time(self.store.get_meta(RETRY_AT_KEY))

    def is_open(self, now: datetime) -> bool:
        """True when sending may be tried at ``now``. Once every closing has passed, they are
        cleared: the next send is the probe."""
        closings = [c for c in (self.blocked_until, self.retry_at) if c is not None]
        if any(now < c for c in closings):
            return False
        if closings:
            self._set(BLOCKED_KEY, None)
            self._set(RETRY_AT_KEY, None)
        return True

    def refused(self, now: datetime) -> datetime:
        """The channel refused the bot at ``now``: closed for the cool-down; returns its end."""
        until = now + self.cooldown
        self._set(BLOCKED_KEY, until)
        return until

    def wait(self, now: datetime, seconds: float | None) -> datetime:
        """The service asked to wait ``seconds`` (None or nonsense: ``DEFAULT_WAIT``); returns
        when sending may be tried again."""
        until = now + timedelta(seconds=server_seconds(seconds) or DEFAULT_WAIT)
        self._set(RETRY_AT_KEY, until)
        return until

    def _set(self, key: str, when: datetime | None) -> None:
        self.store.set_meta(key, when.isoformat() if when else None)


def _parse_time(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
