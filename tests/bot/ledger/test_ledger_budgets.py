"""BudgetLedger: reserve, settle, release, recover and budgets, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from bot.ledger import (
    BudgetLedger,
    EntryIn,
    Refused,
    ReservationState,
    Reserved,
    UnknownReservation,
    transaction,
)
from bot.ledger.tables import LedgerEntry
from router.usage import Usage
from tests.bot.ledger.support import AT, USER_BUDGET, WORKSPACE, counters_match_rows


def entry(key: str, cost: int, **kwargs: object) -> EntryIn:
    """A ledger entry for one billed call of the economy model."""
    return EntryIn(
        idempotency_key=key, model_id="gemini-2.5-flash-image", cost_micros=cost, **kwargs
    )  # type: ignore[arg-type]


async def reserve(
    ledger: BudgetLedger, key: str, estimate: int, *, user: str = "U1", at: datetime = AT
) -> Reserved | Refused:
    """Reserve for ``user`` in the test workspace."""
    return await ledger.reserve(
        key=key, workspace_id=WORKSPACE, user_id=user, estimate_micros=estimate, at=at
    )


async def rows(engine: AsyncEngine) -> list[LedgerEntry]:
    """Every ledger row, oldest first."""
    async with transaction(engine, write=False) as session:
        return list((await session.exec(select(LedgerEntry).order_by(LedgerEntry.id))).all())  # type: ignore[arg-type]


async def test_reserve_holds_the_estimate(ledger: BudgetLedger, engine: AsyncEngine) -> None:
    """A reservation within budget is counted in both the user's and the workspace's state."""
    result = await reserve(ledger, "r1", 134_000)
    assert isinstance(result, Reserved)
    assert not result.duplicate
    assert result.state is ReservationState.OPEN
    assert result.month == "2026-11"
    assert result.user.consumed_micros == 134_000
    assert result.user.budget_micros == USER_BUDGET
    user, workspace = await ledger.state(workspace_id=WORKSPACE, user_id="U1", at=AT)
    assert (user.consumed_micros, user.scope) == (134_000, "user")
    assert (workspace.consumed_micros, workspace.budget_micros, workspace.scope) == (
        134_000,
        None,
        "workspace",
    )
    await counters_match_rows(engine, workspace_id=WORKSPACE)


async def test_crossing_the_user_budget_is_refused(ledger: BudgetLedger) -> None:
    """A request that would cross 100% of the user's budget is refused with the figures."""
    assert isinstance(await reserve(ledger, "r1", 9_950_000), Reserved)
    refused = await reserve(ledger, "r2", 134_000)
    assert isinstance(refused, Refused)
    assert (refused.scope, refused.consumed_micros, refused.budget_micros, refused.left_micros) == (
        "user",
        9_950_000,
        USER_BUDGET,
        50_000,
    )
    assert "$0.134" in refused.message
    assert "$0.05 left" in refused.message
    user, _ = await ledger.state(workspace_id=WORKSPACE, user_id="U1", at=AT)
    assert user.consumed_micros == 9_950_000


async def test_workspace_budget_binds_across_users(engine: AsyncEngine) -> None:
    """The workspace budget is checked too: two users together cannot cross it."""
    ledger = BudgetLedger(
        engine,
        tz=ZoneInfo("UTC"),
        default_user_budget_micros=None,
        workspace_budget_micros=1_000_000,
    )
    assert isinstance(await reserve(ledger, "a", 600_000, user="U1"), Reserved)
    refused = await reserve(ledger, "b", 600_000, user="U2")
    assert isinstance(refused, Refused)
    assert refused.scope == "workspace"
    assert refused.left_micros == 400_000
    assert isinstance(await reserve(ledger, "c", 400_000, user="U2"), Reserved)


async def test_same_key_charges_once(ledger: BudgetLedger, engine: AsyncEngine) -> None:
    """Five concurrent reserves with one key hold the estimate once; four are duplicates."""
    results = await asyncio.gather(*(reserve(ledger, "same", 500_000) for _ in range(5)))
    assert all(isinstance(r, Reserved) for r in results)
    assert sorted(r.duplicate for r in results if isinstance(r, Reserved)) == [False] + [True] * 4
    user, _ = await ledger.state(workspace_id=WORKSPACE, user_id="U1", at=AT)
    assert user.consumed_micros == 500_000
    await counters_match_rows(engine, workspace_id=WORKSPACE)


