"""/spend inside the running bot: a manager's budget change is what the next /image obeys."""

from __future__ import annotations

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
