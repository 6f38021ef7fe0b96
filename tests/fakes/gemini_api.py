"""A wire-level fake of the Gemini API for tests: a real aiohttp server on 127.0.0.1, port 0.

Point the real google-genai SDK at :attr:`FakeGeminiAPI.base_url` and it speaks to this server as
it would to Google: ``GET /{v1,v1beta}/models`` (paged with ``pageToken``) and
``POST /{v1,v1beta}/models/{model}:generateContent``, with the ``x-goog-api-key`` header checked.
Success replies are built from ``google.genai.types`` models and serialised with the SDK's own
JSON aliases (camelCase, no nulls), so they cannot drift from what the SDK parses; images are real
PNGs, different on every call; usage is realistic for each model (image tokens by size, thinking
for Gemini 3). Error bodies have the shapes of the captured fixtures (429 with RetryInfo and
QuotaFailure, 503 UNAVAILABLE, 404 NOT_FOUND, 400 API_KEY_INVALID).

Batch jobs: ``POST /{v1,v1beta}/models/{model}:batchGenerateContent`` (inline requests) creates a
job that answers ``GET /{v1,v1beta}/batches/{id}`` (and ``GET .../batches``, paged) with the
long-running Operation shape of fixture 15, state ``BATCH_STATE_PENDING``, until the test calls
:meth:`FakeGeminiAPI.finish_batch` (one response per request, built like generateContent replies,
with per-request failures or missing responses if asked), :meth:`FakeGeminiAPI.expire_batch` or
:meth:`FakeGeminiAPI.fail_batch`; :meth:`FakeGeminiAPI.report_partial` shows some results while
the job still runs, and :meth:`FakeGeminiAPI.garble_batch` answers its gets with a body the SDK
cannot handle. The Operation carries the results both where fixture 15 shows them
(``response.inlinedResponses``) and where google-genai 3.x reads them (``metadata.output``).
:class:`AcceptedThen` scripts a create that makes the job but answers with an error or never
answers. Created jobs are kept in :attr:`FakeGeminiAPI.batches` for assertions.

Script a model with :meth:`FakeGeminiAPI.script` (a queue of behaviours, consumed one per
request; an empty queue answers :class:`Ok`). Every request is recorded, with the JSON body
decoded and the inline images decoded from URL-safe base64, for assertions. Nothing sleeps on a
wall clock unless a test asks for it: :class:`Slow` waits for an :class:`asyncio.Event` the test
sets (or a short delay meant to trip a short client timeout).
"""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import json
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import pytest
from aiohttp import web
from google.genai import types
from PIL import Image

__all__ = [
    "DEFAULT_LISTED",
    "DEFAULT_RETIRED",
    "AcceptedThen",
    "BatchItemError",
    "Behaviour",
    "ClientError",
    "FakeBatch",
    "FakeGeminiAPI",
    "ImageBlocked",
    "Malformed",
    "NotFound",
    "Ok",
    "PromptBlocked",
    "RateLimit",
    "RecordedRequest",
    "ServerError",
    "Slow",
    "TextOnly",
    "gemini_api",
    "png_bytes",
]

#: Models the fake's models.list shows by default (image models live in November 2026, plus a
#: text model, as the real list mixes them).
DEFAULT_LISTED = frozenset(
    {
        "gemini-3-pro-image",
        "gemini-3.1-flash-image",
        "gemini-2.5-flash-image",
        "gemini-2.5-flash",
    }
)
#: Shut-down ids: generateContent answers 404 NOT_FOUND, and models.list omits them.
DEFAULT_RETIRED = frozenset(
    {
        "gemini-3-pro-image-preview",
        "gemini-3.1-flash-image-preview",
        "imagen-4.0-generate-001",
        "imagen-4.0-ultra-generate-001",
        "imagen-4.0-fast-generate-001",
    }
)


@dataclass(frozen=True)
class Ok:
    """A successful reply: ``images`` per candidate, ``candidates`` candidates.

    ``thought_images`` interim images (``thought: true``) come first and must not be returned by
    the adapter; ``text`` adds a visible text part; ``usage=False`` omits usageMetadata;
    ``thinking_tokens`` overrides the model's default.
    """

    images: int = 1
    candidates: int = 1
    thought_images: int = 0
    text: str | None = None
    usage: bool = True
    thinking_tokens: int | None = None


@dataclass(frozen=True)
class RateLimit:
    """429 RESOURCE_EXHAUSTED shaped like fixture 10 (QuotaFailure, Help, RetryInfo).

    ``retry_delay`` None drops RetryInfo; ``retry_in_message`` appends "Please retry in Ns.";
    ``per_day`` names a per-day quota; ``limit_zero`` says the key has no quota at all.
    """

    retry_delay: str | None = "26s"
    retry_in_message: float | None = None
    per_day: bool = False
    limit_zero: bool = False


