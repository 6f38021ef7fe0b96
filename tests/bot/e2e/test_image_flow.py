"""/image end to end: signed requests in, images in the thread, every cent in the ledger."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import text

from bot.ledger.budgets import EntryIn
from bot.slack_io import ActionValue
from router import (
    Availability,
    Purpose,
    Usage,
    actual_micros,
    parse_command,
    per_image_micros,
    plan_request,
)
from tests.bot.e2e.conftest import Bot, signed_headers
from tests.fakes.gemini_api import ImageBlocked, RateLimit
from tests.fakes.png import png_bytes


async def ledger_rows(bot: Bot) -> list[dict[str, Any]]:
    """Every ledger row, oldest first."""
    async with bot.runtime.engine.connect() as connection:
        result = await connection.execute(text("SELECT * FROM ledger_entry ORDER BY id"))
        return [dict(row._mapping) for row in result]


def expected_model(bot: Bot, command: str) -> str:
    """The model the router picks for ``command`` with the models the fake lists."""
    plan = plan_request(
        parse_command(command).constraints,
        card=bot.runtime.card,
        budgets=(),
        availability=Availability(listed=frozenset(bot.gemini.listed), not_found=frozenset()),
        today=date(2026, 12, 1),
    )
    assert not hasattr(plan, "cheaper")
    return plan.primary.model_id  # type: ignore[union-attr]


def result_messages(bot: Bot) -> list[dict[str, Any]]:
    """Messages the bot posted that carry the follow-up buttons."""
    return [
        call.params
        for call in bot.slack.calls_to("chat.postMessage")
        if "image_followups" in json.dumps(call.params.get("blocks", ""))
    ]


async def test_hero_command_posts_a_priced_image_in_a_thread(bot: Bot) -> None:
    """/image hero product shot ends with the hero model's image in a thread, priced from tokens."""
    ack = await bot.command("hero product shot on marble")
    assert ack["response_type"] == "ephemeral"
    assert "On it" in ack["text"] and "Budget left" in ack["text"]
    await bot.settle()

    hero_model = expected_model(bot, "hero product shot on marble")
    [request] = bot.gemini.generate_requests()
    assert request.model == hero_model
    assert request.prompt.startswith("product shot on marble")

    [status] = bot.slack.calls_to("chat.postMessage")[:1]
    thread_ts = bot.slack.messages_in("C111")[0]["ts"]
    [upload] = bot.slack.calls_to("files.completeUploadExternal")
    assert upload.params["thread_ts"] == thread_ts
    [stored] = list(bot.slack.uploaded_files().values())
    assert stored.data.startswith(b"\x89PNG")
    assert any(bot.image_dir.rglob("*.png")), "the image is kept on disk"

    [row] = await ledger_rows(bot)
    assert row["model_id"] == hero_model and row["images"] == 1
    usage = Usage(
        input_tokens=row["input_tokens"],
        output_image_tokens=row["output_image_tokens"],
        output_text_tokens=row["output_text_tokens"],
        thinking_tokens=row["thinking_tokens"],
    )
    assert usage.output_image_tokens > 0
    model = bot.runtime.card.model(hero_model)
    assert row["cost_micros"] == actual_micros(
        model, usage, images_returned=1, image_size=row["image_size"], batch=False
    )
    [result] = result_messages(bot)
    assert result["thread_ts"] == thread_ts
    assert "left this month" in result["text"]
    assert status.params["channel"] == "C111"


async def test_reply_with_png_uses_it_as_a_reference(bot: Bot) -> None:
    """A PNG dropped into the bot's thread reaches the character model as a reference image."""
    await bot.command("our mascot, a green owl")
    await bot.settle()
    thread_ts = bot.slack.messages_in("C111")[0]["ts"]
    reference = png_bytes(width=64, height=48, color=(10, 200, 30))
    file = bot.slack.add_file(reference, name="owl.png")
    status = await bot.event(
        {
            "type": "message",
            "subtype": "file_share",
            "channel": "C111",
            "channel_type": "channel",
            "user": "U111",
            "text": "make her wave",
            "ts": "1700000100.000200",
            "thread_ts": thread_ts,
            "files": [file],
        }
    )
    assert status == 200
    await bot.settle()
    character_model = bot.runtime.card.tier(Purpose.CHARACTER).options[0].model
    requests = bot.gemini.generate_requests()
    assert len(requests) == 2
    assert requests[1].model == character_model or requests[1].model in bot.gemini.listed
    assert requests[1].images and requests[1].images[0] == _decoded_png(reference)
    assert "make her wave" in requests[1].prompt


def _decoded_png(data: bytes) -> bytes:
    # Downloads are verified by decoding; PNG bytes pass through unchanged.
    return data


