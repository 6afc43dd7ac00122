"""Test helpers for time: waiting for a condition on the event loop, and a sleep that records."""

from __future__ import annotations

import asyncio


class FakeSleep:
    """Records requested waits instead of sleeping (yields to the loop so I/O still progresses)."""

    def __init__(self):
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


async def wait_for(predicate, timeout: float = 30.0) -> bool:
    """True as soon as ``predicate()`` holds, polled every 50 ms; its last value after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()
