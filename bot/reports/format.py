"""Small formatting helpers shared by the Block Kit, terminal and CSV renderers."""

from __future__ import annotations

from fractions import Fraction

from router.money import MICROS_PER_USD, format_usd

__all__ = ["format_count", "format_money", "format_percent", "format_usd", "usage_bar"]

_FULL = "█"
_EMPTY = "░"


def format_percent(fraction: Fraction | None) -> str:
    """``Fraction(1, 2)`` -> ``50%`` (half up); a non-zero share under 1% reads ``<1%``."""
    if fraction is None:
        return "-"
    if 0 < fraction < Fraction(1, 100):
        return "<1%"
    percent = fraction * 100
    return f"{int(percent + Fraction(1, 2)):,}%"


def format_count(count: int, word: str) -> str:
    """``1 image``, ``2 images``, ``1,200 images``."""
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def usage_bar(fraction: Fraction | None, *, width: int = 10) -> str:
    """A text bar a phone shows on one line: ``██████░░░░`` for 60% (full when over budget)."""
    if fraction is None:
        return _EMPTY * width
    # Floor, so the bar is full only when the budget really is used up.
    filled = min(width, max(0, int(fraction * width)))
    if fraction > 0 and filled == 0:
        filled = 1  # anything spent shows at least one block
    return _FULL * filled + _EMPTY * (width - filled)


def format_money(micros: int) -> str:
    """Money as a report shows it: cents from $1 up (``$67.55``), four decimals below (``$0.0751``).

    Exact amounts stay in micros (CSV, JSON); this is for reading at a glance.
    """
    if abs(micros) >= MICROS_PER_USD:
        cents = (abs(micros) + 5_000) // 10_000 * 10_000
        return format_usd(-cents if micros < 0 else cents)
    tenths_of_a_cent = (abs(micros) + 50) // 100 * 100
    return format_usd(-tenths_of_a_cent if micros < 0 else tenths_of_a_cent)
