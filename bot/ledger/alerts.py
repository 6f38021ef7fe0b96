"""Budget alerts that fire once across replicas, and requests for a bigger budget this month."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from bot.ledger._sql import insert_ignore
from bot.ledger.budgets import BudgetLedger, BudgetSetting, ensure_user
from bot.ledger.engine import transaction
from bot.ledger.errors import UnknownIncreaseRequest
from bot.ledger.months import parse_month
from bot.ledger.tables import BudgetAlert, BudgetIncreaseRequest

__all__ = ["AlertStore", "Decision", "IncreaseRequest", "IncreaseState"]


class IncreaseState(enum.StrEnum):
    """Where a budget increase request stands."""

    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


@dataclass(frozen=True, slots=True, kw_only=True)
class IncreaseRequest:
    """A person asking for ``amount_micros`` more budget for ``month``."""

    id: int
    workspace_id: str
    user_id: str
    amount_micros: int
    reason: str
    month: str
    state: IncreaseState
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """Outcome of deciding a request. ``changed`` is False when it had been decided before (and
    nothing happened now); ``budget`` is the user's budget for the month after an approval."""

    request: IncreaseRequest
    changed: bool
    budget: BudgetSetting | None


def _request(row: BudgetIncreaseRequest) -> IncreaseRequest:
    assert row.id is not None
    return IncreaseRequest(
        id=row.id,
        workspace_id=row.workspace_id,
        user_id=row.user_id,
        amount_micros=row.amount_micros,
        reason=row.reason,
        month=row.month,
        state=IncreaseState(row.state),
        created_at=row.created_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )


class AlertStore:
    """Alert claims and budget increase requests. Approving raises the budget through ``budgets``
    in the same transaction. The engine is owned by the caller."""

    def __init__(self, engine: AsyncEngine, *, budgets: BudgetLedger) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self._budgets = budgets

    async def claim_alert(
        self, *, workspace_id: str, scope: str, month: str, threshold: int, at: datetime
    ) -> bool:
        """True exactly once per (workspace, scope, month, threshold) across every replica.

        ``scope`` is a user id or :data:`bot.ledger.tables.WORKSPACE_SCOPE`; ``threshold`` a
        percentage such as 80 or 100.
        """
        parse_month(month)
        async with transaction(self._engine) as session:
            return await insert_ignore(
                session,
                self._dialect,
                BudgetAlert,
                {
                    "workspace_id": workspace_id,
                    "scope": scope,
                    "month": month,
                    "threshold": threshold,
                    "created_at": at,
                },
            )

    async def create_increase_request(
        self,
        *,
        workspace_id: str,
        user_id: str,
        amount_micros: int,
        reason: str,
        at: datetime,
        month: str | None = None,
    ) -> IncreaseRequest:
        """Record a pending request for more budget in ``month`` (default: the month of ``at``)."""
        if amount_micros <= 0:
            raise ValueError("an increase request must ask for a positive amount")
        month = parse_month(month) if month is not None else self._budgets.month_of(at)
        async with transaction(self._engine) as session:
            await ensure_user(
                session, self._dialect, workspace_id=workspace_id, user_id=user_id, at=at
            )
            row = BudgetIncreaseRequest(
                workspace_id=workspace_id,
                user_id=user_id,
                amount_micros=amount_micros,
                reason=reason,
                month=month,
                state=IncreaseState.PENDING.value,
                created_at=at,
            )
            session.add(row)
            await session.flush()
            return _request(row)

    async def get_increase_request(self, request_id: int) -> IncreaseRequest | None:
        """The request, or None."""
        async with transaction(self._engine, write=False) as session:
            row = await session.get(BudgetIncreaseRequest, request_id)
            return None if row is None else _request(row)

    async def list_increase_requests(
        self, *, workspace_id: str, state: IncreaseState | None = None, limit: int = 50
    ) -> list[IncreaseRequest]:
        """A workspace's requests, newest first, optionally only those in ``state``."""
        query = select(BudgetIncreaseRequest).where(
            BudgetIncreaseRequest.workspace_id == workspace_id
        )
        if state is not None:
            query = query.where(BudgetIncreaseRequest.state == IncreaseState(state).value)
        query = query.order_by(
            col(BudgetIncreaseRequest.created_at).desc(), col(BudgetIncreaseRequest.id).desc()
        ).limit(limit)
        async with transaction(self._engine, write=False) as session:
            return [_request(row) for row in (await session.exec(query)).all()]

    async def decide_increase(
        self, request_id: int, *, approve: bool, decided_by: str, at: datetime
    ) -> Decision:
        """Approve or decline a pending request, exactly once.

        Approving raises the user's budget for the request's month by its amount in the same
        transaction. Deciding an already decided request changes nothing (``changed=False``).
        Raises :class:`UnknownIncreaseRequest` for an unknown id.
        """
        new_state = IncreaseState.APPROVED if approve else IncreaseState.DECLINED
        async with transaction(self._engine) as session:
            result = await session.exec(
                update(BudgetIncreaseRequest)
                .where(
                    col(BudgetIncreaseRequest.id) == request_id,
                    col(BudgetIncreaseRequest.state) == IncreaseState.PENDING.value,
                )
                .values(state=new_state.value, decided_by=decided_by, decided_at=at)
                .execution_options(synchronize_session=False)
            )
            changed = result.rowcount == 1
            row = await session.get(BudgetIncreaseRequest, request_id, populate_existing=True)
            if row is None:
                raise UnknownIncreaseRequest(request_id)
            budget = None
            if changed and approve:
                budget = await self._budgets.raise_in(
                    session,
                    workspace_id=row.workspace_id,
                    user_id=row.user_id,
                    increase_micros=row.amount_micros,
                    approved_by=decided_by,
                    at=at,
                    month=row.month,
                    reason=f"increase request #{request_id}: {row.reason}".strip(),
                )
            return Decision(request=_request(row), changed=changed, budget=budget)
