"""Block Kit for ``/spend``: the reports, the budget forms, the "ask for more" flow and alerts.

Everything here is pure: typed values in, JSON-ready Block Kit out. Slack limits shape it: at most
50 blocks a message and 3,000 characters a section, so long lists are cut with a pointer to the CSV.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from bot.reports.format import format_count, format_money, format_percent, usage_bar
from bot.reports.values import ChannelSpend, ModelSpend, TeamReport, TierSpend, UserReport

__all__ = [
    "APPROVE_ACTION",
    "ASK_MORE_ACTION",
    "ASK_MORE_CALLBACK",
    "BUDGET_FORM_CALLBACK",
    "DECLINE_ACTION",
    "Block",
    "Message",
    "ask_more_block",
    "ask_more_modal",
    "budget_form_modal",
    "decision_blocks",
    "increase_request_blocks",
    "team_report_blocks",
    "user_report_blocks",
]

#: A Block Kit block or view: JSON that leaves the process as it is, so a plain mapping.
Block = dict[str, Any]

ASK_MORE_ACTION = "budget_ask_more"
ASK_MORE_CALLBACK = "budget_ask_more_form"
APPROVE_ACTION = "budget_approve"
DECLINE_ACTION = "budget_decline"
BUDGET_FORM_CALLBACK = "spend_budget_form"

MAX_PEOPLE_SHOWN = 60
_PEOPLE_PER_SECTION = 20
_TOP_CHANNELS = 5


@dataclass(frozen=True, slots=True)
class Message:
    """A message to post: the notification ``text`` and the ``blocks`` that render it."""

    text: str
    blocks: tuple[Block, ...]


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _budget_line(*, spent: int, budget: int | None, fraction: Fraction | None, whose: str) -> str:
    if budget is None:
        return f"*{format_money(spent)}* spent · no monthly budget set"
    left = budget - spent
    tail = f"{format_money(left)} left" if left >= 0 else f"*{format_money(-left)} over*"
    return (
        f"*{format_money(spent)}* spent of {whose} *{format_money(budget)}* budget\n"
        f"`{usage_bar(fraction)}` {format_percent(fraction)} used · {tail}"
    )


def _model_lines(models: Sequence[ModelSpend], *, total: int) -> str:
    lines = []
    for model in models:
        share = format_percent(Fraction(model.cost_micros, total)) if total > 0 else "-"
        lines.append(
            f"• {model.display_name}: {format_count(model.images, 'image')} · "
            f"{format_money(model.cost_micros)} ({share})"
        )
    return "\n".join(lines)


def _projection_line(
    projection: int | None, *, budget: int | None, end_label: str, finished: bool
) -> str:
    if projection is None:
        return "This period is complete." if finished else ""
    text = f"At this pace: about *{format_money(projection)}* by {end_label}"
    if budget is not None and projection > budget:
        text += f", {format_money(projection - budget)} over budget"
    return text + "."


def _value_lines(*, per_image: int | None, all_pro: int, spent: int, reference: str) -> list[str]:
    per = format_money(per_image) if per_image is not None else "-"
    saved = all_pro - spent
    lines = [f"*Per image (blended):* {per}"]
    if all_pro > 0:
        lines.append(
            f"*Saved vs all on {reference}:* {format_money(saved)} "
            f"(it would have cost {format_money(all_pro)})"
        )
    return lines


def user_report_blocks(report: UserReport, *, viewer_id: str) -> Message:
    """``/spend`` for one person; ``viewer_id`` decides between "Your spend" and "<@U>'s spend"."""
    own = viewer_id == report.user_id
    title = "Your spend" if own else f"<@{report.user_id}>'s spend"
    whose = "your" if own else "their"
    end_label = f"{report.period.end.day} {report.period.end.strftime('%b')}"
    blocks: list[Block] = [
        _section(f"*{title} · {report.period.label}*"),
        _section(
            _budget_line(
                spent=report.cost_micros,
                budget=report.budget_micros,
                fraction=report.fraction,
                whose=whose,
            )
        ),
    ]
    if report.images:
        blocks.append(
            _section(
                f"*{format_count(report.images, 'image')} by model*\n"
                + _model_lines(report.by_model, total=report.cost_micros)
            )
        )
        blocks.append(
            _section(
                "\n".join(
                    _value_lines(
                        per_image=report.per_image_micros,
                        all_pro=report.all_pro_micros,
                        spent=report.cost_micros,
                        reference=report.reference_name,
                    )
                )
            )
        )
    else:
        blocks.append(_section("No images in this period yet."))
    projection = _projection_line(
        report.projection_micros,
        budget=report.budget_micros,
        end_label=end_label,
        finished=report.projection_micros is None,
    )
    if projection:
        blocks.append(_context(projection))
    text = f"{title}: {format_money(report.cost_micros)} in {report.period.label}"
    if report.budget_micros is not None:
        text += f" of {format_money(report.budget_micros)} ({format_percent(report.fraction)})"
    return Message(text=text, blocks=tuple(blocks))


def _people_sections(report: TeamReport) -> list[Block]:
    lines = []
    for rank, user in enumerate(report.users[:MAX_PEOPLE_SHOWN], start=1):
        if user.budget_micros is None:
            budget = "no budget"
        else:
            budget = (
                f"of {format_money(user.budget_micros)} · `{usage_bar(user.fraction, width=8)}` "
                f"{format_percent(user.fraction)}"
            )
        lines.append(f"{rank}. <@{user.user_id}> {format_money(user.cost_micros)} {budget}")
    if not lines:
        return [_section("*People*\nNobody has made an image in this period.")]
    sections = []
    for start in range(0, len(lines), _PEOPLE_PER_SECTION):
        chunk = "\n".join(lines[start : start + _PEOPLE_PER_SECTION])
        sections.append(_section(("*People*\n" if start == 0 else "") + chunk))
    hidden = len(report.users) - MAX_PEOPLE_SHOWN
    if hidden > 0:
        sections.append(_context(f"…and {hidden:,} more. `/spend csv` has everyone."))
    return sections


def _tier_table(tiers: Sequence[TierSpend], *, images: int) -> str:
    rows = ["tier        images  share  recommended"]
    for tier in tiers:
        share = format_percent(Fraction(tier.images, images)) if images else "-"
        rec = format_percent(tier.recommended_share)
        rows.append(f"{tier.tier:<10} {tier.images:>8,}  {share:>5}  {rec:>11}")
    return "```" + "\n".join(rows) + "```"


def _channel_lines(channels: Sequence[ChannelSpend]) -> str:
    lines = []
    for channel in channels[:_TOP_CHANNELS]:
        where = f"<#{channel.channel_id}>" if channel.channel_id else "outside channels (batch)"
        images = format_count(channel.images, "image")
        lines.append(f"• {where}: {images} · {format_money(channel.cost_micros)}")
    return "\n".join(lines)


def team_report_blocks(report: TeamReport, *, chart_follows: bool = True) -> Message:
    """``/spend team``: people, workspace total, tier mix against the card's blend, top channels."""
    end_label = f"{report.period.end.day} {report.period.end.strftime('%b')}"
    blocks: list[Block] = [
        _header(f"Team spend · {report.period.label}"),
        _section(
            _budget_line(
                spent=report.cost_micros,
                budget=report.budget_micros,
                fraction=report.fraction,
                whose="the workspace",
            )
            + f"\n{format_count(report.images, 'image')} by "
            + format_count(len(report.users), "person").replace("persons", "people")
        ),
    ]
    value = _value_lines(
        per_image=report.per_image_micros,
        all_pro=report.all_pro_micros,
        spent=report.cost_micros,
        reference=report.reference_name,
    )
    projection = _projection_line(
        report.projection_micros,
        budget=report.budget_micros,
        end_label=end_label,
        finished=report.projection_micros is None,
    )
    blocks.append(_section("\n".join([*value, projection] if projection else value)))
    blocks.append({"type": "divider"})
    blocks.extend(_people_sections(report))
    if report.images:
        blocks.append({"type": "divider"})
        blocks.append(
            _section(
                "*Mix by tier* (against the blend the rate card recommends)\n"
                + _tier_table(report.by_tier, images=report.images)
            )
        )
        blocks.append(
            _section("*By model*\n" + _model_lines(report.by_model, total=report.cost_micros))
        )
    if report.channels:
        blocks.append(_section("*Top channels*\n" + _channel_lines(report.channels)))
    if chart_follows and report.images:
        blocks.append(_context("The daily chart follows as an image."))
    text = f"Team spend in {report.period.label}: {format_money(report.cost_micros)}"
    if report.budget_micros is not None:
        text += f" of {format_money(report.budget_micros)} ({format_percent(report.fraction)})"
    return Message(text=text, blocks=tuple(blocks))


