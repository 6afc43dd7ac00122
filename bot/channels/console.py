"""The console channel: prints what the Telegram channel would post (``run`` without a token,
``--dry-run``, ``try``).

It prints the plain twin of the Telegram rendering, so a dry run previews the channel's text.
"""

from __future__ import annotations

import sys
from typing import TextIO

from bot.channels.telegram_html import html_to_plain
from bot.models import Alert, SendOutcome


class ConsoleChannel:
    """Same interface as TelegramChannel; writes the plain text to a stream (stdout default).

    Used by ``run --dry-run``/``try``: always "sent", with increasing fake message ids. They
    are recorded under ``identity`` "console", so no Telegram chat ever edits its own message
    number 1, 2, 3 for them.
    """

    identity = "console"
    name = "the console"

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