@dataclass(frozen=True)
class ServerError:
    """A 5xx reply; 503 has the body of fixture 12 ("The model is overloaded...")."""

    status: int = 503


@dataclass(frozen=True)
class NotFound:
    """404 NOT_FOUND with the body of fixture 13, for this one request."""


@dataclass(frozen=True)
class ClientError:
    """Another 4xx reply (default: 400 INVALID_ARGUMENT "Request contains an invalid argument.")."""

    status: int = 400
    message: str = "Request contains an invalid argument."
    status_name: str = "INVALID_ARGUMENT"


@dataclass(frozen=True)
class Slow:
    """Hold the request until ``release`` is set (or ``delay_s`` passes), then act as ``then``."""

    release: asyncio.Event | None = None
    delay_s: float | None = None
    then: Behaviour = field(default_factory=Ok)


@dataclass(frozen=True)
class PromptBlocked:
    """promptFeedback.blockReason (fixture 08), no candidates; usage reports the prompt only."""

    reason: str = "SAFETY"
    usage: bool = True


@dataclass(frozen=True)
class ImageBlocked:
    """A candidate stopped with ``reason`` and no image (fixture 09's slot); thinking is billed."""

    reason: str = "IMAGE_SAFETY"
    message: str | None = "Unable to show the generated image: it may violate the usage policy."


@dataclass(frozen=True)
class TextOnly:
    """The model answers with text and no image (finishReason STOP)."""

    text: str = "I can describe that scene, but here is no image."


@dataclass(frozen=True)
class Malformed:
    """A 200 reply whose body is not valid JSON."""


Behaviour = (
    Ok
    | RateLimit
    | ServerError
    | NotFound
    | ClientError
    | Slow
    | PromptBlocked
    | ImageBlocked
    | TextOnly
    | Malformed
)


@dataclass(frozen=True)
class BatchItemError:
    """One request of a batch answered with an error status instead of a response."""

    code: int = 400
    message: str = "Request contains an invalid argument."


@dataclass(frozen=True)
class AcceptedThen:
    """A batch create that makes the job, then answers ``then`` (an error behaviour, or
    :class:`Slow` to hold the answer): Google created the job although the client cannot tell."""

    then: Behaviour


_BATCH_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch"
_BATCH_OUTPUT_TYPE = (
    "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput"
)