async def test_same_event_three_times_generates_once(bot: Bot) -> None:
    """An event retried by Slack (same event_id, and its app_mention twin) generates once."""
    await bot.command("a red kite at dawn")
    await bot.settle()
    thread_ts = bot.slack.messages_in("C111")[0]["ts"]
    event = {
        "type": "message",
        "channel": "C111",
        "channel_type": "channel",
        "user": "U111",
        "text": "brighter sky",
        "ts": "1700000200.000300",
        "thread_ts": thread_ts,
    }
    assert await bot.event(event, event_id="EvSAME") == 200
    assert await bot.event(event, event_id="EvSAME", retry_num=1) == 200
    assert await bot.event(event, event_id="EvSAME", retry_num=2) == 200
    await bot.settle()
    assert len(bot.gemini.generate_requests()) == 2
    keys = [row["idempotency_key"] for row in await ledger_rows(bot)]
    assert len(keys) == len(set(keys)) == 2


async def test_forged_signature_is_rejected_and_changes_nothing(bot: Bot) -> None:
    """A forged or stale signature gets 401 and nothing is generated or charged."""
    body = "command=%2Fimage&text=hero+shot&team_id=T111&user_id=U111&channel_id=C111"
    forged = signed_headers(body, secret="not-the-secret")
    response = await bot.http.post(
        "/slack/events",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **forged},
    )
    assert response.status == 401
    stale = signed_headers(body, at=1_000_000_000)
    response = await bot.http.post(
        "/slack/events",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **stale},
    )
    assert response.status == 401
    await bot.settle()
    assert bot.gemini.generate_requests() == []
    assert await ledger_rows(bot) == []


async def test_bad_flag_gets_a_friendly_message_and_nothing_runs(bot: Bot) -> None:
    """An unknown option is answered with what works; nothing is generated."""
    ack = await bot.command("hero shot --sparkles")
    assert "--sparkles" in ack["text"]
    await bot.settle()
    assert bot.gemini.generate_requests() == []


async def test_budget_refusal_makes_no_call(bot: Bot) -> None:
    """Past the user's budget the request is refused with the figures, and no call is made."""
    await bot.runtime.ledger.set_budget(
        workspace_id="T111",
        user_id="U111",
        amount_micros=10_000,
        set_by="UADMIN",
        at=bot.runtime.clock(),
    )
    ack = await bot.command("hero product shot")
    assert "budget" in ack["text"].lower()
    await bot.settle()
    assert bot.gemini.generate_requests() == []
    assert await ledger_rows(bot) == []


async def test_safety_block_is_explained_and_bills_no_image(bot: Bot) -> None:
    """A safety block ends in a plain message in the thread; no image is billed."""
    model = expected_model(bot, "a product shot")
    bot.gemini.script(model, ImageBlocked())
    await bot.command("a product shot")
    await bot.settle()
    texts = [call.params.get("text", "") for call in bot.slack.calls_to("chat.postMessage")]
    assert any("safety" in text.lower() for text in texts), texts
    [row] = await ledger_rows(bot)
    assert row["images"] == 0
    assert row["output_image_tokens"] == 0
    usage = Usage(
        input_tokens=row["input_tokens"],
        output_text_tokens=row["output_text_tokens"],
        thinking_tokens=row["thinking_tokens"],
    )
    assert row["cost_micros"] == actual_micros(
        bot.runtime.card.model(model), usage, images_returned=0, image_size=None, batch=False
    )
    assert row["cost_micros"] < per_image_micros(
        bot.runtime.card.model(model), image_size="1K", batch=False
    )
    assert not bot.slack.uploaded_files()


async def test_rate_limit_is_retried_then_served(bot: Bot) -> None:
    """A 429 on the chosen model is retried and the image still arrives."""
    model = expected_model(bot, "a lamp")
    bot.gemini.script(model, RateLimit(retry_delay="0s"))
    await bot.command("a lamp")
    await bot.settle()
    assert [r.model for r in bot.gemini.generate_requests()] == [model, model]
    assert len(bot.slack.uploaded_files()) == 1
    [row] = await ledger_rows(bot)  # the 429 cost nothing; the retry is the one billed call
    assert row["model_id"] == model
    assert row["images"] == 1


async def test_more_like_this_is_charged_to_the_clicker(bot: Bot) -> None:
    """A click on More like this by someone else generates once, charged to the clicker."""
    await bot.command("a teapot")
    await bot.settle()
    [result] = result_messages(bot)
    buttons = next(b for b in result["blocks"] if b.get("block_id") == "image_followups")
    more = next(e for e in buttons["elements"] if e["action_id"] == "image_more")
    assert "$" in more["text"]["text"]
    ActionValue.decode(more["value"])
    assert await bot.click("image_more", more["value"], user="U222", message_ts="9.1") == 200
    assert await bot.click("image_more", more["value"], user="U222", message_ts="9.1") == 200
    await bot.settle()
    assert len(bot.gemini.generate_requests()) == 2
    async with bot.runtime.engine.connect() as connection:
        users = (
            (await connection.execute(text("SELECT user_id FROM ledger_entry ORDER BY id")))
            .scalars()
            .all()
        )
    assert list(users) == ["U111", "U222"]


