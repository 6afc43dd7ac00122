"""Digest periods: ``parse_since``/``parse_until`` read what an operator types.

A period is [since, until): ``since`` inclusive, ``until`` exclusive, compared with each item's
``first_seen``. Accepted: a duration back from now ("24h", "7d", "2w", "90m"), a date
("2025-10-19": midnight at the start of that day) or a date and time ("2025-10-19T08:00"), read
in the digest time zone unless they carry an offset. A bare date given as ``until`` means the
END of that day, so ``--since 2025-10-19 --until 2025-10-19`` is that whole day.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_DURATION = re.compile(r"^\s*(\d+)\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def to_zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def _moment(text: str, tz: ZoneInfo, *, end_of_day: bool) -> datetime:
    text = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        day = date.fromisoformat(text) + timedelta(days=1 if end_of_day else 0)
        return datetime.combine(day, time(0), tzinfo=tz)
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def parse_since(text: str, now: datetime, tz: str | ZoneInfo = "UTC") -> datetime:
    """Start of a period: "24h"/"7d"/"2w"/"90m" back from ``now``, or a date/date-time in ``tz``.

    Raises ValueError with a readable message on anything else.
    """
    zone = to_zone(tz)
    m = _DURATION.match(text)
    if m:
        return now - timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2).lower()])
    try:
        return _moment(text, zone, end_of_day=False)
    except ValueError:
        raise ValueError(f"cannot read {text!r} as a period start: use 24h, 7d, 2w, "
                         "YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None


def parse_until(text: str | None, now: datetime, tz: str | ZoneInfo = "UTC") -> datetime:
    """End of a period: ``now`` when None; a bare date means the end of that day in ``tz``."""
    if not text:
        return now
    try:
        return _moment(text, to_zone(tz), end_of_day=True)
    except ValueError:
        raise ValueError(f"cannot read {text!r} as a period end: use YYYY-MM-DD or "
                         "YYYY-MM-DDTHH:MM") from None


__all__ = ["parse_since", "parse_until", "to_zone"]