def ask_more_block(*, suggested_micros: int | None = None) -> Block:
    """The "Ask for more" button for a refusal at 100% (action_id ``budget_ask_more``).

    ``suggested_micros`` pre-fills the amount in the form (e.g. what the refused request needed).
    Who asks is taken from the click, never from this block.
    """
    return {
        "type": "actions",
        "block_id": "budget_ask_more",
        "elements": [
            {
                "type": "button",
                "action_id": ASK_MORE_ACTION,
                "text": _plain("Ask for more"),
                "value": str(suggested_micros) if suggested_micros is not None else "",
            }
        ],
    }


def _dollars_hint(micros: int | None) -> str | None:
    if micros is None or micros <= 0:
        return None
    return format_money(micros).removeprefix("$").replace(",", "")


def _amount_input(*, label: str, initial: str | None, hint: str) -> Block:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "amount",
        "placeholder": _plain("25"),
    }
    if initial:
        element["initial_value"] = initial
    return {
        "type": "input",
        "block_id": "amount",
        "label": _plain(label),
        "hint": _plain(hint),
        "element": element,
    }


def ask_more_modal(*, month_label: str, month_key: str, suggested_micros: int | None) -> Block:
    """The form behind "Ask for more": how much (dollars) and why."""
    return {
        "type": "modal",
        "callback_id": ASK_MORE_CALLBACK,
        "private_metadata": json.dumps({"month": month_key}),
        "title": _plain("Ask for more budget"),
        "submit": _plain("Send to managers"),
        "close": _plain("Cancel"),
        "blocks": [
            _section(f"Ask the managers to raise your image budget for {month_label}."),
            _amount_input(
                label="How much more (USD)",
                initial=_dollars_hint(suggested_micros),
                hint="Added to this month's budget if approved.",
            ),
            {
                "type": "input",
                "block_id": "reason",
                "label": _plain("What is it for?"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "reason",
                    "multiline": True,
                    "max_length": 500,
                },
            },
        ],
    }


