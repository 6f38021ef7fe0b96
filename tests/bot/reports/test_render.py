"""Block Kit, terminal and JSON renderings of the typed report values."""

from __future__ import annotations

import json
from datetime import date
from fractions import Fraction

import pytest

import bot.reports
from bot.reports import (
    APPROVE_ACTION,
    ASK_MORE_ACTION,
    DECLINE_ACTION,
    ChannelSpend,
    DaySpend,
    ModelSpend,
    Period,
    TeamReport,
    TierSpend,
    UserReport,
    UserSpend,
    ask_more_block,
    ask_more_modal,
    budget_form_modal,
    format_percent,
    increase_request_blocks,
    team_report_blocks,
    team_report_json,
    team_report_text,
    usage_bar,
    user_report_blocks,
    user_report_json,
    user_report_text,
)

OCTOBER = Period.month(2026, 10)
MODELS = (
    ModelSpend(
        model_id="gemini-2.5-flash-image",
        display_name="Nano Banana",
        images=65,
        cost_micros=2_535_000,
    ),
    ModelSpend(
        model_id="gemini-3-pro-image", display_name="Nano Banana Pro", images=5, cost_micros=670_000
    ),
)


def _user(**changes: object) -> UserReport:
    values: dict[str, object] = {
        "user_id": "U1",
        "period": OCTOBER,
        "images": 70,
        "cost_micros": 3_205_000,
        "budget_micros": 5_000_000,
        "by_model": MODELS,
        "all_pro_micros": 9_380_000,
        "reference_name": "Nano Banana Pro",
        "projection_micros": 6_000_000,
    }
    values.update(changes)
    return UserReport(**values)  # type: ignore[arg-type]


def _team(users: int = 3) -> TeamReport:
    return TeamReport(
        period=OCTOBER,
        users=tuple(
            UserSpend(
                user_id=f"U{n}", images=10, cost_micros=1_000_000 - n, budget_micros=2_000_000
            )
            for n in range(users)
        ),
        images=70,
        cost_micros=3_205_000,
        budget_micros=None,
        by_tier=(
            TierSpend(
                tier="economy",
                images=65,
                cost_micros=2_535_000,
                recommended_share=Fraction(65, 100),
            ),
            TierSpend(tier="final", images=0, cost_micros=0, recommended_share=Fraction(2, 100)),
            TierSpend(tier="other", images=5, cost_micros=670_000),
        ),
        by_model=MODELS,
        channels=(
            ChannelSpend(channel_id="C1", images=60, cost_micros=3_000_000),
            ChannelSpend(channel_id="", images=10, cost_micros=205_000),
        ),
        daily=(
            DaySpend(
                day=date(2026, 10, 3), model_id="gemini-3-pro-image", images=5, cost_micros=670_000
            ),
        ),
        all_pro_micros=9_380_000,
        reference_name="Nano Banana Pro",
    )


