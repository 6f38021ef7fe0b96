"""/spend end to end: signed requests into a bolt app served by aiohttp, Slack faked on the wire."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from PIL import Image
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.alerts import BudgetFigures, check_thresholds, deliver_notices
from bot.ledger.alerts import AlertStore, IncreaseState
from bot.ledger.budgets import BudgetLedger
from bot.ledger.engine import make_engine, upgrade
from bot.ledger.reports import ReportStore
from bot.listeners.spend import REFUSAL, SlackNotifier, register_spend
from bot.reports import (
    APPROVE_ACTION,
    ASK_MORE_ACTION,
    ASK_MORE_CALLBACK,
    BUDGET_FORM_CALLBACK,
    DECLINE_ACTION,
    parse_ledger_csv,
)
from bot.tasks import TaskTracker
from tests.bot.reports.samples import Row, card, insert_rows
from tests.fakes.slack_api import FakeSlackAPI, SlackCall
from tests.pg import fresh_sqlite_url

SECRET = "test-signing-secret"
TEAM = "T111"
TZ = ZoneInfo("UTC")
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
DEFAULT_BUDGET = 50_000_000


@dataclass
class Harness:
    """A served bolt app with /spend registered, its fake Slack and its ledger."""

    fake: FakeSlackAPI
    url: str
    http: aiohttp.ClientSession
    engine: AsyncEngine
    ledger: BudgetLedger
    alerts: AlertStore
    tasks: TaskTracker
    _ids: int = 0

    def _next(self) -> str:
        self._ids += 1
        return str(self._ids)

    async def _post(self, body: str, content_type: str) -> tuple[int, str]:
        stamp = str(int(time.time()))
        signature = SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body)
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature,
        }
        async with self.http.post(self.url, data=body.encode(), headers=headers) as response:
            return response.status, await response.text()

    async def command(self, user: str, text: str, *, channel: str = "C111") -> tuple[int, str]:
        """POST a signed /spend as ``user``."""
        n = self._next()
        body = urlencode(
            {
                "token": "legacy",
                "team_id": TEAM,
                "team_domain": "fake",
                "channel_id": channel,
                "channel_name": "general",
                "user_id": user,
                "user_name": user.lower(),
                "command": "/spend",
                "text": text,
                "response_url": self.fake.response_url(n),
                "trigger_id": f"trigger.{n}",
                "api_app_id": "A111",
            }
        )
        return await self._post(body, "application/x-www-form-urlencoded")

    async def interact(self, payload: dict[str, Any]) -> tuple[int, str]:
        """POST a signed interactivity payload."""
        body = urlencode({"payload": json.dumps(payload)})
        return await self._post(body, "application/x-www-form-urlencoded")

    async def click(self, user: str, action_id: str, value: str, **where: str) -> tuple[int, str]:
        """A button click by ``user`` (the clicker is what Slack signs, not the value)."""
        n = self._next()
        return await self.interact(
            {
                "type": "block_actions",
                "user": {"id": user, "team_id": TEAM},
                "team": {"id": TEAM},
                "api_app_id": "A111",
                "trigger_id": f"trigger.{n}",
                "response_url": self.fake.response_url(n),
                "container": {
                    "type": "message",
                    "channel_id": where.get("channel", f"D{user}"),
                    "message_ts": where.get("ts", "1.000001"),
                },
                "channel": {"id": where.get("channel", f"D{user}")},
                "actions": [
                    {
                        "action_id": action_id,
                        "block_id": "b",
                        "type": "button",
                        "value": value,
                        "action_ts": "1.1",
                    }
                ],
            }
        )

    async def submit(
        self, user: str, callback_id: str, values: dict[str, dict[str, Any]]
    ) -> tuple[int, str]:
        """A modal submission by ``user`` with ``values`` as state.values."""
        return await self.interact(
            {
                "type": "view_submission",
                "user": {"id": user, "team_id": TEAM},
                "team": {"id": TEAM},
                "api_app_id": "A111",
                "trigger_id": "trigger.view",
                "view": {
                    "id": "V1",
                    "team_id": TEAM,
                    "type": "modal",
                    "callback_id": callback_id,
                    "private_metadata": json.dumps({"month": "2026-11"}),
                    "state": {"values": values},
                },
            }
        )

    def responses(self) -> list[SlackCall]:
        """Everything posted to response_urls (ephemeral replies)."""
        return self.fake.calls_to("response")

    async def budget(self, user: str | None) -> int | None:
        setting = await self.ledger.budget_for(workspace_id=TEAM, user_id=user, month="2026-11")
        return setting.amount_micros


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """/spend served over HTTP with signature checks; M1 is a listed admin, W9 a Slack admin."""
    url = fresh_sqlite_url(tmp_path)
    await upgrade(url)
    engine = make_engine(url)
    async with FakeSlackAPI(team_id=TEAM) as fake, aiohttp.ClientSession() as http:
        for user in ("U1", "U2", "M1", "M2"):
            fake.add_user(user)
        fake.add_user("W9", is_admin=True)
        client = AsyncWebClient(token=fake.token, base_url=fake.base_url)
        app = AsyncApp(signing_secret=SECRET, client=client)
        ledger = BudgetLedger(
            engine, tz=TZ, default_user_budget_micros=DEFAULT_BUDGET, workspace_budget_micros=None
        )
        alerts = AlertStore(engine, budgets=ledger)
        tasks = TaskTracker()
        register_spend(
            app,
            ledger=ledger,
            reports=ReportStore(engine, tz=TZ),
            alerts=alerts,
            card=card(),
            admins=frozenset({"M1", "M2"}),
            tz=TZ,
            clock=lambda: NOW,
            tasks=tasks,
        )

        async def events(request: web.Request) -> web.Response:
            return await to_aiohttp_response(
                await app.async_dispatch(await to_bolt_request(request))
            )

        server = web.Application()
        server.router.add_post("/slack/events", events)
        runner = web.AppRunner(server, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        harness = Harness(
            fake=fake,
            url=f"http://127.0.0.1:{port}/slack/events",
            http=http,
            engine=engine,
            ledger=ledger,
            alerts=alerts,
            tasks=tasks,
        )
        try:
            yield harness
        finally:
            await tasks.shutdown(grace_s=5)
            await runner.cleanup()
            await engine.dispose()


async def _spend(harness: Harness) -> None:
    rows = [
        Row(user_id="U1", model_id="gemini-2.5-flash-image", cost_micros=39_000, created_at=NOW),
        Row(user_id="U1", model_id="gemini-3-pro-image", cost_micros=134_000, created_at=NOW),
        Row(user_id="U2", model_id="gemini-3.1-flash-image", cost_micros=67_000, created_at=NOW),
    ]
    await insert_rows(harness.engine, rows, workspace_id=TEAM, tz=TZ, at=NOW)


async def test_anyone_sees_their_own_month(harness: Harness) -> None:
    """/spend answers the caller ephemerally with their spend, budget and models."""
    await _spend(harness)
    status, _ = await harness.command("U1", "")
    assert status == 200
    [reply] = await harness.fake.wait_for("response")
    assert reply.params["response_type"] == "ephemeral"
    text = json.dumps(reply.params["blocks"])
    assert "*$0.173* spent of your *$50.00* budget" in text
    assert "Nano Banana Pro: 1 image" in text
    assert "U2" not in text


@pytest.mark.parametrize(
    "text",
    [
        "team",
        "all",
        "<@U2|bo>",
        "<@U2>",
        "csv team",
        "csv <@U2>",
        "budget <@U1> 500",
        "budget team 9000",
        "budget",
    ],
)
async def test_non_managers_get_a_polite_refusal_and_nothing_else(
    harness: Harness, text: str
) -> None:
    """Others' figures, budgets and the budget form are refused; nothing is shown or written."""
    await _spend(harness)
    await harness.command("U1", text)
    [reply] = await harness.fake.wait_for("response")
    assert reply.params["text"] == REFUSAL
    assert "blocks" not in reply.params
    await harness.tasks.wait_idle()
    assert harness.fake.calls_to("files.completeUploadExternal") == []
    assert harness.fake.calls_to("views.open") == []
    assert await harness.budget("U1") == DEFAULT_BUDGET
    assert await harness.budget(None) is None


