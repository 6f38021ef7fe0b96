"""Money: exact micro-USD inside, dollars for people at the edges."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from router.money import MoneyError, format_usd, micros_from_rate, parse_usd, usd_to_micros


@pytest.mark.parametrize(
    ("micros", "shown"),
    [
        (0, "$0.00"),
        (134_000, "$0.134"),
        (67_947, "$0.0679"),
        (19_500, "$0.0195"),
        (1_120, "$0.00112"),
        (1_379_000, "$1.38"),
        (25_000_000, "$25.00"),
        (4_932_053, "$4.93"),
        (1_500_500_000, "$1,500.50"),
        (-500_000, "-$0.50"),
    ],
)
def test_format_shows_cents_and_fractions_where_they_matter(micros: int, shown: str) -> None:
    """Cents from a dollar up; fractions of a cent below a dollar."""
    assert format_usd(micros) == shown


@given(st.integers(min_value=0, max_value=10**15))
def test_whole_cents_round_trip_through_what_people_read(micros: int) -> None:
    """Any amount of whole cents reads back exactly from its formatted text."""
    cents = micros - micros % 10_000
    assert parse_usd(format_usd(cents)) == cents


@given(st.integers(min_value=0, max_value=10**15))
def test_formatting_is_never_off_by_more_than_its_rounding(micros: int) -> None:
    """The shown amount is within half of its last shown digit of the exact amount."""
    shown = parse_usd(format_usd(micros))
    places = 2 if micros >= 1_000_000 else 4 if micros >= 10_000 else 6
    assert abs(shown - micros) <= 10 ** (6 - places) // 2


@pytest.mark.parametrize("text", ["", "-5", "twenty", "1.0000001", "NaN", "$"])
def test_bad_amounts_are_refused(text: str) -> None:
    """What is not an amount of dollars (or is too precise, or negative) is refused."""
    with pytest.raises(MoneyError):
        parse_usd(text)


@pytest.mark.parametrize(("text", "micros"), [("$25", 25_000_000), ("1,500.50", 1_500_500_000)])
def test_people_write_dollars_their_way(text: str, micros: int) -> None:
    """Dollar signs and thousands separators are accepted."""
    assert parse_usd(text) == micros


@given(
    st.integers(min_value=0, max_value=10**9),
    st.integers(min_value=0, max_value=10**9),
    st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False, allow_infinity=False),
)
def test_pricing_tokens_is_additive_within_rounding(a: int, b: int, rate: Decimal) -> None:
    """Pricing two token counts apart differs from pricing them together by at most a micro."""
    together = micros_from_rate(a + b, rate)
    apart = micros_from_rate(a, rate) + micros_from_rate(b, rate)
    assert abs(together - apart) <= 1


def test_exact_dollars_convert_exactly() -> None:
    """The seed's prices convert to micro-USD without loss."""
    assert usd_to_micros("0.039") == 39_000
    assert usd_to_micros(Decimal("0.0195")) == 19_500
    with pytest.raises(MoneyError):
        usd_to_micros("0.0000001")
