"""``imagebot route``: show how a request would be routed and what it would cost. Nothing is
generated and no API is called.

The prompt may carry ``/image`` options inside the quoted string or after it::

    imagebot route "final \\"SUMMER SALE 50%\\" poster --4k"
    imagebot route hero product shot --4k --card seed-2026-04 --today 2026-04-15

Every model on the card is assumed offered to the API key (no ``models.list`` call), so only the
card's dates decide availability. ``--spent``/``--budget`` (USD) plan against a user budget.
Exit codes: 0 planned, 1 refused for budget, 2 the request or the card is wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from datetime import UTC, date, datetime
from typing import Any

from bot.cards import DEFAULT_CARD, load_card
from router import (
    Availability,
    BudgetState,
    Choice,
    CommandError,
    MoneyError,
    Plan,
    RateCard,
    RateCardError,
    Refusal,
    parse_command,
    plan_request,
)
from router.money import format_usd, parse_usd

__all__ = ["register", "run"]

# The route command's own options, which may also follow the prompt: name -> takes a value.
_OWN_OPTIONS = {
    "--card": True,
    "--today": True,
    "--spent": True,
    "--budget": True,
    "--refs": True,
    "--json": False,
    "--with-image": False,
}


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``route`` to the command line."""
    parser = subparsers.add_parser(
        "route",
        help="show which model a request would use and what it would cost",
        description=(
            "Plan a request as /image would, without generating anything. Options of /image "
            "(--hero, --4k, -n 4, ...) go in or after the prompt; put -- first if the prompt "
            "starts with one. All models on the card are assumed offered to the API key."
        ),
    )
    parser.add_argument(
        "--card",
        help=f"builtin card name or a .toml path (default: the "
        f"configured card, else {DEFAULT_CARD})",
    )
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.add_argument("--today", help="plan as of this date, YYYY-MM-DD (default: today)")
    parser.add_argument("--spent", help="USD already spent of the budget (with --budget)")
    parser.add_argument("--budget", help="a monthly user budget in USD")
    parser.add_argument(
        "--refs", default="0", help="how many reference images are attached (as dropped in Slack)"
    )
    parser.add_argument(
        "--with-image",
        dest="with_image",
        action="store_true",
        help="an image to edit comes with the request (as a reply in a thread)",
    )
    parser.add_argument("prompt", nargs=argparse.REMAINDER, help="the /image text")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Plan the prompt in ``args`` and print the result; returns the exit code."""
    try:
        words = _pull_own_options(list(args.prompt), args)
        card = load_card(args.card) if args.card else _configured_card()
        today = _today(args.today)
        budgets = _budgets(spent=args.spent, budget=args.budget)
        text = " ".join(words[1:] if words[:1] == ["--"] else words)
        parsed = parse_command(text)
        if not args.refs.isdigit():
            raise CommandError(f"--refs takes a number of images, not {args.refs!r}.")
        constraints = replace(
            parsed.constraints,
            reference_count=int(args.refs),
            has_source_image=bool(args.with_image),
        )
        outcome = plan_request(
            constraints,
            card=card,
            budgets=budgets,
            availability=Availability.everything(card),
            today=today,
        )
    except CommandError as exc:
        print(f"imagebot route: {exc.message}", file=sys.stderr)
        return 2
    except RateCardError as exc:
        print(f"imagebot route: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(_as_json(outcome, card=card, prompt=parsed.prompt, today=today), indent=2))
    else:
        print(_as_text(outcome, card=card, prompt=parsed.prompt, today=today))
    return 1 if isinstance(outcome, Refusal) else 0


def _pull_own_options(words: list[str], args: argparse.Namespace) -> list[str]:
    """Take route's own options out of the prompt words (they may follow the prompt)."""
    kept: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        name, eq, inline = word.partition("=")
        if name in _OWN_OPTIONS:
            if not _OWN_OPTIONS[name]:
                setattr(args, name[2:].replace("-", "_"), True)
                i += 1
                continue
            if eq:
                value = inline
                i += 1
            elif i + 1 < len(words):
                value = words[i + 1]
                i += 2
            else:
                raise CommandError(f"{name} needs a value.")
            setattr(args, name[2:], value)
            continue
        kept.append(word)
        i += 1
    return kept


def _configured_card() -> RateCard:
    from bot.config import load_settings  # reads the environment only when no --card is given

    return load_card(load_settings().rate_card)


def _today(value: str | None) -> date:
    if value is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--today {value} is not a date; write it as YYYY-MM-DD.") from None


def _budgets(*, spent: str | None, budget: str | None) -> tuple[BudgetState, ...]:
    if budget is None:
        if spent is not None:
            raise CommandError("--spent needs --budget too, e.g. --spent 22.50 --budget 25.")
        return ()
    try:
        budget_micros = parse_usd(budget)
        spent_micros = parse_usd(spent) if spent is not None else 0
    except MoneyError as exc:
        raise CommandError(str(exc)) from exc
    return (BudgetState(consumed_micros=spent_micros, budget_micros=budget_micros, scope="user"),)


def _choice_text(choice: Choice) -> str:
    settings = [f"size {choice.image_size}"]
    if choice.aspect_ratio:
        settings.append(f"aspect {choice.aspect_ratio}")
    if choice.thinking_level:
        settings.append(f"thinking {choice.thinking_level}")
    return (
        f"{choice.display_name} ({choice.model_id}), {', '.join(settings)}, "
        f"{format_usd(choice.estimate_micros)} per image"
    )


def _as_text(outcome: Plan | Refusal, *, card: RateCard, prompt: str, today: date) -> str:
    lines = [
        f"Card: {card.name} (dated {card.dated.isoformat()}), planning for {today.isoformat()}; "
        "every model on the card is assumed offered to the API key.",
        f"Prompt: {prompt}",
    ]
    if isinstance(outcome, Refusal):
        lines.append(f"Refused: {outcome.message}")
        if outcome.cheaper is not None:
            lines.append(f"Cheaper: {_choice_text(outcome.cheaper)}")
        return "\n".join(lines)
    images = "image" if outcome.image_count == 1 else "images"
    lines += [
        f"Tier: {outcome.tier.value}"
        + (" (downgraded by the budget guard)" if outcome.downgraded else ""),
        f"Model: {_choice_text(outcome.primary)}",
        f"Estimate: {format_usd(outcome.estimate_micros)} for {outcome.image_count} {images}"
        + (" (batch)" if outcome.constraints.batch else ""),
    ]
    if outcome.fallbacks:
        lines.append("Fallbacks:")
        lines += [f"  {n}. {_choice_text(c)}" for n, c in enumerate(outcome.fallbacks, start=1)]
    lines.append("Why:")
    lines += [f"  - {reason}" for reason in outcome.reasons]
    if outcome.notices:
        lines.append("Notices:")
        lines += [f"  - {notice}" for notice in outcome.notices]
    return "\n".join(lines)


def _as_json(
    outcome: Plan | Refusal, *, card: RateCard, prompt: str, today: date
) -> dict[str, Any]:
    head: dict[str, Any] = {
        "card": card.name,
        "card_dated": card.dated.isoformat(),
        "today": today.isoformat(),
        "assumed_all_models_listed": True,
        "prompt": prompt,
    }
    if isinstance(outcome, Refusal):
        return {**head, "outcome": "refusal", **asdict(outcome)}
    plan = asdict(outcome)
    plan["tier"] = outcome.tier.value
    plan["constraints"]["purpose"] = outcome.constraints.purpose.value
    plan["estimate_usd"] = format_usd(outcome.estimate_micros)
    return {**head, "outcome": "plan", **plan}
