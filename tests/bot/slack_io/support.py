"""Helpers shared by the Slack I/O tests."""

from __future__ import annotations


class SleepRecorder:
    """An injected sleep that returns at once and remembers what it was asked to wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
