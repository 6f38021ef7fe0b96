"""Fixtures of the ledger tests: a migrated database on each engine, an engine, a ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.ledger import AlertStore, BudgetLedger, make_engine
from tests import pg
from tests.bot.ledger.support import USER_BUDGET

# Re-exported fixtures from tests/pg.py (assigned, not imported, so they may be parameter names).
db_url = pg.db_url
migrated_db_url = pg.migrated_db_url
pg_url = pg.pg_url


@pytest.fixture
async def engine(migrated_db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a freshly migrated database (SQLite and PostgreSQL)."""
    engine = make_engine(migrated_db_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def ledger(engine: AsyncEngine) -> BudgetLedger:
    """A ledger with a $10 default user budget and no workspace cap, months in UTC."""
    return BudgetLedger(
        engine,
        tz=ZoneInfo("UTC"),
        default_user_budget_micros=USER_BUDGET,
        workspace_budget_micros=None,
    )


@pytest.fixture
def alerts(engine: AsyncEngine, ledger: BudgetLedger) -> AlertStore:
    """The alert and increase-request store on the same database."""
    return AlertStore(engine, budgets=ledger)
