"""A tracked set of background tasks: every task the bot starts is owned, and awaited on shutdown.

Slack wants an answer within 3 seconds, so listeners acknowledge first and hand the real work to
:class:`TaskTracker.spawn`. Exceptions are logged (never lost); :meth:`TaskTracker.shutdown` gives
running work a grace period to finish, then cancels what is left and waits for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

__all__ = ["TaskTracker"]

log = logging.getLogger(__name__)


class TaskTracker:
    """Owns background tasks; refuses new work once shutdown has begun."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        self._idle = asyncio.Event()
        self._idle.set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any] | None:
        """Run ``coro`` in the background; returns None (and closes it) during shutdown."""
        if self._closing:
            coro.close()
            log.warning("task refused during shutdown name=%s", name)
            return None
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("task failed name=%s", task.get_name(), exc_info=exc)

    async def wait_idle(self) -> None:
        """Wait until no task is running (tests use this instead of sleeping)."""
        await self._idle.wait()

    async def shutdown(self, *, grace_s: float = 25.0) -> None:
        """Stop accepting work, let running tasks finish for ``grace_s``, then cancel the rest."""
        self._closing = True
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_s)
        for task in pending:
            log.warning("task cancelled at shutdown name=%s", task.get_name())
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
