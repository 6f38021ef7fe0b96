"""Batch API jobs in the database, so a job outlives the process that submitted it.

A job's life (``state``)::

    submitting ──> pending ──> running ──> done        results stored, reservation settled
        │            │            └──────> failed / cancelled / expired   (settled or released)
        │            └───────────────────> (same)
        ├──> failed   Google refused the job (nothing created, reservation released)
        └──> refused  the budget did not allow it (nothing reserved)

``submitting`` is written BEFORE Google is asked (creating a job is not idempotent), so a crash
between the two leaves a row the next poll resolves. While a job is open (:data:`OPEN_STATES`)
it owns its reservation: :meth:`bot.ledger.budgets.BudgetLedger.recover_interrupted` skips it.
Every time is UTC-aware and passed in.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from bot.ledger._sql import insert_ignore
from bot.ledger.engine import transaction
from bot.ledger.tables import BatchJob

__all__ = ["OPEN_STATES", "BatchJobInfo", "BatchJobState", "BatchStore", "NewBatchJob"]


class BatchJobState(enum.StrEnum):
    """Where a batch job stands (see the module docstring)."""

    SUBMITTING = "submitting"
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUSED = "refused"

    @property
    def open(self) -> bool:
        """True while the job may still produce results or cost money."""
        return self.value in OPEN_STATES


#: States of a job that is not finished: its reservation belongs to the batch poller.
OPEN_STATES: tuple[str, ...] = (
    BatchJobState.SUBMITTING.value,
    BatchJobState.PENDING.value,
    BatchJobState.RUNNING.value,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewBatchJob:
    """What is known about a job before it is submitted."""

    key: str
    workspace_id: str
    user_id: str
    model_id: str
    tier: str
    rate_card: str
    image_size: str | None
    aspect_ratio: str | None
    thinking_level: str | None
    prompts: tuple[str, ...]
    reservation_key: str
    estimate_micros: int
    output_dir: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchJobInfo:
    """A batch job as stored (a detached, immutable copy of its row).

    ``rate_card`` is the card it was quoted on (a builtin card's name or a card file's path);
    ``submitted_at`` is when Google accepted it (None while ``submitting``).
    """

    key: str
    name: str | None
    workspace_id: str
    user_id: str
    model_id: str
    tier: str
    rate_card: str
    image_size: str | None
    aspect_ratio: str | None
    thinking_level: str | None
    prompts: tuple[str, ...]
    reservation_key: str
    estimate_micros: int
    actual_micros: int | None
    succeeded_count: int
    failed_count: int
    state: BatchJobState
    output_dir: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    finished_at: datetime | None

    @property
    def request_count(self) -> int:
        """How many images the job asks for (one request per prompt)."""
        return len(self.prompts)


def _info(row: BatchJob) -> BatchJobInfo:
    return BatchJobInfo(
        key=row.key,
        name=row.name,
        workspace_id=row.workspace_id,
        user_id=row.user_id,
        model_id=row.model_id,
        tier=row.tier,
        rate_card=row.rate_card,
        image_size=row.image_size,
        aspect_ratio=row.aspect_ratio,
        thinking_level=row.thinking_level,
        prompts=tuple(row.prompts_json),
        reservation_key=row.reservation_key,
        estimate_micros=row.estimate_micros,
        actual_micros=row.actual_micros,
        succeeded_count=row.succeeded_count,
        failed_count=row.failed_count,
        state=BatchJobState(row.state),
        output_dir=row.output_dir,
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        submitted_at=row.submitted_at,
        finished_at=row.finished_at,
    )


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: pass a UTC-aware time")


class BatchStore:
    """Typed access to the ``batch_job`` table. The engine is owned by the caller."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    async def create(self, job: NewBatchJob, *, at: datetime) -> tuple[BatchJobInfo, bool]:
        """Record ``job`` in state ``submitting``; (the row, True) when this call created it.

        The same key again returns the existing row and False (safe across replicas: the
        database decides), so one key never leads to two submissions.
        """
        _require_aware(at)
        if not job.prompts:
            raise ValueError("a batch job needs at least one prompt")
        async with transaction(self._engine) as session:
            created = await insert_ignore(
                session,
                self._dialect,
                BatchJob,
                {
                    "key": job.key,
                    "workspace_id": job.workspace_id,
                    "user_id": job.user_id,
                    "model_id": job.model_id,
                    "tier": job.tier,
                    "rate_card": job.rate_card,
                    "image_size": job.image_size,
                    "aspect_ratio": job.aspect_ratio,
                    "thinking_level": job.thinking_level,
                    "request_count": len(job.prompts),
                    "prompts_json": list(job.prompts),
                    "reservation_key": job.reservation_key,
                    "estimate_micros": job.estimate_micros,
                    "succeeded_count": 0,
                    "failed_count": 0,
                    "state": BatchJobState.SUBMITTING.value,
                    "output_dir": job.output_dir,
                    "created_at": at,
                    "updated_at": at,
                },
            )
            row = await session.get(BatchJob, job.key, populate_existing=True)
            assert row is not None
            return _info(row), created

    async def get(self, key: str) -> BatchJobInfo | None:
        """The job stored under ``key``, or None."""
        async with transaction(self._engine, write=False) as session:
            row = await session.get(BatchJob, key)
            return None if row is None else _info(row)

    async def list_open(self) -> list[BatchJobInfo]:
        """Every job not finished yet (submitting, pending, running), oldest first."""
        async with transaction(self._engine, write=False) as session:
            rows = (
                await session.exec(
                    select(BatchJob)
                    .where(col(BatchJob.state).in_(OPEN_STATES))
                    .order_by(col(BatchJob.created_at), col(BatchJob.key))
                )
            ).all()
            return [_info(row) for row in rows]

    async def list_recent(
        self, *, workspace_id: str | None = None, limit: int = 50
    ) -> list[BatchJobInfo]:
        """The newest ``limit`` jobs (of one workspace, or all), newest first."""
        query = select(BatchJob)
        if workspace_id is not None:
            query = query.where(BatchJob.workspace_id == workspace_id)
        query = query.order_by(col(BatchJob.created_at).desc(), col(BatchJob.key)).limit(limit)
        async with transaction(self._engine, write=False) as session:
            return [_info(row) for row in (await session.exec(query)).all()]

    async def mark(
        self,
        key: str,
        *,
        state: BatchJobState,
        at: datetime,
        name: str | None = None,
        error: str | None = None,
        actual_micros: int | None = None,
        succeeded_count: int | None = None,
        failed_count: int | None = None,
        only_from: Sequence[BatchJobState] | None = None,
    ) -> BatchJobInfo | None:
        """Move job ``key`` to ``state`` and record what is given (None leaves a field as is).

        ``name`` is recorded with the time it was submitted; a finished state records
        ``finished_at``. With ``only_from``, the job moves only if it is in one of those states
        (another replica may have moved it first); returns the row after the change, or None
        when the key is unknown or the job was not in ``only_from``.
        """
        _require_aware(at)
        async with transaction(self._engine) as session:
            row = await session.get(BatchJob, key, with_for_update=True, populate_existing=True)
            if row is None:
                return None
            if only_from is not None and row.state not in {s.value for s in only_from}:
                return None
            row.state = state.value
            row.updated_at = at
            if name is not None:
                row.name = name
                row.submitted_at = row.submitted_at or at
            if error is not None:
                row.error = error
            if actual_micros is not None:
                row.actual_micros = actual_micros
            if succeeded_count is not None:
                row.succeeded_count = succeeded_count
            if failed_count is not None:
                row.failed_count = failed_count
            if not state.open and row.finished_at is None:
                row.finished_at = at
            session.add(row)
            await session.flush()
            return _info(row)
