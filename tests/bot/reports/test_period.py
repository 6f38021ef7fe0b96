"""Report periods: parsing what people type, labels, and UTC bounds in the workspace time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.reports import Period, PeriodError, month_key, parse_period

TODAY = date(2026, 11, 20)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("", date(2026, 11, 1), date(2026, 11, 30)),
        ("this month", date(2026, 11, 1), date(2026, 11, 30)),
        ("This  Month", date(2026, 11, 1), date(2026, 11, 30)),
        ("last month", date(2026, 10, 1), date(2026, 10, 31)),
        ("2026-10", date(2026, 10, 1), date(2026, 10, 31)),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        ("2026-10-01..2026-10-15", date(2026, 10, 1), date(2026, 10, 15)),
        ("2026-09..2026-10", date(2026, 9, 1), date(2026, 10, 31)),
        ("2026-10-07", date(2026, 10, 7), date(2026, 10, 7)),
        ("2026-10-01\u20132026-10-03", date(2026, 10, 1), date(2026, 10, 3)),
        ("today", TODAY, TODAY),
    ],
)
def test_parse_period_understands_months_ranges_and_phrases(
    text: str, start: date, end: date
) -> None:
    """Months, ranges, single days and phrases parse to inclusive local date ranges."""
    assert parse_period(text, today=TODAY) == Period(start, end)


def test_last_month_in_january_is_december() -> None:
    """ "last month" crosses the year boundary."""
    assert parse_period("last month", today=date(2027, 1, 3)) == Period.month(2026, 12)


@pytest.mark.parametrize(
    "text",
    ["2026-13", "2026-02-30", "2026-10-15..2026-10-01", "yesterday-ish", "..2026-10", "2020..2026"],
)
def test_parse_period_refuses_nonsense_with_a_hint(text: str) -> None:
    """Impossible or unknown periods raise PeriodError that says what works."""
    with pytest.raises(PeriodError, match="try 2026-10"):
        parse_period(text, today=TODAY)


def test_period_longer_than_a_year_is_refused() -> None:
    """A range over 366 days is refused."""
    with pytest.raises(PeriodError, match="at most 366 days"):
        parse_period("2025-01..2026-10", today=TODAY)


def test_labels_read_naturally() -> None:
    """Months, ranges inside a month and ranges across months get readable labels."""
    assert Period.month(2026, 10).label == "October 2026"
    assert Period(date(2026, 10, 1), date(2026, 10, 15)).label == "1-15 Oct 2026"
    assert Period(date(2026, 9, 28), date(2026, 10, 3)).label == "28 Sep to 3 Oct 2026"
    assert Period(date(2026, 10, 7), date(2026, 10, 7)).label == "7 Oct 2026"


def test_month_key_only_for_whole_months() -> None:
    """Only a whole calendar month has a budget month key."""
    assert Period.month(2026, 10).month_key == "2026-10"
    assert Period(date(2026, 10, 1), date(2026, 10, 30)).month_key is None
    assert month_key(date(2026, 3, 9)) == "2026-03"


def test_utc_bounds_follow_the_time_zone_across_dst() -> None:
    """Bounds are local midnights converted to UTC, DST included."""
    berlin = ZoneInfo("Europe/Berlin")
    start, end = Period.month(2026, 10).utc_bounds(berlin)
    assert start == datetime(2026, 9, 30, 22, tzinfo=UTC)
    assert end == datetime(2026, 10, 31, 23, tzinfo=UTC)  # CET again after 25 October


@settings(max_examples=100)
@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 1)),
    st.integers(min_value=0, max_value=365),
)
def test_period_text_parses_back_to_itself(start: date, length: int) -> None:
    """Period.text is accepted by parse_period and gives the same period back."""
    period = Period(start, date.fromordinal(start.toordinal() + length))
    assert parse_period(period.text, today=TODAY) == period
    assert len(list(period.dates())) == period.days
