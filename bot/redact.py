"""Secrets out of logs: ``redact`` a secret from a text, ``RedactingFilter`` scrubs log records,
``protect_logging`` installs the filter where a client library could print the secret.

A channel's client puts its request URL (which may carry the secret, a bot token for one) into
log lines and exception messages, so every record that reaches a handler is cleaned; the channel
names the loggers of its library (``protect_logging(secret, loggers)``).
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Iterable
from urllib.parse import quote

# Loggers that can print a request URL whatever the channel: the HTTP client stack and our own.
_ALWAYS = ("httpx", "httpcore", "bot")


def redact(text: str, secret: str) -> str:
    """``text`` with every occurrence of ``secret`` (raw or URL-encoded, in ANY letter case)
    replaced by "<token>".

    Case-insensitive because libraries re-case error texts: a chat client that capitalises a
    "Bad Request: ..." description (``str.capitalize`` lower-cases the rest) turns a 400 that
    echoes the request path into the secret lower-cased (issue 13, class 14); percent-escapes
    may come in either case too.
    """
    if not secret or not text:
        return text
    return _secret_pattern(secret).sub("<token>", text)


@functools.lru_cache(maxsize=8)
def _secret_pattern(secret: str) -> "re.Pattern[str]":
    forms = sorted({secret, quote(secret, safe=""), quote(secret, safe=":")}, key=len, reverse=True)
    return re.compile("|".join(re.escape(f) for f in forms), re.IGNORECASE)


class RedactingFilter(logging.Filter):
    """Scrubs secrets from a log record: message, arguments, exception and stack text.

    Client libraries and httpx put the request URL (which may contain the secret) into log
    lines and exception messages, so every record that passes a handler must be cleaned.
    """

    def __init__(self, *secrets: str) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = redact(text, secret)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: keep the raw msg
            message = str(record.msg)
        record.msg = self._scrub(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self._scrub(text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self._scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self._scrub(record.stack_info)
        return True


def protect_logging(secret: str, loggers: Iterable[str] = ()) -> RedactingFilter:
    """Install a RedactingFilter on ``loggers`` (a client library's), the HTTP stack's, ours and
    the root handlers'."""
    flt = RedactingFilter(secret)
    names = dict.fromkeys((*_ALWAYS, *loggers))
    for target in [*(logging.getLogger(n) for n in names), *logging.getLogger().handlers]:
        if not any(isinstance(f, RedactingFilter) and f.secrets == flt.secrets
                   for f in target.filters):
            target.addFilter(flt)
    return flt
