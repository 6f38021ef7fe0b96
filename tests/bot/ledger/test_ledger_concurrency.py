"""Exactness under concurrency: tasks, two OS processes, and a process killed mid-request."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.ledger import BudgetLedger, Refused, ReservationState, Reserved, make_engine, upgrade
from tests.bot.ledger.support import AT, WORKSPACE, counters_match_rows

ROOT = Path(__file__).resolve().parents[3]
ESTIMATE = 100_000  # matches ledger_worker.ESTIMATE


async def _room_for_ten(ledger: BudgetLedger) -> None:
    await ledger.set_budget(
        workspace_id=WORKSPACE, user_id="U1", amount_micros=10 * ESTIMATE, set_by="test", at=AT
    )


async def test_fifty_concurrent_reserves_fill_exactly_ten(
    ledger: BudgetLedger, engine: AsyncEngine
) -> None:
    """50 concurrent reserves with room for 10 end with exactly 10 reserved and 40 refused."""
    await _room_for_ten(ledger)
    results = await asyncio.gather(
        *(
            ledger.reserve(
                key=f"k{i}", workspace_id=WORKSPACE, user_id="U1", estimate_micros=ESTIMATE, at=AT
            )
            for i in range(50)
        )
    )
    assert sum(isinstance(r, Reserved) for r in results) == 10
    assert sum(isinstance(r, Refused) for r in results) == 40
    user, _ = await ledger.state(workspace_id=WORKSPACE, user_id="U1", at=AT)
    assert user.consumed_micros == 10 * ESTIMATE
    await counters_match_rows(engine, workspace_id=WORKSPACE)


def _worker(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.bot.ledger.ledger_worker", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _expect_line(proc: subprocess.Popen[str], expected: str) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line == expected, f"worker said {line!r} (exit code {proc.poll()})"


@pytest.mark.postgres
@pytest.mark.slow
async def test_two_processes_share_one_budget(pg_url: str) -> None:
    """Two OS processes firing 25 reserves each on one PostgreSQL reserve exactly 10 in total."""
    await upgrade(pg_url)
    engine = make_engine(pg_url)
    try:
        ledger = BudgetLedger(
            engine,
            tz=ZoneInfo("UTC"),
            default_user_budget_micros=None,
            workspace_budget_micros=None,
        )
        await _room_for_ten(ledger)
        workers = [_worker("reserve", pg_url, name, "25") for name in ("a", "b")]
        try:
            for proc in workers:
                await asyncio.to_thread(_expect_line, proc, "ready")
            for proc in workers:  # both are connected and waiting: start them together
                assert proc.stdin is not None
                proc.stdin.write("go\n")
                proc.stdin.flush()
            outputs = [await asyncio.to_thread(proc.communicate) for proc in workers]
        finally:
            for proc in workers:
                if proc.poll() is None:
                    proc.kill()
                    await asyncio.to_thread(proc.communicate)
        counts = [dict(part.split("=") for part in out.split()) for out, _ in outputs]
        assert all(proc.returncode == 0 for proc in workers)
        assert sum(int(c["reserved"]) for c in counts) == 10
        assert sum(int(c["refused"]) for c in counts) == 40
        user, _ = await ledger.state(workspace_id=WORKSPACE, user_id="U1", at=AT)
        assert user.consumed_micros == 10 * ESTIMATE
        await counters_match_rows(engine, workspace_id=WORKSPACE)
    finally:
        await engine.dispose()


@pytest.mark.slow
async def test_a_killed_process_leaves_no_hanging_reservation(
    migrated_db_url: str, ledger: BudgetLedger, engine: AsyncEngine
) -> None:
    """A process killed between reserve and settle is settled at its estimate on the next start."""
    proc = _worker("hang", migrated_db_url, "crashed")
    try:
        await asyncio.to_thread(_expect_line, proc, "reserved")
    finally:
        proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(proc.communicate)  # reaps it and closes the pipes
    assert proc.returncode == -signal.SIGKILL
    before = await ledger.reservation("crashed")
    assert before is not None
    assert before.state == ReservationState.OPEN
    assert await ledger.recover_interrupted(at=AT + timedelta(hours=1)) == 1
    after = await ledger.reservation("crashed")
    assert after is not None
    assert after.state == ReservationState.INTERRUPTED
    user, _ = await ledger.state(workspace_id=WORKSPACE, user_id="U1", at=AT)
    assert user.consumed_micros == ESTIMATE  # counted, not lost, not doubled
    await counters_match_rows(engine, workspace_id=WORKSPACE)
