"""Budget alerts: who hears what at which threshold, once per month, across replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.alerts import (
    Audience,
    BudgetFigures,
    Notice,
    check_thresholds,
    deliver_notices,
)
from bot.ledger.alerts import AlertStore
from bot.ledger.budgets import BudgetLedger
from bot.ledger.engine import make_engine, upgrade
from bot.ledger.tables import WORKSPACE_SCOPE
from bot.reports import ASK_MORE_ACTION, Block
from router.budget import BudgetState
from tests.pg import create_pg_database, drop_pg_database

AT = datetime(2026, 11, 20, 12, tzinfo=UTC)
BUDGET = 50_000_000
UNLIMITED = BudgetFigures(consumed_micros=10**12, budget_micros=None)


class MemoryClaims:
    """Claims kept in a set: what the ledger's unique row does, for one process."""

    def __init__(self) -> None:
        self.claimed: set[tuple[str, str, str, int]] = set()

    async def claim_alert(
        self, *, workspace_id: str, scope: str, month: str, threshold: int, at: datetime
    ) -> bool:
        key = (workspace_id, scope, month, threshold)
        if key in self.claimed:
            return False
        self.claimed.add(key)
        return True


async def _check(
    claims: MemoryClaims | AlertStore,
    *,
    user_spent: int,
    workspace_spent: int = 0,
    workspace_budget: int | None = None,
    month: str = "2026-11",
) -> tuple[Notice, ...]:
    return await check_thresholds(
        claims=claims,
        workspace_id="T1",
        user_id="U1",
        month=month,
        user=BudgetFigures(consumed_micros=user_spent, budget_micros=BUDGET),
        workspace=BudgetFigures(consumed_micros=workspace_spent, budget_micros=workspace_budget),
        at=AT,
    )


async def test_user_hears_at_50_90_and_100_percent_once_each() -> None:
    """Each user threshold is told once per month, in order, and never again."""
    claims = MemoryClaims()
    heard = []
    for spent in (
        10_000_000,
        25_000_000,
        30_000_000,
        45_000_000,
        46_000_000,
        50_000_000,
        60_000_000,
    ):
        heard += [(n.audience, n.threshold) for n in await _check(claims, user_spent=spent)]
    assert heard == [(Audience.USER, 50), (Audience.USER, 90), (Audience.USER, 100)]


async def test_a_jump_past_several_thresholds_tells_only_the_highest() -> None:
    """Going from 0 to 95% says "90%" once and 50% never fires later."""
    claims = MemoryClaims()
    [notice] = await _check(claims, user_spent=47_500_000)
    assert notice.threshold == 90
    assert "90% of your image budget for November ($47.50 of $50.00)" in notice.text
    assert await _check(claims, user_spent=48_000_000) == ()
    assert ("T1", "U1", "2026-11", 50) in claims.claimed


async def test_the_100_percent_notice_offers_to_ask_for_more() -> None:
    """At 100% the user's notice carries the Ask-for-more button."""
    [notice] = await _check(MemoryClaims(), user_spent=BUDGET)
    actions = [b for b in notice.blocks if b["type"] == "actions"]
    assert actions[0]["elements"][0]["action_id"] == ASK_MORE_ACTION
    assert "until December 1" in notice.text


async def test_a_new_month_starts_over() -> None:
    """The same threshold fires again in the next month."""
    claims = MemoryClaims()
    assert len(await _check(claims, user_spent=30_000_000, month="2026-11")) == 1
    assert len(await _check(claims, user_spent=30_000_000, month="2026-12")) == 1


async def test_unlimited_or_unspent_budgets_never_alert() -> None:
    """No budget, or nothing spent against a zero budget, says nothing."""
    claims = MemoryClaims()
    notices = await check_thresholds(
        claims=claims,
        workspace_id="T1",
        user_id="U1",
        month="2026-11",
        user=UNLIMITED,
        workspace=UNLIMITED,
        at=AT,
    )
    zero = BudgetFigures(consumed_micros=0, budget_micros=0)
    notices += await check_thresholds(
        claims=claims,
        workspace_id="T1",
        user_id="U1",
        month="2026-11",
        user=zero,
        workspace=zero,
        at=AT,
    )
    assert notices == ()
    assert claims.claimed == set()


