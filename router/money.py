"""Money as integer micro-USD (1 USD = 1_000_000 micros).

Every amount inside the product is an ``int`` of micro-USD: no floats, ever. Dollars exist only at
the edges: parsed from what people type (:func:`parse_usd`) and formatted for people
(:func:`format_usd`). Rounding happens in exactly one place, :func:`micros_from_rate`, which prices
a token count at a per-million rate and rounds half up to the micro.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

__all__ = [
    "MICROS_PER_USD",
    "MoneyError",
    "format_usd",
    "micros_from_rate",
    "parse_usd",
    "usd_to_micros",
]

MICROS_PER_USD = 1_000_000


class MoneyError(ValueError):
    """Raised when a dollar amount typed by a person or written in a file is not a valid amount."""


def usd_to_micros(amount: Decimal | str | int) -> int:
    """Convert an exact dollar amount to micro-USD; more than six decimals is an error."""
    try:
        value = Decimal(amount) if not isinstance(amount, Decimal) else amount
    except InvalidOperation as exc:
        raise MoneyError(f"{amount!r} is not an amount of dollars") from exc
    if not value.is_finite():
        raise MoneyError(f"{amount!r} is not an amount of dollars")
    micros = value * MICROS_PER_USD
    if micros != micros.to_integral_value():
        raise MoneyError(f"{amount!r} has more precision than a millionth of a dollar")
    return int(micros)


def parse_usd(text: str) -> int:
    """Parse what a person types ("$25", "25", "1,500.50", "0.5") into micro-USD.

    Negative amounts and amounts with more than six decimals are refused with :class:`MoneyError`.
    """
    cleaned = text.strip().replace(",", "").replace("_", "")
    if cleaned.startswith("$"):
        cleaned = cleaned[1:].strip()
    if cleaned.lower().endswith("usd"):
        cleaned = cleaned[:-3].strip()
    if not cleaned or cleaned.startswith("-"):
        raise MoneyError(f"{text.strip()!r} is not a dollar amount (try 25 or 25.50)")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise MoneyError(f"{text.strip()!r} is not a dollar amount (try 25 or 25.50)") from exc
    if not value.is_finite() or value < 0:
        raise MoneyError(f"{text.strip()!r} is not a dollar amount (try 25 or 25.50)")
    return usd_to_micros(value)


def micros_from_rate(tokens: int, usd_per_million: Decimal) -> int:
    """Price ``tokens`` at ``usd_per_million`` dollars per 1M tokens, rounded half up to a micro.

    ``usd_per_million`` dollars per million tokens is exactly ``usd_per_million`` micros per token.
    """
    if tokens < 0:
        raise MoneyError(f"token count {tokens} is negative")
    return int((Decimal(tokens) * usd_per_million).to_integral_value(rounding=ROUND_HALF_UP))


def format_usd(micros: int) -> str:
    """Format micro-USD for people: cents from a dollar up, fractions of a cent where they matter.

    From $1 up, cents (``25_000_000`` -> ``$25.00``, ``1_379_000`` -> ``$1.38``, thousands
    separated); below $1, up to four decimals (``134_000`` -> ``$0.134``, ``67_947`` ->
    ``$0.0679``, ``19_500`` -> ``$0.0195``); below a cent, up to six (``1_120`` -> ``$0.00112``).
    Rounding is half up; at least two decimals are shown; ``-500_000`` -> ``-$0.50``.
    """
    sign = "-" if micros < 0 else ""
    value = Decimal(abs(micros)) / MICROS_PER_USD
    if value >= 1:
        places = 2
    elif value >= Decimal("0.01"):
        places = 4
    else:
        places = 6
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{rounded:,.{places}f}"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0").ljust(2, "0")
    return f"{sign}${whole}.{frac}"