async def test_settle_replaces_the_estimate_by_the_actual_cost(
    ledger: BudgetLedger, engine: AsyncEngine
) -> None:
    """Settling writes one row per call and moves the counters from the estimate to the total."""
    await reserve(ledger, "r1", 268_000)
    usage = Usage(input_tokens=600, output_image_tokens=1120, thinking_tokens=250)
    settled = await ledger.settle(
        "r1",
        entries=[
            entry("r1:0", 137_000, usage=usage, images=1, image_size="1K", tier="hero"),
            entry("r1:1", 2_000, possibly_billed=True),
        ],
        at=AT + timedelta(seconds=30),
    )
    assert (settled.total_micros, settled.entries_written, settled.duplicate) == (139_000, 2, False)
    user, workspace = await ledger.state(workspace_id=WORKSPACE, user_id="U1", at=AT)
    assert user.consumed_micros == workspace.consumed_micros == 139_000
    written = await rows(engine)
    assert [(r.idempotency_key, r.cost_micros, r.request_key) for r in written] == [
        ("r1:0", 137_000, "r1"),
        ("r1:1", 2_000, "r1"),
    ]
    first = written[0]
    assert (first.output_image_tokens, first.thinking_tokens, first.images, first.tier) == (
        1120,
        250,
        1,
        "hero",
    )
    assert written[1].possibly_billed
    assert not first.interrupted
    await counters_match_rows(engine, workspace_id=WORKSPACE)


async def test_repeated_settle_is_a_no_op(ledger: BudgetLedger, engine: AsyncEngine) -> None:
    """A second settle of the same key writes nothing and charges nothing."""
    await reserve(ledger, "r1", 100_000)
    await ledger.settle("r1", entries=[entry("r1:0", 90_000)], at=AT)
    again = await ledger.settle("r1", entries=[entry("r1:0", 90_000), entry("r1:9", 1)], at=AT)
    assert (again.duplicate, again.entries_written, again.total_micros) == (True, 0, 90_000)
    assert len(await rows(engine)) == 1
    user, _ = await ledger.state(workspace_id=WORKSPACE, user_id="U1", at=AT)
    assert user.consumed_micros == 90_000


async def test_settle_of_an_unknown_key_raises(ledger: BudgetLedger) -> None:
    """Settling a key that was never reserved is a caller bug and says so."""
    with pytest.raises(UnknownReservation, match="nope"):
        await ledger.settle("nope", entries=[entry("x", 1)], at=AT)


async def test_release_gives_the_money_back_once(ledger: BudgetLedger, engine: AsyncEngine) -> None:
    """Release frees an open reservation once; later releases and unknown keys change nothing."""
    await reserve(ledger, "r1", 400_000)
    assert await ledger.release("r1", at=AT)
    assert not await ledger.release("r1", at=AT)
    assert not await ledger.release("never", at=AT)
    user, _ = await ledger.state(workspace_id=WORKSPACE, user_id="U1", at=AT)
    assert user.consumed_micros == 0
    await counters_match_rows(engine, workspace_id=WORKSPACE)


async def test_release_after_settle_changes_nothing(ledger: BudgetLedger) -> None:
    """A settled reservation cannot be released (the cost stays on the books)."""
    await reserve(ledger, "r1", 400_000)
    await ledger.settle("r1", entries=[entry("r1:0", 300_000)], at=AT)
    assert not await ledger.release("r1", at=AT)
    user, _ = await ledger.state(workspace_id=WORKSPACE, user_id="U1", at=AT)
    assert user.consumed_micros == 300_000


async def test_settle_after_release_still_records_the_cost(
    ledger: BudgetLedger, engine: AsyncEngine
) -> None:
    """A cost reported after a release is still recorded: spend is never under-counted."""
    await reserve(ledger, "r1", 400_000)
    await ledger.release("r1", at=AT)
    await ledger.settle("r1", entries=[entry("r1:0", 39_000)], at=AT)
    user, _ = await ledger.state(workspace_id=WORKSPACE, user_id="U1", at=AT)
    assert user.consumed_micros == 39_000
    await counters_match_rows(engine, workspace_id=WORKSPACE)


async def test_recover_settles_old_open_reservations_at_their_estimate(
    ledger: BudgetLedger, engine: AsyncEngine
) -> None:
    """Crash recovery writes one interrupted row per stale reservation and leaves fresh ones."""
    await ledger.reserve(
        key="old",
        workspace_id=WORKSPACE,
        user_id="U1",
        estimate_micros=134_000,
        at=AT,
        model_id="gemini-3-pro-image",
        tier="hero",
    )
    await reserve(ledger, "young", 39_000, at=AT + timedelta(minutes=55))
    later = AT + timedelta(hours=1)
    assert await ledger.recover_interrupted(at=later, older_than=timedelta(minutes=15)) == 1
    assert await ledger.recover_interrupted(at=later, older_than=timedelta(minutes=15)) == 0
    [row] = await rows(engine)
    assert (row.request_key, row.cost_micros, row.model_id, row.tier) == (
        "old",
        134_000,
        "gemini-3-pro-image",
        "hero",
    )
    assert row.interrupted
    assert row.possibly_billed
    old = await ledger.reservation("old")
    assert old is not None
    assert old.state == ReservationState.INTERRUPTED
    user, _ = await ledger.state(workspace_id=WORKSPACE, user_id="U1", at=AT)
    assert user.consumed_micros == 134_000 + 39_000
    await counters_match_rows(engine, workspace_id=WORKSPACE)


