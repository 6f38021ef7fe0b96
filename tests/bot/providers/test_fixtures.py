"""The captured Gemini API bodies (copied verbatim from shared/fixtures/gemini) parse through the
adapter's response and error handling as they are."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from google.genai import errors, types

from bot.providers import (
    KeyRejected,
    ModelNotFound,
    NoImage,
    RateLimited,
    SafetyBlocked,
    Unavailable,
)
from bot.providers.gemini import (
    error_from_api_error,
    result_from_response,
    retry_delay_seconds,
    usage_from_metadata,
)
from router.usage import Usage

FIXTURES = Path(__file__).parent / "fixtures"


def _load(prefix: str) -> dict[str, Any]:
    (path,) = FIXTURES.glob(f"{prefix}_*.json")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _parse(body: dict[str, Any]) -> types.GenerateContentResponse:
    return types.GenerateContentResponse._from_response(response=body, kwargs={})


def _api_error(prefix: str) -> errors.APIError:
    fixture = _load(prefix)
    status = int(fixture["response_status"])
    cls = errors.ClientError if status < 500 else errors.ServerError
    return cls(status, fixture["body"])


def test_stream_chunks_of_fixture_01_parse() -> None:
    """Every chunk of fixture 01 parses; the image chunk yields the PNG and itemised usage."""
    chunks = [_parse(chunk) for chunk in _load("01")["body"]]
    with pytest.raises(NoImage) as text_chunk:
        result_from_response("gemini-2.0-flash-preview-image-generation", chunks[0])
    assert text_chunk.value.text == "I"
    result = result_from_response("gemini-2.0-flash-preview-image-generation", chunks[3])
    assert result.images[0].mime_type == "image/png"
    assert result.images[0].data.startswith(b"\x89PNG\r\n\x1a\n")
    assert result.usage == Usage(
        input_tokens=15, output_image_tokens=1290, output_text_tokens=28, thinking_tokens=0
    )


def test_fixture_02_thought_images_are_skipped() -> None:
    """With the docs' placeholders made valid, only the three non-thought images are results."""
    parts = _load("02")["body"]["parts"]
    for index, part in enumerate(parts):
        if "inline_data" in part:
            part["inline_data"]["data"] = base64.b64encode(bytes([index]) * 4).decode()
        if "thought_signature" in part:
            part["thought_signature"] = base64.b64encode(b"sig").decode()
    body = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}]}
    result = result_from_response("gemini-3-pro-image", _parse(body))
    assert [image.data[0] for image in result.images] == [4, 6, 8]
    assert result.usage == Usage.unreported()
    assert result.text is not None
    assert result.text.startswith("Here is a step-by-step guide")


def test_fixture_08_prompt_block_is_safety_blocked() -> None:
    """promptFeedback.blockReason SAFETY names the reason and the flagged category."""
    response = _parse(_load("08")["body"])
    with pytest.raises(SafetyBlocked) as caught:
        result_from_response("gemini-3-pro-image", response)
    assert caught.value.reason == "SAFETY"
    assert caught.value.stage == "prompt"
    assert caught.value.categories == ("hate speech",)
    assert caught.value.usage == Usage.unreported()
    assert not caught.value.may_have_billed


def test_fixture_09_finish_reason_safety_is_safety_blocked_with_usage() -> None:
    """finishReason SAFETY without an image is SafetyBlocked carrying the billed usage."""
    response = _parse(_load("09")["body"])
    with pytest.raises(SafetyBlocked) as caught:
        result_from_response("gemini-2.0-flash", response)
    assert caught.value.stage == "image"
    assert caught.value.usage == Usage(input_tokens=7, output_text_tokens=20)
    assert caught.value.may_have_billed


def test_fixture_10_rate_limit_reads_retry_info() -> None:
    """The 429 of fixture 10 is a per-minute, retryable RateLimited with a 26 s delay."""
    mapped = error_from_api_error("gemini-2.5-flash", _api_error("10"))
    assert isinstance(mapped, RateLimited)
    assert mapped.retry_after_s == 26.0
    assert not mapped.daily
    assert mapped.retryable


def test_fixture_10b_zero_quota_is_not_retryable() -> None:
    """The ErrorInfo 429 with quota_limit_value 0 means no quota at all: not retryable."""
    mapped = error_from_api_error("gemini-2.5-flash", _api_error("10b"))
    assert isinstance(mapped, RateLimited)
    assert mapped.retry_after_s is None
    assert mapped.no_quota
    assert not mapped.retryable


def test_fixture_11_bad_key_is_key_rejected_and_scrubbed() -> None:
    """The API_KEY_INVALID 400 is KeyRejected and the echoed key is not in its text."""
    mapped = error_from_api_error("gemini-3-pro-image", _api_error("11"), secret="key1234")
    assert isinstance(mapped, KeyRejected)
    assert "key1234" not in str(mapped)
    assert "key1234" not in mapped.user_message


def test_fixture_12_overload_is_unavailable() -> None:
    """The 503 UNAVAILABLE body becomes a retryable Unavailable."""
    mapped = error_from_api_error("gemini-3-pro-image-preview", _api_error("12"))
    assert isinstance(mapped, Unavailable)
    assert mapped.retryable


def test_fixture_13_unknown_model_is_model_not_found() -> None:
    """The 404 NOT_FOUND body becomes ModelNotFound for the model asked for."""
    mapped = error_from_api_error("gemini-5.0-flash", _api_error("13"))
    assert isinstance(mapped, ModelNotFound)
    assert mapped.model_id == "gemini-5.0-flash"


@pytest.mark.parametrize(
    ("delay", "message", "expected"),
    [
        ("26s", None, 26.0),
        ("1.5s", None, 1.5),
        ("47.434392449s", None, 47.434392449),
        ({"seconds": 3, "nanos": 500000000}, None, 3.5),
        (None, "Quota exceeded. Please retry in 12.5s.", 12.5),
        (None, "Please retry in 750ms.", 0.75),
        (None, "no hint here", None),
    ],
)
def test_retry_delay_forms(delay: object, message: str | None, expected: float | None) -> None:
    """RetryInfo durations and "Please retry in" hints are read in every observed form."""
    details = []
    if delay is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay})
    body = {"error": {"code": 429, "details": details}}
    assert retry_delay_seconds(body, message) == expected


def test_usage_without_metadata_is_unreported() -> None:
    """No usage_metadata at all gives Usage.unreported()."""
    assert usage_from_metadata(None) == Usage.unreported()
