"""Report periods: a calendar month or an inclusive range of days, in the workspace time zone.

Budgets are keyed by calendar month in the workspace's time zone, so a period is a range of local
dates; :meth:`Period.utc_bounds` turns it into the half-open UTC interval the ledger is read with.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from bot.reports.errors import PeriodError

__all__ = ["MAX_PERIOD_DAYS", "Period", "month_key", "parse_period"]

#: Longest range a person may ask for (a year and a day, so a leap year fits).
MAX_PERIOD_DAYS = 366

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_DAY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_HELP = "try 2026-10, 2026-10-01..2026-10-15, this month or last month"


def month_key(day: date) -> str:
    """The budget month key of ``day``: ``2026-10``."""
    return f"{day.year:04d}-{day.month:02d}"


@dataclass(frozen=True, slots=True)
class Period:
    """An inclusive range of local dates, ``start`` to ``end``."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise PeriodError(
                f"{self.start.isoformat()}..{self.end.isoformat()} ends before it starts; {_HELP}"
            )
        if self.days > MAX_PERIOD_DAYS:
            raise PeriodError(f"a report covers at most {MAX_PERIOD_DAYS} days; {_HELP}")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        """The whole calendar month ``year-month``."""
        if not 1 <= month <= 12:
            raise PeriodError(f"{year:04d}-{month:02d} is not a month; {_HELP}")
        last = calendar.monthrange(year, month)[1]
        return cls(date(year, month, 1), date(year, month, last))

    @classmethod
    def containing(cls, day: date) -> Period:
        """The calendar month that contains ``day``."""
        return cls.month(day.year, day.month)

    @property
    def days(self) -> int:
        """How many days the period covers."""
        return (self.end - self.start).days + 1

    @property
    def is_month(self) -> bool:
        """True when the period is exactly one calendar month."""
        return self == Period.containing(self.start)

    @property
    def month_key(self) -> str | None:
        """``2026-10`` for a whole calendar month (the key budgets use), else None."""
        return month_key(self.start) if self.is_month else None

    @property
    def label(self) -> str:
        """How people read it: ``October 2026``, ``1-15 Oct 2026`` or ``28 Sep to 3 Oct 2026``."""
        if self.is_month:
            return f"{calendar.month_name[self.start.month]} {self.start.year}"
        if self.start == self.end:
            return _day_label(self.start, year=True)
        if (self.start.year, self.start.month) == (self.end.year, self.end.month):
            return f"{self.start.day}-{_day_label(self.end, year=True)}"
        same_year = self.start.year == self.end.year
        return f"{_day_label(self.start, year=not same_year)} to {_day_label(self.end, year=True)}"

    @property
    def text(self) -> str:
        """The period as typed into ``/spend``: ``2026-10`` or ``2026-10-01..2026-10-15``."""
        if self.is_month:
            return month_key(self.start)
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    def dates(self) -> Iterator[date]:
        """Every day of the period, in order."""
        for offset in range(self.days):
            yield self.start + timedelta(days=offset)

    def utc_bounds(self, tz: tzinfo) -> tuple[datetime, datetime]:
        """The half-open UTC interval ``[first midnight, midnight after the end)`` in ``tz``."""
        start = datetime.combine(self.start, time.min, tzinfo=tz).astimezone(UTC)
        after = datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
        return start, after

    def contains(self, day: date) -> bool:
        """True when ``day`` falls inside the period."""
        return self.start <= day <= self.end


def _day_label(day: date, *, year: bool) -> str:
    text = f"{day.day} {calendar.month_abbr[day.month]}"
    return f"{text} {day.year}" if year else text


def _parse_date(text: str) -> date:
    match = _DAY.match(text)
    if match is None:
        raise PeriodError(f"{text!r} is not a date or a month; {_HELP}")
    year, month, day = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise PeriodError(f"{text!r} is not a date in the calendar; {_HELP}") from exc


def _parse_one(text: str, *, today: date) -> Period:
    lowered = " ".join(text.lower().split())
    if lowered in ("", "this month", "month", "now"):
        return Period.containing(today)
    if lowered == "last month":
        return Period.containing(today.replace(day=1) - timedelta(days=1))
    if lowered == "today":
        return Period(today, today)
    match = _MONTH.match(lowered)
    if match is not None:
        return Period.month(int(match.group(1)), int(match.group(2)))
    day = _parse_date(lowered)
    return Period(day, day)


def parse_period(text: str, *, today: date) -> Period:
    """Parse what a person types after ``/spend``: a month, a day, a range, or a phrase.

    ``2026-10`` is the month; ``2026-10-01..2026-10-15`` the inclusive range (either end may also be
    a month: ``2026-09..2026-10`` is both months); ``this month`` (or nothing) the month containing
    ``today``, ``last month`` the one before. Raises :class:`PeriodError` with a usable message.
    """
    cleaned = text.strip().replace("\u2014", "..").replace("\u2013", "..")
    if ".." in cleaned:
        first, _, last = cleaned.partition("..")
        if not first.strip() or not last.strip():
            raise PeriodError(f"{text.strip()!r} needs a start and an end; {_HELP}")
        start = _parse_one(first, today=today)
        end = _parse_one(last, today=today)
        return Period(start.start, end.end)
    return _parse_one(cleaned, today=today)
