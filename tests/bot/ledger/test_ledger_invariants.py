"""Property: any sequence of reserve / settle / release / recover neither loses nor makes money."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from bot.ledger import BudgetLedger, EntryIn, Refused, Reserved, transaction
from bot.ledger.tables import LedgerEntry
from tests.bot.ledger.support import AT, counters_match_rows

BUDGET = 1_000_000
USERS = ("U1", "U2", "U3")

reserve_op = st.tuples(
    st.just("reserve"),
    st.sampled_from(USERS),
    st.integers(min_value=0, max_value=400_000),
    st.integers(min_value=0, max_value=45),  # days after AT: spans two months
)
settle_op = st.tuples(
    st.just("settle"),
    st.integers(min_value=0, max_value=20),
    st.lists(st.integers(min_value=0, max_value=500_000), max_size=3),
)
release_op = st.tuples(st.just("release"), st.integers(min_value=0, max_value=20))
recover_op = st.tuples(st.just("recover"))
operations = st.lists(st.one_of(reserve_op, settle_op, release_op, recover_op), max_size=12)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=operations)
async def test_counters_always_equal_rows_and_money_is_conserved(
    ledger: BudgetLedger, engine: AsyncEngine, ops: list[tuple[object, ...]]
) -> None:
    """Counters equal ledger rows plus open reservations; refusals match a model of the budget."""
    workspace = f"T{uuid.uuid4().hex[:12]}"  # examples share the database, not the workspace
    try:
        await _run(ledger, engine, workspace, ops)
    finally:
        # recover_interrupted spans the database: leave no open reservation to the next example.
        await ledger.recover_interrupted(at=AT + timedelta(days=90), older_than=timedelta(0))


async def _run(
    ledger: BudgetLedger, engine: AsyncEngine, workspace: str, ops: list[tuple[object, ...]]
) -> None:
    for user in USERS:
        await ledger.set_budget(
            workspace_id=workspace, user_id=user, amount_micros=BUDGET, set_by="test", at=AT
        )
    keys: list[str] = []
    info: dict[str, tuple[str, str, int]] = {}  # key -> (user, month, estimate)
    state: dict[str, str] = {}  # key -> open / settled / released / interrupted
    interrupted_cost: dict[str, int] = {}
    consumed: dict[tuple[str, str], int] = defaultdict(int)  # (user, month) -> micros
    spent = 0  # what the ledger rows must add up to
    for op in ops:
        if op[0] == "reserve":
            _, user, estimate, days = op
            assert isinstance(user, str)
            assert isinstance(estimate, int)
            assert isinstance(days, int)
            at = AT + timedelta(days=days)
            key = f"{workspace}-{len(keys)}"
            result = await ledger.reserve(
                key=key, workspace_id=workspace, user_id=user, estimate_micros=estimate, at=at
            )
            month = ledger.month_of(at)
            fits = consumed[(user, month)] + estimate <= BUDGET
            assert isinstance(result, Reserved) == fits
            assert isinstance(result, Reserved | Refused)
            if fits:
                keys.append(key)
                info[key] = (user, month, estimate)
                state[key] = "open"
                consumed[(user, month)] += estimate
        elif op[0] == "settle" and keys:
            _, index, costs = op
            assert isinstance(index, int)
            assert isinstance(costs, list)
            key = keys[index % len(keys)]
            user, month, estimate = info[key]
            entries = [
                EntryIn(idempotency_key=f"{key}:{j}", model_id="m", cost_micros=cost)
                for j, cost in enumerate(costs)
            ]
            settled = await ledger.settle(key, entries=entries, at=AT + timedelta(days=50))
            if state[key] == "settled":
                assert settled.duplicate
                assert settled.entries_written == 0
                continue
            total = sum(costs)
            before = {"open": estimate, "released": 0, "interrupted": interrupted_cost.get(key, 0)}
            consumed[(user, month)] += total - before[state[key]]
            spent += total - (interrupted_cost.get(key, 0) if state[key] == "interrupted" else 0)
            state[key] = "settled"
        elif op[0] == "release" and keys:
            _, index = op
            assert isinstance(index, int)
            key = keys[index % len(keys)]
            released = await ledger.release(key, at=AT + timedelta(days=50))
            assert released == (state[key] == "open")
            if released:
                user, month, estimate = info[key]
                consumed[(user, month)] -= estimate
                state[key] = "released"
        elif op[0] == "recover":
            opened = [k for k in keys if state[k] == "open"]
            recovered = await ledger.recover_interrupted(
                at=AT + timedelta(days=60), older_than=timedelta(0)
            )
            assert recovered == len(opened)
            for key in opened:
                state[key] = "interrupted"
                interrupted_cost[key] = info[key][2]
                spent += info[key][2]

    await counters_match_rows(engine, workspace_id=workspace)
    async with transaction(engine, write=False) as session:
        total = (
            await session.exec(
                select(func.coalesce(func.sum(LedgerEntry.cost_micros), 0)).where(
                    LedgerEntry.workspace_id == workspace
                )
            )
        ).one()
    assert total == spent
    for (user, month), expected in consumed.items():
        at = AT.replace(year=int(month[:4]), month=int(month[5:]), day=1)
        state_user, _ = await ledger.state(workspace_id=workspace, user_id=user, at=at)
        assert state_user.consumed_micros == expected
