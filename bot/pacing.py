"""Pacing: a chat service's rate limits as a minimum gap plus a sliding 60-second window.

Every request counts (posts, edits, retries): services count requests, not logical messages.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Awaitable, Callable


class Pacer:
    """A chat's rate limits as a minimum gap plus a sliding 60-second window.

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
