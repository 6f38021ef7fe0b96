"""Generation requests: what was asked, where, the plan chosen, and how far it got."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.ledger._sql import insert_ignore
from bot.ledger.budgets import ensure_user
from bot.ledger.engine import transaction
from bot.ledger.tables import GenerationRequest

__all__ = ["RequestInfo", "RequestState", "RequestStore"]


class RequestState(enum.StrEnum):
    """Lifecycle of a generation request."""

    RECEIVED = "received"
    REFUSED = "refused"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestInfo:
    """A stored generation request. ``constraints``/``plan`` are the JSON the caller stored."""

    key: str
    workspace_id: str
    user_id: str
    channel_id: str | None
    thread_ts: str | None
    prompt: str
    constraints: Mapping[str, Any]
    plan: Mapping[str, Any] | None
    state: RequestState
    created_at: datetime
    updated_at: datetime


def _info(row: GenerationRequest) -> RequestInfo:
    return RequestInfo(
        key=row.key,
        workspace_id=row.workspace_id,
        user_id=row.user_id,
        channel_id=row.channel_id,
        thread_ts=row.thread_ts,
        prompt=row.prompt,
        constraints=dict(row.constraints_json),
        plan=None if row.plan_json is None else dict(row.plan_json),
        state=RequestState(row.state),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class RequestStore:
    """Typed CRUD over ``generation_request``. The engine is owned by the caller."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    async def record(
        self,
        *,
        key: str,
        workspace_id: str,
        user_id: str,
        prompt: str,
        constraints: Mapping[str, Any],
        at: datetime,
        channel_id: str | None = None,
        thread_ts: str | None = None,
    ) -> bool:
        """Store a new request in state ``received``; False when ``key`` is already stored."""
        async with transaction(self._engine) as session:
            await ensure_user(
                session, self._dialect, workspace_id=workspace_id, user_id=user_id, at=at
            )
            return await insert_ignore(
                session,
                self._dialect,
                GenerationRequest,
                {
                    "key": key,
                    "workspace_id": workspace_id,
                    "user_id": user_id,
                    "channel_id": channel_id,
                    "thread_ts": thread_ts,
                    "prompt": prompt,
                    "constraints_json": dict(constraints),
                    "plan_json": None,
                    "state": RequestState.RECEIVED.value,
                    "created_at": at,
                    "updated_at": at,
                },
            )

    async def get(self, key: str) -> RequestInfo | None:
        """The request, or None."""
        async with transaction(self._engine, write=False) as session:
            row = await session.get(GenerationRequest, key)
            return None if row is None else _info(row)

    async def update(
        self,
        key: str,
        *,
        state: RequestState,
        at: datetime,
        plan: Mapping[str, Any] | None = None,
    ) -> RequestInfo | None:
        """Move the request to ``state`` (and store its plan); None for an unknown key."""
        async with transaction(self._engine) as session:
            row = await session.get(GenerationRequest, key)
            if row is None:
                return None
            row.state = RequestState(state).value
            if plan is not None:
                row.plan_json = dict(plan)
            row.updated_at = at
            session.add(row)
            await session.flush()
            return _info(row)