async def test_a_manager_gets_the_team_report_and_the_chart_in_a_dm(harness: Harness) -> None:
    """/spend team by a listed admin: everyone's figures, then the chart uploaded to their DM."""
    await _spend(harness)
    await harness.command("M1", "team")
    [reply] = await harness.fake.wait_for("response")
    text = json.dumps(reply.params["blocks"])
    assert "1. <@U1> $0.173 of $50.00" in text
    assert "2. <@U2> $0.067 of $50.00" in text
    [upload] = await harness.fake.wait_for("files.completeUploadExternal")
    assert upload.params["channel_id"] == "DM1"
    [file] = harness.fake.uploaded_files().values()
    image = Image.open(io.BytesIO(file.data))
    assert (image.format, image.size) == ("PNG", (1200, 600))


async def test_a_slack_workspace_admin_counts_as_a_manager(harness: Harness) -> None:
    """Someone Slack reports as is_admin may look at another person."""
    await _spend(harness)
    await harness.command("W9", "<@U2|bo> 2026-11")
    [reply] = await harness.fake.wait_for("response")
    assert "<@U2>'s spend" in json.dumps(reply.params["blocks"])


async def test_a_manager_sets_budgets_recorded_with_their_name(harness: Harness) -> None:
    """/spend budget @user 75 and budget team 2000 write budgets set by the manager."""
    await harness.command("M1", "budget <@U1|ann> 75")
    await harness.command("M1", "budget team $2,000")
    replies = await harness.fake.wait_for("response", count=2)
    assert "Set the monthly budget of <@U1> to $75.00" in replies[0].params["text"]
    assert await harness.budget("U1") == 75_000_000
    assert await harness.budget(None) == 2_000_000_000
    setting = await harness.ledger.budget_for(workspace_id=TEAM, user_id="U1", month="2026-11")
    assert setting.set_by == "M1"


