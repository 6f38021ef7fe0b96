"""Small SQL helpers shared by the ledger stores (dialect-specific statements live here only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, literal_column
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.dml import Insert
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.ledger.tables import LedgerModel

__all__ = ["insert_ignore"]


def _insert_ignore_statement(
    dialect: str, model: type[LedgerModel], values: dict[str, Any]
) -> Insert:
    if dialect == "postgresql":
        return pg_insert(model).values(**values).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite_insert(model).values(**values).on_conflict_do_nothing()
    raise ValueError(f"unsupported database dialect {dialect!r}")


async def insert_ignore(
    session: AsyncSession, dialect: str, model: type[LedgerModel], values: dict[str, Any]
) -> bool:
    """Insert one row unless a unique key already holds it; True when this call inserted it.

    The database decides (``ON CONFLICT DO NOTHING``), so this is safe across replicas.
    """
    # RETURNING, not rowcount: asyncpg reports no row count for INSERT.
    statement = _insert_ignore_statement(dialect, model, values)
    result = await session.exec(statement.returning(literal_column("1", Integer)))
    return result.first() is not None
