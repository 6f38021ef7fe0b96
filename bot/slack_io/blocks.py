"""Block Kit messages, written for a marketer: what is happening, what it cost, what to do next.

Pure functions of small typed inputs; each returns a :class:`MessageContent` (``text`` is the
plain fallback Slack shows in notifications, ``blocks`` the layout). Amounts are micro-USD ints
formatted with :func:`router.money.format_usd`. Anything a person typed is escaped for mrkdwn.

Action ids (the listeners route on these):

- under every result: ``image_more`` ("More like this"), ``image_hero`` ("Make it hero"),
  ``image_final`` ("Final render"), each labelled with its price; ``value`` is an
  :class:`ActionValue` encoded as compact JSON (well under Slack's 2000-character limit);
- on a confirmation: ``image_confirm`` ("Go ahead · $1.379") and ``image_cancel``; their value is
  the caller's string (a request key).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, Literal

from bot.slack_io.errors import BlockError, PayloadError
from router.money import format_usd

__all__ = [
    "ACTION_CANCEL",
    "ACTION_CONFIRM",
    "ACTION_FINAL",
    "ACTION_HERO",
    "ACTION_MORE",
    "ActionValue",
    "Block",
    "ButtonPrices",
    "CheaperOption",
    "MessageContent",
    "ResultInfo",
    "budget_refusal_message",
    "confirm_message",
    "error_message",
    "escape_mrkdwn",
    "result_message",
    "status_message",
]

ACTION_MORE: Final = "image_more"
ACTION_HERO: Final = "image_hero"
ACTION_FINAL: Final = "image_final"
ACTION_CONFIRM: Final = "image_confirm"
ACTION_CANCEL: Final = "image_cancel"

#: One Block Kit block as Slack's JSON.
Block = dict[str, Any]

_MAX_VALUE = 2000  # Slack's limit for a button value
_MAX_SECTION = 3000  # Slack's limit for a section's text
_MAX_BUTTON_LABEL = 75
_PROMPT_PREVIEW = 280


@dataclass(frozen=True)
class MessageContent:
    """A message ready for chat.postMessage / chat.update / respond: fallback text + blocks."""

    text: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True, kw_only=True)
class ActionValue:
    """What a result button click needs, carried in the button's ``value``.

    The prompt is not carried (it can be long); ``request_key`` finds it in the ledger.
    ``price_micros`` is the price the button showed, so a re-plan can say if it changed.
    """

    channel: str
    thread_ts: str
    image_id: str
    price_micros: int
    request_key: str | None = None
    image_size: str | None = None
    aspect_ratio: str | None = None

    def encode(self) -> str:
        """Compact JSON for the button value; raises BlockError past Slack's 2000 characters."""
        raw = {
            "v": 1,
            "c": self.channel,
            "t": self.thread_ts,
            "i": self.image_id,
            "p": self.price_micros,
            "r": self.request_key,
            "s": self.image_size,
            "a": self.aspect_ratio,
        }
        text = json.dumps(
            {k: v for k, v in raw.items() if v is not None},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        if len(text) > _MAX_VALUE:
            raise BlockError(f"button value is {len(text)} characters; Slack allows {_MAX_VALUE}")
        return text

    @classmethod
    def decode(cls, raw: str | None) -> ActionValue:
        """Parse a value made by :meth:`encode`; raises PayloadError for anything else."""
        try:
            data = json.loads(raw or "")
        except ValueError as exc:
            raise PayloadError("button value is not JSON") from exc
        if not isinstance(data, dict) or data.get("v") != 1:
            raise PayloadError("button value is not one of ours")
        strings = {k: data.get(k) for k in ("c", "t", "i", "r", "s", "a")}
        price = data.get("p")
        required_ok = all(isinstance(strings[k], str) and strings[k] for k in ("c", "t", "i"))
        optional_ok = all(strings[k] is None or isinstance(strings[k], str) for k in "rsa")
        if not required_ok or not optional_ok or isinstance(price, bool):
            raise PayloadError("button value lacks channel, thread or image")
        if not isinstance(price, int):
            raise PayloadError("button value lacks a price")
        return cls(
            channel=str(strings["c"]),
            thread_ts=str(strings["t"]),
            image_id=str(strings["i"]),
            price_micros=price,
            request_key=_opt(strings["r"]),
            image_size=_opt(strings["s"]),
            aspect_ratio=_opt(strings["a"]),
        )


def _opt(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True, kw_only=True)
class ButtonPrices:
    """The estimated price of each follow-up, shown on its button."""

    more_micros: int
    hero_micros: int
    final_micros: int


@dataclass(frozen=True, kw_only=True)
class ResultInfo:
    """What a finished generation cost and where the money stands.

    ``budget_left_micros`` None means no monthly limit applies. ``notices`` are one-line
    sentences (e.g. a retirement substitution); ``downgrade_reason`` says why a cheaper model
    was used, when one was.
    """

    model_name: str
    image_count: int
    cost_micros: int
    thread_total_micros: int
    budget_left_micros: int | None
    notices: tuple[str, ...] = ()
    downgrade_reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class CheaperOption:
    """A cheaper way to get an image that still fits the budget, and how to ask for it."""

    model_name: str
    estimate_micros: int
    how: str


# ----------------------------------------------------------------------------- helpers


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, _MAX_SECTION)}}


