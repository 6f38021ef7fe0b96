"""/spend inside the running bot: a manager's budget change is what the next /image obeys."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from sqlalchemy import text

from tests.bot.e2e.conftest import Bot


async def test_a_budget_set_from_slack_is_used_by_the_next_request(bot: Bot) -> None:
    """A manager lowers a person's budget with /spend; their next /image is refused."""
    ack = await bot.command("budget <@U111|anna> 0.01", user="UADMIN", name="/spend")
    await bot.settle()
    answers = [ack.get("text", "")] + [
        str(call.params.get("text", "")) for call in bot.slack.calls_to("response")
    ]
    assert any("$0.01" in answer for answer in answers), answers
    refused = await bot.command("hero product shot")
    assert "budget" in refused["text"].lower()
    await bot.settle()
    assert bot.gemini.generate_requests() == []


async def test_a_non_manager_cannot_change_budgets(bot: Bot) -> None:
    """Someone who is not a manager is refused politely and nothing changes."""
    await bot.command("budget <@U111|anna> 0.01", user="U222", name="/spend")
    await bot.settle()
    [answer] = bot.slack.calls_to("response")
    assert "manager" in str(answer.params.get("text", "")).lower()
    await bot.command("a lighthouse")
    await bot.settle()
    assert len(bot.gemini.generate_requests()) == 1


async def submit_ask_more(bot: Bot, *, view_id: str) -> int:
    """U111 submits the Ask-for-more form ($20, a reason) as Slack sends it."""
    payload = {
        "type": "view_submission",
        "user": {"id": "U111", "team_id": "T111"},
        "team": {"id": "T111"},
        "api_app_id": "A111",
        "trigger_id": "trigger.view",
        "view": {
            "id": view_id,
            "team_id": "T111",
            "type": "modal",
            "callback_id": "budget_ask_more_form",
            "private_metadata": "{}",
            "state": {
                "values": {
                    "amount": {"amount": {"type": "plain_text_input", "value": "20"}},
                    "reason": {"reason": {"type": "plain_text_input", "value": "launch week"}},
                }
            },
        },
    }
    body = urlencode({"payload": json.dumps(payload)})
    response = await bot.post(body, content_type="application/x-www-form-urlencoded")
    return int(response.status)


async def test_an_ask_for_more_form_sent_twice_makes_one_request(bot: Bot) -> None:
    """The same form submitted twice (or redelivered) asks the managers once."""
    assert await submit_ask_more(bot, view_id="V42") == 200
    assert await submit_ask_more(bot, view_id="V42") == 200
    await bot.settle()
    async with bot.runtime.engine.connect() as connection:
        count = (
            await connection.execute(text("SELECT count(*) FROM budget_increase_request"))
        ).scalar()
    assert count == 1
    to_manager = [
        c for c in bot.slack.calls_to("chat.postMessage") if c.params["channel"] == "UADMIN"
    ]
    assert len(to_manager) == 1