@dataclass
class FakeBatch:
    """A batch job the fake holds: its requests as received, its state and, once done, results.

    ``requests`` are the inline requests decoded like generateContent bodies (prompt, images,
    generation config); ``display_name`` as sent; ``state`` a wire name (``BATCH_STATE_*``).
    """

    name: str
    model: str
    display_name: str
    requests: list[RecordedRequest]
    metadata: list[Mapping[str, Any] | None]
    create_time: str
    state: str = "BATCH_STATE_PENDING"
    update_time: str = ""
    end_time: str | None = None
    results: list[dict[str, Any]] | None = None
    garbled: str | None = None

    def operation(self) -> dict[str, Any]:
        """The google.longrunning Operation Google returns for this job (fixture 15's shape)."""
        if self.garbled == "shape":
            # metadata.output as a string: the SDK's converters fail on it (AttributeError).
            return {"name": self.name, "metadata": {"state": self.state, "output": "garbled"}}
        count = len(self.requests)
        stats: dict[str, str] = {"requestCount": str(count)}
        if self.results is None:
            if self.state in ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING"):
                stats["pendingRequestCount"] = str(count)
        else:
            failed = sum(1 for item in self.results if "error" in item)
            stats["successfulRequestCount"] = str(count - failed)
            if failed:
                stats["failedRequestCount"] = str(failed)
        metadata: dict[str, Any] = {
            "@type": _BATCH_TYPE,
            "model": f"models/{self.model}",
            "displayName": self.display_name,
            "createTime": self.create_time,
            "updateTime": self.update_time or self.create_time,
            "batchStats": stats,
            "state": self.state,
            "name": self.name,
        }
        if self.end_time is not None:
            metadata["endTime"] = self.end_time
        body: dict[str, Any] = {"name": self.name, "metadata": metadata}
        if self.state not in ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING"):
            body["done"] = True
        if self.results is not None:
            output = {"inlinedResponses": {"inlinedResponses": self.results}}
            metadata["output"] = output  # where google-genai 3.x reads the results
            body["response"] = {"@type": _BATCH_OUTPUT_TYPE, **output}  # fixture 15
        return body


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it (the API key itself is not kept, only whether it
    matched). ``images`` are the inline reference images, decoded; ``body`` the decoded JSON."""

    method: str
    path: str
    version: str
    model: str | None
    query: Mapping[str, str]
    headers: Mapping[str, str]
    key_ok: bool
    body: Mapping[str, Any] | None
    prompt: str
    images: tuple[bytes, ...]
    image_mime_types: tuple[str, ...]

    @property
    def generation_config(self) -> Mapping[str, Any]:
        """``generationConfig`` of the body (empty when absent)."""
        if not self.body:
            return {}
        config = self.body.get("generationConfig") or self.body.get("generation_config") or {}
        return config if isinstance(config, Mapping) else {}

    def _image_config(self) -> Mapping[str, Any]:
        config = self.generation_config
        image = config.get("imageConfig") or config.get("image_config") or {}
        return image if isinstance(image, Mapping) else {}

    @property
    def image_size(self) -> str | None:
        """imageConfig.imageSize as sent, or None."""
        image = self._image_config()
        value = image.get("imageSize", image.get("image_size"))
        return str(value) if value is not None else None

    @property
    def aspect_ratio(self) -> str | None:
        """imageConfig.aspectRatio as sent, or None."""
        image = self._image_config()
        value = image.get("aspectRatio", image.get("aspect_ratio"))
        return str(value) if value is not None else None

    @property
    def thinking_level(self) -> str | None:
        """thinkingConfig.thinkingLevel as sent, or None (the SDK sends it snake_case)."""
        config = self.generation_config
        thinking = config.get("thinkingConfig") or config.get("thinking_config") or {}
        value = thinking.get("thinkingLevel", thinking.get("thinking_level"))
        return str(value) if value is not None else None

    @property
    def response_modalities(self) -> tuple[str, ...]:
        """generationConfig.responseModalities as sent."""
        config = self.generation_config
        value = config.get("responseModalities", config.get("response_modalities")) or ()
        return tuple(str(item) for item in value)


def png_bytes(seed: int, *, width: int = 16, height: int = 16) -> bytes:
    """A small valid PNG whose colour depends on ``seed`` (so every call differs)."""
    colour = ((seed * 67) % 256, (seed * 131 + 40) % 256, (seed * 29 + 90) % 256)
    image = Image.new("RGB", (width, height), colour)
    image.putpixel((seed % width, (seed // width) % height), (255 - colour[0], 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)


def _dims(aspect_ratio: str | None) -> tuple[int, int]:
    if not aspect_ratio or ":" not in aspect_ratio:
        return 16, 16
    w, h = (int(x) for x in aspect_ratio.split(":", 1))
    scale = 32 / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def output_image_tokens(model: str, image_size: str | None) -> int:
    """Image tokens Google reports for one image of ``model`` at ``image_size``."""
    size = image_size or "1K"
    if model.startswith("gemini-2.5-flash-image"):
        return 1290
    if model.startswith("gemini-3-pro-image"):
        return 2000 if size == "4K" else 1120
    if model.startswith("gemini-3.1-flash-image"):
        return {"512": 747, "1K": 1120, "2K": 1680, "4K": 2520}.get(size, 1120)
    return {"4K": 2000}.get(size, 1120)


def input_image_tokens(model: str) -> int:
    """Prompt tokens for one inline reference image (Pro: 560; 2.5: 258)."""
    return 258 if model.startswith("gemini-2.5") else 560


def thinking_tokens(model: str) -> int:
    """Default thoughts tokens per call: Gemini 3 image models always think; 2.5 does not."""
    if model.startswith("gemini-2.5"):
        return 0
    if model.startswith("gemini-3-pro-image"):
        return 312
    return 248


def text_tokens(text: str) -> int:
    """A rough token count for text (about four characters per token)."""
    return max(1, len(text) // 4)


def _error_body(code: int, status: str, message: str, details: list[dict[str, Any]] | None) -> Any:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return {"error": error}


class FakeGeminiAPI:
    """The fake server. Use as ``async with FakeGeminiAPI() as api:`` and read ``api.base_url``.

    ``listed`` is what models.list returns (mutable: tests add the card's models); ``retired``
    ids answer 404 on generateContent; ids in neither also answer 404, as Google does for unknown
    models. ``page_size`` caps models.list pages so paging is always exercised.
    """

    def __init__(
        self,
        *,
        api_key: str = "test-gemini-key",
        listed: frozenset[str] | set[str] = DEFAULT_LISTED,
        retired: frozenset[str] | set[str] = DEFAULT_RETIRED,
        page_size: int = 2,
    ) -> None:
        self.api_key = api_key
        self.listed: set[str] = set(listed)
        self.retired: set[str] = set(retired)
        self.page_size = page_size
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._scripts: defaultdict[str, deque[Behaviour]] = defaultdict(deque)
        self._batch_scripts: defaultdict[str, deque[Behaviour | AcceptedThen]] = defaultdict(deque)
        self.batches: dict[str, FakeBatch] = {}
        self.batch_calls: list[str] = []
        self._batch_ids = itertools.count(1)
        self._calls = 0
        self._arrived = asyncio.Condition()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- scripting and inspection -------------------------------------------------------------

    def script(self, model: str, *behaviours: Behaviour) -> None:
        """Queue behaviours for ``model``'s next generateContent calls, one per call."""
        self._scripts[model].extend(behaviours)

    def generate_requests(self, model: str | None = None) -> list[RecordedRequest]:
        """Recorded generateContent requests, optionally for one model only."""
        return [
            r for r in self.requests if r.model is not None and (model is None or r.model == model)
        ]

    def script_batch_create(self, model: str, *behaviours: Behaviour | AcceptedThen) -> None:
        """Queue behaviours for ``model``'s next batch creations (errors: RateLimit, ServerError,
        ClientError, NotFound, Malformed; Slow holds the create; AcceptedThen creates the job and
        then answers as its ``then``; anything else creates the job)."""
        self._batch_scripts[model].extend(behaviours)

    def finish_batch(
        self,
        name: str,
        *,
        outcomes: Mapping[int, Behaviour | BatchItemError] | None = None,
        missing: Collection[int] = (),
        keys: bool = True,
    ) -> FakeBatch:
        """Let job ``name`` succeed: one response per request, in request order.

        ``outcomes`` maps request indexes to what that request does instead of :class:`Ok`
        (:class:`PromptBlocked`, :class:`ImageBlocked`, :class:`TextOnly`: a response without an
        image, with usage; :class:`BatchItemError` or any error behaviour: an error status).
        Requests in ``missing`` get no response at all; ``keys=False`` leaves out the metadata
        (with the key) each response otherwise echoes from its request.
        """
        batch = self.batches[name]
        batch.results = self._batch_results(
            batch, outcomes=outcomes, only=None, missing=missing, keys=keys
        )
        self._end(batch, "BATCH_STATE_SUCCEEDED")
        return batch

    def report_partial(
        self, name: str, *, indexes: Collection[int], state: str = "BATCH_STATE_RUNNING"
    ) -> None:
        """Job ``name`` is ``state`` (not finished) and already shows the results of ``indexes``."""
        batch = self.batches[name]
        batch.results = self._batch_results(
            batch, outcomes=None, only=indexes, missing=(), keys=True
        )
        batch.state = state
        batch.update_time = _now()

    def garble_batch(self, name: str, *, invalid_json: bool = False) -> None:
        """Answer job ``name``'s gets with a body the SDK cannot handle: an unexpected shape (the
        SDK raises AttributeError), or with ``invalid_json`` a body that is not JSON."""
        self.batches[name].garbled = "json" if invalid_json else "shape"

    def _batch_results(
        self,
        batch: FakeBatch,
        *,
        outcomes: Mapping[int, Behaviour | BatchItemError] | None,
        only: Collection[int] | None,
        missing: Collection[int],
        keys: bool,
    ) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for index, recorded in enumerate(batch.requests):
            if index in missing or (only is not None and index not in only):
                continue
            outcome = (outcomes or {}).get(index, Ok())
            item: dict[str, Any]
            if isinstance(outcome, (Ok, PromptBlocked, ImageBlocked, TextOnly)):
                self._calls += 1
                response = self._response(
                    outcome, model=batch.model, recorded=recorded, seed=self._calls
                )
                item = {
                    "response": response.model_dump(mode="json", by_alias=True, exclude_none=True)
                }
            else:
                error = outcome if isinstance(outcome, BatchItemError) else BatchItemError()
                item = {"error": {"code": error.code, "message": error.message}}
            if keys and batch.metadata[index] is not None:
                item["metadata"] = dict(batch.metadata[index] or {})
            results.append(item)
        return results

    def start_batch(self, name: str) -> None:
        """Move job ``name`` to BATCH_STATE_RUNNING."""
        batch = self.batches[name]
        batch.state = "BATCH_STATE_RUNNING"
        batch.update_time = _now()

    def expire_batch(self, name: str) -> None:
        """Expire job ``name`` (pending over 48 hours at Google): done, no results."""
        self._end(self.batches[name], "BATCH_STATE_EXPIRED")

    def fail_batch(self, name: str, *, state: str = "BATCH_STATE_FAILED") -> None:
        """End job ``name`` without results (``BATCH_STATE_FAILED`` or ``_CANCELLED``)."""
        self._end(self.batches[name], state)

    def _end(self, batch: FakeBatch, state: str) -> None:
        batch.state = state
        batch.update_time = batch.end_time = _now()

    async def wait_for_requests(self, count: int, *, model: str | None = None) -> None:
        """Wait until at least ``count`` generateContent requests (for ``model``) have arrived."""
        async with self._arrived:
            await self._arrived.wait_for(lambda: len(self.generate_requests(model)) >= count)

    # -- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> FakeGeminiAPI:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        for version in ("v1", "v1beta"):
            app.router.add_get(f"/{version}/models", self._list)
            app.router.add_post(f"/{version}/models/{{call:[^/]+}}", self._call)
            app.router.add_get(f"/{version}/batches", self._batch_list)
            app.router.add_get(f"/{version}/batches/{{batch_id}}", self._batch_get)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- handlers -----------------------------------------------------------------------------

    def _key_error(self, request: web.Request) -> web.Response | None:
        given = request.headers.get("x-goog-api-key")
        if given is None:
            return web.json_response(
                _error_body(
                    403,
                    "PERMISSION_DENIED",
                    "Method doesn't allow unregistered callers (callers without established "
                    "identity). Please use API Key or other form of API consumer identity to "
                    "call this API.",
                    None,
                ),
                status=403,
            )
        if given != self.api_key:
            # Like fixture 11, including the DebugInfo that echoes the key back.
            return web.json_response(
                _error_body(
                    400,
                    "INVALID_ARGUMENT",
                    "API key not valid. Please pass a valid API key.",
                    [
                        {
                            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "API_KEY_INVALID",
                            "domain": "googleapis.com",
                            "metadata": {"service": "generativelanguage.googleapis.com"},
                        },
                        {
                            "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                            "locale": "en-US",
                            "message": "API key not valid. Please pass a valid API key.",
                        },
                        {
                            "@type": "type.googleapis.com/google.rpc.DebugInfo",
                            "detail": f"Invalid API key: {given}",
                        },
                    ],
                ),
                status=400,
            )
        return None

    def _headers(self, request: web.Request) -> dict[str, str]:
        return {k: v for k, v in request.headers.items() if k.lower() != "x-goog-api-key"}

    async def _record(self, recorded: RecordedRequest) -> None:
        async with self._arrived:
            self.requests.append(recorded)
            self._arrived.notify_all()

    async def _list(self, request: web.Request) -> web.Response:
        version = request.path.split("/")[1]
        await self._record(
            RecordedRequest(
                method="GET",
                path=request.path,
                version=version,
                model=None,
                query=dict(request.query),
                headers=self._headers(request),
                key_ok=request.headers.get("x-goog-api-key") == self.api_key,
                body=None,
                prompt="",
                images=(),
                image_mime_types=(),
            )
        )
        refused = self._key_error(request)
        if refused is not None:
            return refused
        ids = sorted(self.listed - self.retired)
        size = min(self.page_size, int(request.query.get("pageSize", self.page_size)))
        start = int(request.query.get("pageToken", "0") or 0)
        page = ids[start : start + size]
        # The wire names of Model differ from the SDK's field aliases (supportedGenerationMethods
        # vs supported_actions), so this reply is written in the REST shape directly.
        body: dict[str, Any] = {
            "models": [
                {
                    "name": f"models/{model}",
                    "displayName": model,
                    "supportedGenerationMethods": ["generateContent", "countTokens"],
                }
                for model in page
            ]
        }
        if start + size < len(ids):
            body["nextPageToken"] = str(start + size)
        return web.json_response(body)

    async def _call(self, request: web.Request) -> web.StreamResponse:
        call = request.match_info["call"]
        model, _, method = call.partition(":")
        if method == "batchGenerateContent":
            return await self._batch_create(request, model)
        if method != "generateContent":
            return web.json_response(
                _error_body(404, "NOT_FOUND", f"method {method!r} is not faked", None), status=404
            )
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = None
        prompt, images, mimes = _decode_contents(body)
        version = request.path.split("/")[1]
        await self._record(
            RecordedRequest(
                method="POST",
                path=request.path,
                version=version,
                model=model,
                query=dict(request.query),
                headers=self._headers(request),
                key_ok=request.headers.get("x-goog-api-key") == self.api_key,
                body=body,
                prompt=prompt,
                images=images,
                image_mime_types=mimes,
            )
        )
        refused = self._key_error(request)
        if refused is not None:
            return refused
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            behaviour: Behaviour = self._scripts[model].popleft() if self._scripts[model] else Ok()
            if isinstance(behaviour, Slow):
                await self._hold(behaviour)
                if self._closing.is_set():
                    return web.json_response(
                        _error_body(503, "UNAVAILABLE", "The service is shutting down.", None),
                        status=503,
                    )
                behaviour = behaviour.then
            if model in self.retired or model not in self.listed:
                return self._not_found(model, version)
            self._calls += 1
            return self._reply(behaviour, model=model, version=version, recorded=self.requests[-1])
        finally:
            self.in_flight -= 1

    async def _batch_create(self, request: web.Request, model: str) -> web.StreamResponse:
        self.batch_calls.append(f"POST {request.path}")
        refused = self._key_error(request)
        if refused is not None:
            return refused
        version = request.path.split("/")[1]
        try:
            body = json.loads(await request.read())
            batch = body["batch"]
            items = batch["inputConfig"]["requests"]["requests"]
        except (json.JSONDecodeError, KeyError, TypeError):
            return web.json_response(
                _error_body(400, "INVALID_ARGUMENT", "Invalid batch request.", None), status=400
            )
        scripted = self._batch_scripts[model]
        behaviour: Behaviour | AcceptedThen = scripted.popleft() if scripted else Ok()
        accepted: FakeBatch | None = None
        if isinstance(behaviour, AcceptedThen):
            accepted = self._new_batch(
                batch, items, model=model, version=version, path=request.path
            )
            behaviour = behaviour.then
        if isinstance(behaviour, Slow):
            await self._hold(behaviour)
            if accepted is not None and self._closing.is_set():
                return web.json_response(
                    _error_body(503, "UNAVAILABLE", "The service is shutting down.", None),
                    status=503,
                )
            behaviour = behaviour.then
        if isinstance(behaviour, (RateLimit, ServerError, NotFound, ClientError, Malformed)):
            return self._reply(behaviour, model=model, version=version, recorded=_EMPTY)
        if accepted is not None:
            return web.json_response(accepted.operation())
        if model in self.retired or model not in self.listed:
            return self._not_found(model, version)
        created = self._new_batch(batch, items, model=model, version=version, path=request.path)
        return web.json_response(created.operation())

    def _new_batch(
        self,
        batch: Mapping[str, Any],
        items: list[Mapping[str, Any]],
        *,
        model: str,
        version: str,
        path: str,
    ) -> FakeBatch:
        recorded: list[RecordedRequest] = []
        metadata: list[Mapping[str, Any] | None] = []
        for item in items:
            inner = item.get("request") or {}
            prompt, images, mimes = _decode_contents(inner)
            recorded.append(
                RecordedRequest(
                    method="POST",
                    path=path,
                    version=version,
                    model=model,
                    query={},
                    headers={},
                    key_ok=True,
                    body=inner,
                    prompt=prompt,
                    images=images,
                    image_mime_types=mimes,
                )
            )
            metadata.append(item.get("metadata"))
        name = f"batches/fake{next(self._batch_ids):04d}"
        self.batches[name] = FakeBatch(
            name=name,
            model=model,
            display_name=str(batch.get("displayName") or batch.get("display_name") or ""),
            requests=recorded,
            metadata=metadata,
            create_time=_now(),
        )
        return self.batches[name]

    async def _batch_get(self, request: web.Request) -> web.Response:
        self.batch_calls.append(f"GET {request.path}")
        refused = self._key_error(request)
        if refused is not None:
            return refused
        name = f"batches/{request.match_info['batch_id']}"
        batch = self.batches.get(name)
        if batch is None:
            return web.json_response(
                _error_body(404, "NOT_FOUND", f"Requested entity was not found: {name}", None),
                status=404,
            )
        if batch.garbled == "json":
            return web.Response(text='{"name": "' + name, content_type="application/json")
        return web.json_response(batch.operation())

    async def _batch_list(self, request: web.Request) -> web.Response:
        self.batch_calls.append(f"GET {request.path}")
        refused = self._key_error(request)
        if refused is not None:
            return refused
        names = sorted(self.batches)
        size = min(self.page_size, int(request.query.get("pageSize", self.page_size)))
        start = int(request.query.get("pageToken", "0") or 0)
        body: dict[str, Any] = {
            "operations": [self.batches[name].operation() for name in names[start : start + size]]
        }
        if start + size < len(names):
            body["nextPageToken"] = str(start + size)
        return web.json_response(body)

    async def _hold(self, slow: Slow) -> None:
        waiters: list[asyncio.Task[Any]] = [asyncio.ensure_future(self._closing.wait())]
        if slow.release is not None:
            waiters.append(asyncio.ensure_future(slow.release.wait()))
        if slow.delay_s is not None:
            waiters.append(asyncio.ensure_future(asyncio.sleep(slow.delay_s)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    def _not_found(self, model: str, version: str) -> web.Response:
        message = (
            f"models/{model} is not found for API version {version}, or is not supported for "
            "generateContent. Call ListModels to see the list of available models and their "
            "supported methods."
        )
        return web.json_response(
            _error_body(
                404,
                "NOT_FOUND",
                message,
                [{"@type": "type.googleapis.com/google.rpc.DebugInfo", "detail": message}],
            ),
            status=404,
        )

    def _reply(
        self, behaviour: Behaviour, *, model: str, version: str, recorded: RecordedRequest
    ) -> web.Response:
        seed = self._calls
        if isinstance(behaviour, RateLimit):
            return self._rate_limited(behaviour, model)
        if isinstance(behaviour, ServerError):
            if behaviour.status == 503:
                body = _error_body(
                    503, "UNAVAILABLE", "The model is overloaded. Please try again later.", None
                )
            else:
                body = _error_body(
                    behaviour.status,
                    "INTERNAL",
                    "An internal error has occurred. Please retry or report in "
                    "https://developers.generativeai.google/guide/troubleshooting",
                    None,
                )
            return web.json_response(body, status=behaviour.status)
        if isinstance(behaviour, NotFound):
            return self._not_found(model, version)
        if isinstance(behaviour, ClientError):
            return web.json_response(
                _error_body(behaviour.status, behaviour.status_name, behaviour.message, None),
                status=behaviour.status,
            )
        if isinstance(behaviour, Malformed):
            return web.Response(
                text='{"candidates": [{"content": {"parts": [{"inlineData": ',
                content_type="application/json",
            )
        response = self._response(behaviour, model=model, recorded=recorded, seed=seed)
        return web.json_response(response.model_dump(mode="json", by_alias=True, exclude_none=True))

    def _rate_limited(self, behaviour: RateLimit, model: str) -> web.Response:
        window = "PerDay" if behaviour.per_day else "PerMinute"
        quota_id = f"GenerateRequests{window}PerProjectPerModel"
        message = (
            "You exceeded your current quota, please check your plan and billing details. For "
            "more information on this error, head to: "
            "https://ai.google.dev/gemini-api/docs/rate-limits."
        )
        if behaviour.limit_zero:
            message += (
                "\n* Quota exceeded for metric: generativelanguage.googleapis.com/"
                f"generate_requests, limit: 0, model: {model}"
            )
        if behaviour.retry_in_message is not None:
            message += f" Please retry in {behaviour.retry_in_message}s."
        details: list[dict[str, Any]] = [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": "generativelanguage.googleapis.com/generate_requests",
                        "quotaId": quota_id,
                        "quotaDimensions": {"location": "global", "model": model},
                        "quotaValue": "0" if behaviour.limit_zero else "20",
                    }
                ],
            },
            {
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [
                    {
                        "description": "Learn more about Gemini API quotas",
                        "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                    }
                ],
            },
        ]
        if behaviour.retry_delay is not None:
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": behaviour.retry_delay,
                }
            )
        return web.json_response(
            _error_body(429, "RESOURCE_EXHAUSTED", message, details), status=429
        )

    def _usage(
        self,
        *,
        model: str,
        recorded: RecordedRequest,
        output_images: int,
        output_text: int,
        thinking: int,
    ) -> types.GenerateContentResponseUsageMetadata:
        prompt_text = text_tokens(recorded.prompt) if recorded.prompt else 0
        prompt_images = input_image_tokens(model) * len(recorded.images)
        image_tokens = output_image_tokens(model, recorded.image_size) * output_images
        prompt_details = [
            types.ModalityTokenCount(modality=types.MediaModality.TEXT, token_count=prompt_text)
        ]
        if prompt_images:
            prompt_details.append(
                types.ModalityTokenCount(
                    modality=types.MediaModality.IMAGE, token_count=prompt_images
                )
            )
        candidate_details = []
        if image_tokens:
            candidate_details.append(
                types.ModalityTokenCount(
                    modality=types.MediaModality.IMAGE, token_count=image_tokens
                )
            )
        if output_text:
            candidate_details.append(
                types.ModalityTokenCount(modality=types.MediaModality.TEXT, token_count=output_text)
            )
        candidates = image_tokens + output_text
        return types.GenerateContentResponseUsageMetadata(
            prompt_token_count=prompt_text + prompt_images,
            prompt_tokens_details=prompt_details,
            candidates_token_count=candidates or None,
            candidates_tokens_details=candidate_details or None,
            thoughts_token_count=thinking or None,
            total_token_count=prompt_text + prompt_images + candidates + thinking,
        )

    def _response(
        self,
        behaviour: Behaviour,
        *,
        model: str,
        recorded: RecordedRequest,
        seed: int,
    ) -> types.GenerateContentResponse:
        gemini3 = not model.startswith("gemini-2.5")
        width, height = _dims(recorded.aspect_ratio)
        common: dict[str, Any] = {"model_version": model, "response_id": f"fake-{seed}"}
        if isinstance(behaviour, PromptBlocked):
            usage = None
            if behaviour.usage:
                usage = self._usage(
                    model=model, recorded=recorded, output_images=0, output_text=0, thinking=0
                )
            return types.GenerateContentResponse(
                prompt_feedback=types.GenerateContentResponsePromptFeedback(
                    block_reason=types.BlockedReason(behaviour.reason),
                    safety_ratings=[
                        types.SafetyRating(
                            category=types.HarmCategory.HARM_CATEGORY_HATE_SPEECH,
                            probability=types.HarmProbability.HIGH,
                        ),
                        types.SafetyRating(
                            category=types.HarmCategory.HARM_CATEGORY_HARASSMENT,
                            probability=types.HarmProbability.NEGLIGIBLE,
                        ),
                    ],
                ),
                usage_metadata=usage,
                **common,
            )
        thinking = thinking_tokens(model)
        if isinstance(behaviour, ImageBlocked):
            return types.GenerateContentResponse(
                candidates=[
                    types.Candidate(
                        content=types.Content(role="model", parts=[]),
                        finish_reason=types.FinishReason(behaviour.reason),
                        finish_message=behaviour.message,
                        index=0,
                    )
                ],
                usage_metadata=self._usage(
                    model=model,
                    recorded=recorded,
                    output_images=0,
                    output_text=0,
                    thinking=thinking,
                ),
                **common,
            )
        if isinstance(behaviour, TextOnly):
            return types.GenerateContentResponse(
                candidates=[
                    types.Candidate(
                        content=types.Content(
                            role="model", parts=[types.Part.from_text(text=behaviour.text)]
                        ),
                        finish_reason=types.FinishReason.STOP,
                        index=0,
                    )
                ],
                usage_metadata=self._usage(
                    model=model,
                    recorded=recorded,
                    output_images=0,
                    output_text=text_tokens(behaviour.text),
                    thinking=thinking,
                ),
                **common,
            )
        assert isinstance(behaviour, Ok)
        if behaviour.thinking_tokens is not None:
            thinking = behaviour.thinking_tokens
        candidates = []
        serial = 0
        for index in range(behaviour.candidates):
            parts: list[types.Part] = []
            for _ in range(behaviour.thought_images):
                serial += 1
                parts.append(
                    types.Part(
                        inline_data=types.Blob(
                            data=png_bytes(seed * 100 + serial, width=8, height=8),
                            mime_type="image/png",
                        ),
                        thought=True,
                    )
                )
            if behaviour.text:
                parts.append(types.Part.from_text(text=behaviour.text))
            for _ in range(behaviour.images):
                serial += 1
                parts.append(
                    types.Part(
                        inline_data=types.Blob(
                            data=png_bytes(seed * 100 + serial, width=width, height=height),
                            mime_type="image/png",
                        ),
                        thought_signature=f"sig-{seed}-{serial}".encode() if gemini3 else None,
                    )
                )
            candidates.append(
                types.Candidate(
                    content=types.Content(role="model", parts=parts),
                    finish_reason=types.FinishReason.STOP,
                    index=index,
                )
            )
        usage = None
        if behaviour.usage:
            text_count = text_tokens(behaviour.text) * behaviour.candidates if behaviour.text else 0
            usage = self._usage(
                model=model,
                recorded=recorded,
                output_images=behaviour.images * behaviour.candidates,
                output_text=text_count,
                thinking=thinking,
            )
        return types.GenerateContentResponse(candidates=candidates, usage_metadata=usage, **common)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


