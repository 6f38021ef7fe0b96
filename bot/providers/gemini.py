"""The Gemini API adapter: the only module in the project that imports ``google.genai``.

Every image model is called through ``generate_content`` with image-only output. One
:class:`google.genai.Client` serves the whole process; the SDK's own retries, automatic function
calling and automatic continuation are off, because the dispatcher owns retries and a hidden second
request would be a second bill. Every SDK exception is mapped here into the
:mod:`bot.providers.base` tree with ``raise ... from``; the API key is scrubbed from anything that
could reach a log.

Batch jobs (:class:`bot.providers.base.BatchProvider`) go through ``client.aio.batches``: one
``batchGenerateContent`` call with the requests inline (each the same ``generate_content`` request
an interactive call would send, keyed by its index), then ``batches.get`` until the job finished.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import aiohttp
import pydantic
from google import genai
from google.genai import errors, types

from bot.providers.base import (
    BatchFailure,
    BatchState,
    BatchStatus,
    GeneratedImage,
    ImageRequest,
    ImageResult,
    KeyRejected,
    MalformedResponse,
    ModelNotFound,
    NoImage,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    Rejected,
    SafetyBlocked,
    Unavailable,
)
from router.usage import Usage

__all__ = [
    "GeminiProvider",
    "error_from_api_error",
    "result_from_response",
    "retry_delay_seconds",
    "usage_from_metadata",
]

log = logging.getLogger(__name__)

#: Candidate finish reasons that mean a safety or policy filter stopped the image.
SAFETY_FINISH_REASONS = frozenset(
    {
        "SAFETY",
        "IMAGE_SAFETY",
        "PROHIBITED_CONTENT",
        "IMAGE_PROHIBITED_CONTENT",
        "BLOCKLIST",
        "SPII",
        "RECITATION",
        "IMAGE_RECITATION",
    }
)

_HARM_WORDS = {
    "HARM_CATEGORY_HATE_SPEECH": "hate speech",
    "HARM_CATEGORY_HARASSMENT": "harassment",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT": "sexually explicit content",
    "HARM_CATEGORY_DANGEROUS_CONTENT": "dangerous content",
    "HARM_CATEGORY_CIVIC_INTEGRITY": "civic integrity",
}
_FLAGGED = frozenset({"MEDIUM", "HIGH"})
_RETRY_IN = re.compile(r"retry in\s+([0-9]+(?:\.[0-9]+)?)\s*(ms|s)\b", re.IGNORECASE)
_LIMIT_ZERO = re.compile(r"\blimit:\s*0\b")
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)s\s*$")
_REDACTED = "[redacted]"

#: Google's job states (the SDK maps BATCH_STATE_* on the wire to JOB_STATE_*) to ours.
_BATCH_STATES = {
    "JOB_STATE_UNSPECIFIED": BatchState.PENDING,
    "JOB_STATE_QUEUED": BatchState.PENDING,
    "JOB_STATE_PENDING": BatchState.PENDING,
    "JOB_STATE_RUNNING": BatchState.RUNNING,
    "JOB_STATE_UPDATING": BatchState.RUNNING,
    "JOB_STATE_PAUSED": BatchState.RUNNING,
    "JOB_STATE_CANCELLING": BatchState.RUNNING,
    "JOB_STATE_SUCCEEDED": BatchState.SUCCEEDED,
    "JOB_STATE_PARTIALLY_SUCCEEDED": BatchState.SUCCEEDED,
    "JOB_STATE_FAILED": BatchState.FAILED,
    "JOB_STATE_CANCELLED": BatchState.CANCELLED,
    "JOB_STATE_EXPIRED": BatchState.EXPIRED,
}
_BATCH_NAME = re.compile(r"^batches/[^/]+$")


class GeminiProvider:
    """:class:`bot.providers.base.ImageProvider` over the Gemini API (google-genai 3.x).

    Build one per process in the composition root and :meth:`aclose` it on shutdown.
    ``base_url``/``api_version`` point the SDK elsewhere (tests use a loopback fake);
    ``timeout_s`` bounds one HTTP call; ``max_concurrency`` bounds calls in flight.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        api_version: str | None = None,
        timeout_s: float = 120,
        max_concurrency: int = 8,
    ) -> None:
        if not api_key:
            raise ValueError("GeminiProvider needs an API key")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._api_key = api_key
        self._client = genai.Client(
            api_key=api_key,
            http_options=types.HttpOptions(
                base_url=base_url,
                api_version=api_version,
                timeout=max(1, round(timeout_s * 1000)),
                # One attempt: this also turns off the SDK's silent re-send on connection errors.
                retry_options=types.HttpRetryOptions(attempts=1),
            ),
        )
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._closed = False

    def __repr__(self) -> str:
        return f"GeminiProvider(api_key={_REDACTED!r})"

    async def generate(self, request: ImageRequest) -> ImageResult:
        """Call ``generate_content`` once for one image; map every failure to a ProviderError."""
        model_id = request.model_id
        contents = [_content_for(request)]
        config = _config_for(request)
        started = time.monotonic()
        failure: BaseException | None = None
        response: types.GenerateContentResponse | None = None
        async with self._semaphore:
            try:
                response = await self._client.aio.models.generate_content(
                    model=model_id, contents=contents, config=config
                )
            except (errors.APIError, TimeoutError, aiohttp.ClientError) as exc:
                failure = exc
            except (json.JSONDecodeError, pydantic.ValidationError) as exc:
                failure = exc
            except errors.UnknownApiResponseError as exc:
                failure = exc
        elapsed_ms = round((time.monotonic() - started) * 1000)
        if failure is not None:
            # Raised outside the except blocks so the SDK error is only the (scrubbed) cause.
            mapped = self._map_failure(model_id, failure)
            # Retryable failures are routine (the dispatcher backs off); the rest deserve a warning.
            log.log(
                logging.INFO if mapped.retryable else logging.WARNING,
                "gemini generate failed model=%s kind=%s retryable=%s billed=%s elapsed_ms=%d"
                " detail=%s",
                model_id,
                mapped.kind,
                mapped.retryable,
                mapped.may_have_billed,
                elapsed_ms,
                mapped.detail,
            )
            raise mapped from self._scrubbed(failure)
        assert response is not None
        try:
            result = result_from_response(model_id, response)
        except ProviderError as exc:
            log.warning(
                "gemini generate empty model=%s kind=%s billed=%s elapsed_ms=%d detail=%s",
                model_id,
                exc.kind,
                exc.may_have_billed,
                elapsed_ms,
                exc.detail,
            )
            raise
        usage = result.usage
        log.info(
            "gemini generate ok model=%s images=%d input_tokens=%d output_image_tokens=%d"
            " output_text_tokens=%d thinking_tokens=%d usage_reported=%s elapsed_ms=%d",
            model_id,
            len(result.images),
            usage.input_tokens,
            usage.output_image_tokens,
            usage.output_text_tokens,
            usage.thinking_tokens,
            usage.reported,
            elapsed_ms,
        )
        return result

    async def list_models(self) -> frozenset[str]:
        """Every model id the key can see, paging through ``models.list`` (``models/`` stripped)."""
        failure: BaseException | None = None
        ids: set[str] = set()
        try:
            pager = await self._client.aio.models.list(config=types.ListModelsConfig(page_size=100))
            async for model in pager:
                if model.name:
                    ids.add(model.name.removeprefix("models/"))
        except (errors.APIError, TimeoutError, aiohttp.ClientError) as exc:
            failure = exc
        except (json.JSONDecodeError, pydantic.ValidationError) as exc:
            failure = exc
        if failure is not None:
            mapped = self._map_failure("models.list", failure)
            log.warning("gemini list_models failed kind=%s detail=%s", mapped.kind, mapped.detail)
            raise mapped from self._scrubbed(failure)
        log.info("gemini list_models ok count=%d", len(ids))
        return frozenset(ids)

    # -- batch jobs -------------------------------------------------------------------------

    async def submit_batch(
        self, *, model_id: str, requests: Sequence[ImageRequest], display_name: str
    ) -> str:
        """Create one batch job with ``requests`` inline; return its name (``batches/…``).

        Every request must be on ``model_id``; each carries its index as ``metadata.key``, which
        :meth:`get_batch` uses to match results to requests. Creating a job is not idempotent at
        Google: any failure but a definite refusal (:class:`Rejected`, :class:`KeyRejected`,
        :class:`ModelNotFound`, :class:`RateLimited`) may still have created it, so the caller
        looks it up by ``display_name`` before trying again.
        """
        if not requests:
            raise ValueError("a batch needs at least one request")
        others = {request.model_id for request in requests} - {model_id}
        if others:
            raise ValueError(f"every request of a batch must be on {model_id}, not {others}")
        inlined = [
            types.InlinedRequest(
                contents=[_content_for(request)],
                config=_config_for(request),
                metadata={"key": str(index)},
            )
            for index, request in enumerate(requests)
        ]
        failure: BaseException | None = None
        job: types.BatchJob | None = None
        try:
            job = await self._client.aio.batches.create(
                model=model_id,
                src=types.BatchJobSource(inlined_requests=inlined),
                config=types.CreateBatchJobConfig(display_name=display_name),
            )
        except (errors.APIError, TimeoutError, aiohttp.ClientError) as exc:
            failure = exc
        except (json.JSONDecodeError, pydantic.ValidationError) as exc:
            failure = exc
        except errors.UnknownApiResponseError as exc:  # a ValueError: an unreadable answer
            failure = exc
        if failure is not None:
            mapped = self._map_failure(model_id, failure)
            log.warning(
                "gemini batch create failed model=%s requests=%d kind=%s may_exist=%s detail=%s",
                model_id,
                len(requests),
                mapped.kind,
                mapped.may_have_billed,
                mapped.detail,
            )
            raise mapped from self._scrubbed(failure)
        assert job is not None
        if not job.name or not _BATCH_NAME.match(job.name):
            # The job was created (we cannot tell its name): the caller must look it up.
            raise MalformedResponse(f"batch create returned name {job.name!r}", model_id=model_id)
        log.info(
            "gemini batch created model=%s requests=%d name=%s", model_id, len(requests), job.name
        )
        return job.name

    async def get_batch(self, name: str, *, request_count: int) -> BatchStatus:
        """The job's state and the results Google has: one slot per request, in request order.

        Each response is placed by the index its ``metadata.key`` carries (the one
        :meth:`submit_batch` sent), or by position when no response has a key (Google returns
        inline responses in request order); a request Google returned nothing for keeps None.
        Results may appear before the job finished; they are final only once it has. A response
        without an image becomes a :class:`BatchFailure` carrying its usage (input and thinking
        are billed even then); a request Google answered with an error status becomes one with
        unreported usage (nothing billed). Keys that cannot be matched to the ``request_count``
        requests raise :class:`MalformedResponse`.
        """
        if not _BATCH_NAME.match(name):
            raise ValueError(f"{name!r} is not a batch name (batches/...)")
        if request_count < 1:
            raise ValueError("a batch has at least one request")
        failure: BaseException | None = None
        job: types.BatchJob | None = None
        try:
            job = await self._client.aio.batches.get(name=name)
        except (errors.APIError, TimeoutError, aiohttp.ClientError) as exc:
            failure = exc
        except (json.JSONDecodeError, pydantic.ValidationError) as exc:
            failure = exc
        except errors.UnknownApiResponseError as exc:  # a ValueError: an unreadable answer
            failure = exc
        if failure is not None:
            mapped = self._map_failure(name, failure)
            log.info("gemini batch get failed name=%s kind=%s", name, mapped.kind)
            raise mapped from self._scrubbed(failure)
        assert job is not None
        return _batch_status(name, job, request_count=request_count)

    async def find_batch(self, display_name: str) -> str | None:
        """The name of the newest job whose display name is ``display_name``, or None."""
        failure: BaseException | None = None
        found: list[tuple[str, str]] = []
        try:
            pager = await self._client.aio.batches.list(
                config=types.ListBatchJobsConfig(page_size=100)
            )
            async for job in pager:
                if job.display_name == display_name and job.name:
                    created = job.create_time.isoformat() if job.create_time else ""
                    found.append((created, job.name))
        except (errors.APIError, TimeoutError, aiohttp.ClientError) as exc:
            failure = exc
        except (json.JSONDecodeError, pydantic.ValidationError) as exc:
            failure = exc
        except errors.UnknownApiResponseError as exc:  # a ValueError: an unreadable answer
            failure = exc
        if failure is not None:
            mapped = self._map_failure("batches.list", failure)
            log.warning("gemini batch list failed kind=%s detail=%s", mapped.kind, mapped.detail)
            raise mapped from self._scrubbed(failure)
        return max(found)[1] if found else None

    async def aclose(self) -> None:
        """Close the SDK's async and sync HTTP clients."""
        if self._closed:
            return
        self._closed = True
        await self._client.aio.aclose()
        self._client.close()

    def _map_failure(self, model_id: str, failure: BaseException) -> ProviderError:
        if isinstance(failure, errors.APIError):
            return error_from_api_error(model_id, failure, secret=self._api_key)
        if isinstance(failure, TimeoutError):
            return ProviderTimeout("no answer before the client timeout", model_id=model_id)
        if isinstance(failure, aiohttp.ClientConnectorError):
            return Unavailable(
                f"could not connect: {type(failure).__name__}",
                model_id=model_id,
            )
        if isinstance(failure, aiohttp.ClientError):
            # The request went out; Google may have finished (and billed) it.
            return Unavailable(
                f"connection failed mid-call: {type(failure).__name__}",
                model_id=model_id,
                may_have_billed=True,
            )
        return MalformedResponse(
            f"undecodable response: {type(failure).__name__}: "
            f"{_scrub_text(str(failure), self._api_key)[:200]}",
            model_id=model_id,
        )

    def _scrubbed(self, failure: BaseException) -> BaseException:
        """The SDK error to chain as ``__cause__``, rebuilt without the key if it echoed it."""
        if isinstance(failure, errors.APIError) and self._api_key in str(failure):
            clean = type(failure)(failure.code, _scrub_json(failure.details, self._api_key))
            return clean.with_traceback(failure.__traceback__)
        if self._api_key in str(failure):
            return RuntimeError(_scrub_text(str(failure), self._api_key))
        return failure


