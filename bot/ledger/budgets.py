"""Budget reservations: check and reserve in one transaction, settle to the actual cost.

The guard against everything that went wrong with other budget proxies:

* One shared counter per (workspace, scope, month) in the database, not per replica. The counter
  rows are locked (``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) while
  the budget is checked and the estimate reserved, so concurrent requests cannot overshoot.
* Every reservation has a caller-chosen key and every ledger row an idempotency key: repeating a
  call never charges twice.
* Budgets are keyed by calendar month (``'YYYY-MM'`` in the configured time zone); there is no
  reset job to forget or to zero fresh spend.
* A crash between reserve and settle leaves an open reservation that :meth:`recover_interrupted`
  settles at its estimate (as an ``interrupted`` row) on the next start, so spend is never
  under-counted. A reservation held by an unfinished Batch API job is not a crash: it is left to
  the batch poller.

Money is int micro-USD. The clock is passed in (``at``: a UTC-aware datetime) on every call.
Every cost of a reservation counts against the month it was reserved in (``ledger_entry.month``),
so the counters always equal the ledger rows of that month plus the month's open reservations.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import exists, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.ledger._sql import insert_ignore
from bot.ledger.batches import OPEN_STATES
from bot.ledger.engine import transaction
from bot.ledger.errors import UnknownReservation
from bot.ledger.months import month_key, parse_month
from bot.ledger.tables import (
    WORKSPACE_SCOPE,
    BatchJob,
    Budget,
    LedgerEntry,
    Reservation,
    SlackUser,
    SpendCounter,
    Workspace,
)
from router import BudgetState
from router.money import format_usd
from router.usage import Usage

__all__ = [
    "BudgetLedger",
    "BudgetSetting",
    "EntryIn",
    "Refused",
    "ReservationState",
    "Reserved",
    "Settled",
    "ensure_user",
    "ensure_workspace",
]

Scope = Literal["user", "workspace"]


class ReservationState(enum.StrEnum):
    """Where a reservation stands."""

    OPEN = "open"
    SETTLED = "settled"
    RELEASED = "released"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryIn:
    """One billed (or possibly billed) provider call to write as a ledger row.

    ``idempotency_key`` must be unique per call (e.g. ``f"{request_key}:{attempt}"``): writing the
    same key twice stores it once. ``cost_micros`` is the actual price from the response's usage.
    """

    idempotency_key: str
    model_id: str
    cost_micros: int
    usage: Usage = field(default_factory=Usage)
    tier: str | None = None
    images: int = 0
    image_size: str | None = None
    batch: bool = False
    reference_inputs: int = 0
    possibly_billed: bool = False

    def __post_init__(self) -> None:
        if self.cost_micros < 0:
            raise ValueError("EntryIn.cost_micros must not be negative")
        if self.images < 0 or self.reference_inputs < 0:
            raise ValueError("EntryIn.images and reference_inputs must not be negative")


@dataclass(frozen=True, slots=True, kw_only=True)
class Reserved:
    """The estimate is held. ``duplicate``: the key was reserved before (nothing new was charged).

    ``user`` and ``workspace`` are the budget states including this reservation.
    """

    key: str
    estimate_micros: int
    month: str
    state: ReservationState
    duplicate: bool
    user: BudgetState
    workspace: BudgetState


@dataclass(frozen=True, slots=True, kw_only=True)
class Refused:
    """The estimate does not fit: ``scope``'s budget would be crossed. Nothing was reserved."""

    key: str
    scope: Scope
    consumed_micros: int
    budget_micros: int
    left_micros: int
    estimate_micros: int
    month: str
    user: BudgetState
    workspace: BudgetState

    @property
    def message(self) -> str:
        """One paragraph for the person who asked: what it would cost, what is left, what next."""
        whose = "your" if self.scope == "user" else "the workspace's"
        return (
            f"This would cost about {format_usd(self.estimate_micros)}, but {whose} budget for "
            f"{self.month} has {format_usd(self.left_micros)} left (spent "
            f"{format_usd(self.consumed_micros)} of {format_usd(self.budget_micros)}). "
            "Try a cheaper option such as a draft, or ask an admin to raise the budget."
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Settled:
    """Result of :meth:`BudgetLedger.settle`.

    ``total_micros``: the actual cost recorded for the reservation; ``entries_written``: rows this
    call inserted (0 on a repeat); ``duplicate``: the reservation had been settled before.
    """

    key: str
    total_micros: int
    entries_written: int
    duplicate: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetSetting:
    """The budget in force for a scope and month, and where it comes from.

    ``source``: ``"config"`` (the configured default), ``"standing"`` (set for every month) or
    ``"month"`` (an override for this month, e.g. an approved raise). ``amount_micros`` None means
    unlimited.
    """

    workspace_id: str
    user_id: str | None
    month: str
    amount_micros: int | None
    source: Literal["config", "standing", "month"]
    set_by: str | None = None
    set_at: datetime | None = None
    reason: str | None = None


def _scope_key(user_id: str | None) -> str:
    return WORKSPACE_SCOPE if user_id is None else user_id


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: pass a UTC-aware time")


async def ensure_workspace(
    session: AsyncSession, dialect: str, *, workspace_id: str, at: datetime
) -> None:
    """Insert the workspace row unless it exists (safe under concurrency)."""
    await insert_ignore(session, dialect, Workspace, {"id": workspace_id, "created_at": at})


async def ensure_user(
    session: AsyncSession, dialect: str, *, workspace_id: str, user_id: str, at: datetime
) -> None:
    """Insert the workspace and the user rows unless they exist (safe under concurrency)."""
    await ensure_workspace(session, dialect, workspace_id=workspace_id, at=at)
    await insert_ignore(
        session,
        dialect,
        SlackUser,
        {"workspace_id": workspace_id, "user_id": user_id, "created_at": at, "updated_at": at},
    )


class BudgetLedger:
    """Per-user and per-workspace monthly budgets with atomic reservations.

    ``default_user_budget_micros`` applies to users with no budget of their own and
    ``workspace_budget_micros`` to workspaces with none (None: unlimited). The engine is owned by
    the caller.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        tz: ZoneInfo,
        default_user_budget_micros: int | None,
        workspace_budget_micros: int | None,
    ) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._tz = tz
        self._default_user = default_user_budget_micros
        self._default_workspace = workspace_budget_micros

    @property
    def tz(self) -> ZoneInfo:
        """The time zone whose calendar months key the budgets."""
        return self._tz

    def month_of(self, at: datetime) -> str:
        """The budget month ``'YYYY-MM'`` that ``at`` falls in."""
        return month_key(at, self._tz)

    # -- reading ---------------------------------------------------------------------------

    async def state(
        self, *, workspace_id: str, user_id: str, at: datetime
    ) -> tuple[BudgetState, BudgetState]:
        """(user, workspace) budget states in the month of ``at``; consumed = settled + reserved."""
        month = self.month_of(at)
        async with transaction(self._engine, write=False) as session:
            return await self._states(
                session, workspace_id=workspace_id, user_id=user_id, month=month
            )

    async def workspace_state(self, *, workspace_id: str, at: datetime) -> BudgetState:
        """The workspace's budget state for the month of ``at``."""
        month = self.month_of(at)
        async with transaction(self._engine, write=False) as session:
            counter = await session.get(SpendCounter, (workspace_id, WORKSPACE_SCOPE, month))
            setting = await self._setting(
                session, workspace_id=workspace_id, user_id=None, month=month
            )
        consumed = 0 if counter is None else counter.settled_micros + counter.reserved_micros
        return BudgetState(
            consumed_micros=consumed, budget_micros=setting.amount_micros, scope="workspace"
        )

    async def consumed(self, *, workspace_id: str, user_id: str | None, month: str) -> int:
        """Settled + reserved micros of a user (or the workspace, ``user_id=None``) in ``month``."""
        parse_month(month)
        async with transaction(self._engine, write=False) as session:
            counter = await session.get(SpendCounter, (workspace_id, _scope_key(user_id), month))
        return 0 if counter is None else counter.settled_micros + counter.reserved_micros

    async def budget_for(
        self, *, workspace_id: str, user_id: str | None, month: str
    ) -> BudgetSetting:
        """The budget in force for a user (or the workspace, ``user_id=None``) in ``month``."""
        parse_month(month)
        async with transaction(self._engine, write=False) as session:
            return await self._setting(
                session, workspace_id=workspace_id, user_id=user_id, month=month
            )

    async def reservation(self, key: str) -> Reservation | None:
        """The reservation stored under ``key`` (a detached row), or None."""
        async with transaction(self._engine, write=False) as session:
            return await session.get(Reservation, key)

    # -- reserving and settling ---------------------------------------------------------------

    async def reserve(
        self,
        *,
        key: str,
        workspace_id: str,
        user_id: str,
        estimate_micros: int,
        at: datetime,
        channel_id: str | None = None,
        thread_ts: str | None = None,
        description: str = "",
        model_id: str | None = None,
        tier: str | None = None,
    ) -> Reserved | Refused:
        """Check both budgets and hold ``estimate_micros`` in one transaction.

        The same ``key`` again returns the existing reservation with ``duplicate=True`` and charges
        nothing. ``model_id``/``tier`` (optional) label the row written if a crash interrupts it.
        """
        if estimate_micros < 0:
            raise ValueError("estimate_micros must not be negative")
        _require_aware(at)
        for attempt in range(2):
            try:
                return await self._reserve_once(
                    key=key,
                    workspace_id=workspace_id,
                    user_id=user_id,
                    estimate_micros=estimate_micros,
                    at=at,
                    channel_id=channel_id,
                    thread_ts=thread_ts,
                    description=description,
                    model_id=model_id,
                    tier=tier,
                )
            except IntegrityError:
                # Another transaction inserted the same key between our check and insert (only
                # possible across workspaces); the retry finds it and reports a duplicate.
                if attempt:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _reserve_once(
        self,
        *,
        key: str,
        workspace_id: str,
        user_id: str,
        estimate_micros: int,
        at: datetime,
        channel_id: str | None,
        thread_ts: str | None,
        description: str,
        model_id: str | None,
        tier: str | None,
    ) -> Reserved | Refused:
        month = self.month_of(at)
        async with transaction(self._engine) as session:
            ws_counter, user_counter = await self._lock_counters(
                session, workspace_id=workspace_id, user_id=user_id, month=month, at=at
            )
            # Looked up under the lock: a concurrent call with this key has committed or waits.
            existing = await session.get(Reservation, key, populate_existing=True)
            if existing is not None:
                user_state, ws_state = await self._states(
                    session,
                    workspace_id=existing.workspace_id,
                    user_id=existing.user_id,
                    month=existing.month,
                )
                return Reserved(
                    key=key,
                    estimate_micros=existing.estimate_micros,
                    month=existing.month,
                    state=ReservationState(existing.state),
                    duplicate=True,
                    user=user_state,
                    workspace=ws_state,
                )
            budgets = await self._settings(
                session, workspace_id=workspace_id, user_ids=(user_id, None), month=month
            )
            user_budget, ws_budget = budgets[user_id], budgets[WORKSPACE_SCOPE]
            user_state = BudgetState(
                consumed_micros=user_counter.settled_micros + user_counter.reserved_micros,
                budget_micros=user_budget.amount_micros,
                scope="user",
            )
            ws_state = BudgetState(
                consumed_micros=ws_counter.settled_micros + ws_counter.reserved_micros,
                budget_micros=ws_budget.amount_micros,
                scope="workspace",
            )
            for scope, current in (("user", user_state), ("workspace", ws_state)):
                budget = current.budget_micros
                if budget is not None and current.consumed_micros + estimate_micros > budget:
                    return Refused(
                        key=key,
                        scope="user" if scope == "user" else "workspace",
                        consumed_micros=current.consumed_micros,
                        budget_micros=budget,
                        left_micros=max(0, budget - current.consumed_micros),
                        estimate_micros=estimate_micros,
                        month=month,
                        user=user_state,
                        workspace=ws_state,
                    )
            session.add(
                Reservation(
                    key=key,
                    workspace_id=workspace_id,
                    user_id=user_id,
                    channel_id=channel_id,
                    thread_ts=thread_ts,
                    description=description,
                    model_id=model_id,
                    tier=tier,
                    month=month,
                    estimate_micros=estimate_micros,
                    state=ReservationState.OPEN.value,
                    created_at=at,
                )
            )
            for counter in (ws_counter, user_counter):
                counter.reserved_micros += estimate_micros
                counter.updated_at = at
                session.add(counter)
            await session.flush()
            return Reserved(
                key=key,
                estimate_micros=estimate_micros,
                month=month,
                state=ReservationState.OPEN,
                duplicate=False,
                user=BudgetState(
                    consumed_micros=user_state.consumed_micros + estimate_micros,
                    budget_micros=user_state.budget_micros,
                    scope="user",
                ),
                workspace=BudgetState(
                    consumed_micros=ws_state.consumed_micros + estimate_micros,
                    budget_micros=ws_state.budget_micros,
                    scope="workspace",
                ),
            )

    async def settle(self, key: str, *, entries: Sequence[EntryIn], at: datetime) -> Settled:
        """Record one ledger row per billed call and replace the reservation by their total.

        A repeated settle of the same key is a no-op (``duplicate=True``). Settling a reservation
        that was released or recovered as interrupted still records the real cost (the
        interrupted estimate is reversed), so the ledger never under- or double-counts.
        Raises :class:`UnknownReservation` for a key that was never reserved.
        """
        _require_aware(at)
        async with transaction(self._engine) as session:
            res = await self._locked_reservation(session, key, at=at)
            state = ReservationState(res.state)
            if state is ReservationState.SETTLED:
                return Settled(
                    key=key,
                    total_micros=res.settled_micros or 0,
                    entries_written=0,
                    duplicate=True,
                )
            written = 0
            total = 0
            for entry in entries:
                if await self._write_entry(session, res, entry, at=at, interrupted=False):
                    written += 1
                    total += entry.cost_micros
            delta_settled = total
            if state is ReservationState.INTERRUPTED:
                reversal = EntryIn(
                    idempotency_key=f"{key}#interrupted-reversed",
                    model_id=res.model_id or "unknown",
                    tier=res.tier,
                    cost_micros=0,
                )
                await self._write_entry(
                    session,
                    res,
                    reversal,
                    at=at,
                    interrupted=True,
                    cost_override=-(res.settled_micros or 0),
                )
                delta_settled -= res.settled_micros or 0
            await self._move(
                session,
                res,
                reserved_delta=-res.estimate_micros if state is ReservationState.OPEN else 0,
                settled_delta=delta_settled,
                at=at,
            )
            res.state = ReservationState.SETTLED.value
            res.settled_micros = total
            res.closed_at = at
            session.add(res)
            return Settled(key=key, total_micros=total, entries_written=written, duplicate=False)

    async def release(self, key: str, *, at: datetime) -> bool:
        """Give back an open reservation that cost nothing; True when this call released it.

        Unknown, settled or already released keys are left alone (False).
        """
        _require_aware(at)
        async with transaction(self._engine) as session:
            try:
                res = await self._locked_reservation(session, key, at=at)
            except UnknownReservation:
                return False
            if res.state != ReservationState.OPEN.value:
                return False
            await self._move(
                session, res, reserved_delta=-res.estimate_micros, settled_delta=0, at=at
            )
            res.state = ReservationState.RELEASED.value
            res.settled_micros = 0
            res.closed_at = at
            session.add(res)
            return True

    async def recover_interrupted(
        self, *, at: datetime, older_than: timedelta = timedelta(minutes=15)
    ) -> int:
        """Settle every reservation still open since before ``at - older_than`` at its estimate.

        Run at start-up: a crash between reserve and settle must not leave money unaccounted.
        Each is written as one ledger row marked ``interrupted`` (and ``possibly_billed``).
        Returns how many were recovered. ``older_than`` protects calls still in flight on other
        replicas. Reservations held by an unfinished batch job (``batch_job.state`` open) are
        skipped: their results may arrive up to 48 hours later and the batch poller closes them.
        """
        _require_aware(at)
        cutoff = at - older_than
        async with transaction(self._engine, write=False) as session:
            keys = (
                await session.exec(
                    select(Reservation.key).where(
                        Reservation.state == ReservationState.OPEN.value,
                        col(Reservation.created_at) < cutoff,
                        # An unfinished batch job owns its reservation for up to 48 hours;
                        # the batch poller settles or releases it (bot.batch).
                        ~exists().where(
                            col(BatchJob.reservation_key) == col(Reservation.key),
                            col(BatchJob.state).in_(OPEN_STATES),
                        ),
                    )
                )
            ).all()
        recovered = 0
        for key in keys:
            async with transaction(self._engine) as session:
                res = await self._locked_reservation(session, key, at=at)
                if res.state != ReservationState.OPEN.value:
                    continue
                entry = EntryIn(
                    idempotency_key=f"{key}#interrupted",
                    model_id=res.model_id or "unknown",
                    tier=res.tier,
                    cost_micros=res.estimate_micros,
                    possibly_billed=True,
                )
                await self._write_entry(session, res, entry, at=at, interrupted=True)
                await self._move(
                    session,
                    res,
                    reserved_delta=-res.estimate_micros,
                    settled_delta=res.estimate_micros,
                    at=at,
                )
                res.state = ReservationState.INTERRUPTED.value
                res.settled_micros = res.estimate_micros
                res.closed_at = at
                session.add(res)
                recovered += 1
        return recovered

    # -- budgets --------------------------------------------------------------------------------

    async def set_budget(
        self,
        *,
        workspace_id: str,
        user_id: str | None,
        amount_micros: int | None,
        set_by: str,
        at: datetime,
        month: str | None = None,
        reason: str | None = None,
    ) -> BudgetSetting:
        """Set a user's (or, ``user_id=None``, the workspace's) monthly budget.

        ``month`` None sets the standing budget for every month; ``'YYYY-MM'`` overrides it for
        that month only. ``amount_micros`` None means unlimited. Every change is kept as history.
        """
        _require_aware(at)
        if amount_micros is not None and amount_micros < 0:
            raise ValueError("a budget must not be negative")
        if month is not None:
            parse_month(month)
        async with transaction(self._engine) as session:
            await self._insert_budget(
                session,
                workspace_id=workspace_id,
                user_id=user_id,
                amount_micros=amount_micros,
                set_by=set_by,
                at=at,
                month=month,
                reason=reason,
            )
            return await self._setting(
                session,
                workspace_id=workspace_id,
                user_id=user_id,
                month=month or self.month_of(at),
            )

    async def raise_for_month(
        self,
        *,
        workspace_id: str,
        user_id: str | None,
        increase_micros: int,
        approved_by: str,
        at: datetime,
        month: str | None = None,
        reason: str | None = None,
    ) -> BudgetSetting:
        """Add ``increase_micros`` to the budget in force for ``month`` (default: the month of
        ``at``), for that month only. An unlimited budget stays unlimited."""
        _require_aware(at)
        async with transaction(self._engine) as session:
            return await self.raise_in(
                session,
                workspace_id=workspace_id,
                user_id=user_id,
                increase_micros=increase_micros,
                approved_by=approved_by,
                at=at,
                month=month,
                reason=reason,
            )

    async def raise_in(
        self,
        session: AsyncSession,
        *,
        workspace_id: str,
        user_id: str | None,
        increase_micros: int,
        approved_by: str,
        at: datetime,
        month: str | None = None,
        reason: str | None = None,
    ) -> BudgetSetting:
        """:meth:`raise_for_month` inside the caller's write transaction (for approvals)."""
        if increase_micros < 0:
            raise ValueError("an increase must not be negative")
        month = parse_month(month) if month is not None else self.month_of(at)
        await ensure_workspace(session, self._dialect, workspace_id=workspace_id, at=at)
        # Serialise concurrent raises of the same scope on its counter row.
        await self._lock_counter(
            session, workspace_id=workspace_id, scope=_scope_key(user_id), month=month, at=at
        )
        current = await self._setting(
            session, workspace_id=workspace_id, user_id=user_id, month=month
        )
        amount = None if current.amount_micros is None else current.amount_micros + increase_micros
        await self._insert_budget(
            session,
            workspace_id=workspace_id,
            user_id=user_id,
            amount_micros=amount,
            set_by=approved_by,
            at=at,
            month=month,
            reason=reason,
        )
        return await self._setting(session, workspace_id=workspace_id, user_id=user_id, month=month)

    # -- internals ------------------------------------------------------------------------------

    async def _insert_budget(
        self,
        session: AsyncSession,
        *,
        workspace_id: str,
        user_id: str | None,
        amount_micros: int | None,
        set_by: str,
        at: datetime,
        month: str | None,
        reason: str | None,
    ) -> None:
        if user_id is None:
            await ensure_workspace(session, self._dialect, workspace_id=workspace_id, at=at)
        else:
            await ensure_user(
                session, self._dialect, workspace_id=workspace_id, user_id=user_id, at=at
            )
        session.add(
            Budget(
                workspace_id=workspace_id,
                scope=_scope_key(user_id),
                month=month,
                amount_micros=amount_micros,
                set_by=set_by,
                set_at=at,
                reason=reason,
            )
        )
        await session.flush()

    async def _setting(
        self, session: AsyncSession, *, workspace_id: str, user_id: str | None, month: str
    ) -> BudgetSetting:
        settings = await self._settings(
            session, workspace_id=workspace_id, user_ids=(user_id,), month=month
        )
        return settings[_scope_key(user_id)]

    async def _settings(
        self,
        session: AsyncSession,
        *,
        workspace_id: str,
        user_ids: Sequence[str | None],
        month: str,
    ) -> dict[str, BudgetSetting]:
        """The budgets in force for several scopes, in one query (keyed by scope string)."""
        scopes = {_scope_key(user_id): user_id for user_id in user_ids}
        query = (
            select(Budget)
            .where(
                Budget.workspace_id == workspace_id,
                col(Budget.scope).in_(list(scopes)),
                or_(col(Budget.month).is_(None), col(Budget.month) == month),
            )
            .order_by(col(Budget.id).desc())
        )
        newest: dict[tuple[str, str | None], Budget] = {}
        for row in (await session.exec(query)).all():
            newest.setdefault((row.scope, row.month), row)
        result: dict[str, BudgetSetting] = {}
        for scope, user_id in scopes.items():
            chosen = newest.get((scope, month)) or newest.get((scope, None))
            if chosen is None:
                default = self._default_workspace if user_id is None else self._default_user
                result[scope] = BudgetSetting(
                    workspace_id=workspace_id,
                    user_id=user_id,
                    month=month,
                    amount_micros=default,
                    source="config",
                )
            else:
                result[scope] = BudgetSetting(
                    workspace_id=workspace_id,
                    user_id=user_id,
                    month=month,
                    amount_micros=chosen.amount_micros,
                    source="standing" if chosen.month is None else "month",
                    set_by=chosen.set_by,
                    set_at=chosen.set_at,
                    reason=chosen.reason,
                )
        return result

    async def _states(
        self, session: AsyncSession, *, workspace_id: str, user_id: str, month: str
    ) -> tuple[BudgetState, BudgetState]:
        rows = (
            await session.exec(
                select(SpendCounter).where(
                    SpendCounter.workspace_id == workspace_id,
                    SpendCounter.month == month,
                    col(SpendCounter.scope).in_((user_id, WORKSPACE_SCOPE)),
                )
            )
        ).all()
        consumed = {row.scope: row.settled_micros + row.reserved_micros for row in rows}
        budgets = await self._settings(
            session, workspace_id=workspace_id, user_ids=(user_id, None), month=month
        )
        user_budget, ws_budget = budgets[user_id], budgets[WORKSPACE_SCOPE]
        return (
            BudgetState(
                consumed_micros=consumed.get(user_id, 0),
                budget_micros=user_budget.amount_micros,
                scope="user",
            ),
            BudgetState(
                consumed_micros=consumed.get(WORKSPACE_SCOPE, 0),
                budget_micros=ws_budget.amount_micros,
                scope="workspace",
            ),
        )

    async def _lock_counter(
        self, session: AsyncSession, *, workspace_id: str, scope: str, month: str, at: datetime
    ) -> SpendCounter:
        query = (
            select(SpendCounter)
            .where(
                SpendCounter.workspace_id == workspace_id,
                SpendCounter.scope == scope,
                SpendCounter.month == month,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        counter = (await session.exec(query)).first()
        if counter is not None:
            return counter
        # First use of this month: create the row (or find a concurrent creator's), then lock it.
        if scope == WORKSPACE_SCOPE:
            await ensure_workspace(session, self._dialect, workspace_id=workspace_id, at=at)
        else:
            await ensure_user(
                session, self._dialect, workspace_id=workspace_id, user_id=scope, at=at
            )
        await insert_ignore(
            session,
            self._dialect,
            SpendCounter,
            {
                "workspace_id": workspace_id,
                "scope": scope,
                "month": month,
                "settled_micros": 0,
                "reserved_micros": 0,
                "updated_at": at,
            },
        )
        return (await session.exec(query)).one()

    async def _lock_counters(
        self, session: AsyncSession, *, workspace_id: str, user_id: str, month: str, at: datetime
    ) -> tuple[SpendCounter, SpendCounter]:
        # Always the workspace row first, then the user's: one lock order, no deadlocks.
        ws_counter = await self._lock_counter(
            session, workspace_id=workspace_id, scope=WORKSPACE_SCOPE, month=month, at=at
        )
        user_counter = await self._lock_counter(
            session, workspace_id=workspace_id, scope=user_id, month=month, at=at
        )
        return ws_counter, user_counter

    async def _locked_reservation(
        self, session: AsyncSession, key: str, *, at: datetime
    ) -> Reservation:
        res = await session.get(Reservation, key)
        if res is None:
            raise UnknownReservation(key)
        await self._lock_counters(
            session, workspace_id=res.workspace_id, user_id=res.user_id, month=res.month, at=at
        )
        # Read again under the lock: another replica may have settled it meanwhile.
        fresh = await session.get(Reservation, key, populate_existing=True)
        if fresh is None:  # pragma: no cover - reservations are never deleted
            raise UnknownReservation(key)
        return fresh

    async def _move(
        self,
        session: AsyncSession,
        res: Reservation,
        *,
        reserved_delta: int,
        settled_delta: int,
        at: datetime,
    ) -> None:
        for scope in (WORKSPACE_SCOPE, res.user_id):
            await session.exec(
                update(SpendCounter)
                .where(
                    col(SpendCounter.workspace_id) == res.workspace_id,
                    col(SpendCounter.scope) == scope,
                    col(SpendCounter.month) == res.month,
                )
                .values(
                    reserved_micros=col(SpendCounter.reserved_micros) + reserved_delta,
                    settled_micros=col(SpendCounter.settled_micros) + settled_delta,
                    updated_at=at,
                )
                .execution_options(synchronize_session=False)
            )

    async def _write_entry(
        self,
        session: AsyncSession,
        res: Reservation,
        entry: EntryIn,
        *,
        at: datetime,
        interrupted: bool,
        cost_override: int | None = None,
    ) -> bool:
        usage = entry.usage
        return await insert_ignore(
            session,
            self._dialect,
            LedgerEntry,
            {
                "idempotency_key": entry.idempotency_key,
                "request_key": res.key,
                "workspace_id": res.workspace_id,
                "user_id": res.user_id,
                "channel_id": res.channel_id,
                "thread_ts": res.thread_ts,
                "model_id": entry.model_id,
                "tier": entry.tier,
                "images": entry.images,
                "image_size": entry.image_size,
                "batch": entry.batch,
                "input_tokens": usage.input_tokens,
                "input_image_tokens": usage.input_image_tokens,
                "output_image_tokens": usage.output_image_tokens,
                "output_text_tokens": usage.output_text_tokens,
                "thinking_tokens": usage.thinking_tokens,
                "usage_reported": usage.reported,
                "reference_inputs": entry.reference_inputs,
                "cost_micros": entry.cost_micros if cost_override is None else cost_override,
                "possibly_billed": entry.possibly_billed,
                "interrupted": interrupted,
                "month": res.month,
                "created_at": at,
            },
        )