async def test_csv_of_your_own_rows_round_trips(harness: Harness) -> None:
    """/spend csv by anyone sends their own rows to their DM; the file parses back."""
    await _spend(harness)
    await harness.command("U1", "csv")
    await harness.fake.wait_for("response")
    [file] = harness.fake.uploaded_files().values()
    rows = parse_ledger_csv(file.data.decode("utf-8"))
    assert {row.user_id for row in rows} == {"U1"}
    assert sum(row.cost_micros for row in rows) == 173_000


async def test_bad_text_is_answered_in_the_ack(harness: Harness) -> None:
    """A period that makes no sense is explained at once, in the acknowledgement."""
    status, body = await harness.command("U1", "2026-13")
    assert status == 200
    assert "not a month" in body


async def test_unsigned_requests_are_rejected(harness: Harness) -> None:
    """A request without a valid signature never reaches the listener."""
    body = urlencode({"team_id": TEAM, "user_id": "M1", "command": "/spend", "text": "team"})
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(int(time.time())),
        "X-Slack-Signature": "v0=forged",
    }
    async with harness.http.post(harness.url, data=body, headers=headers) as response:
        assert response.status == 401
    assert harness.responses() == []


async def test_budget_form_opens_for_managers_and_refuses_forged_submitters(
    harness: Harness,
) -> None:
    """The form opens for a manager; a submission by a non-manager writes nothing."""
    await harness.command("M1", "budget")
    [opened] = await harness.fake.wait_for("views.open")
    assert opened.params["view"]["callback_id"] == BUDGET_FORM_CALLBACK
    values = {
        "scope": {"scope": {"type": "radio_buttons", "selected_option": {"value": "user"}}},
        "user": {"user": {"type": "users_select", "selected_user": "U2"}},
        "amount": {"amount": {"type": "plain_text_input", "value": "120"}},
    }
    await harness.submit("U1", BUDGET_FORM_CALLBACK, values)
    [refused] = await harness.fake.wait_for("chat.postMessage")
    assert (refused.params["channel"], refused.params["text"]) == ("U1", REFUSAL)
    assert await harness.budget("U2") == DEFAULT_BUDGET
    await harness.submit("M1", BUDGET_FORM_CALLBACK, values)
    await harness.fake.wait_for("chat.postMessage", count=2)
    assert await harness.budget("U2") == 120_000_000


async def test_budget_form_errors_come_back_in_the_ack(harness: Harness) -> None:
    """A bad amount is shown on the field, before anything runs."""
    values = {
        "scope": {"scope": {"type": "radio_buttons", "selected_option": {"value": "team"}}},
        "amount": {"amount": {"type": "plain_text_input", "value": "lots"}},
    }
    status, body = await harness.submit("M1", BUDGET_FORM_CALLBACK, values)
    assert status == 200
    assert json.loads(body)["response_action"] == "errors"
    assert "amount" in json.loads(body)["errors"]