_EMPTY = RecordedRequest(
    method="POST",
    path="",
    version="v1beta",
    model=None,
    query={},
    headers={},
    key_ok=True,
    body=None,
    prompt="",
    images=(),
    image_mime_types=(),
)


def _decode_contents(body: Any) -> tuple[str, tuple[bytes, ...], tuple[str, ...]]:
    """The prompt text and the decoded inline images of a generateContent body."""
    texts: list[str] = []
    images: list[bytes] = []
    mimes: list[str] = []
    if not isinstance(body, Mapping):
        return "", (), ()
    for content in body.get("contents") or []:
        for part in (content or {}).get("parts") or []:
            if "text" in part:
                texts.append(str(part["text"]))
            blob = part.get("inlineData") or part.get("inline_data")
            if blob:
                images.append(_b64decode(str(blob.get("data", ""))))
                mimes.append(str(blob.get("mimeType") or blob.get("mime_type") or ""))
    return "\n".join(texts), tuple(images), tuple(mimes)


@pytest.fixture
async def gemini_api() -> AsyncIterator[FakeGeminiAPI]:
    """A running fake Gemini API with the default listed and retired models, for one test.

    Import it into a conftest (``from tests.fakes.gemini_api import gemini_api``) to share it.
    """
    async with FakeGeminiAPI() as api:
        yield api
