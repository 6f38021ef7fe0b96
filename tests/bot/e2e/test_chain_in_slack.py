"""/image chain: one reference, every pose locked to it, each pose's cost reported."""

from __future__ import annotations

import json

from sqlalchemy import text

from router import Purpose
from tests.bot.e2e.conftest import Bot
from tests.fakes.gemini_api import ImageBlocked


async def test_chain_makes_a_reference_then_poses_with_it(bot: Bot) -> None:
    """The reference is made first; each pose gets it as input; the summary lists every pose."""
    ack = await bot.command("chain our green owl mascot | waving | jumping")
    assert "2 poses" in ack["text"]
    await bot.settle()
    requests = bot.gemini.generate_requests()
    assert len(requests) == 3
    reference, *poses = requests
    assert reference.images == ()
    reference_png = [f for f in bot.slack.uploaded_files().values() if f.title == "Reference"]
    assert len(reference_png) == 1
    for pose in poses:
        assert pose.images[0] == reference_png[0].data
    assert sorted(p.prompt.split(", ")[-1] for p in poses) == ["jumping", "waving"]
    character = bot.runtime.card.tier(Purpose.CHARACTER)
    assert {p.model for p in poses} <= {o.model for o in character.options} | bot.gemini.listed
    summary = bot.slack.calls_to("chat.postMessage")[-1].params
    assert "2 of 2 poses" in summary["text"]
    async with bot.runtime.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT tier FROM ledger_entry"))).scalars().all()
    assert sorted(rows) == ["character", "character", "economy"]


async def test_a_failed_pose_is_reported_not_dropped(bot: Bot) -> None:
    """A pose blocked by safety is listed as failed with its charge; the others arrive."""
    await bot.command("chain a knight | riding | resting")
    await bot.settle()
    character_model = bot.gemini.generate_requests()[-1].model
    bot.gemini.script(character_model, ImageBlocked())
    await bot.command("chain a knight | riding | resting")
    await bot.settle()
    summary = bot.slack.calls_to("chat.postMessage")[-1].params
    assert "1 of 2 poses" in summary["text"]
    assert "failed" in json.dumps(summary["blocks"])


async def test_expensive_chain_asks_first(bot: Bot) -> None:
    """A chain over the confirmation threshold waits for Go ahead; nothing runs before it."""
    poses = " | ".join(f"pose {n}" for n in range(1, 9))
    ack = await bot.command(f"chain a dragon --4k | {poses}")
    assert "Go ahead" in json.dumps(ack.get("blocks", []))
    await bot.settle()
    assert bot.gemini.generate_requests() == []


async def test_chain_without_poses_explains_the_syntax(bot: Bot) -> None:
    """A chain without poses gets the syntax, and nothing runs."""
    ack = await bot.command("chain our mascot")
    assert "|" in ack["text"]
    await bot.settle()
    assert bot.gemini.generate_requests() == []


async def test_batch_flag_in_slack_points_to_the_batch_command(bot: Bot) -> None:
    """--batch in Slack (plain or chain) is refused with the way to do it; nothing runs."""
    plain = await bot.command("a teapot --batch")
    chain = await bot.command("chain a knight --batch | riding | resting")
    for ack in (plain, chain):
        assert "imagebot batch submit" in ack["text"]
    await bot.settle()
    assert bot.gemini.generate_requests() == []


def confirm_value(ack: dict[str, object]) -> str:
    """The value of the Go ahead button in an acknowledgement."""
    for block in ack.get("blocks", []):  # type: ignore[attr-defined]
        for element in block.get("elements", []):
            if element.get("action_id") == "image_confirm":
                return str(element["value"])
    raise AssertionError("no Go ahead button")


async def test_go_ahead_runs_the_held_chain_once_for_its_owner_only(bot: Bot) -> None:
    """Only the asker's Go ahead runs the held chain, and only once."""
    poses = " | ".join(f"pose {n}" for n in range(1, 9))
    ack = await bot.command(f"chain a dragon --4k | {poses}")
    value = confirm_value(ack)
    await bot.click("image_confirm", value, user="U222", message_ts="5.5")
    await bot.settle()
    assert bot.gemini.generate_requests() == []
    [refusal] = bot.slack.calls_to("response")
    assert "Only the person who asked" in str(refusal.params.get("text"))
    await bot.click("image_confirm", value, user="U111", message_ts="5.5")
    await bot.click("image_confirm", value, user="U111", message_ts="5.6")
    await bot.settle()
    assert len(bot.gemini.generate_requests()) == 9
