"""A separate OS process for the ledger's cross-process tests (run with ``python FILE ...``).

``reserve URL PREFIX COUNT``: builds the ledger, prints ``ready``, waits for a line on stdin (so
two workers start together), fires COUNT concurrent reserves of $0.10 for user U1 of workspace
T1, prints ``reserved=N refused=M`` and exits.

``hang URL KEY``: reserves KEY, prints ``reserved`` and waits on stdin until it is killed.
"""

from __future__ import annotations

import asyncio
import sys
from zoneinfo import ZoneInfo

from bot.ledger import BudgetLedger, Reserved, make_engine
from tests.bot.ledger.support import AT, WORKSPACE

ESTIMATE = 100_000


async def reserve_many(url: str, prefix: str, count: int) -> None:
    """Fire ``count`` concurrent reserves once stdin says go."""
    engine = make_engine(url)
    ledger = BudgetLedger(
        engine, tz=ZoneInfo("UTC"), default_user_budget_micros=None, workspace_budget_micros=None
    )
    try:
        await ledger.state(workspace_id=WORKSPACE, user_id="U1", at=AT)  # warm the pool
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        results = await asyncio.gather(
            *(
                ledger.reserve(
                    key=f"{prefix}-{i}",
                    workspace_id=WORKSPACE,
                    user_id="U1",
                    estimate_micros=ESTIMATE,
                    at=AT,
                )
                for i in range(count)
            )
        )
        reserved = sum(isinstance(r, Reserved) for r in results)
        print(f"reserved={reserved} refused={count - reserved}", flush=True)
    finally:
        await engine.dispose()


async def hang(url: str, key: str) -> None:
    """Reserve ``key`` and never settle it (the test kills this process)."""
    engine = make_engine(url)
    ledger = BudgetLedger(
        engine, tz=ZoneInfo("UTC"), default_user_budget_micros=None, workspace_budget_micros=None
    )
    result = await ledger.reserve(
        key=key, workspace_id=WORKSPACE, user_id="U1", estimate_micros=ESTIMATE, at=AT
    )
    assert isinstance(result, Reserved)
    print("reserved", flush=True)
    await asyncio.to_thread(sys.stdin.readline)


def main(argv: list[str]) -> None:
    """Dispatch on the first argument."""
    if argv[0] == "reserve":
        asyncio.run(reserve_many(argv[1], argv[2], int(argv[3])))
    elif argv[0] == "hang":
        asyncio.run(hang(argv[1], argv[2]))
    else:
        raise SystemExit(f"unknown command {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
