"""GeminiProvider through the real google-genai SDK against the wire-level fake."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest
from PIL import Image

from bot.providers import (
    ImageProvider,
    ImageRequest,
    KeyRejected,
    MalformedResponse,
    ModelNotFound,
    NoImage,
    ProviderTimeout,
    RateLimited,
    ReferenceImage,
    Rejected,
    SafetyBlocked,
    Unavailable,
)
from bot.providers.gemini import GeminiProvider
from router.usage import Usage
from tests.fakes.gemini_api import (
    ClientError,
    FakeGeminiAPI,
    ImageBlocked,
    Malformed,
    NotFound,
    Ok,
    PromptBlocked,
    RateLimit,
    ServerError,
    Slow,
    TextOnly,
    png_bytes,
)

PRO = "gemini-3-pro-image"
FLASH = "gemini-3.1-flash-image"
NANO = "gemini-2.5-flash-image"


def _request(model: str = PRO, **kwargs: object) -> ImageRequest:
    values: dict[str, object] = {"prompt": "a red bicycle on a beach at dawn", "image_size": "1K"}
    values.update(kwargs)
    return ImageRequest(model_id=model, **values)  # type: ignore[arg-type]


async def test_provider_satisfies_protocol(provider: GeminiProvider) -> None:
    """The Gemini adapter is an ImageProvider."""
    assert isinstance(provider, ImageProvider)


async def test_success_returns_real_png_and_usage(
    provider: GeminiProvider, gemini_api: FakeGeminiAPI
) -> None:
    """A successful call returns the PNG and the usage counted by modality."""
    result = await provider.generate(_request(aspect_ratio="16:9", thinking_level="high"))
    assert result.model_id == PRO
    assert len(result.images) == 1
    image = Image.open(io.BytesIO(result.images[0].data))
    assert image.format == "PNG"
    assert image.width > image.height
    assert result.finish_reason == "STOP"
    prompt_tokens = len("a red bicycle on a beach at dawn") // 4
    assert result.usage == Usage(
        input_tokens=prompt_tokens,
        output_image_tokens=1120,
        output_text_tokens=0,
        thinking_tokens=312,
    )
    (sent,) = gemini_api.generate_requests()
    assert sent.path == f"/v1/models/{PRO}:generateContent"
    assert sent.response_modalities == ("IMAGE",)
    assert sent.image_size == "1K"
    assert sent.aspect_ratio == "16:9"
    assert sent.thinking_level == "HIGH"
    assert "x-goog-api-key" not in {k.lower() for k in sent.headers}
    assert sent.key_ok


async def test_each_call_returns_different_image(provider: GeminiProvider) -> None:
    """The fake never returns the same PNG twice."""
    first = await provider.generate(_request())
    second = await provider.generate(_request())
    assert first.images[0].data != second.images[0].data


async def test_image_size_and_thinking_omitted_when_none(
    provider: GeminiProvider, gemini_api: FakeGeminiAPI
) -> None:
    """A request without size or thinking level sends neither (2.5 Flash Image has one size)."""
    result = await provider.generate(_request(NANO, image_size=None))
    (sent,) = gemini_api.generate_requests()
    assert sent.image_size is None
    assert sent.thinking_level is None
    assert "imageConfig" not in sent.generation_config
    assert result.usage.output_image_tokens == 1290
    assert result.usage.thinking_tokens == 0


async def test_sizes_give_model_specific_image_tokens(provider: GeminiProvider) -> None:
    """Image tokens follow the model and size (3.1 Flash 512 = 747, Pro 4K = 2000)."""
    small = await provider.generate(_request(FLASH, image_size="512"))
    large = await provider.generate(_request(PRO, image_size="4K"))
    assert small.usage.output_image_tokens == 747
    assert large.usage.output_image_tokens == 2000


async def test_reference_images_are_sent_inline_after_the_text(
    provider: GeminiProvider, gemini_api: FakeGeminiAPI
) -> None:
    """Reference bytes arrive intact (URL-safe base64 decoded) after the prompt text."""
    refs = (
        ReferenceImage(png_bytes(7), "image/png"),
        ReferenceImage(b"\xff\xd8\xff\xfb\xef\xbe" + bytes(range(256)), "image/jpeg"),
    )
    result = await provider.generate(_request(references=refs))
    (sent,) = gemini_api.generate_requests()
    assert sent.images == (refs[0].data, refs[1].data)
    assert sent.image_mime_types == ("image/png", "image/jpeg")
    parts = sent.body["contents"][0]["parts"] if sent.body else []
    assert "text" in parts[0]
    assert result.usage.input_image_tokens == 2 * 560
    assert result.usage.input_tokens == len(sent.prompt) // 4 + 2 * 560


async def test_thought_images_are_not_results(
    provider: GeminiProvider, gemini_api: FakeGeminiAPI
) -> None:
    """Interim thought images are skipped; only the final image is returned."""
    gemini_api.script(PRO, Ok(thought_images=2, text="Here is your bicycle."))
    result = await provider.generate(_request())
    assert len(result.images) == 1
    assert Image.open(io.BytesIO(result.images[0].data)).size == (16, 16)
    assert result.text == "Here is your bicycle."


async def test_several_candidates_return_every_image(
    provider: GeminiProvider, gemini_api: FakeGeminiAPI
) -> None:
    """All final images of all candidates are returned, with their summed usage."""
    gemini_api.script(PRO, Ok(candidates=2))
    result = await provider.generate(_request())
    assert len(result.images) == 2
    assert result.usage.output_image_tokens == 2 * 1120


async def test_missing_usage_metadata_is_unreported(
    provider: GeminiProvider, gemini_api: FakeGeminiAPI
) -> None:
    """A response without usageMetadata yields Usage.unreported()."""
    gemini_api.script(PRO, Ok(usage=False))
    result = await provider.generate(_request())
    assert result.usage == Usage.unreported()
    assert len(result.images) == 1


async def test_rate_limit_carries_retry_delay(
    provider: GeminiProvider, gemini_api: FakeGeminiAPI
) -> None:
    """A 429 with RetryInfo becomes a retryable RateLimited with Google's delay."""
    gemini_api.script(PRO, RateLimit(retry_delay="1.5s"))
    with pytest.raises(RateLimited) as caught:
        await provider.generate(_request())
    assert caught.value.retry_after_s == 1.5
    assert caught.value.retryable
    assert not caught.value.may_have_billed
    assert "Nothing was charged" in caught.value.user_message


