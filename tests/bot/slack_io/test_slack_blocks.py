"""Block Kit messages: prices on buttons, compact JSON values, marketer text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.slack_io import (
    ACTION_CANCEL,
    ACTION_CONFIRM,
    ACTION_FINAL,
    ACTION_HERO,
    ACTION_MORE,
    ActionValue,
    BlockError,
    ButtonPrices,
    CheaperOption,
    MessageContent,
    PayloadError,
    ResultInfo,
    budget_refusal_message,
    confirm_message,
    error_message,
    result_message,
    status_message,
)

PRICES = ButtonPrices(more_micros=39_000, hero_micros=134_000, final_micros=240_000)


def buttons(content: MessageContent) -> list[dict[str, Any]]:
    return [e for b in content.blocks if b["type"] == "actions" for e in b["elements"]]


def all_text(content: MessageContent) -> str:
    return json.dumps(list(content.blocks), ensure_ascii=False)


def result(**overrides: Any) -> MessageContent:
    info = ResultInfo(
        model_name=overrides.pop("model_name", "Nano Banana 2"),
        image_count=overrides.pop("image_count", 1),
        cost_micros=67_000,
        thread_total_micros=201_000,
        budget_left_micros=overrides.pop("budget_left_micros", 24_799_000),
        notices=overrides.pop("notices", ()),
        downgrade_reason=overrides.pop("downgrade_reason", None),
    )
    return result_message(
        info, channel="C111", thread_ts="1.2", image_id="img_42", prices=PRICES, **overrides
    )


def test_result_buttons_show_their_prices_and_carry_json() -> None:
    """The three follow-ups are labelled with prices and carry decodable values."""
    content = result(image_size="2K", aspect_ratio="16:9", request_key="req-9")

    labels = [(b["action_id"], b["text"]["text"]) for b in buttons(content)]
    assert labels == [
        (ACTION_MORE, "More like this · $0.039"),
        (ACTION_HERO, "Make it hero · $0.134"),
        (ACTION_FINAL, "Final render · $0.24"),
    ]
    for button, price in zip(buttons(content), (39_000, 134_000, 240_000), strict=True):
        assert len(button["value"]) < 2000
        value = ActionValue.decode(button["value"])
        assert value == ActionValue(
            channel="C111",
            thread_ts="1.2",
            image_id="img_42",
            price_micros=price,
            request_key="req-9",
            image_size="2K",
            aspect_ratio="16:9",
        )


def test_result_says_model_cost_total_and_budget() -> None:
    """The result names the model, what it cost, the thread total and what is left."""
    content = result()

    text = all_text(content)
    assert "*Nano Banana 2*" in text
    assert "$0.067" in text
    assert "This thread so far: $0.201" in text
    assert "$24.80 left this month" in text
    assert content.text == (
        "Your image is ready (Nano Banana 2, $0.067). This thread: $0.201; "
        "budget: $24.80 left this month."
    )


def test_result_shows_notices_and_downgrade_reason() -> None:
    """Retirement notices and the reason for a downgrade appear as context lines."""
    notice = "Imagen 4 Standard was retired by Google on 2026-08-17; used Nano Banana 2 instead."
    content = result(notices=(notice,), downgrade_reason="you have used 92% of your budget")

    text = all_text(content)
    assert notice in text
    assert "cheaper model" in text
    assert "92% of your budget" in text


def test_result_for_several_images_and_no_limit() -> None:
    """Plural wording and an unlimited budget read naturally."""
    content = result(image_count=3, budget_left_micros=None)

    assert content.text.startswith("Your 3 images are ready")
    assert "no monthly limit" in all_text(content)


def test_marketer_text_is_escaped() -> None:
    """A model or prompt with <, > and & cannot inject mrkdwn links or mentions."""
    content = status_message(
        model_name="Model <b>", estimate_micros=1, prompt="<!channel> sale & more"
    )

    text = all_text(content)
    assert "&lt;!channel&gt; sale &amp; more" in text
    assert "<!channel>" not in text


def test_status_message_mentions_model_and_estimate() -> None:
    """The working-on-it message names the model and the estimate."""
    content = status_message(model_name="Nano Banana Pro", estimate_micros=134_000, image_count=2)

    assert content.text == "Working on 2 images with Nano Banana Pro (about $0.134)."


@pytest.mark.parametrize(
    ("charged", "phrase"), [(0, "Nothing was charged."), (134_000, "billed $0.134")]
)
def test_error_message_says_what_was_charged(charged: int, phrase: str) -> None:
    """An error says what happened, whether money was spent, and what to do."""
    content = error_message(
        what_happened="Google was busy and didn't make the image.",
        charged_micros=charged,
        next_step="Try again in a minute.",
    )

    assert phrase in content.text
    assert "*What to do:* Try again in a minute." in all_text(content)


def test_budget_refusal_shows_numbers_cheaper_option_and_extra_block() -> None:
    """A refusal shows spent, budget and left, offers the cheaper option, appends the extra."""
    extra = {"type": "actions", "elements": [{"type": "button", "action_id": "budget_ask"}]}
    content = budget_refusal_message(
        scope="user",
        spent_micros=24_900_000,
        budget_micros=25_000_000,
        left_micros=100_000,
        estimate_micros=134_000,
        cheaper=CheaperOption(
            model_name="Nano Banana", estimate_micros=39_000, how='Add "draft" to your request.'
        ),
        extra_block=extra,
    )

    text = all_text(content)
    assert "Spent $24.90 of $25.00 this month · $0.10 left" in text
    assert "*Cheaper option:* Nano Banana for about $0.039" in text
    assert content.blocks[-1] == extra
    assert "your" in content.text


def test_budget_refusal_without_cheaper_option_explains_the_reset() -> None:
    """With nothing cheaper, the workspace refusal says when budgets reset."""
    content = budget_refusal_message(
        scope="workspace",
        spent_micros=500_000_000,
        budget_micros=500_000_000,
        left_micros=0,
        estimate_micros=39_000,
    )

    assert "the team's" in content.text
    assert "resets on the 1st" in all_text(content)


def test_confirmation_buttons() -> None:
    """An expensive request asks "Go ahead · $1.38" or "Cancel", both carrying the key."""
    content = confirm_message(
        model_name="Nano Banana Pro", estimate_micros=1_379_000, image_count=11, value="req-7"
    )

    assert [(b["action_id"], b["text"]["text"], b["value"]) for b in buttons(content)] == [
        (ACTION_CONFIRM, "Go ahead · $1.38", "req-7"),
        (ACTION_CANCEL, "Cancel", "req-7"),
    ]
    assert buttons(content)[0]["style"] == "primary"


def test_oversized_values_are_refused() -> None:
    """A value past Slack's 2000 characters raises BlockError instead of failing in Slack."""
    with pytest.raises(BlockError):
        confirm_message(model_name="m", estimate_micros=1, image_count=1, value="k" * 2001)
    with pytest.raises(BlockError):
        ActionValue(channel="C", thread_ts="1", image_id="i" * 2000, price_micros=1).encode()


