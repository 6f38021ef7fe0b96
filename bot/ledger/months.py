"""Calendar months in the configured time zone, the key of every budget (nothing is ever reset)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

__all__ = ["month_bounds", "month_key", "parse_month"]

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_key(at: datetime, tz: ZoneInfo) -> str:
    """The calendar month ``'YYYY-MM'`` that the UTC-aware instant ``at`` falls in, in ``tz``."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: pass a UTC-aware time")
    return at.astimezone(tz).strftime("%Y-%m")


def parse_month(text: str) -> str:
    """Validate a ``'YYYY-MM'`` month key and return it; raise ValueError otherwise."""
    if not _MONTH.match(text):
        raise ValueError(f"{text!r} is not a month; write it as YYYY-MM, e.g. 2026-11")
    return text


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants ``[start, end)`` of ``month`` as it runs in ``tz``."""
    year, mon = (int(part) for part in parse_month(month).split("-"))
    start = datetime(year, mon, 1, tzinfo=tz)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)
