"""Owned background tasks and the on-disk image store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.images import ImageStore
from bot.tasks import TaskTracker


async def test_shutdown_waits_for_running_work() -> None:
    """Shutdown lets a running task finish within the grace period."""
    tracker = TaskTracker()
    release = asyncio.Event()
    finished: list[str] = []

    async def work() -> None:
        await release.wait()
        finished.append("done")

    tracker.spawn(work(), name="work")
    asyncio.get_running_loop().call_soon(release.set)
    await tracker.shutdown(grace_s=5)
    assert finished == ["done"]


async def test_shutdown_cancels_what_overruns_and_refuses_new_work() -> None:
    """Work still running after the grace period is cancelled; new work is refused."""
    tracker = TaskTracker()
    never = asyncio.Event()
    task = tracker.spawn(never.wait(), name="stuck")
    await tracker.shutdown(grace_s=0.01)
    assert task is not None and task.cancelled()

    async def late() -> None:
        raise AssertionError("must not run")

    assert tracker.spawn(late(), name="late") is None


async def test_failures_are_logged_not_lost(caplog: pytest.LogCaptureFixture) -> None:
    """An exception in a background task is logged with the task's name."""
    tracker = TaskTracker()

    async def boom() -> None:
        raise RuntimeError("kaput")

    tracker.spawn(boom(), name="boom-task")
    await tracker.wait_idle()
    assert "boom-task" in caplog.text


def test_images_are_stored_atomically_and_read_back(tmp_path: Path) -> None:
    """An image is written under year/month with no partial file left behind."""
    store = ImageStore(tmp_path)
    at = datetime(2026, 12, 1, tzinfo=UTC)
    path = store.save(b"\x89PNG...", key="cmd:T1:abc-0", mime_type="image/png", at=at)
    assert path == "2026/12/cmd_T1_abc-0.png"
    assert store.read(path) == b"\x89PNG..."
    assert not list(tmp_path.rglob("*.part"))


def test_paths_cannot_escape_the_store(tmp_path: Path) -> None:
    """A stored path pointing outside the image directory is refused."""
    store = ImageStore(tmp_path / "images")
    with pytest.raises(ValueError, match="outside"):
        store.path("../../etc/passwd")