async def test_rate_limit_delay_from_message(
    provider: GeminiProvider, gemini_api: FakeGeminiAPI
) -> None:
    """Without RetryInfo the delay is read from "Please retry in Ns." in the message."""
    gemini_api.script(PRO, RateLimit(retry_delay=None, retry_in_message=7.25))
    with pytest.raises(RateLimited) as caught:
        await provider.generate(_request())
    assert caught.value.retry_after_s == 7.25


async def test_daily_quota_is_not_retryable(
    provider: GeminiProvider, gemini_api: FakeGeminiAPI
) -> None:
    """A per-day quota and a zero quota are not worth retrying."""
    gemini_api.script(PRO, RateLimit(per_day=True), RateLimit(limit_zero=True))
    with pytest.raises(RateLimited) as daily:
        await provider.generate(_request())
    with pytest.raises(RateLimited) as none:
        await provider.generate(_request())
    assert daily.value.daily
    assert not daily.value.retryable
    assert "tomorrow" in daily.value.user_message
    assert none.value.no_quota
    assert not none.value.retryable


async def test_server_overload_is_unavailable(
    provider: GeminiProvider, gemini_api: FakeGeminiAPI
) -> None:
    """A 503 becomes a retryable Unavailable that charged nothing."""
    gemini_api.script(PRO, ServerError(503), ServerError(500))
    with pytest.raises(Unavailable) as overloaded:
        await provider.generate(_request())
    with pytest.raises(Unavailable):
        await provider.generate(_request())
    assert overloaded.value.retryable
    assert "overloaded" in overloaded.value.detail


