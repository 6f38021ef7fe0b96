"""One retry policy for every Slack call: honour 429 Retry-After, back off on 5xx, give up typed.

Slack answers a rate-limited call with HTTP 429 and ``Retry-After: <seconds>``; we wait exactly
that long (never longer than ``max_retry_after_s``: past that we give up with a retryable error
rather than hold a Slack handler for minutes). 5xx answers, ``ok: false`` with a transient error
code (``ratelimited``, ``internal_error``, ``fatal_error``, ``service_unavailable``,
``request_timeout``) and network errors are retried with capped exponential backoff. Anything else
(``not_in_channel``, ``channel_not_found``, ``invalid_auth``...) fails at once.

The sleep function is injected so tests run instantly and can assert the waits.

Caller's duty: only wrap calls that are safe to repeat. ``chat.postMessage`` after a network
timeout may post twice; we accept that over losing a result silently.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.slack_io.errors import SlackCallFailed

__all__ = ["HttpStatusError", "RetryPolicy", "Sleep", "call_with_retry"]

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

_TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
# files_upload_v2 reports a failed step-2 POST only as text:
# "Failed to upload a file (status: 503, body: ...".
_UPLOAD_STATUS = re.compile(r"Failed to upload a file \(status: (\d{3})")


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How hard to try one Slack call. ``max_attempts`` counts the first try."""

    max_attempts: int = 4
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    max_retry_after_s: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 <= self.base_delay_s <= self.max_delay_s:
            raise ValueError("need 0 <= base_delay_s <= max_delay_s")
        if self.max_retry_after_s < 0:
            raise ValueError("max_retry_after_s must not be negative")

    def backoff_s(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1-based) when Slack named none."""
        return float(min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1))))


class HttpStatusError(Exception):
    """A non-2xx answer from an endpoint the SDK does not raise for (response_url)."""

    def __init__(self, status: int, body: str, *, retry_after: str | None = None) -> None:
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status = status
        self.body = body
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Verdict:
    error: str
    status: int | None
    retryable: bool
    retry_after_s: float | None


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    raw = headers.get("Retry-After") or headers.get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None  # an HTTP-date; Slack sends seconds, so fall back to our backoff
    return max(0.0, value)


def _classify_status(status: int, error: str | None, after: float | None) -> _Verdict:
    if status == 429:
        return _Verdict(error or "ratelimited", status, True, after)
    if status >= 500:
        return _Verdict(error or f"http_{status}", status, True, after)
    if status == 200 and error is not None:
        return _Verdict(error, status, error in _TRANSIENT_ERRORS, after)
    return _Verdict(error or f"http_{status}", status, False, None)


def _classify(exc: BaseException) -> _Verdict | None:
    """What a failure means for retrying, or None when it is not a Slack or network failure."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = getattr(response, "status_code", None) or getattr(response, "status", None)
        data = getattr(response, "data", None)
        error = data.get("error") if isinstance(data, dict) else None
        headers = getattr(response, "headers", None)
        after = _retry_after(headers)
        if not isinstance(status, int):
            return _Verdict(str(error or "bad_response"), None, True, after)
        return _classify_status(status, str(error) if error else None, after)
    if isinstance(exc, HttpStatusError):
        # response_url answers errors as a bare code in the body ("expired_url", "used_url").
        body = exc.body.strip()
        error = body if body and body.replace("_", "").isalpha() else None
        after = _retry_after({"Retry-After": exc.retry_after} if exc.retry_after else None)
        return _classify_status(exc.status, error, after)
    if isinstance(exc, SlackRequestError):
        match = _UPLOAD_STATUS.search(str(exc))
        if match:
            return _classify_status(int(match.group(1)), None, None)
        return _Verdict("invalid_request", None, False, None)
    if isinstance(exc, aiohttp.ClientError | TimeoutError | ConnectionError):
        return _Verdict("network", None, True, None)
    return None


async def call_with_retry(
    op: Callable[[], Awaitable[T]],
    *,
    method: str,
    policy: RetryPolicy,
    sleep: Sleep = asyncio.sleep,
    failure: type[SlackCallFailed] = SlackCallFailed,
) -> T:
    """Run ``op`` until it succeeds, retrying what is worth retrying under ``policy``.

    Raises ``failure`` (a :class:`SlackCallFailed` subclass) once the failure is permanent, the
    attempts are spent, or Slack asks for a longer wait than ``policy.max_retry_after_s``.
    Exceptions that are neither Slack nor network failures propagate unchanged.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return await op()
        except Exception as exc:
            verdict = _classify(exc)
            if verdict is None:
                raise
            give_up = not verdict.retryable or attempt >= policy.max_attempts
            delay = (
                verdict.retry_after_s
                if verdict.retry_after_s is not None
                else policy.backoff_s(attempt)
            )
            if delay > policy.max_retry_after_s:
                give_up = True
            if give_up:
                raise failure(
                    method=method,
                    error=verdict.error,
                    retryable=verdict.retryable,
                    status=verdict.status,
                    attempts=attempt,
                ) from exc
            await sleep(delay)