def _content_for(request: ImageRequest) -> types.Content:
    parts = [types.Part.from_text(text=request.prompt)]
    parts.extend(
        types.Part.from_bytes(data=ref.data, mime_type=ref.mime_type) for ref in request.references
    )
    return types.Content(role="user", parts=parts)


def _config_for(request: ImageRequest) -> types.GenerateContentConfig:
    image_config = None
    if request.aspect_ratio is not None or request.image_size is not None:
        image_config = types.ImageConfig(
            aspect_ratio=request.aspect_ratio, image_size=request.image_size
        )
    thinking_config = None
    if request.thinking_level is not None:
        thinking_config = types.ThinkingConfig(
            thinking_level=_thinking_level(request.model_id, request.thinking_level)
        )
    return types.GenerateContentConfig(
        response_modalities=["IMAGE"],
        image_config=image_config,
        thinking_config=thinking_config,
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        automatic_continuation=False,
    )


def _thinking_level(model_id: str, level: str) -> types.ThinkingLevel:
    name = level.strip().upper()
    if name not in types.ThinkingLevel.__members__ or name == "THINKING_LEVEL_UNSPECIFIED":
        raise Rejected(f"unknown thinking level {level!r}", model_id=model_id)
    return types.ThinkingLevel[name]


def usage_from_metadata(
    metadata: types.GenerateContentResponseUsageMetadata | None,
) -> Usage:
    """Token counts from ``usage_metadata``; :meth:`Usage.unreported` when there are none.

    Image output tokens come from ``candidates_tokens_details`` (modality IMAGE); the rest of
    ``candidates_token_count`` is visible text; ``thoughts_token_count`` is thinking (billed as
    text output); ``prompt_token_count`` includes reference images, itemised as IMAGE in
    ``prompt_tokens_details``.
    """
    if metadata is None or (
        metadata.prompt_token_count is None
        and metadata.candidates_token_count is None
        and metadata.thoughts_token_count is None
    ):
        return Usage.unreported()
    output_image = _modality_tokens(metadata.candidates_tokens_details, types.MediaModality.IMAGE)
    candidates = metadata.candidates_token_count or 0
    return Usage(
        input_tokens=metadata.prompt_token_count or 0,
        input_image_tokens=_modality_tokens(
            metadata.prompt_tokens_details, types.MediaModality.IMAGE
        ),
        output_image_tokens=output_image,
        output_text_tokens=max(candidates - output_image, 0),
        thinking_tokens=metadata.thoughts_token_count or 0,
    )


