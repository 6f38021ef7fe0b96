"""Errors of the ledger package.

::

    LedgerError                 base: anything the ledger refuses to do
    ├── SchemaTooNew            the database was migrated by a newer imagebot than this one
    ├── SchemaNotReady          the database has not been migrated to this imagebot's schema yet
    ├── UnknownReservation      settle() was called for a key that was never reserved
    └── UnknownIncreaseRequest  a budget increase request id that does not exist
"""

from __future__ import annotations

__all__ = [
    "LedgerError",
    "SchemaNotReady",
    "SchemaTooNew",
    "UnknownIncreaseRequest",
    "UnknownReservation",
]


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose."""


class SchemaTooNew(LedgerError):
    """Raised by ``check_schema``/``upgrade`` when the database's revision is unknown to this code.

    This happens when a newer imagebot migrated the database; running an older one against it
    could corrupt data, so we stop.
    """

    def __init__(self, *, revision: str, head: str) -> None:
        self.revision = revision
        self.head = head
        super().__init__(
            f"database schema {revision} is newer than this imagebot (knows {head}); "
            "upgrade imagebot or point IMAGEBOT_DATABASE_URL elsewhere"
        )


class SchemaNotReady(LedgerError):
    """Raised by ``check_schema(url, require_head=True)`` when migrations are still pending."""

    def __init__(self, *, revision: str | None, head: str) -> None:
        self.revision = revision
        self.head = head
        super().__init__(
            f"database schema is at {revision or 'nothing'} but this imagebot needs {head}; "
            "run `imagebot migrate`"
        )


class UnknownReservation(LedgerError):
    """Raised by ``BudgetLedger.settle`` for a key that ``reserve`` never saw (a caller bug)."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"no reservation with key {key!r}")


class UnknownIncreaseRequest(LedgerError):
    """Raised when deciding a budget increase request id that does not exist."""

    def __init__(self, request_id: int) -> None:
        self.request_id = request_id
        super().__init__(f"no budget increase request #{request_id}")
