"""The console channel: prints what the Telegram channel would post (``run`` without a token,
``--dry-run``, ``try``).

It prints the plain twin of the Telegram rendering, so a dry run previews the channel's text.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TextIO

from bot.channels.telegram_html import alert_text, html_to_plain, render_alert
from bot.models import Alert, SendOutcome, StoryMessage

if TYPE_CHECKING:
    from bot.digest.building import Digest


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

    def render(self, message: StoryMessage) -> tuple[str, str]:
        """What the Telegram channel would send: its HTML and the plain twin printed here."""
        return render_alert(message)

    async def deliver(self, alert: Alert) -> SendOutcome:
        """Print the plain twin of what the Telegram channel would send."""
        plain = alert_text(alert)[1]
        if alert.action == "edit":
            self._write(f"edit of message {alert.message_id}", plain)
            return SendOutcome("sent", message_id=alert.message_id)
        return SendOutcome("sent", message_id=self._write(f"message {self._next_id}", plain))

    async def post_digest(self, digest: Digest, *, chart: Path | str | None = None,
                          progress: Callable[[int, int], None] | None = None) -> list[SendOutcome]:
        """Print the digest's messages as the Telegram channel would post them (plain twins)."""
        from bot.channels.telegram_digest import send_digest

        return await send_digest(self, digest, chart=chart, progress=progress)

    async def send_html(self, html_text: str, plain: str) -> SendOutcome:
        return SendOutcome("sent", message_id=self._write(f"message {self._next_id}", plain))

    async def send_photo(self, path: str, caption_html: str) -> SendOutcome:
        return SendOutcome("sent", message_id=self._write(
            f"photo {path}", html_to_plain(caption_html)))
