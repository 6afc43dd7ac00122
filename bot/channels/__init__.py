"""Channels: where alerts and digests go. One module per channel, each rendering its own message.

``Channel`` is what the pipeline needs from one; ``console`` and ``telegram`` implement it. The
CLI's factory (``bot.cli._channel``) picks one from the settings. Importing this package loads
no client library.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol

from bot.models import Alert, SendOutcome, StoryMessage

if TYPE_CHECKING:
    from bot.digest.building import Digest


# How the event about a channel refusing the bot begins (the delivery gate logs it, health
# looks for it). Before channels were modules it read "Telegram refuses the channel".
REFUSED_PREFIX = "delivery refused"


class Channel(Protocol):
    """What the pipeline needs from delivery.

    ``identity`` names where messages go ("console", "telegram:<chat id>"): message ids are kept
    per identity, so one channel never edits another's message by number. ``deliver`` never
    raises: the outcome is data. ``name`` is how log lines call it ("Telegram"). ``render``
    turns the store's ``StoryMessage`` into the channel's own text and its plain twin, just
    before the pipeline records it as sending and hands it to ``deliver``; ``post_digest``
    renders and posts a digest (the digest package builds it, the channel says it).
    """

    identity: str
    name: str

    def render(self, message: StoryMessage) -> tuple[str, str]: ...

    async def deliver(self, alert: Alert) -> SendOutcome: ...

    async def post_digest(self, digest: Digest, *, chart: Path | str | None = None,
                          progress: Callable[[int, int], None] | None = None) -> list[SendOutcome]:
        """Post a digest (chart first, if given) rendered in the channel's own markup; stops at
        the first message not sent and returns every outcome."""


class DeliveryError(RuntimeError):
    """A channel's client could not be started; the message never contains a secret.

    ``fatal`` is True when retrying cannot help (token refused, bot banned).
    """

    def __init__(self, message: str, *, fatal: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.fatal = fatal
        self.retry_after = retry_after  # seconds the service asked us to wait, if it did