def _modality_tokens(
    details: Sequence[types.ModalityTokenCount] | None, modality: types.MediaModality
) -> int:
    return sum(d.token_count or 0 for d in details or () if d.modality == modality)


def result_from_response(model_id: str, response: types.GenerateContentResponse) -> ImageResult:
    """Turn a parsed response into an :class:`ImageResult`, or raise why there is no image.

    Thought parts (``thought=True``: interim images the model drafts while thinking) are skipped:
    they are neither results nor billed. Raises :class:`SafetyBlocked` for a blocked prompt
    (``prompt_feedback.block_reason``) or a candidate stopped by a safety filter with no image,
    and :class:`NoImage` when the model answered without an image; both carry the usage, because
    the input and thinking tokens are billed.
    """
    usage = usage_from_metadata(response.usage_metadata)
    candidates = response.candidates or []
    images: list[GeneratedImage] = []
    texts: list[str] = []
    for candidate in candidates:
        parts = candidate.content.parts if candidate.content and candidate.content.parts else []
        for part in parts:
            if part.thought:
                continue
            blob = part.inline_data
            if blob is not None and blob.data and (blob.mime_type or "").startswith("image/"):
                images.append(GeneratedImage(blob.data, blob.mime_type or "image/png"))
            elif part.text:
                texts.append(part.text)
    text = "".join(texts).strip() or None
    first_reason = _enum_name(candidates[0].finish_reason) if candidates else None
    if images:
        return ImageResult(
            model_id=model_id,
            images=tuple(images),
            usage=usage,
            finish_reason=first_reason,
            text=text,
        )
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        reason = _enum_name(feedback.block_reason) or "OTHER"
        raise SafetyBlocked(
            f"prompt blocked block_reason={reason}",
            model_id=model_id,
            reason=reason,
            stage="prompt",
            categories=_flagged_categories(feedback.safety_ratings),
            usage=usage,
        )
    for candidate in candidates:
        stopped = _enum_name(candidate.finish_reason)
        if stopped is not None and stopped in SAFETY_FINISH_REASONS:
            note = (
                f" finish_message={candidate.finish_message!r}" if candidate.finish_message else ""
            )
            raise SafetyBlocked(
                f"image blocked finish_reason={stopped}{note}",
                model_id=model_id,
                reason=stopped,
                stage="image",
                categories=_flagged_categories(candidate.safety_ratings),
                usage=usage,
            )
    raise NoImage(
        f"no image in response finish_reason={first_reason} candidates={len(candidates)}"
        f" text_chars={len(text or '')}",
        model_id=model_id,
        usage=usage,
        finish_reason=first_reason,
        text=text,
    )