def _context(*lines: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": _clip(line, _MAX_SECTION)} for line in lines],
    }


def _button(
    label: str,
    *,
    action_id: str,
    value: str,
    style: Literal["primary", "danger"] | None = None,
) -> Block:
    if len(value) > _MAX_VALUE:
        raise BlockError(f"button value is {len(value)} characters; Slack allows {_MAX_VALUE}")
    button: Block = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": _clip(label, _MAX_BUTTON_LABEL), "emoji": True},
        "value": value,
    }
    if style is not None:
        button["style"] = style
    return button


def _priced(label: str, micros: int) -> str:
    return f"{label} · {format_usd(micros)}"


def _images(count: int) -> str:
    return "1 image" if count == 1 else f"{count} images"


def _left(budget_left_micros: int | None) -> str:
    if budget_left_micros is None:
        return "no monthly limit"
    return f"{format_usd(max(0, budget_left_micros))} left this month"


# ----------------------------------------------------------------------------- messages


def status_message(
    *,
    model_name: str,
    estimate_micros: int,
    image_count: int = 1,
    prompt: str | None = None,
    asked_by: str | None = None,
) -> MessageContent:
    """The "working on it" message posted at once, before the images exist.

    ``asked_by`` is the Slack user id of who asked, shown as a mention before the prompt.
    """
    model = escape_mrkdwn(model_name)
    lines = [
        f":art: Working on {_images(image_count)} with *{model}* "
        f"(about {format_usd(estimate_micros)}). This usually takes under a minute."
    ]
    if prompt:
        who = f"<@{asked_by}>: " if asked_by and asked_by.isalnum() else ""
        lines.append(f"> {who}{escape_mrkdwn(_clip(prompt.strip(), _PROMPT_PREVIEW))}")
    text = (
        f"Working on {_images(image_count)} with {model_name} "
        f"(about {format_usd(estimate_micros)})."
    )
    return MessageContent(text=text, blocks=(_section("\n".join(lines)),))


def result_message(
    result: ResultInfo,
    *,
    channel: str,
    thread_ts: str,
    image_id: str,
    prices: ButtonPrices,
    request_key: str | None = None,
    image_size: str | None = None,
    aspect_ratio: str | None = None,
) -> MessageContent:
    """The message under finished images: model, cost, thread total, budget, notices, buttons."""
    model = escape_mrkdwn(result.model_name)
    cost = format_usd(result.cost_micros)
    if result.image_count == 1:
        headline, ready = ":white_check_mark: Here's your image", "Your image is ready"
    else:
        headline = f":white_check_mark: Here are your {result.image_count} images"
        ready = f"Your {result.image_count} images are ready"
    blocks: list[Block] = [
        _section(f"{headline}, made with *{model}* for *{cost}*."),
        _context(
            f"This thread so far: {format_usd(result.thread_total_micros)}"
            f" · Budget: {_left(result.budget_left_micros)}"
        ),
    ]
    if result.downgrade_reason:
        blocks.append(
            _context(
                f":arrow_down_small: I used a cheaper model to stay within budget: "
                f"{escape_mrkdwn(result.downgrade_reason)}"
            )
        )
    blocks.extend(_context(f":information_source: {escape_mrkdwn(n)}") for n in result.notices)

    def value(price: int) -> str:
        return ActionValue(
            channel=channel,
            thread_ts=thread_ts,
            image_id=image_id,
            price_micros=price,
            request_key=request_key,
            image_size=image_size,
            aspect_ratio=aspect_ratio,
        ).encode()

    blocks.append(
        {
            "type": "actions",
            "block_id": "image_followups",
            "elements": [
                _button(
                    _priced("More like this", prices.more_micros),
                    action_id=ACTION_MORE,
                    value=value(prices.more_micros),
                ),
                _button(
                    _priced("Make it hero", prices.hero_micros),
                    action_id=ACTION_HERO,
                    value=value(prices.hero_micros),
                ),
                _button(
                    _priced("Final render", prices.final_micros),
                    action_id=ACTION_FINAL,
                    value=value(prices.final_micros),
                ),
            ],
        }
    )
    text = (
        f"{ready} ({result.model_name}, {cost}). "
        f"This thread: {format_usd(result.thread_total_micros)}; "
        f"budget: {_left(result.budget_left_micros)}."
    )
    return MessageContent(text=text, blocks=tuple(blocks))


