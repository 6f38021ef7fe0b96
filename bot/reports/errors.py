"""Errors of the spend reports.

Exception tree::

    ReportError                 base of everything this package raises
    ├── PeriodError             a period typed by a person is not one we understand
    ├── SpendCommandError       the text after ``/spend`` is not a command we understand
    └── CsvFormatError          a CSV read by :func:`bot.reports.parse_ledger_csv` is not ours

Every ``str()`` is written for the person who typed the command: what is wrong, what works.
"""

from __future__ import annotations

__all__ = ["CsvFormatError", "PeriodError", "ReportError", "SpendCommandError"]


class ReportError(Exception):
    """Base of the errors raised while building, parsing or rendering spend reports."""


class PeriodError(ReportError):
    """Raised when a period such as ``2026-13`` or ``2026-10-15..2026-10-01`` makes no sense."""


class SpendCommandError(ReportError):
    """Raised when the text after ``/spend`` cannot be understood."""


class CsvFormatError(ReportError):
    """Raised when a CSV read back does not have the columns or values the export writes."""
