"""Dedupe of Slack deliveries (event ids, action ids) across retries and replicas.

Slack retries events it thinks were not acknowledged, and with several replicas any of them may
receive the retry. :meth:`DeliveryStore.claim` inserts the key into a table whose primary key is
the key itself: exactly one caller, in any process, ever gets True.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from bot.ledger._sql import insert_ignore
from bot.ledger.engine import transaction
from bot.ledger.tables import ProcessedDelivery

__all__ = ["DeliveryStore"]


class DeliveryStore:
    """Remembers which deliveries were handled. The engine is owned by the caller."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    async def claim(self, key: str, *, at: datetime) -> bool:
        """True the first time ``key`` is claimed (handle it), False on every later claim."""
        async with transaction(self._engine) as session:
            return await insert_ignore(
                session, self._dialect, ProcessedDelivery, {"key": key, "created_at": at}
            )

    async def forget_before(self, at: datetime) -> int:
        """Drop claims older than ``at`` (Slack stops retrying after minutes); returns how many."""
        async with transaction(self._engine) as session:
            result = await session.exec(
                delete(ProcessedDelivery).where(col(ProcessedDelivery.created_at) < at)
            )
            return int(result.rowcount)