@pytest.mark.parametrize(
    "raw", [None, "", "not json", "[]", '{"v":2}', '{"v":1,"c":"C","t":"1","i":"x","p":"1"}']
)
def test_foreign_values_do_not_decode(raw: str | None) -> None:
    """Values that are not ours raise PayloadError."""
    with pytest.raises(PayloadError):
        ActionValue.decode(raw)


@settings(max_examples=100)
@given(
    channel=st.text(min_size=1, max_size=20),
    thread_ts=st.text(min_size=1, max_size=20),
    image_id=st.text(min_size=1, max_size=40),
    price=st.integers(min_value=0, max_value=10**9),
    size=st.none() | st.sampled_from(["512", "1K", "2K", "4K"]),
)
def test_action_values_round_trip(
    channel: str, thread_ts: str, image_id: str, price: int, size: str | None
) -> None:
    """Whatever the ids, an encoded value decodes to the same thing."""
    value = ActionValue(
        channel=channel, thread_ts=thread_ts, image_id=image_id, price_micros=price, image_size=size
    )
    assert ActionValue.decode(value.encode()) == value


def test_long_prompt_is_clipped_within_slack_limits() -> None:
    """A 4000-character prompt still yields a section under 3000 characters."""
    content = status_message(model_name="m", estimate_micros=1, prompt="word " * 800)

    assert all(len(b["text"]["text"]) <= 3000 for b in content.blocks if b["type"] == "section")


def test_status_names_who_asked_without_escaping_the_mention() -> None:
    """The status shows a real mention of who asked, while the prompt itself stays escaped."""
    content = status_message(
        model_name="Nano Banana 2", estimate_micros=67_000, prompt="a <b> cat", asked_by="U111"
    )
    text = all_text(content)
    assert "> <@U111>: a &lt;b&gt; cat" in text
