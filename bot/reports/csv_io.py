"""CSV export of ledger rows, and the parser that reads it back (the export round-trips).

One line per ledger entry, every column the ledger keeps plus ``cost_usd`` (the same amount as
``cost_micros``, written out for spreadsheets). Times are ISO 8601 in UTC. Prompts are not in the
ledger table and therefore never in the export.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.reports.errors import CsvFormatError
from router.money import MICROS_PER_USD, MoneyError, usd_to_micros

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = ["LEDGER_CSV_COLUMNS", "LedgerRow", "ledger_csv", "parse_ledger_csv", "write_ledger_csv"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerRow:
    """One ledger entry as the reports see it (the columns of ``ledger_entry``)."""

    id: int
    created_at: datetime
    month: str
    workspace_id: str
    user_id: str
    channel_id: str | None
    thread_ts: str | None
    model_id: str
    tier: str | None
    images: int
    image_size: str | None
    batch: bool
    input_tokens: int
    input_image_tokens: int
    output_image_tokens: int
    output_text_tokens: int
    thinking_tokens: int
    usage_reported: bool
    reference_inputs: int
    cost_micros: int
    possibly_billed: bool
    interrupted: bool
    idempotency_key: str
    request_key: str | None


_FIELDS = tuple(field.name for field in fields(LedgerRow))
#: The header line of the export, in order.
LEDGER_CSV_COLUMNS: tuple[str, ...] = (*_FIELDS[:20], "cost_usd", *_FIELDS[20:])


def _usd_text(micros: int) -> str:
    return f"{Decimal(micros) / MICROS_PER_USD:.6f}"


def _cell(row: LedgerRow, name: str) -> str:
    if name == "cost_usd":
        return _usd_text(row.cost_micros)
    value = getattr(row, name)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def write_ledger_csv(rows: Iterable[LedgerRow], out: SupportsWrite[str]) -> int:
    """Write the header and ``rows`` to the text stream ``out``; return how many rows were written.

    Open files with ``newline=""`` as the :mod:`csv` module requires.
    """
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(LEDGER_CSV_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow([_cell(row, name) for name in LEDGER_CSV_COLUMNS])
        count += 1
    return count


def ledger_csv(rows: Iterable[LedgerRow]) -> bytes:
    """The export as UTF-8 bytes, ready to upload as a file."""
    buffer = io.StringIO(newline="")
    write_ledger_csv(rows, buffer)
    return buffer.getvalue().encode("utf-8")


class _Cells:
    """One CSV record by column name, with typed getters that name the line on failure."""

    def __init__(self, cells: dict[str, str], *, line: int) -> None:
        self._cells = cells
        self._line = line

    def _bad(self, name: str) -> CsvFormatError:
        value = self._cells[name]
        return CsvFormatError(f"line {self._line}: column {name}: {value!r} is not valid")

    def text(self, name: str) -> str:
        return self._cells[name]

    def optional(self, name: str) -> str | None:
        return self._cells[name] or None

    def integer(self, name: str) -> int:
        try:
            return int(self._cells[name])
        except ValueError as exc:
            raise self._bad(name) from exc

    def flag(self, name: str) -> bool:
        value = self._cells[name]
        if value not in ("true", "false"):
            raise self._bad(name)
        return value == "true"

    def moment(self, name: str) -> datetime:
        try:
            parsed = datetime.fromisoformat(self._cells[name])
        except ValueError as exc:
            raise self._bad(name) from exc
        if parsed.tzinfo is None:
            raise self._bad(name)
        return parsed.astimezone(UTC)

    def micros(self, name: str) -> int:
        try:
            return usd_to_micros(self._cells[name])
        except MoneyError as exc:
            raise self._bad(name) from exc


def _row(cells: _Cells) -> LedgerRow:
    return LedgerRow(
        id=cells.integer("id"),
        created_at=cells.moment("created_at"),
        month=cells.text("month"),
        workspace_id=cells.text("workspace_id"),
        user_id=cells.text("user_id"),
        channel_id=cells.optional("channel_id"),
        thread_ts=cells.optional("thread_ts"),
        model_id=cells.text("model_id"),
        tier=cells.optional("tier"),
        images=cells.integer("images"),
        image_size=cells.optional("image_size"),
        batch=cells.flag("batch"),
        input_tokens=cells.integer("input_tokens"),
        input_image_tokens=cells.integer("input_image_tokens"),
        output_image_tokens=cells.integer("output_image_tokens"),
        output_text_tokens=cells.integer("output_text_tokens"),
        thinking_tokens=cells.integer("thinking_tokens"),
        usage_reported=cells.flag("usage_reported"),
        reference_inputs=cells.integer("reference_inputs"),
        cost_micros=cells.integer("cost_micros"),
        possibly_billed=cells.flag("possibly_billed"),
        interrupted=cells.flag("interrupted"),
        idempotency_key=cells.text("idempotency_key"),
        request_key=cells.optional("request_key"),
    )


def parse_ledger_csv(text: str) -> list[LedgerRow]:
    """Read an export back into :class:`LedgerRow` values (checks ``cost_usd`` against micros).

    Raises :class:`CsvFormatError` naming the line and column of the first problem.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or tuple(header) != LEDGER_CSV_COLUMNS:
        raise CsvFormatError("the header is not the one imagebot's ledger export writes")
    rows = []
    for line, record in enumerate(reader, start=2):
        if len(record) != len(LEDGER_CSV_COLUMNS):
            raise CsvFormatError(
                f"line {line}: {len(record)} columns, expected {len(LEDGER_CSV_COLUMNS)}"
            )
        cells = _Cells(dict(zip(LEDGER_CSV_COLUMNS, record, strict=True)), line=line)
        row = _row(cells)
        if cells.micros("cost_usd") != row.cost_micros:
            raise CsvFormatError(f"line {line}: cost_usd does not match cost_micros")
        rows.append(row)
    return rows