def _batch_status(name: str, job: types.BatchJob, *, request_count: int) -> BatchStatus:
    model_id = (job.model or "").removeprefix("models/")
    state = _BATCH_STATES.get(_enum_name(job.state) or "", BatchState.PENDING)
    error = None
    if job.error is not None:
        error = f"code={job.error.code} message={(job.error.message or '')[:300]!r}"
    dest = job.dest
    if dest is None or not dest.inlined_responses:
        if state is BatchState.SUCCEEDED:
            raise MalformedResponse(
                f"batch {name} succeeded without inline results"
                + (f" (results file {dest.file_name})" if dest and dest.file_name else ""),
                model_id=model_id,
            )
        return BatchStatus(name=name, state=state, model_id=model_id, error=error)
    slots = _result_slots(name, model_id, dest.inlined_responses, request_count=request_count)
    return BatchStatus(
        name=name,
        state=state,
        model_id=model_id,
        results=tuple(None if item is None else _batch_result(model_id, item) for item in slots),
        error=error,
    )


def _result_slots(
    name: str,
    model_id: str,
    responses: Sequence[types.InlinedResponse],
    *,
    request_count: int,
) -> list[types.InlinedResponse | None]:
    """One slot per request: each response at the index its key carries, or by position when
    no response has a key (Google returns inline responses in request order)."""
    slots: list[types.InlinedResponse | None] = [None] * request_count
    keys = [(item.metadata or {}).get("key") for item in responses]
    if all(key is None for key in keys):
        if len(responses) > request_count:
            raise MalformedResponse(
                f"batch {name} returned {len(responses)} results for {request_count} requests",
                model_id=model_id,
            )
        slots[: len(responses)] = responses
        return slots
    for key, item in zip(keys, responses, strict=True):
        index = int(key) if key is not None and key.isdigit() else -1
        if not 0 <= index < request_count or slots[index] is not None:
            raise MalformedResponse(
                f"batch {name} returned a result keyed {key!r}, which matches none of its "
                f"{request_count} requests (or repeats one)",
                model_id=model_id,
            )
        slots[index] = item
    return slots


