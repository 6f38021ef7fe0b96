"""Helpers shared by the spend report tests: rate cards, and ledger rows written straight in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

import router
from bot.ledger.engine import transaction
from bot.ledger.tables import LedgerEntry, Workspace
from router.card import RateCard, parse_card

__all__ = ["Row", "card", "insert_rows"]


def card(name: str = "current-2026-11") -> RateCard:
    """A rate card that ships with the product."""
    path = Path(router.__file__).parent / "cards" / f"{name}.toml"
    return parse_card(path.read_text(encoding="utf-8"), source=path.name)


@dataclass(frozen=True, kw_only=True)
class Row:
    """A ledger row to write directly (what the reports read)."""

    user_id: str
    model_id: str
    cost_micros: int
    created_at: datetime
    images: int = 1
    tier: str | None = "economy"
    channel_id: str | None = "C1"
    image_size: str | None = "1K"
    batch: bool = False
    month: str | None = None  # default: the month of created_at in the test's time zone


async def insert_rows(
    engine: AsyncEngine, rows: Sequence[Row], *, workspace_id: str, tz: ZoneInfo, at: datetime
) -> None:
    """Write ``rows`` (and their workspace) in one transaction."""
    async with transaction(engine) as session:
        if await session.get(Workspace, workspace_id) is None:
            session.add(Workspace(id=workspace_id, created_at=at))
            await session.flush()
        for number, row in enumerate(rows):
            session.add(
                LedgerEntry(
                    idempotency_key=f"{workspace_id}:{number}",
                    workspace_id=workspace_id,
                    user_id=row.user_id,
                    channel_id=row.channel_id,
                    model_id=row.model_id,
                    tier=row.tier,
                    images=row.images,
                    image_size=row.image_size,
                    batch=row.batch,
                    cost_micros=row.cost_micros,
                    month=row.month or row.created_at.astimezone(tz).strftime("%Y-%m"),
                    created_at=row.created_at,
                )
            )
