"""Numbers that come from servers, made safe before any arithmetic (issue 13, class 5).

A feed server's ``Retry-After: 99999999999999`` once raised ``OverflowError`` inside a
``timedelta`` and stopped every ``run --once``; a Bot API's ``retry_after`` and RSS ``<ttl>`` are
the same kind of number. Every such value goes through :func:`server_seconds` first: fetch,
deliver and the pipeline share this one clamp, so no stage does its own arithmetic on a raw value.
"""

from __future__ import annotations

import math

#: The longest wait a server can impose on us. A week is longer than any real Retry-After or
#: flood wait, short enough that a typo on the server heals by itself, and far inside what a
#: datetime can represent.
MAX_SERVER_WAIT = 7 * 24 * 3600.0


def server_seconds(value: object, *, ceiling: float = MAX_SERVER_WAIT) -> float | None:
    """``value`` (a number or digits a server sent) as seconds in ``[0, ceiling]``.

    None when it is not a finite number at all (the caller then uses its own default). Strings
    of digits of any length are accepted without converting a 400-digit number to float.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit():
            return None
        if len(text) > 15:  # beyond any ceiling; float() of a huge integer would overflow
            return ceiling
        value = int(text)
    if hasattr(value, "total_seconds"):  # a timedelta (a chat client's retry_after)
        value = value.total_seconds()
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return ceiling if isinstance(value, int) else None
    if math.isnan(number):
        return None
    return min(max(number, 0.0), ceiling)