def budget_form_modal(*, month_label: str, month_key: str) -> Block:
    """The managers' form for ``/spend budget``: a person or the workspace, and a monthly amount."""
    return {
        "type": "modal",
        "callback_id": BUDGET_FORM_CALLBACK,
        "private_metadata": json.dumps({"month": month_key}),
        "title": _plain("Set a budget"),
        "submit": _plain("Save"),
        "close": _plain("Cancel"),
        "blocks": [
            _section(f"Monthly image budget for {month_label}."),
            {
                "type": "input",
                "block_id": "scope",
                "label": _plain("For"),
                "element": {
                    "type": "radio_buttons",
                    "action_id": "scope",
                    "initial_option": {"text": _plain("One person"), "value": "user"},
                    "options": [
                        {"text": _plain("One person"), "value": "user"},
                        {"text": _plain("The whole workspace"), "value": "team"},
                    ],
                },
            },
            {
                "type": "input",
                "block_id": "user",
                "optional": True,
                "label": _plain("Person"),
                "element": {"type": "users_select", "action_id": "user"},
            },
            _amount_input(
                label="Monthly budget (USD)",
                initial=None,
                hint="Replaces the current budget for this month.",
            ),
        ],
    }


def increase_request_blocks(
    *,
    request_id: str,
    requester_id: str,
    amount_micros: int,
    reason: str,
    month_label: str,
    spent_micros: int,
    budget_micros: int | None,
) -> Message:
    """The managers' DM: who asks for how much and why, with Approve and Decline buttons."""
    budget = format_money(budget_micros) if budget_micros is not None else "no budget"
    spent = format_money(spent_micros)
    quoted = "\n".join(f">{line}" for line in reason.splitlines() if line.strip()) or ">(no reason)"
    text = (
        f"<@{requester_id}> asks for {format_money(amount_micros)} more image budget for "
        f"{month_label}."
    )
    return Message(
        text=text,
        blocks=(
            _section(f"{text}\nThey have spent {spent} of {budget}.\n{quoted}"),
            {
                "type": "actions",
                "block_id": "budget_decision",
                "elements": [
                    {
                        "type": "button",
                        "action_id": APPROVE_ACTION,
                        "style": "primary",
                        "text": _plain(f"Approve {format_money(amount_micros)}"),
                        "value": request_id,
                    },
                    {
                        "type": "button",
                        "action_id": DECLINE_ACTION,
                        "style": "danger",
                        "text": _plain("Decline"),
                        "value": request_id,
                    },
                ],
            },
        ),
    )


def decision_blocks(
    *,
    requester_id: str,
    amount_micros: int,
    approved: bool,
    decided_by: str,
    new_budget_micros: int | None,
) -> Message:
    """What the request DM turns into once a manager has decided (the buttons disappear)."""
    if approved:
        budget = ""
        if new_budget_micros is not None:
            budget = f" Their budget is now {format_money(new_budget_micros)}."
        text = (
            f"<@{decided_by}> approved {format_money(amount_micros)} more for "
            f"<@{requester_id}>.{budget}"
        )
    else:
        amount = format_money(amount_micros)
        text = f"<@{decided_by}> declined <@{requester_id}>'s request for {amount}."
    return Message(text=text, blocks=(_section(text),))
