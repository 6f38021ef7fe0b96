"""Shared constants and checks of the ledger tests."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from bot.ledger import WORKSPACE_SCOPE, transaction
from bot.ledger.tables import LedgerEntry, Reservation, SpendCounter

#: A fixed "now" for ledger tests: 20 November 2026, noon UTC.
AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
USER_BUDGET = 10_000_000  # $10
WORKSPACE = "T1"


async def counters_match_rows(engine: AsyncEngine, *, workspace_id: str) -> dict[str, int]:
    """Assert every spend counter equals its ledger rows plus its open reservations.

    Returns the workspace totals per month (settled + reserved) for further checks.
    """
    async with transaction(engine, write=False) as session:
        counters = (
            await session.exec(
                select(SpendCounter).where(SpendCounter.workspace_id == workspace_id)
            )
        ).all()
        entries = (
            await session.exec(select(LedgerEntry).where(LedgerEntry.workspace_id == workspace_id))
        ).all()
        reservations = (
            await session.exec(select(Reservation).where(Reservation.workspace_id == workspace_id))
        ).all()
    settled: dict[tuple[str, str], int] = defaultdict(int)
    reserved: dict[tuple[str, str], int] = defaultdict(int)
    for entry in entries:
        settled[(entry.user_id, entry.month)] += entry.cost_micros
        settled[(WORKSPACE_SCOPE, entry.month)] += entry.cost_micros
    for res in reservations:
        if res.state == "open":
            reserved[(res.user_id, res.month)] += res.estimate_micros
            reserved[(WORKSPACE_SCOPE, res.month)] += res.estimate_micros
    seen = set()
    totals: dict[str, int] = {}
    for counter in counters:
        key = (counter.scope, counter.month)
        seen.add(key)
        assert counter.settled_micros == settled[key], key
        assert counter.reserved_micros == reserved[key], key
        if counter.scope == WORKSPACE_SCOPE:
            totals[counter.month] = counter.settled_micros + counter.reserved_micros
    # No ledger row or open reservation lacks a counter.
    assert {k for k, v in settled.items() if v} <= seen
    assert {k for k, v in reserved.items() if v} <= seen
    return totals