async def spend_beforehand(bot: Bot, micros: int, *, key: str = "earlier") -> None:
    """Arrange earlier spend for U111 this month through the ledger's own API."""
    ledger = bot.runtime.ledger
    at = bot.runtime.clock()
    reserved = await ledger.reserve(
        key=key, workspace_id="T111", user_id="U111", estimate_micros=micros, at=at
    )
    assert not hasattr(reserved, "scope")
    entry = EntryIn(
        idempotency_key=f"{key}:0", model_id="gemini-2.5-flash-image", cost_micros=micros, images=1
    )
    await ledger.settle(key, entries=[entry], at=at)


async def test_guard_downgrades_a_hero_request_at_90_percent(bot: Bot) -> None:
    """At 92% of the budget a hero request goes to the cheapest capable model, and says so."""
    await spend_beforehand(bot, 4_600_000)
    ack = await bot.command("hero product shot")
    assert "Downgraded to save budget" in ack["text"]
    await bot.settle()
    [request] = bot.gemini.generate_requests()
    assert request.model != expected_model(bot, "hero product shot")


async def test_crossing_half_the_budget_sends_one_alert_then_refuses_with_ask_more(
    bot: Bot,
) -> None:
    """Crossing 50% DMs the user once; a request past 100% is refused with an Ask button."""
    await spend_beforehand(bot, 2_480_000)
    await bot.command("a bicycle")
    await bot.settle()
    alerts = [c for c in bot.slack.calls_to("chat.postMessage") if c.params["channel"] == "U111"]
    assert len(alerts) == 1 and "50%" in alerts[0].params["text"]
    await spend_beforehand(bot, 2_480_000, key="earlier-2")
    ack = await bot.command("a bicycle")
    assert "budget_ask_more" in json.dumps(ack.get("blocks", []))
    await bot.settle()
    assert len(bot.gemini.generate_requests()) == 1


async def test_text_reply_is_an_edit_of_the_last_image(bot: Bot) -> None:
    """A plain reply edits the thread's last image on the edit tier, not the character tier."""
    await bot.command("a red bicycle")
    await bot.settle()
    thread_ts = bot.slack.messages_in("C111")[0]["ts"]
    [first_image] = list(bot.slack.uploaded_files().values())
    await bot.event(
        {
            "type": "message",
            "channel": "C111",
            "user": "U111",
            "text": "make it blue",
            "ts": "1700000400.000100",
            "thread_ts": thread_ts,
        }
    )
    await bot.settle()
    edit = bot.gemini.generate_requests()[-1]
    assert edit.prompt.startswith("make it blue")
    assert edit.images == (first_image.data,)
    edit_models = {o.model for o in bot.runtime.card.tier(Purpose.EDIT).options}
    assert edit.model in edit_models
    [_, row] = await ledger_rows(bot)
    assert row["tier"] == "edit"


async def test_more_like_this_keeps_the_thread_purpose(bot: Bot) -> None:
    """More like this under a hero result makes another hero image of the same subject."""
    await bot.command("hero a leather handbag")
    await bot.settle()
    [result] = result_messages(bot)
    buttons = next(b for b in result["blocks"] if b.get("block_id") == "image_followups")
    more = next(e for e in buttons["elements"] if e["action_id"] == "image_more")
    await bot.click("image_more", more["value"], message_ts="7.7")
    await bot.settle()
    first, again = bot.gemini.generate_requests()
    assert again.model == first.model
    assert again.prompt.startswith("a leather handbag")
    rows = await ledger_rows(bot)
    assert [row["tier"] for row in rows] == ["hero", "hero"]


async def test_slack_connect_reply_is_charged_to_the_installing_workspace(bot: Bot) -> None:
    """A reply by someone from another organisation counts against this workspace's budget."""
    await bot.command("a red kite")
    await bot.settle()
    thread_ts = bot.slack.messages_in("C111")[0]["ts"]
    await bot.event(
        {
            "type": "message",
            "channel": "C111",
            "user": "UOUTSIDE",
            "team": "TOTHERORG",
            "text": "make it smaller",
            "ts": "1700000500.000100",
            "thread_ts": thread_ts,
        }
    )
    await bot.settle()
    workspaces = {row["workspace_id"] for row in await ledger_rows(bot)}
    assert workspaces == {"T111"}