def _batch_result(model_id: str, item: types.InlinedResponse) -> ImageResult | BatchFailure:
    if item.response is None:
        code = item.error.code if item.error else None
        message = (item.error.message or "") if item.error else ""
        return BatchFailure(
            model_id=model_id,
            kind="request_error",
            detail=f"code={code} message={message[:300]!r}",
            message=(
                "Google could not make this image (it answered the request with an error). "
                "Nothing was charged."
            ),
            usage=Usage.unreported(),
        )
    try:
        return result_from_response(model_id, item.response)
    except ProviderError as exc:
        return BatchFailure(
            model_id=model_id,
            kind=exc.kind,
            detail=exc.detail,
            message=exc.user_message,
            usage=exc.usage if exc.usage is not None else Usage.unreported(),
        )


def _enum_name(value: object) -> str | None:
    if value is None:
        return None
    raw = getattr(value, "value", value)
    return str(raw)


def _flagged_categories(ratings: Iterable[types.SafetyRating] | None) -> tuple[str, ...]:
    flagged: list[str] = []
    for rating in ratings or ():
        probability = _enum_name(rating.probability)
        category = _enum_name(rating.category)
        if (rating.blocked or probability in _FLAGGED) and category:
            flagged.append(_HARM_WORDS.get(category, category.lower().replace("_", " ")))
    return tuple(flagged)