async def test_late_settle_replaces_an_interrupted_estimate(
    ledger: BudgetLedger, engine: AsyncEngine
) -> None:
    """If the real cost arrives after recovery, the estimate is reversed and the cost counted."""
    await reserve(ledger, "r1", 134_000)
    await ledger.recover_interrupted(at=AT + timedelta(hours=1))
    await ledger.settle("r1", entries=[entry("r1:0", 120_000)], at=AT + timedelta(hours=2))
    user, _ = await ledger.state(workspace_id=WORKSPACE, user_id="U1", at=AT)
    assert user.consumed_micros == 120_000
    assert sorted(r.cost_micros for r in await rows(engine)) == [-134_000, 120_000, 134_000]
    await counters_match_rows(engine, workspace_id=WORKSPACE)


async def test_months_follow_the_configured_time_zone(engine: AsyncEngine) -> None:
    """Spend is keyed by the calendar month in the configured zone: a new month starts fresh."""
    ledger = BudgetLedger(
        engine,
        tz=ZoneInfo("Europe/Paris"),
        default_user_budget_micros=1_000_000,
        workspace_budget_micros=None,
    )
    october_utc = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)  # already November in Paris
    reserved = await reserve(ledger, "late", 900_000, at=october_utc)
    assert isinstance(reserved, Reserved)
    assert reserved.month == "2026-11"
    user, _ = await ledger.state(workspace_id=WORKSPACE, user_id="U1", at=AT)
    assert user.consumed_micros == 900_000
    december = datetime(2026, 12, 1, 9, tzinfo=UTC)
    user, _ = await ledger.state(workspace_id=WORKSPACE, user_id="U1", at=december)
    assert user.consumed_micros == 0
    assert isinstance(await reserve(ledger, "dec", 900_000, at=december), Reserved)


async def test_budgets_have_history_and_month_overrides(ledger: BudgetLedger) -> None:
    """Standing budgets, per-month overrides and the configured default resolve in that order."""
    config = await ledger.budget_for(workspace_id=WORKSPACE, user_id="U1", month="2026-11")
    assert (config.amount_micros, config.source) == (USER_BUDGET, "config")
    await ledger.set_budget(
        workspace_id=WORKSPACE, user_id="U1", amount_micros=25_000_000, set_by="UADMIN", at=AT
    )
    standing = await ledger.budget_for(workspace_id=WORKSPACE, user_id="U1", month="2026-12")
    assert (standing.amount_micros, standing.source, standing.set_by) == (
        25_000_000,
        "standing",
        "UADMIN",
    )
    raised = await ledger.raise_for_month(
        workspace_id=WORKSPACE,
        user_id="U1",
        increase_micros=5_000_000,
        approved_by="UBOSS",
        at=AT,
        reason="launch week",
    )
    assert (raised.amount_micros, raised.source, raised.month) == (30_000_000, "month", "2026-11")
    december = await ledger.budget_for(workspace_id=WORKSPACE, user_id="U1", month="2026-12")
    assert december.amount_micros == 25_000_000
    user, _ = await ledger.state(workspace_id=WORKSPACE, user_id="U1", at=AT)
    assert user.budget_micros == 30_000_000


async def test_workspace_budget_and_unlimited(ledger: BudgetLedger) -> None:
    """The workspace budget is set with user_id=None; None means unlimited and stays so."""
    ws = await ledger.set_budget(
        workspace_id=WORKSPACE, user_id=None, amount_micros=2_000_000_000, set_by="cli", at=AT
    )
    assert ws.amount_micros == 2_000_000_000
    assert ws.user_id is None
    await ledger.set_budget(
        workspace_id=WORKSPACE, user_id="U1", amount_micros=None, set_by="cli", at=AT
    )
    raised = await ledger.raise_for_month(
        workspace_id=WORKSPACE, user_id="U1", increase_micros=1, approved_by="x", at=AT
    )
    assert raised.amount_micros is None
    assert isinstance(await reserve(ledger, "big", 500_000_000), Reserved)
    _, workspace = await ledger.state(workspace_id=WORKSPACE, user_id="U1", at=AT)
    assert workspace.budget_micros == 2_000_000_000


async def test_bad_inputs_are_refused(ledger: BudgetLedger) -> None:
    """Negative estimates, negative budgets and naive times raise ValueError."""
    with pytest.raises(ValueError, match="negative"):
        await reserve(ledger, "neg", -1)
    with pytest.raises(ValueError, match="naive"):
        await reserve(ledger, "naive", 1, at=datetime(2026, 11, 20))  # noqa: DTZ001
    with pytest.raises(ValueError, match="negative"):
        await ledger.set_budget(
            workspace_id=WORKSPACE, user_id="U1", amount_micros=-5, set_by="x", at=AT
        )
    with pytest.raises(ValueError, match="YYYY-MM"):
        await ledger.budget_for(workspace_id=WORKSPACE, user_id="U1", month="Nov 2026")
