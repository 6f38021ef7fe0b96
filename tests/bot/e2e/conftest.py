"""End-to-end harness: the real bot (build_runtime + web_application) behind signed HTTP requests.

slack_bolt and slack_sdk run unmocked against the fake Slack Web API, the google-genai SDK against
the fake Gemini API, and the ledger is a real SQLite file. Requests are signed exactly as Slack
signs them (v0 HMAC-SHA256 over ``v0:timestamp:body``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Runtime, build_runtime, web_application
from bot.config import Settings
from tests.fakes.gemini_api import FakeGeminiAPI
from tests.fakes.slack_api import FakeSlackAPI

SIGNING_SECRET = "e2e-signing-secret"


class StepClock:
    """A UTC clock that starts at a fixed instant and moves one second per reading."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def __call__(self) -> datetime:
        self._now += timedelta(seconds=1)
        return self._now

    def advance(self, delta: timedelta) -> None:
        """Jump ahead (e.g. past the age at which maintenance retries an upload)."""
        self._now += delta


def signed_headers(
    body: str, *, secret: str = SIGNING_SECRET, at: int | None = None
) -> dict[str, str]:
    """The headers Slack sends with a request body."""
    timestamp = str(at if at is not None else int(time.time()))
    base = f"v0:{timestamp}:{body}".encode()
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


@dataclass
class Bot:
    """The running bot and its fakes, with helpers that speak to it like Slack does."""

    runtime: Runtime
    http: TestClient[Any, Any]
    slack: FakeSlackAPI
    gemini: FakeGeminiAPI
    image_dir: Path
    clock: StepClock
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def post(
        self, body: str, *, content_type: str, headers: dict[str, str] | None = None
    ) -> Any:
        merged = {"Content-Type": content_type, **signed_headers(body), **(headers or {})}
        return await self.http.post("/slack/events", data=body, headers=merged)

    async def command(
        self,
        text: str,
        *,
        user: str = "U111",
        channel: str = "C111",
        trigger_id: str | None = None,
        name: str = "/image",
    ) -> dict[str, Any]:
        """Send ``/image text`` (or another command) as Slack's form body; returns the ack."""
        fields = {
            "token": "verification_token",
            "team_id": "T111",
            "team_domain": "test-domain",
            "channel_id": channel,
            "channel_name": "marketing",
            "user_id": user,
            "user_name": user.lower(),
            "command": name,
            "text": text,
            "api_app_id": "A111",
            "response_url": self.slack.response_url(str(next(self._ids))),
            "trigger_id": trigger_id or f"{next(self._ids)}.111.abc",
        }
        response = await self.post(
            urlencode(fields), content_type="application/x-www-form-urlencoded"
        )
        assert response.status == 200, await response.text()
        if response.content_type == "application/json":
            return dict(await response.json())
        return {"text": await response.text()}  # an empty acknowledgement

    async def event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry_num: int | None = None
    ) -> int:
        """Deliver an Events API callback; returns the HTTP status."""
        payload = {
            "token": "verification_token",
            "team_id": "T111",
            "api_app_id": "A111",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._ids):08d}",
            "event_time": int(time.time()),
            "authorizations": [
                {"team_id": "T111", "user_id": self.slack.bot_user_id, "is_bot": True}
            ],
        }
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        response = await self.post(
            json.dumps(payload), content_type="application/json", headers=headers
        )
        return int(response.status)

    async def click(
        self,
        action_id: str,
        value: str,
        *,
        user: str = "U111",
        message_ts: str = "1.000",
        channel: str = "C111",
    ) -> int:
        """Click a button the bot posted (a block_actions interactivity payload)."""
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": "T111"},
            "api_app_id": "A111",
            "token": "verification_token",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
            "trigger_id": f"{next(self._ids)}.222.valid",
            "team": {"id": "T111", "domain": "test-domain"},
            "channel": {"id": channel, "name": "marketing"},
            "message": {"ts": message_ts, "type": "message"},
            "response_url": self.slack.response_url(str(next(self._ids))),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "image_followups",
                    "value": value,
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        body = urlencode({"payload": json.dumps(payload)})
        response = await self.post(body, content_type="application/x-www-form-urlencoded")
        return int(response.status)

    async def settle(self) -> None:
        """Wait until every background job the requests started has finished."""
        await self.runtime.tasks.wait_idle()


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    """A bot on SQLite with the current card, talking to fake Slack and fake Gemini."""
    async with FakeSlackAPI() as slack, FakeGeminiAPI() as gemini:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            slack_bot_token=slack.token,
            slack_signing_secret=SIGNING_SECRET,
            gemini_api_key=gemini.api_key,
            gemini_base_url=gemini.base_url,
            slack_api_url=slack.base_url,
            database_url=f"sqlite:///{tmp_path / 'bot.db'}",
            image_dir=tmp_path / "images",
            slack_file_hosts=(slack.host_port,),
            default_user_budget_usd="5",
            workspace_budget_usd="100",
            confirm_above_usd="1",
            admins=frozenset({"UADMIN"}),
        )
        clock = StepClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
        runtime = await build_runtime(settings, clock=clock)
        server = TestServer(web_application(runtime))
        client = TestClient(server)
        await client.start_server()
        try:
            yield Bot(
                runtime=runtime,
                http=client,
                slack=slack,
                gemini=gemini,
                image_dir=tmp_path / "images",
                clock=clock,
            )
        finally:
            await client.close()
            await runtime.aclose(grace_s=5)
