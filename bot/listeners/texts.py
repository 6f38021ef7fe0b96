"""Words the image flow says, and small pure helpers the listeners share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.jobs import Quote
from router import Constraints, Plan, Purpose
from router.money import format_usd

__all__ = [
    "CHAIN_WORD",
    "HELP",
    "NO_BATCH_IN_SLACK",
    "button_name",
    "constraints_from_dict",
    "constraints_to_dict",
    "ephemeral",
    "is_chain",
    "mime_of",
    "plan_text",
    "strip_mention",
]

HELP = (
    "Tell me what to make, e.g. `/image hero product shot on marble --aspect 16:9`.\n"
    "Purposes (first word or flag): draft, hero, final, edit, character (economy otherwise). "
    "Options: --2k --4k --aspect 16:9 -n 4 --model NAME --thinking high --estimate.\n"
    "Reply in the thread to make variants; drop an image into it to use as a reference.\n"
    "A character in many poses: `/image chain our green owl mascot | waving | jumping`."
)

CHAIN_WORD = "chain"

NO_BATCH_IN_SLACK = (
    "--batch isn't available in Slack: Batch jobs (half price) take up to 24 hours, so an "
    "operator submits them with `imagebot batch submit`. Drop --batch to get your image now."
)

_CONSTRAINT_FIELDS = (
    "purpose",
    "text_heavy",
    "image_size",
    "aspect_ratio",
    "image_count",
    "model_pin",
    "tier_pin",
    "thinking_level",
)


def ephemeral(text: str) -> dict[str, Any]:
    """A reply only the asker sees."""
    return {"response_type": "ephemeral", "text": text}


def is_chain(text: str) -> bool:
    """True when ``/image`` text asks for a character chain (its first word is ``chain``)."""
    first = text.strip().split(maxsplit=1)
    return bool(first) and first[0].lower() == CHAIN_WORD


def plan_text(plan: Plan, quote: Quote | None, *, estimate_only: bool = False) -> str:
    """The plan in words: model, size, estimate, budget left, and why when it was downgraded."""
    size = f" {plan.primary.image_size}" if plan.primary.image_size else ""
    count = f"{plan.image_count} images with" if plan.image_count > 1 else "one image with"
    lines = [
        f"{'Estimate' if estimate_only else 'On it'}: {count} {plan.primary.display_name}{size}, "
        f"about {format_usd(plan.estimate_micros)}."
    ]
    if quote is not None and quote.left_micros is not None:
        lines.append(f"Budget left this month: {format_usd(quote.left_micros)}.")
    if plan.downgraded:
        lines.append("Downgraded to save budget: " + "; ".join(plan.reasons))
    lines.extend(plan.notices)
    if estimate_only:
        lines.append("Nothing was generated or charged.")
    return "\n".join(lines)


def strip_mention(text: str, bot_user_id: str | None) -> str:
    """The text of a message without the bot's own @mention."""
    if bot_user_id:
        text = text.replace(f"<@{bot_user_id}>", " ")
    return " ".join(text.split())


def button_name(action_id: str) -> str:
    """The label of a result button, for the thread's record of who clicked what."""
    return {
        "image_more": "More like this",
        "image_hero": "Make it hero",
        "image_final": "Final render",
    }.get(action_id, action_id)


def mime_of(path: str) -> str:
    """The image type of a stored file, from the extension the store gave it."""
    lowered = path.lower()
    if lowered.endswith((".jpg", ".jpeg")):
        return "image/jpeg"
    if lowered.endswith(".webp"):
        return "image/webp"
    return "image/png"


def constraints_to_dict(constraints: Constraints) -> dict[str, Any]:
    """The parts of a request worth holding while it waits for confirmation."""
    values = {name: getattr(constraints, name) for name in _CONSTRAINT_FIELDS}
    values["purpose"] = constraints.purpose.value
    return values


def constraints_from_dict(raw: Mapping[str, Any]) -> Constraints:
    """Read back :func:`constraints_to_dict` (unknown keys ignored)."""
    values = {name: raw[name] for name in _CONSTRAINT_FIELDS if name in raw}
    values["purpose"] = Purpose(values.get("purpose", Purpose.ECONOMY.value))
    return Constraints(**values)