def error_message(*, what_happened: str, charged_micros: int, next_step: str) -> MessageContent:
    """Something went wrong: what, whether it cost anything, and what to do now."""
    charged = (
        "Nothing was charged."
        if charged_micros <= 0
        else f"Google billed {format_usd(charged_micros)} for the attempt; it counts against "
        "your budget."
    )
    what = escape_mrkdwn(what_happened.strip())
    step = escape_mrkdwn(next_step.strip())
    blocks: tuple[Block, ...] = (
        _section(f":warning: {what}"),
        _context(charged),
        _section(f"*What to do:* {step}"),
    )
    return MessageContent(
        text=f"{what_happened.strip()} {charged} {next_step.strip()}", blocks=blocks
    )


def budget_refusal_message(
    *,
    scope: Literal["user", "workspace"],
    spent_micros: int,
    budget_micros: int,
    left_micros: int,
    estimate_micros: int,
    cheaper: CheaperOption | None = None,
    extra_block: Block | None = None,
) -> MessageContent:
    """The request would go over budget: the numbers, a cheaper way if any, and an optional
    extra block from the caller (e.g. an "Ask for more" button)."""
    whose = "your" if scope == "user" else "the team's"
    left = format_usd(max(0, left_micros))
    headline = (
        f":no_entry: This would cost about {format_usd(estimate_micros)}, but {whose} monthly "
        f"budget has {left} left."
    )
    blocks: list[Block] = [
        _section(headline),
        _context(
            f"Spent {format_usd(spent_micros)} of {format_usd(budget_micros)} this month"
            f" · {left} left"
        ),
    ]
    text = (
        f"Over budget: this would cost about {format_usd(estimate_micros)}, and {whose} budget "
        f"has {left} left this month."
    )
    if cheaper is not None:
        blocks.append(
            _section(
                f"*Cheaper option:* {escape_mrkdwn(cheaper.model_name)} for about "
                f"{format_usd(cheaper.estimate_micros)}. {escape_mrkdwn(cheaper.how)}"
            )
        )
        text += f" {cheaper.model_name} would cost about {format_usd(cheaper.estimate_micros)}."
    else:
        blocks.append(
            _context(
                "Budgets reset on the 1st of the month. An admin can raise yours sooner."
                if scope == "user"
                else "The team budget resets on the 1st of the month. A Slack admin can raise it."
            )
        )
    if extra_block is not None:
        blocks.append(extra_block)
    return MessageContent(text=text, blocks=tuple(blocks))


def confirm_message(
    *,
    model_name: str,
    estimate_micros: int,
    image_count: int,
    value: str,
    prompt: str | None = None,
) -> MessageContent:
    """Ask before an expensive request: "Go ahead · $1.379" or "Cancel". ``value`` (the caller's
    key for the pending request) rides on both buttons."""
    estimate = format_usd(estimate_micros)
    lines = [
        f":moneybag: This request is on the expensive side: {_images(image_count)} with "
        f"*{escape_mrkdwn(model_name)}* for about *{estimate}*. Go ahead?"
    ]
    if prompt:
        lines.append(f"> {escape_mrkdwn(_clip(prompt.strip(), _PROMPT_PREVIEW))}")
    blocks: tuple[Block, ...] = (
        _section("\n".join(lines)),
        {
            "type": "actions",
            "block_id": "image_confirmation",
            "elements": [
                _button(
                    _priced("Go ahead", estimate_micros),
                    action_id=ACTION_CONFIRM,
                    value=value,
                    style="primary",
                ),
                _button("Cancel", action_id=ACTION_CANCEL, value=value),
            ],
        },
    )
    text = (
        f"Confirm: {_images(image_count)} with {model_name} for about {estimate}. "
        "Go ahead or cancel."
    )
    return MessageContent(text=text, blocks=blocks)