def _all_text(blocks: tuple[dict[str, object], ...]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def test_exports_are_honest() -> None:
    """Every name in bot.reports.__all__ exists and the list has no duplicates."""
    assert len(set(bot.reports.__all__)) == len(bot.reports.__all__)
    for name in bot.reports.__all__:
        assert hasattr(bot.reports, name), name


@pytest.mark.parametrize(
    ("fraction", "bar", "percent"),
    [
        (None, "░░░░░░░░░░", "-"),
        (Fraction(0), "░░░░░░░░░░", "0%"),
        (Fraction(1, 1000), "█░░░░░░░░░", "<1%"),
        (Fraction(1, 2), "█████░░░░░", "50%"),
        (Fraction(99, 100), "█████████░", "99%"),
        (Fraction(3, 2), "██████████", "150%"),
    ],
)
def test_usage_bar_and_percent(fraction: Fraction | None, bar: str, percent: str) -> None:
    """The text bar floors (full only when used up) and percentages round half up."""
    assert usage_bar(fraction) == bar
    assert format_percent(fraction) == percent


def test_user_report_blocks_show_budget_models_value_and_pace() -> None:
    """/spend shows spent vs budget with a bar, images by model, per image, savings, projection."""
    message = user_report_blocks(_user(), viewer_id="U1")
    text = _all_text(message.blocks)
    assert "Your spend · October 2026" in text
    assert "*$3.21* spent of your *$5.00* budget" in text
    assert "`██████░░░░` 64% used · $1.80 left" in text
    assert "Nano Banana: 65 images · $2.54 (79%)" in text
    assert "*Per image (blended):* $0.0458" in text
    assert "Saved vs all on Nano Banana Pro:* $6.18" in text
    assert "about *$6.00* by 31 Oct, $1.00 over budget" in text
    assert len(message.blocks) <= 50
    assert message.text.startswith("Your spend: $3.21")


def test_someone_elses_report_names_them() -> None:
    """A manager looking at U1 sees U1's name, not "Your"."""
    message = user_report_blocks(_user(budget_micros=None, projection_micros=None), viewer_id="M1")
    text = _all_text(message.blocks)
    assert "<@U1>'s spend" in text
    assert "no monthly budget set" in text
    assert "This period is complete." in text


def test_empty_user_report_says_so() -> None:
    """No images: a friendly line instead of empty tables."""
    message = user_report_blocks(
        _user(images=0, cost_micros=0, by_model=(), all_pro_micros=0), viewer_id="U1"
    )
    assert "No images in this period yet." in _all_text(message.blocks)


def test_team_report_blocks_list_people_mix_and_channels() -> None:
    """/spend team lists people by spend, the tier mix against the blend, and top channels."""
    message = team_report_blocks(_team())
    text = _all_text(message.blocks)
    assert "Team spend · October 2026" in text
    assert "1. <@U0> $1.00 of $2.00 · `████░░░░` 50%" in text
    assert "economy          65    93%          65%" in text
    assert "final             0     0%           2%" in text
    assert "<#C1>: 60 images · $3.00" in text
    assert "outside channels (batch)" in text
    assert "The daily chart follows" in text


def test_team_report_cuts_long_lists_within_slack_limits() -> None:
    """Hundreds of people stay within 50 blocks and 3,000 characters a section."""
    message = team_report_blocks(_team(users=500))
    assert len(message.blocks) <= 50
    for block in message.blocks:
        text = block.get("text")
        if isinstance(text, dict):
            assert len(text["text"]) <= 3000
    assert "and 440 more" in _all_text(message.blocks)


def test_ask_more_block_and_modals() -> None:
    """The ask-more button, its form and the managers' form carry the documented ids."""
    block = ask_more_block(suggested_micros=20_000_000)
    assert block["elements"][0]["action_id"] == ASK_MORE_ACTION
    assert block["elements"][0]["value"] == "20000000"
    modal = ask_more_modal(
        month_label="November 2026", month_key="2026-11", suggested_micros=20_000_000
    )
    assert modal["blocks"][1]["element"]["initial_value"] == "20.00"
    form = budget_form_modal(month_label="November 2026", month_key="2026-11")
    assert {b.get("block_id") for b in form["blocks"]} >= {"scope", "user", "amount"}


def test_increase_request_has_approve_and_decline() -> None:
    """The managers' DM quotes the reason and carries the request id on both buttons."""
    message = increase_request_blocks(
        request_id="7",
        requester_id="U1",
        amount_micros=20_000_000,
        reason="Launch week\nposters",
        month_label="November 2026",
        spent_micros=50_000_000,
        budget_micros=50_000_000,
    )
    buttons = message.blocks[1]["elements"]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        (APPROVE_ACTION, "7"),
        (DECLINE_ACTION, "7"),
    ]
    assert ">Launch week\n>posters" in message.blocks[0]["text"]["text"]


def test_terminal_and_json_renderings() -> None:
    """The CLI table and JSON carry the same figures as the blocks."""
    team = _team()
    text = team_report_text(team)
    assert "Team spend · October 2026" in text
    assert "Saved     $6.18 against $9.38 all on Nano Banana Pro" in text
    data = team_report_json(team)
    assert data["spent"] == {"micros": 3_205_000, "usd": "$3.21"}
    assert data["users"][0]["user_id"] == "U0"
    json.dumps(data)
    user = _user()
    assert "Spend of U1 · October 2026" in user_report_text(user)
    assert user_report_json(user)["saved"]["micros"] == 6_175_000