async def test_workspace_thresholds_tell_the_managers() -> None:
    """The workspace at 90% and 100% is told to managers, with what to do."""
    claims = MemoryClaims()
    ninety = await _check(
        claims, user_spent=0, workspace_spent=1_800_000_000, workspace_budget=2_000_000_000
    )
    full = await _check(
        claims, user_spent=0, workspace_spent=2_000_000_000, workspace_budget=2_000_000_000
    )
    assert [(n.audience, n.threshold, n.user_id) for n in ninety + full] == [
        (Audience.MANAGERS, 90, WORKSPACE_SCOPE),
        (Audience.MANAGERS, 100, WORKSPACE_SCOPE),
    ]
    assert "`/spend budget team 2500`" in full[0].text


async def test_router_budget_states_are_accepted() -> None:
    """check_thresholds takes router.BudgetState values as they come from the ledger."""
    notices = await check_thresholds(
        claims=MemoryClaims(),
        workspace_id="T1",
        user_id="U1",
        month="2026-11",
        user=BudgetState(consumed_micros=BUDGET, budget_micros=BUDGET, scope="user"),
        workspace=BudgetState(consumed_micros=0, budget_micros=None, scope="workspace"),
        at=AT,
    )
    assert [n.threshold for n in notices] == [100]


class RecordingNotifier:
    """Collects DMs; fails for one chosen user."""

    def __init__(self, *, failing: str | None = None) -> None:
        self.sent: list[tuple[str, str]] = []
        self.failing = failing

    async def dm(self, user_id: str, text: str, blocks: tuple[Block, ...]) -> None:
        if user_id == self.failing:
            raise RuntimeError("channel_not_found")
        self.sent.append((user_id, text))


async def test_delivery_sends_user_notices_to_the_user_and_workspace_ones_to_managers() -> None:
    """User notices go to the user; workspace notices to every manager, despite one failure."""
    claims = MemoryClaims()
    notices = await _check(
        claims, user_spent=BUDGET, workspace_spent=2_000_000_000, workspace_budget=2_000_000_000
    )
    notifier = RecordingNotifier(failing="M2")
    sent = await deliver_notices(notices, notifier=notifier, managers=["M1", "M2", "M3", "M1"])
    assert sent == 3
    assert [user for user, _ in notifier.sent] == ["U1", "M1", "M3"]


@pytest.fixture
async def two_engines_on_postgres() -> AsyncIterator[tuple[AlertStore, AlertStore]]:
    """Two separate engines (as two replicas would have) on one migrated PostgreSQL database."""
    url = await create_pg_database()
    try:
        await upgrade(url)
        engines = [make_engine(url, pool_size=5), make_engine(url, pool_size=5)]
        stores = tuple(
            AlertStore(
                engine,
                budgets=BudgetLedger(
                    engine,
                    tz=ZoneInfo("UTC"),
                    default_user_budget_micros=BUDGET,
                    workspace_budget_micros=None,
                ),
            )
            for engine in engines
        )
        try:
            yield stores[0], stores[1]
        finally:
            for engine in engines:
                await engine.dispose()
    finally:
        await drop_pg_database(url)


@pytest.mark.postgres
async def test_alerts_fire_once_across_two_engines_on_postgres(
    two_engines_on_postgres: tuple[AlertStore, AlertStore],
) -> None:
    """Twenty concurrent settlements on two replicas earn each notice exactly once."""
    first, second = two_engines_on_postgres
    results = await asyncio.gather(
        *(
            _check(
                (first, second)[n % 2],
                user_spent=BUDGET,
                workspace_spent=2_000_000_000,
                workspace_budget=2_000_000_000,
            )
            for n in range(20)
        )
    )
    notices = [notice for result in results for notice in result]
    assert sorted((n.audience, n.threshold) for n in notices) == [
        (Audience.MANAGERS, 100),
        (Audience.USER, 100),
    ]
