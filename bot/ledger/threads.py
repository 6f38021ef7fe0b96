"""What the bot remembers about its Slack threads: owner, carried flags, images, pending uploads."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from bot.ledger._sql import insert_ignore
from bot.ledger.engine import transaction
from bot.ledger.tables import LedgerEntry, PendingUpload, SlackThread, ThreadImage

__all__ = [
    "ImageKind",
    "PendingUploadInfo",
    "ThreadImageInfo",
    "ThreadInfo",
    "ThreadStore",
]


class ImageKind(enum.StrEnum):
    """Where a thread image came from."""

    GENERATED = "generated"
    UPLOADED = "uploaded"


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadInfo:
    """A thread the bot started. ``settings``: the flags replies in the thread carry over."""

    channel_id: str
    thread_ts: str
    workspace_id: str
    owner_user_id: str
    settings: Mapping[str, Any]
    last_image_path: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadImageInfo:
    """One image of a thread."""

    id: int
    channel_id: str
    thread_ts: str
    path: str
    kind: ImageKind
    model_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingUploadInfo:
    """An image saved (and paid for) but not yet posted to Slack."""

    id: int
    channel_id: str
    thread_ts: str | None
    path: str
    comment: str
    attempts: int
    last_error: str | None
    last_attempt_at: datetime | None
    created_at: datetime


def _thread(row: SlackThread) -> ThreadInfo:
    return ThreadInfo(
        channel_id=row.channel_id,
        thread_ts=row.thread_ts,
        workspace_id=row.workspace_id,
        owner_user_id=row.owner_user_id,
        settings=dict(row.settings_json),
        last_image_path=row.last_image_path,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _image(row: ThreadImage) -> ThreadImageInfo:
    assert row.id is not None
    return ThreadImageInfo(
        id=row.id,
        channel_id=row.channel_id,
        thread_ts=row.thread_ts,
        path=row.path,
        kind=ImageKind(row.kind),
        model_id=row.model_id,
        created_at=row.created_at,
    )


def _upload(row: PendingUpload) -> PendingUploadInfo:
    assert row.id is not None
    return PendingUploadInfo(
        id=row.id,
        channel_id=row.channel_id,
        thread_ts=row.thread_ts,
        path=row.path,
        comment=row.comment,
        attempts=row.attempts,
        last_error=row.last_error,
        last_attempt_at=row.last_attempt_at,
        created_at=row.created_at,
    )


class ThreadStore:
    """Typed CRUD over ``slack_thread``, ``thread_image`` and ``pending_upload``.

    The engine is owned by the caller. Settings are JSON-serialisable flags (str, int, bool, None).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    # -- threads ----------------------------------------------------------------------------

    async def create(
        self,
        *,
        channel_id: str,
        thread_ts: str,
        workspace_id: str,
        owner_user_id: str,
        settings: Mapping[str, Any],
        at: datetime,
    ) -> bool:
        """Record a new thread; False (and nothing changed) when it is already known."""
        async with transaction(self._engine) as session:
            return await insert_ignore(
                session,
                self._dialect,
                SlackThread,
                {
                    "channel_id": channel_id,
                    "thread_ts": thread_ts,
                    "workspace_id": workspace_id,
                    "owner_user_id": owner_user_id,
                    "settings_json": dict(settings),
                    "created_at": at,
                    "updated_at": at,
                },
            )

    async def get(self, *, channel_id: str, thread_ts: str) -> ThreadInfo | None:
        """The thread, or None when the bot did not start it."""
        async with transaction(self._engine, write=False) as session:
            row = await session.get(SlackThread, (channel_id, thread_ts))
            return None if row is None else _thread(row)

    async def update_settings(
        self, *, channel_id: str, thread_ts: str, settings: Mapping[str, Any], at: datetime
    ) -> ThreadInfo | None:
        """Replace the flags the thread carries over; None for an unknown thread."""
        return await self._update(
            channel_id=channel_id, thread_ts=thread_ts, at=at, settings=settings
        )

    async def set_last_image(
        self, *, channel_id: str, thread_ts: str, path: str, at: datetime
    ) -> ThreadInfo | None:
        """Remember the thread's newest image; None for an unknown thread."""
        return await self._update(channel_id=channel_id, thread_ts=thread_ts, at=at, path=path)

    async def _update(
        self,
        *,
        channel_id: str,
        thread_ts: str,
        at: datetime,
        settings: Mapping[str, Any] | None = None,
        path: str | None = None,
    ) -> ThreadInfo | None:
        async with transaction(self._engine) as session:
            row = await session.get(SlackThread, (channel_id, thread_ts))
            if row is None:
                return None
            if settings is not None:
                row.settings_json = dict(settings)
            if path is not None:
                row.last_image_path = path
            row.updated_at = at
            session.add(row)
            await session.flush()
            return _thread(row)

    async def total_micros(self, *, channel_id: str, thread_ts: str) -> int:
        """What the thread's requests have cost so far (sum of its ledger rows)."""
        async with transaction(self._engine, write=False) as session:
            total = (
                await session.exec(
                    select(func.coalesce(func.sum(LedgerEntry.cost_micros), 0)).where(
                        LedgerEntry.channel_id == channel_id, LedgerEntry.thread_ts == thread_ts
                    )
                )
            ).one()
            return int(total)

    # -- images -----------------------------------------------------------------------------

    async def add_image(
        self,
        *,
        channel_id: str,
        thread_ts: str,
        path: str,
        kind: ImageKind | str,
        at: datetime,
        model_id: str | None = None,
    ) -> ThreadImageInfo:
        """Remember an image of a thread: ``kind`` ``generated`` (by us) or ``uploaded``.

        Raises ValueError for any other kind.
        """
        async with transaction(self._engine) as session:
            row = ThreadImage(
                channel_id=channel_id,
                thread_ts=thread_ts,
                path=path,
                kind=ImageKind(kind).value,
                model_id=model_id,
                created_at=at,
            )
            session.add(row)
            await session.flush()
            return _image(row)

    async def images(
        self, *, channel_id: str, thread_ts: str, limit: int = 50
    ) -> list[ThreadImageInfo]:
        """The thread's images, newest first."""
        async with transaction(self._engine, write=False) as session:
            rows = (
                await session.exec(
                    select(ThreadImage)
                    .where(ThreadImage.channel_id == channel_id, ThreadImage.thread_ts == thread_ts)
                    .order_by(col(ThreadImage.created_at).desc(), col(ThreadImage.id).desc())
                    .limit(limit)
                )
            ).all()
            return [_image(row) for row in rows]

    # -- pending uploads --------------------------------------------------------------------

    async def add_pending_upload(
        self,
        *,
        channel_id: str,
        thread_ts: str | None,
        path: str,
        at: datetime,
        comment: str = "",
        error: str | None = None,
    ) -> PendingUploadInfo:
        """Remember an image still to post; ``error``: a first attempt already failed with it."""
        async with transaction(self._engine) as session:
            row = PendingUpload(
                channel_id=channel_id,
                thread_ts=thread_ts,
                path=path,
                comment=comment,
                attempts=0 if error is None else 1,
                last_error=None if error is None else error[:2000],
                last_attempt_at=None if error is None else at,
                created_at=at,
            )
            session.add(row)
            await session.flush()
            return _upload(row)

    async def note_upload_failure(
        self, upload_id: int, *, error: str, at: datetime
    ) -> PendingUploadInfo | None:
        """Count a failed attempt to post and keep its error; None when the id is unknown."""
        async with transaction(self._engine) as session:
            row = await session.get(PendingUpload, upload_id)
            if row is None:
                return None
            row.attempts += 1
            row.last_attempt_at = at
            row.last_error = error[:2000]
            session.add(row)
            await session.flush()
            return _upload(row)

    async def remove_pending_upload(self, upload_id: int) -> bool:
        """Forget an upload once posted; True when it was pending."""
        async with transaction(self._engine) as session:
            result = await session.exec(
                delete(PendingUpload).where(col(PendingUpload.id) == upload_id)
            )
            return bool(result.rowcount == 1)

    async def pending_uploads(self, *, limit: int = 100) -> list[PendingUploadInfo]:
        """Uploads still to post, oldest first."""
        async with transaction(self._engine, write=False) as session:
            rows = (
                await session.exec(
                    select(PendingUpload)
                    .order_by(col(PendingUpload.created_at), col(PendingUpload.id))
                    .limit(limit)
                )
            ).all()
            return [_upload(row) for row in rows]