async def test_retired_model_is_not_found(provider: GeminiProvider) -> None:
    """A shut-down model id answers 404 and becomes ModelNotFound."""
    with pytest.raises(ModelNotFound) as caught:
        await provider.generate(_request("imagen-4.0-generate-001"))
    assert caught.value.model_id == "imagen-4.0-generate-001"
    assert not caught.value.retryable
    assert "imagen-4.0-generate-001" in caught.value.user_message


async def test_scripted_404_is_not_found(
    provider: GeminiProvider, gemini_api: FakeGeminiAPI
) -> None:
    """A scripted 404 on a listed model also becomes ModelNotFound."""
    gemini_api.script(FLASH, NotFound())
    with pytest.raises(ModelNotFound):
        await provider.generate(_request(FLASH))


async def test_prompt_block_names_reason_and_bills_input(
    provider: GeminiProvider, gemini_api: FakeGeminiAPI
) -> None:
    """promptFeedback.blockReason becomes SafetyBlocked naming why, with input usage only."""
    gemini_api.script(PRO, PromptBlocked())
    with pytest.raises(SafetyBlocked) as caught:
        await provider.generate(_request())
    error = caught.value
    assert (error.reason, error.stage) == ("SAFETY", "prompt")
    assert error.categories == ("hate speech",)
    assert error.usage is not None
    assert error.usage.input_tokens > 0
    assert error.usage.output_image_tokens == 0
    assert error.may_have_billed
    assert "hate speech" in error.user_message
    assert "no image was charged" in error.user_message


async def test_image_block_bills_input_and_thinking(
    provider: GeminiProvider, gemini_api: FakeGeminiAPI
) -> None:
    """A candidate stopped with IMAGE_SAFETY and no image is SafetyBlocked with thinking usage."""
    gemini_api.script(PRO, ImageBlocked("IMAGE_SAFETY"))
    with pytest.raises(SafetyBlocked) as caught:
        await provider.generate(_request())
    error = caught.value
    assert (error.reason, error.stage) == ("IMAGE_SAFETY", "image")
    assert error.usage is not None
    assert error.usage.thinking_tokens == 312
    assert error.usage.output_image_tokens == 0
    assert "the image it was creating" in error.user_message


async def test_text_only_answer_is_no_image(
    provider: GeminiProvider, gemini_api: FakeGeminiAPI
) -> None:
    """A text-only answer raises NoImage carrying the text and the billed usage."""
    gemini_api.script(FLASH, TextOnly("Sorry, I can only describe it."))
    with pytest.raises(NoImage) as caught:
        await provider.generate(_request(FLASH))
    assert caught.value.text == "Sorry, I can only describe it."
    assert caught.value.usage is not None
    assert caught.value.usage.output_text_tokens > 0
    assert caught.value.may_have_billed


async def test_other_no_image_finish_is_no_image(
    provider: GeminiProvider, gemini_api: FakeGeminiAPI
) -> None:
    """finishReason NO_IMAGE is not a safety block but a NoImage."""
    gemini_api.script(FLASH, ImageBlocked("NO_IMAGE", message=None))
    with pytest.raises(NoImage) as caught:
        await provider.generate(_request(FLASH))
    assert caught.value.finish_reason == "NO_IMAGE"


async def test_malformed_body_is_malformed_response(
    provider: GeminiProvider, gemini_api: FakeGeminiAPI
) -> None:
    """An undecodable 200 body becomes MalformedResponse (possibly billed)."""
    gemini_api.script(PRO, Malformed())
    with pytest.raises(MalformedResponse) as caught:
        await provider.generate(_request())
    assert caught.value.may_have_billed


async def test_other_client_error_is_rejected(
    provider: GeminiProvider, gemini_api: FakeGeminiAPI
) -> None:
    """A plain 400 INVALID_ARGUMENT becomes Rejected, not a key problem."""
    gemini_api.script(PRO, ClientError())
    with pytest.raises(Rejected) as caught:
        await provider.generate(_request())
    assert not isinstance(caught.value, KeyRejected)
    assert not caught.value.retryable


