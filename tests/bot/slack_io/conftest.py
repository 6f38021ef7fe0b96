"""Fixtures for the Slack I/O tests: the fake Slack server, a real SDK client, a sleep recorder."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from tests.bot.slack_io.support import SleepRecorder
from tests.fakes.slack_api import FakeSlackAPI


@pytest.fixture
async def slack_api() -> AsyncIterator[FakeSlackAPI]:
    """A running fake Slack."""
    async with FakeSlackAPI() as fake:
        yield fake


@pytest.fixture
async def other_server() -> AsyncIterator[FakeSlackAPI]:
    """A second fake on another port: a host nobody listed."""
    async with FakeSlackAPI() as fake:
        yield fake


@pytest.fixture
async def client(slack_api: FakeSlackAPI) -> AsyncIterator[AsyncWebClient]:
    """The real slack_sdk client pointed at the fake, with its own aiohttp session."""
    async with aiohttp.ClientSession() as session:
        yield AsyncWebClient(token=slack_api.token, base_url=slack_api.base_url, session=session)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An aiohttp session as the composition root would make one."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def sleeps() -> SleepRecorder:
    """The injected sleep; tests read ``sleeps.waits``."""
    return SleepRecorder()
