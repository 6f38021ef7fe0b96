"""The batch job store and crash recovery's respect for batch reservations, on both engines."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.ledger import BudgetLedger, ReservationState
from bot.ledger.batches import OPEN_STATES, BatchJobState, BatchStore, NewBatchJob
from tests.bot.ledger.support import AT, WORKSPACE, counters_match_rows


def _job(key: str, **changes: object) -> NewBatchJob:
    values: dict[str, object] = {
        "key": key,
        "workspace_id": WORKSPACE,
        "user_id": "U1",
        "model_id": "gemini-3.1-flash-image",
        "tier": "economy",
        "rate_card": "current-2026-11",
        "image_size": "1K",
        "aspect_ratio": "1:1",
        "thinking_level": "minimal",
        "prompts": ("red sneaker", "blue sneaker"),
        "reservation_key": f"batch:{key}",
        "estimate_micros": 70_000,
        "output_dir": f"batches/{key}",
    }
    values.update(changes)
    return NewBatchJob(**values)  # type: ignore[arg-type]


async def test_create_is_idempotent_and_times_are_utc(engine: AsyncEngine) -> None:
    """The same key creates one row; the second call gets the first row back, UTC-aware."""
    store = BatchStore(engine)
    first, created = await store.create(_job("j1"), at=AT)
    again, created_again = await store.create(_job("j1", estimate_micros=1), at=AT)
    assert (created, created_again) == (True, False)
    assert again == first
    assert first.state is BatchJobState.SUBMITTING
    assert first.rate_card == "current-2026-11"
    assert first.prompts == ("red sneaker", "blue sneaker") and first.request_count == 2
    assert first.created_at == AT and first.created_at.tzinfo == UTC
    assert (first.name, first.submitted_at, first.finished_at) == (None, None, None)
    assert await store.get("j1") == first
    assert await store.get("nope") is None


async def test_mark_records_name_counts_and_finish(engine: AsyncEngine) -> None:
    """Marking records the Google name with its time and a finished state with finished_at."""
    store = BatchStore(engine)
    await store.create(_job("j1"), at=AT)
    later = AT + timedelta(minutes=1)
    pending = await store.mark("j1", state=BatchJobState.PENDING, at=later, name="batches/abc")
    assert pending is not None
    assert (pending.name, pending.submitted_at, pending.finished_at) == ("batches/abc", later, None)
    done_at = AT + timedelta(hours=3)
    done = await store.mark(
        "j1",
        state=BatchJobState.DONE,
        at=done_at,
        actual_micros=65_000,
        succeeded_count=2,
        failed_count=0,
    )
    assert done is not None
    assert (done.state, done.actual_micros, done.succeeded_count) == (BatchJobState.DONE, 65_000, 2)
    assert done.finished_at == done_at and done.submitted_at == later
    assert await store.mark("missing", state=BatchJobState.DONE, at=done_at) is None


async def test_mark_only_from_refuses_a_job_moved_elsewhere(engine: AsyncEngine) -> None:
    """With only_from, a job another replica already finished is left as it is."""
    store = BatchStore(engine)
    await store.create(_job("j1"), at=AT)
    await store.mark("j1", state=BatchJobState.EXPIRED, at=AT)
    moved = await store.mark(
        "j1", state=BatchJobState.DONE, at=AT, only_from=(BatchJobState.PENDING,)
    )
    assert moved is None
    job = await store.get("j1")
    assert job is not None and job.state is BatchJobState.EXPIRED


async def test_list_open_returns_unfinished_jobs_oldest_first(engine: AsyncEngine) -> None:
    """list_open holds submitting, pending and running jobs only, oldest first."""
    store = BatchStore(engine)
    for minutes, key in ((3, "c"), (1, "a"), (2, "b"), (4, "d")):
        await store.create(_job(key), at=AT + timedelta(minutes=minutes))
    await store.mark("b", state=BatchJobState.RUNNING, at=AT)
    await store.mark("d", state=BatchJobState.DONE, at=AT)
    assert [job.key for job in await store.list_open()] == ["a", "b", "c"]
    assert {job.state.value for job in await store.list_open()} <= set(OPEN_STATES)
    assert [job.key for job in await store.list_recent(limit=2)] == ["d", "c"]


async def test_recovery_skips_reservations_of_open_batch_jobs(
    engine: AsyncEngine, ledger: BudgetLedger
) -> None:
    """recover_interrupted leaves an open batch job's reservation alone, and sweeps it (at the
    estimate) only once the job is finished but the reservation was somehow left open."""
    store = BatchStore(engine)
    job, _ = await store.create(_job("j1"), at=AT)
    await ledger.reserve(
        key=job.reservation_key,
        workspace_id=WORKSPACE,
        user_id="U1",
        estimate_micros=job.estimate_micros,
        at=AT,
    )
    await store.mark("j1", state=BatchJobState.PENDING, at=AT, name="batches/abc")
    assert await ledger.recover_interrupted(at=AT + timedelta(hours=47)) == 0
    held = await ledger.reservation(job.reservation_key)
    assert held is not None and held.state == ReservationState.OPEN.value
    await store.mark("j1", state=BatchJobState.FAILED, at=AT + timedelta(hours=48))
    assert await ledger.recover_interrupted(at=AT + timedelta(hours=49)) == 1
    swept = await ledger.reservation(job.reservation_key)
    assert swept is not None and swept.state == ReservationState.INTERRUPTED.value
    await counters_match_rows(engine, workspace_id=WORKSPACE)


@pytest.mark.parametrize("state", [BatchJobState.SUBMITTING, BatchJobState.RUNNING])
async def test_recovery_skips_submitting_and_running_jobs(
    engine: AsyncEngine, ledger: BudgetLedger, state: BatchJobState
) -> None:
    """A job still being submitted or running keeps its reservation through recovery."""
    store = BatchStore(engine)
    job, _ = await store.create(_job("j1"), at=AT)
    await ledger.reserve(
        key=job.reservation_key, workspace_id=WORKSPACE, user_id="U1", estimate_micros=1, at=AT
    )
    if state is not BatchJobState.SUBMITTING:
        await store.mark("j1", state=state, at=AT)
    assert await ledger.recover_interrupted(at=AT + timedelta(hours=1)) == 0