def retry_delay_seconds(body: object, message: str | None = None) -> float | None:
    """Google's suggested wait from a 429: RetryInfo.retryDelay ("26s", "1.5s"), else
    "Please retry in Ns." (or "…ms") in the message, else None."""
    for detail in _details(body):
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = detail.get("retryDelay")
            if isinstance(delay, str):
                matched = _DURATION.match(delay)
                if matched:
                    return float(matched.group(1))
            elif isinstance(delay, Mapping):
                seconds = float(delay.get("seconds", 0) or 0)
                nanos = float(delay.get("nanos", 0) or 0)
                return seconds + nanos / 1e9
    if message:
        matched = _RETRY_IN.search(message)
        if matched:
            value = float(matched.group(1))
            return value / 1000 if matched.group(2).lower() == "ms" else value
    return None


def _details(body: object) -> list[Mapping[str, Any]]:
    if not isinstance(body, Mapping):
        return []
    error = body.get("error", body)
    if not isinstance(error, Mapping):
        return []
    details = error.get("details")
    if not isinstance(details, list):
        return []
    return [d for d in details if isinstance(d, Mapping)]


def _quota_flags(body: object, message: str) -> tuple[bool, bool]:
    """(daily, no_quota) from QuotaFailure violations, ErrorInfo metadata and the message."""
    daily = False
    no_quota = bool(_LIMIT_ZERO.search(message))
    for detail in _details(body):
        kind = str(detail.get("@type", ""))
        if kind.endswith("google.rpc.QuotaFailure"):
            for violation in detail.get("violations") or []:
                if not isinstance(violation, Mapping):
                    continue
                quota_id = str(violation.get("quotaId", ""))
                if "PerDay" in quota_id:
                    daily = True
                if str(violation.get("quotaValue", "")) == "0":
                    no_quota = True
        elif kind.endswith("google.rpc.ErrorInfo"):
            metadata = detail.get("metadata")
            if isinstance(metadata, Mapping):
                if "PerDay" in str(metadata.get("quota_limit", "")):
                    daily = True
                if str(metadata.get("quota_limit_value", "")) == "0":
                    no_quota = True
    return daily, no_quota


