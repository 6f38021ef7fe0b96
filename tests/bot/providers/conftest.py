"""Fixtures for the provider tests: the fake Gemini API and a real-SDK provider pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.providers.gemini import GeminiProvider
from tests.fakes.gemini_api import FakeGeminiAPI


@pytest.fixture
async def gemini_api() -> AsyncIterator[FakeGeminiAPI]:
    """A running fake Gemini API on a loopback port."""
    async with FakeGeminiAPI() as api:
        yield api


@pytest.fixture
async def provider(gemini_api: FakeGeminiAPI) -> AsyncIterator[GeminiProvider]:
    """The real adapter (real google-genai SDK) talking to the fake."""
    adapter = GeminiProvider(api_key=gemini_api.api_key, base_url=gemini_api.base_url, timeout_s=10)
    yield adapter
    await adapter.aclose()
