"""Maintenance passes and what the HTTP face serves in Socket Mode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from bot.app import build_runtime, web_application
from bot.config import Settings
from tests.bot.e2e.conftest import Bot, StepClock, signed_headers
from tests.fakes.gemini_api import FakeGeminiAPI
from tests.fakes.slack_api import FakeSlackAPI


async def test_maintenance_settles_a_reservation_orphaned_by_a_crashed_replica(bot: Bot) -> None:
    """A reservation left by a dead replica is settled at its estimate by the next pass."""
    ledger = bot.runtime.ledger
    await ledger.reserve(
        key="orphan",
        workspace_id="T111",
        user_id="U111",
        estimate_micros=134_000,
        at=bot.clock(),
    )
    await bot.runtime.maintain()  # too young: another replica may still be working on it
    async with bot.runtime.engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM ledger_entry"))).scalar() == 0
    bot.clock.advance(timedelta(hours=1))
    await bot.runtime.maintain()
    async with bot.runtime.engine.connect() as connection:
        row = (
            await connection.execute(text("SELECT cost_micros, interrupted FROM ledger_entry"))
        ).one()
    assert tuple(row) == (134_000, True)
    user, _ = await ledger.state(workspace_id="T111", user_id="U111", at=bot.clock())
    assert user.consumed_micros == 134_000


async def test_socket_mode_without_signing_secret_serves_no_event_endpoint(tmp_path: Path) -> None:
    """With an app token and no signing secret, /slack/events is not served (no forgeries)."""
    async with FakeSlackAPI() as slack, FakeGeminiAPI() as gemini:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            slack_bot_token=slack.token,
            slack_app_token=slack.app_token,
            gemini_api_key=gemini.api_key,
            gemini_base_url=gemini.base_url,
            slack_api_url=slack.base_url,
            database_url=f"sqlite:///{tmp_path / 'bot.db'}",
            image_dir=tmp_path / "images",
        )
        runtime = await build_runtime(
            settings, clock=StepClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
        )
        client = TestClient(TestServer(web_application(runtime)))
        await client.start_server()
        try:
            body = "command=%2Fimage&text=hero&team_id=T111&user_id=U111&channel_id=C111"
            response = await client.post(
                "/slack/events",
                data=body,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    **signed_headers(body, secret="anything"),
                },
            )
            assert response.status in (404, 405)
            assert (await client.get("/healthz")).status == 200
        finally:
            await client.close()
            await runtime.aclose(grace_s=1)
        assert gemini.generate_requests() == []