def _is_key_problem(body: object, message: str) -> bool:
    for detail in _details(body):
        if str(detail.get("@type", "")).endswith("google.rpc.ErrorInfo") and str(
            detail.get("reason", "")
        ).startswith("API_KEY"):
            return True
    return "api key" in message.lower()


def error_from_api_error(
    model_id: str, exc: errors.APIError, *, secret: str | None = None
) -> ProviderError:
    """Map an SDK HTTP error to the provider error tree (``secret`` is scrubbed from the text).

    429 -> :class:`RateLimited`; 404 -> :class:`ModelNotFound`; a bad key (400 API_KEY_*, 401,
    403) -> :class:`KeyRejected`; another 4xx -> :class:`Rejected`; 5xx -> :class:`Unavailable`.
    """
    code = int(exc.code or 0)
    status = exc.status or ""
    message = _scrub_text(str(exc.message or ""), secret)
    detail = f"http={code} status={status} message={message[:300]!r}"
    body = exc.details
    if code == 429:
        daily, no_quota = _quota_flags(body, message)
        return RateLimited(
            detail,
            model_id=model_id,
            retry_after_s=retry_delay_seconds(body, message),
            daily=daily,
            no_quota=no_quota,
        )
    if code == 404:
        return ModelNotFound(detail, model_id=model_id)
    if code in (401, 403) or (code == 400 and _is_key_problem(body, message)):
        return KeyRejected(detail, model_id=model_id)
    if code == 408:
        return Unavailable(detail, model_id=model_id)
    if 400 <= code < 500:
        return Rejected(detail, model_id=model_id)
    return Unavailable(detail, model_id=model_id)


def _scrub_text(text: str, secret: str | None) -> str:
    if secret and secret in text:
        return text.replace(secret, _REDACTED)
    return text


def _scrub_json(value: Any, secret: str) -> Any:
    if isinstance(value, str):
        return _scrub_text(value, secret)
    if isinstance(value, Mapping):
        return {key: _scrub_json(item, secret) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub_json(item, secret) for item in value]
    return value