async def _ask_for_more(harness: Harness) -> str:
    """U1 clicks Ask for more and submits $20; returns the request id on the managers' button."""
    await harness.click("U1", ASK_MORE_ACTION, "20000000")
    [opened] = await harness.fake.wait_for("views.open")
    assert opened.params["view"]["callback_id"] == ASK_MORE_CALLBACK
    values = {
        "amount": {"amount": {"type": "plain_text_input", "value": "20"}},
        "reason": {"reason": {"type": "plain_text_input", "value": "Launch week posters"}},
    }
    await harness.submit("U1", ASK_MORE_CALLBACK, values)
    posts = await harness.fake.wait_for("chat.postMessage", count=3)  # M1, M2, then U1
    to_managers = [p for p in posts if p.params["channel"] in ("M1", "M2")]
    assert len(to_managers) == 2
    buttons = to_managers[0].params["blocks"][1]["elements"]
    assert [b["action_id"] for b in buttons] == [APPROVE_ACTION, DECLINE_ACTION]
    return str(buttons[0]["value"])


async def test_approval_raises_the_budget_exactly_once(harness: Harness) -> None:
    """Two managers approving at once and a replayed click raise the budget once."""
    request_id = await _ask_for_more(harness)
    await asyncio.gather(
        harness.click("M1", APPROVE_ACTION, request_id),
        harness.click("M2", APPROVE_ACTION, request_id),
        harness.click("M1", APPROVE_ACTION, request_id),
    )
    await harness.fake.wait_for("response", count=2)  # the two losers hear "already decided"
    await harness.tasks.wait_idle()
    assert await harness.budget("U1") == DEFAULT_BUDGET + 20_000_000
    told = [p for p in harness.fake.calls_to("chat.postMessage") if p.params["channel"] == "U1"]
    assert len(told) == 2  # "I've asked the managers", then the one approval
    assert "approved your request for $20.00 more" in told[1].params["text"]
    request = await harness.alerts.get_increase_request(int(request_id))
    assert request is not None
    assert request.state is IncreaseState.APPROVED


async def test_a_non_manager_cannot_approve_even_with_the_request_id(harness: Harness) -> None:
    """A forged Approve click by the requester is refused and the request stays pending."""
    request_id = await _ask_for_more(harness)
    await harness.click("U1", APPROVE_ACTION, request_id)
    [refusal] = await harness.fake.wait_for("response")
    assert refusal.params["text"] == REFUSAL
    assert await harness.budget("U1") == DEFAULT_BUDGET
    request = await harness.alerts.get_increase_request(int(request_id))
    assert request is not None
    assert request.state is IncreaseState.PENDING


async def test_declining_tells_the_requester(harness: Harness) -> None:
    """Decline leaves the budget alone and tells the person who asked."""
    request_id = await _ask_for_more(harness)
    await harness.click("M2", DECLINE_ACTION, request_id)
    posts = await harness.fake.wait_for("chat.postMessage", count=4)
    assert "declined your request for $20.00" in posts[-1].params["text"]
    [update] = await harness.fake.wait_for("chat.update")
    assert "declined" in update.params["text"]
    assert await harness.budget("U1") == DEFAULT_BUDGET


async def test_alert_notices_arrive_as_dms(harness: Harness) -> None:
    """SlackNotifier delivers check_thresholds notices to the user and to each manager."""
    notices = await check_thresholds(
        claims=harness.alerts,
        workspace_id=TEAM,
        user_id="U1",
        month="2026-11",
        user=BudgetFigures(consumed_micros=DEFAULT_BUDGET, budget_micros=DEFAULT_BUDGET),
        workspace=BudgetFigures(consumed_micros=95, budget_micros=100),
        at=NOW,
    )
    client = AsyncWebClient(token=harness.fake.token, base_url=harness.fake.base_url)
    sent = await deliver_notices(notices, notifier=SlackNotifier(client), managers=["M1", "M2"])
    assert sent == 3
    posts = await harness.fake.wait_for("chat.postMessage", count=3)
    assert [p.params["channel"] for p in posts] == ["U1", "M1", "M2"]
    assert posts[0].params["blocks"][-1]["elements"][0]["action_id"] == ASK_MORE_ACTION
