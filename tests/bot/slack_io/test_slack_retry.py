"""The retry policy on its own: what is retried, how long it waits, when it gives up."""

from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.errors import SlackRequestError

from bot.slack_io import RetryPolicy, SlackCallFailed, UploadFailed, call_with_retry
from tests.bot.slack_io.support import SleepRecorder


class Flaky:
    """An operation that raises the given errors in turn, then returns "done"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def test_backoff_doubles_and_caps() -> None:
    """Waits go base, 2x, 4x... never past max_delay_s."""
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=3.0)

    assert [policy.backoff_s(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"base_delay_s": 5.0, "max_delay_s": 1.0}, {"max_retry_after_s": -1}],
)
def test_nonsense_policies_are_refused(kwargs: dict[str, float]) -> None:
    """A policy that cannot work is a ValueError at construction."""
    with pytest.raises(ValueError, match=r"must|need"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


async def test_network_errors_are_retried(sleeps: SleepRecorder) -> None:
    """Connection trouble is retried with backoff."""
    op = Flaky(aiohttp.ClientConnectionError("reset"), TimeoutError())

    assert await call_with_retry(op, method="x", policy=RetryPolicy(), sleep=sleeps) == "done"
    assert sleeps.waits == [1.0, 2.0]


async def test_failed_upload_step_status_is_read_from_the_sdk_message(
    sleeps: SleepRecorder,
) -> None:
    """files_upload_v2's text-only step-2 failure is retried for 503 and final for 400."""
    busy = SlackRequestError("Failed to upload a file (status: 503, body: x, filename: a.png)")
    bad = SlackRequestError("Failed to upload a file (status: 400, body: x, filename: a.png)")
    op = Flaky(busy, bad)

    with pytest.raises(UploadFailed) as caught:
        await call_with_retry(
            op, method="files.upload_v2", policy=RetryPolicy(), sleep=sleeps, failure=UploadFailed
        )

    assert (caught.value.status, caught.value.retryable, op.calls) == (400, False, 2)


async def test_other_sdk_request_errors_are_permanent(sleeps: SleepRecorder) -> None:
    """A client-side SDK error (bad arguments) is not retried."""
    with pytest.raises(SlackCallFailed) as caught:
        await call_with_retry(
            Flaky(SlackRequestError("file parameter must be any of filepath, bytes")),
            method="files.upload_v2",
            policy=RetryPolicy(),
            sleep=sleeps,
        )

    assert caught.value.error == "invalid_request"
    assert sleeps.waits == []


async def test_unrelated_exceptions_propagate_unchanged(sleeps: SleepRecorder) -> None:
    """A bug in the caller's code is not dressed up as a Slack failure."""
    with pytest.raises(KeyError):
        await call_with_retry(
            Flaky(KeyError("oops")), method="x", policy=RetryPolicy(), sleep=sleeps
        )
