"""The image-provider seam: request and result values, the Protocol, and the error tree.

One :class:`ImageRequest` asks for one image from one model. An adapter (the only one is
:class:`bot.providers.gemini.GeminiProvider`) turns it into an SDK call and returns an
:class:`ImageResult`, or raises one of the errors below. The adapter maps every SDK exception into
this tree, so nothing above ``bot.providers`` ever sees a ``google.genai`` type.

Errors (every one carries ``model_id``, ``may_have_billed``, ``usage`` and a ``user_message``
written for the marketer who asked for the image)::

    ProviderError                  base of everything an adapter raises
    ├── RateLimited                429: too many requests, or the quota is used up
    ├── Unavailable                5xx or a broken connection: Google could not serve the call
    │   └── ProviderTimeout        no answer in time (the call may still have been billed)
    ├── ModelNotFound              404: the model id is retired or not offered to this key
    ├── Rejected                   another 4xx: Google refused the request as invalid
    ├── KeyRejected                the API key is invalid or lacks permission (400/401/403)
    ├── SafetyBlocked              the prompt or the image was stopped by a safety filter
    ├── NoImage                    the model answered, but with no image (text only)
    └── MalformedResponse          the answer could not be decoded

``retryable`` says whether trying the same model again later can help; the dispatcher decides
whether to move to another model (it never does for safety blocks or request/key rejections).

Batch jobs (half price, results later) have their own small seam, :class:`BatchProvider`, so
implementations and fakes of :class:`ImageProvider` need not change: :meth:`~BatchProvider.
submit_batch` sends many :class:`ImageRequest` of one model as one job and returns its name,
:meth:`~BatchProvider.get_batch` reports a :class:`BatchStatus` whose ``results`` hold one slot per
request, in request order: an :class:`ImageResult`, a :class:`BatchFailure`, or None where Google
returned nothing for that request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from router.usage import Usage

__all__ = [
    "BatchFailure",
    "BatchProvider",
    "BatchState",
    "BatchStatus",
    "GeneratedImage",
    "ImageProvider",
    "ImageRequest",
    "ImageResult",
    "KeyRejected",
    "MalformedResponse",
    "ModelNotFound",
    "NoImage",
    "ProviderError",
    "ProviderTimeout",
    "RateLimited",
    "ReferenceImage",
    "Rejected",
    "SafetyBlocked",
    "Unavailable",
]


@dataclass(frozen=True, slots=True)
class ReferenceImage:
    """An image sent along with the prompt (identity lock, the image to edit, a style sample)."""

    data: bytes
    mime_type: str

    def __post_init__(self) -> None:
        if not self.mime_type.startswith("image/"):
            raise ValueError(f"reference mime type {self.mime_type!r} is not an image type")
        if not self.data:
            raise ValueError("reference image is empty")


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageRequest:
    """One call for one image on one model.

    ``image_size`` is the API's spelling ("512", "1K", "2K", "4K") or None when the model has a
    single size (Gemini 2.5 Flash Image); ``thinking_level`` is a level name such as "minimal" or
    "high", or None for the model's default. References are sent after the prompt, in order.
    """

    model_id: str
    prompt: str
    references: tuple[ReferenceImage, ...] = ()
    aspect_ratio: str | None = None
    image_size: str | None = None
    thinking_level: str | None = None


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    """Image bytes returned by a model, with their mime type (usually image/png)."""

    data: bytes
    mime_type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageResult:
    """A successful call: at least one image, and the usage to price it from.

    ``images`` holds only final images: interim "thought" images are neither results nor billed.
    ``text`` is any visible text the model wrote beside the image; ``finish_reason`` is the
    first candidate's reason as the API spells it ("STOP"), or None when absent.
    """

    model_id: str
    images: tuple[GeneratedImage, ...]
    usage: Usage
    finish_reason: str | None = None
    text: str | None = None


@runtime_checkable
class ImageProvider(Protocol):
    """What the dispatcher needs from an image API. One instance serves the whole process."""

    async def generate(self, request: ImageRequest) -> ImageResult:
        """Make one call; return its images and usage or raise a :class:`ProviderError`."""
        ...

    async def list_models(self) -> frozenset[str]:
        """The bare model ids (no ``models/`` prefix) this API key can see."""
        ...

    async def aclose(self) -> None:
        """Release connections; the provider must not be used afterwards."""
        ...


class BatchState(StrEnum):
    """Where a batch job stands at Google (the API's JOB_STATE_* / BATCH_STATE_*, simplified)."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def finished(self) -> bool:
        """True when Google will not change the job any more."""
        return self not in (BatchState.PENDING, BatchState.RUNNING)


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchFailure:
    """One request of a batch that returned no image.

    ``kind`` is a :attr:`ProviderError.kind` (``safety_blocked``, ``no_image``...) or
    ``request_error`` when Google answered the request with an error status; ``usage`` is what the
    response reported (``Usage.unreported()`` when nothing: then nothing was billed for it);
    ``message`` is written for the person who asked.
    """

    model_id: str
    kind: str
    detail: str
    message: str
    usage: Usage


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchStatus:
    """A batch job as Google reports it now.

    ``results`` is empty while Google reported no result at all; otherwise it holds exactly one
    slot per request, in the order the requests were submitted: the request's result, or None
    where Google returned nothing for it (the caller treats that as a failure that cost nothing).
    A job that is not finished may already carry some results: they are only final once
    ``state.finished``. ``error`` is Google's reason for a failed job, if it gave one.
    """

    name: str
    state: BatchState
    model_id: str
    results: tuple[ImageResult | BatchFailure | None, ...] = ()
    error: str | None = None

    @property
    def has_results(self) -> bool:
        """True when Google returned a result for at least one request."""
        return any(result is not None for result in self.results)


@runtime_checkable
class BatchProvider(Protocol):
    """What the batch use case needs from an image API. One instance serves the whole process."""

    async def submit_batch(
        self, *, model_id: str, requests: Sequence[ImageRequest], display_name: str
    ) -> str:
        """Create one batch job of ``requests`` (all on ``model_id``); return its name.

        Not idempotent at Google: every call creates a job. Raises a :class:`ProviderError`.
        Only a definite refusal (:class:`Rejected`, :class:`KeyRejected`, :class:`ModelNotFound`,
        :class:`RateLimited`) means no job was created; after any other failure (a 5xx, a
        timeout, an answer that could not be read) the job may exist all the same (look it up
        with :meth:`find_batch`).
        """
        ...

    async def get_batch(self, name: str, *, request_count: int) -> BatchStatus:
        """The job's state and the results Google has, one slot per request of the
        ``request_count`` submitted. Raises a ProviderError (:class:`ModelNotFound` when Google
        does not know the job, :class:`MalformedResponse` when the results cannot be matched
        to the requests)."""
        ...

    async def find_batch(self, display_name: str) -> str | None:
        """The name of the newest job created with ``display_name``, or None."""
        ...


def _charge_sentence(*, may_have_billed: bool, usage: Usage | None) -> str:
    if not may_have_billed:
        return "Nothing was charged."
    if usage is not None and usage.reported:
        if usage.output_image_tokens:
            return "Google charged for this call."
        return "Google charged a small amount for reading the request; no image was charged."
    return "Google may still have charged for this call; the bot counts it at the estimate."


class ProviderError(Exception):
    """Base of every error an image provider raises.

    ``str(error)`` is a one-line technical description for logs (never the API key);
    ``user_message`` is for the marketer: what happened, whether anything was charged, what to do.
    ``may_have_billed`` is True when Google may have charged for the failed call (the dispatcher
    then records the attempt in the ledger); ``usage`` holds the token counts when the response
    reported them.
    """

    def __init__(
        self,
        detail: str,
        *,
        model_id: str,
        may_have_billed: bool = False,
        usage: Usage | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.model_id = model_id
        self.may_have_billed = may_have_billed
        self.usage = usage

    @property
    def retryable(self) -> bool:
        """Whether trying the same model again later can succeed."""
        return False

    @property
    def kind(self) -> str:
        """A short stable name for logs and ledger rows, e.g. ``rate_limited``."""
        return _KINDS.get(type(self).__name__, type(self).__name__.lower())

    @property
    def charge_note(self) -> str:
        """One sentence saying whether the failed call cost anything."""
        return _charge_sentence(may_have_billed=self.may_have_billed, usage=self.usage)

    @property
    def user_message(self) -> str:
        """What happened, whether it was charged, what to do next; no jargon, no secrets."""
        return (
            f"Something went wrong while creating the image. {self.charge_note} "
            "Please try again in a minute."
        )


class RateLimited(ProviderError):
    """Raised on HTTP 429 RESOURCE_EXHAUSTED.

    ``retry_after_s`` is Google's suggested wait (RetryInfo.retryDelay, or "Please retry in Ns."
    in the message), or None. ``daily`` is True when a per-day quota ran out (waiting seconds will
    not help); ``no_quota`` is True when the key has no quota at all for the model ("limit: 0").
    """

    def __init__(
        self,
        detail: str,
        *,
        model_id: str,
        retry_after_s: float | None = None,
        daily: bool = False,
        no_quota: bool = False,
    ) -> None:
        super().__init__(detail, model_id=model_id)
        self.retry_after_s = retry_after_s
        self.daily = daily
        self.no_quota = no_quota

    @property
    def retryable(self) -> bool:
        """A per-minute limit passes; a used-up daily quota or no quota at all does not."""
        return not (self.daily or self.no_quota)

    @property
    def user_message(self) -> str:
        """Busy now (try again shortly), or out of quota for the day (try tomorrow)."""
        if self.no_quota:
            return (
                "This workspace's Google account has no quota for this image model. "
                f"{self.charge_note} Ask an admin to enable billing or raise the quota."
            )
        if self.daily:
            return (
                "Today's Google quota for this image model is used up. "
                f"{self.charge_note} Try again tomorrow, or ask an admin to raise the quota."
            )
        wait = ""
        if self.retry_after_s is not None:
            wait = f" in about {max(1, round(self.retry_after_s))} seconds"
        return (
            "Google is receiving too many image requests from this workspace right now. "
            f"{self.charge_note} Try again{wait}."
        )


class Unavailable(ProviderError):
    """Raised on HTTP 5xx (e.g. 503 "The model is overloaded") or a failed connection."""

    @property
    def retryable(self) -> bool:
        """Overload and outages pass; try the same model again after a pause."""
        return True

    @property
    def user_message(self) -> str:
        """Google is overloaded or down; try again in a minute."""
        return (
            "Google's image service is overloaded or unreachable at the moment. "
            f"{self.charge_note} Please try again in a minute."
        )


class ProviderTimeout(Unavailable):
    """Raised when no answer arrived within the client timeout.

    Google may have finished (and billed) the call after we stopped waiting, so
    ``may_have_billed`` is True and the dispatcher prices the attempt at the card's estimate.
    """

    def __init__(self, detail: str, *, model_id: str) -> None:
        super().__init__(detail, model_id=model_id, may_have_billed=True)

    @property
    def user_message(self) -> str:
        """Took too long; may be charged at the estimate; try again or pick a smaller size."""
        return (
            "Google took too long to create the image, so the bot stopped waiting. "
            f"{self.charge_note} Try again, or ask for a smaller size."
        )


class ModelNotFound(ProviderError):
    """Raised on HTTP 404: the model id is shut down or not offered to this API key."""

    @property
    def user_message(self) -> str:
        """The model is gone; nothing charged; an admin should update the rate card."""
        return (
            f"Google no longer offers the image model {self.model_id} to this workspace. "
            f"{self.charge_note} The bot switches to its successor where one is known; "
            "if this keeps happening, ask an admin to update the rate card."
        )


class Rejected(ProviderError):
    """Raised on a 4xx other than 404/429 and a key problem: the request itself was refused."""

    @property
    def user_message(self) -> str:
        """The request was refused as invalid; try different options or attachments."""
        return (
            "Google refused this request as invalid (for example an unsupported size, aspect "
            f"ratio or attachment). {self.charge_note} Try again with different options, "
            "or without the attached images."
        )


class KeyRejected(ProviderError):
    """Raised when the API key is invalid, expired or lacks permission (400 key, 401, 403)."""

    @property
    def user_message(self) -> str:
        """The bot's key was refused; nothing charged; an admin must fix the key."""
        return (
            "Google refused the bot's API key, so no image could be created. "
            f"{self.charge_note} Ask an admin to check the Gemini API key."
        )


class SafetyBlocked(ProviderError):
    """Raised when a safety filter stopped the prompt or the image and no image came back.

    ``reason`` is the API's reason ("SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", ...),
    ``stage`` is "prompt" (promptFeedback.blockReason) or "image" (the candidate's
    finishReason), ``categories`` the harm categories rated medium or high, in plain words.
    The prompt's input (and any thinking) is billed, so ``usage`` is attached when reported.
    """

    def __init__(
        self,
        detail: str,
        *,
        model_id: str,
        reason: str,
        stage: str,
        categories: tuple[str, ...] = (),
        usage: Usage | None = None,
    ) -> None:
        billed = usage is not None and usage.reported
        super().__init__(detail, model_id=model_id, may_have_billed=billed, usage=usage)
        self.reason = reason
        self.stage = stage
        self.categories = categories

    @property
    def user_message(self) -> str:
        """Blocked by the safety filter (naming why); rephrase the prompt."""
        what = "your prompt" if self.stage == "prompt" else "the image it was creating"
        why = _REASON_WORDS.get(self.reason, self.reason.lower().replace("_", " "))
        if self.categories:
            why = f"{why}: {', '.join(self.categories)}"
        return (
            f"Google's safety filter blocked {what} ({why}). {self.charge_note} "
            "Rephrase the request; the bot does not retry it on another model."
        )


class NoImage(ProviderError):
    """Raised when the call succeeded but returned no image (text only, or finishReason
    NO_IMAGE / IMAGE_OTHER). Input, text and thinking tokens are billed; ``usage`` says how many.
    ``text`` is what the model wrote instead, if anything.
    """

    def __init__(
        self,
        detail: str,
        *,
        model_id: str,
        usage: Usage | None = None,
        finish_reason: str | None = None,
        text: str | None = None,
    ) -> None:
        billed = usage is not None and usage.reported
        super().__init__(detail, model_id=model_id, may_have_billed=billed, usage=usage)
        self.finish_reason = finish_reason
        self.text = text

    @property
    def user_message(self) -> str:
        """The model answered without an image; describe the picture more concretely."""
        return (
            "The model answered with text but no image. "
            f"{self.charge_note} Try again, describing the picture you want more concretely."
        )


class MalformedResponse(ProviderError):
    """Raised when Google's answer could not be decoded (not JSON, or not the expected shape)."""

    def __init__(self, detail: str, *, model_id: str) -> None:
        super().__init__(detail, model_id=model_id, may_have_billed=True)

    @property
    def user_message(self) -> str:
        """Unreadable answer; may be charged at the estimate; try again."""
        return f"Google sent an answer the bot could not read. {self.charge_note} Please try again."


_KINDS = {
    "ProviderError": "provider_error",
    "RateLimited": "rate_limited",
    "Unavailable": "unavailable",
    "ProviderTimeout": "timeout",
    "ModelNotFound": "model_not_found",
    "Rejected": "rejected",
    "KeyRejected": "key_rejected",
    "SafetyBlocked": "safety_blocked",
    "NoImage": "no_image",
    "MalformedResponse": "malformed_response",
}

_REASON_WORDS = {
    "SAFETY": "safety",
    "IMAGE_SAFETY": "image safety",
    "PROHIBITED_CONTENT": "prohibited content",
    "IMAGE_PROHIBITED_CONTENT": "prohibited content in the image",
    "BLOCKLIST": "a blocked term",
    "SPII": "sensitive personal information",
    "RECITATION": "too close to existing material",
    "IMAGE_RECITATION": "too close to an existing image",
    "OTHER": "unspecified reason",
}