async def test_unknown_thinking_level_is_rejected_before_calling(
    provider: GeminiProvider, gemini_api: FakeGeminiAPI
) -> None:
    """A thinking level the API does not know is refused without a request."""
    with pytest.raises(Rejected):
        await provider.generate(_request(thinking_level="extreme"))
    assert gemini_api.generate_requests() == []


async def test_wrong_key_is_rejected_without_leaking_it(
    gemini_api: FakeGeminiAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong key raises KeyRejected; the key appears in no message, log or cause."""
    secret = "AIzaSy-not-the-right-key-123"
    adapter = GeminiProvider(api_key=secret, base_url=gemini_api.base_url, timeout_s=10)
    caplog.set_level(logging.DEBUG)
    try:
        with pytest.raises(KeyRejected) as caught:
            await adapter.generate(_request())
        with pytest.raises(KeyRejected):
            await adapter.list_models()
    finally:
        await adapter.aclose()
    error = caught.value
    texts = [str(error), error.user_message, error.detail, repr(adapter), caplog.text]
    cause = error.__cause__
    while cause is not None:
        texts.append(str(cause))
        cause = cause.__cause__ or cause.__context__
    assert error.__cause__ is not None
    assert all(secret not in text for text in texts)
    assert "admin" in error.user_message


async def test_client_timeout_is_provider_timeout(gemini_api: FakeGeminiAPI) -> None:
    """No answer within the client timeout is a ProviderTimeout that may have billed."""
    never = asyncio.Event()
    gemini_api.script(PRO, Slow(release=never))
    adapter = GeminiProvider(
        api_key=gemini_api.api_key, base_url=gemini_api.base_url, timeout_s=0.2
    )
    try:
        with pytest.raises(ProviderTimeout) as caught:
            await adapter.generate(_request())
    finally:
        await adapter.aclose()
    assert caught.value.may_have_billed
    assert caught.value.retryable
    assert "estimate" in caught.value.user_message


async def test_concurrency_is_bounded(gemini_api: FakeGeminiAPI) -> None:
    """No more than max_concurrency calls are in flight at once."""
    release = asyncio.Event()
    gemini_api.script(PRO, *(Slow(release=release) for _ in range(4)))
    adapter = GeminiProvider(
        api_key=gemini_api.api_key, base_url=gemini_api.base_url, max_concurrency=2
    )
    try:
        calls = [asyncio.create_task(adapter.generate(_request())) for _ in range(4)]
        await gemini_api.wait_for_requests(2)
        release.set()
        results = await asyncio.gather(*calls)
    finally:
        await adapter.aclose()
    assert len(results) == 4
    assert gemini_api.max_in_flight == 2


async def test_list_models_pages_and_strips_prefix(
    provider: GeminiProvider, gemini_api: FakeGeminiAPI
) -> None:
    """list_models follows nextPageToken and returns bare ids without retired models."""
    models = await provider.list_models()
    assert models == frozenset(
        {
            "gemini-3-pro-image",
            "gemini-3.1-flash-image",
            "gemini-2.5-flash-image",
            "gemini-2.5-flash",
        }
    )
    pages = [r for r in gemini_api.requests if r.method == "GET"]
    assert len(pages) == 2
    assert pages[1].query.get("pageToken") == "2"


async def test_v1beta_is_served_too(gemini_api: FakeGeminiAPI) -> None:
    """api_version="v1beta" reaches the fake's v1beta routes."""
    adapter = GeminiProvider(
        api_key=gemini_api.api_key, base_url=gemini_api.base_url, api_version="v1beta"
    )
    try:
        result = await adapter.generate(_request(FLASH))
        models = await adapter.list_models()
    finally:
        await adapter.aclose()
    assert len(result.images) == 1
    assert FLASH in models
    assert gemini_api.generate_requests()[0].version == "v1beta"


async def test_success_is_logged_with_key_values(
    provider: GeminiProvider, caplog: pytest.LogCaptureFixture
) -> None:
    """A success logs one greppable key=value line."""
    caplog.set_level(logging.INFO, logger="bot.providers.gemini")
    await provider.generate(_request())
    assert f"gemini generate ok model={PRO} images=1" in caplog.text
