"""The character-consistency chain: one cheap reference image, then variants locked to it.

Stage 1 makes the reference on the economy tier; stage 2 makes each variant on the character
tier with that one image as reference (identity lock). On the seed card, 1 reference on Nano
Banana ($0.039) plus 10 variants on Nano Banana Pro ($0.134 each) is the seed's $1.379 for the
images (:attr:`ChainPlan.images_micros` = 1_379_000). Each variant also sends the reference as an
input image (560 tokens at $2.00 per 1M = $0.00112, which the seed rounds to $0.0011), so the
full estimate is $1.3902 (:attr:`ChainPlan.estimate_micros` = 1_390_200).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from router.availability import Availability
from router.budget import BudgetState
from router.card import RateCard
from router.constraints import Constraints, Purpose
from router.errors import CommandError
from router.money import format_usd
from router.plan import Choice, Plan, Refusal, plan_request
from router.pricing import per_image_micros

__all__ = ["MAX_CHAIN_VARIANTS", "ChainPlan", "plan_chain"]

#: The most variants one chain may plan (a mascot in 30 poses fits comfortably).
MAX_CHAIN_VARIANTS = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainPlan:
    """A planned chain: the reference plan, one plan per variant, and what it all costs.

    ``images_micros`` counts the per-image figures only (the seed's way of pricing the chain);
    ``estimate_micros`` adds each variant's input image and any thinking allowance.
    """

    reference: Plan
    variants: tuple[Plan, ...]
    images_micros: int
    estimate_micros: int
    notices: tuple[str, ...]

    @property
    def downgraded(self) -> bool:
        """Whether the budget guard chose the model of any step."""
        return self.reference.downgraded or any(v.downgraded for v in self.variants)


def plan_chain(
    *,
    variants: int,
    card: RateCard,
    budgets: Sequence[BudgetState],
    availability: Availability,
    today: date,
    base: Constraints | None = None,
) -> ChainPlan | Refusal:
    """Plan a reference image plus ``variants`` variants locked to it, within the budgets.

    ``base`` carries settings shared by every step (size, aspect ratio, batch, and a model pin,
    which applies to the variants only). The whole chain must fit every budget: otherwise a
    :class:`~router.plan.Refusal` says how many variants would fit.
    """
    if not 1 <= variants <= MAX_CHAIN_VARIANTS:
        raise CommandError(f"A chain makes 1 to {MAX_CHAIN_VARIANTS} variants, not {variants}.")
    settings = base if base is not None else Constraints()
    reference_c = replace(
        settings,
        purpose=Purpose.ECONOMY,
        tier_pin=None,
        model_pin=None,
        reference_count=0,
        has_source_image=False,
        image_count=1,
        text_heavy=False,
    )
    reference = plan_request(
        reference_c, card=card, budgets=budgets, availability=availability, today=today
    )
    if isinstance(reference, Refusal):
        return reference
    after_reference = [
        replace(b, consumed_micros=b.consumed_micros + reference.estimate_micros) for b in budgets
    ]
    variant_c = replace(
        settings,
        purpose=Purpose.CHARACTER,
        tier_pin=None,
        reference_count=max(1, settings.reference_count),
        has_source_image=False,
        image_count=1,
    )
    variant = plan_request(
        variant_c, card=card, budgets=after_reference, availability=availability, today=today
    )
    if isinstance(variant, Refusal):
        return variant
    total = reference.estimate_micros + variants * variant.estimate_micros
    for budget in budgets:
        if not budget.fits(total):
            return _refusal(budget, total=total, reference=reference, variant=variant)
    images = _figure(card, reference.primary, batch=reference_c.batch) + variants * _figure(
        card, variant.primary, batch=variant_c.batch
    )
    notices = tuple(dict.fromkeys((*reference.notices, *variant.notices)))
    return ChainPlan(
        reference=reference,
        variants=(variant,) * variants,
        images_micros=images,
        estimate_micros=total,
        notices=notices,
    )


def _figure(card: RateCard, choice: Choice, *, batch: bool) -> int:
    return per_image_micros(card.model(choice.model_id), image_size=choice.image_size, batch=batch)


def _refusal(budget: BudgetState, *, total: int, reference: Plan, variant: Plan) -> Refusal:
    assert budget.budget_micros is not None  # an unlimited budget always fits
    left = budget.left_micros or 0
    each = max(1, variant.estimate_micros)
    fitting = max(0, (left - reference.estimate_micros) // each)
    whose = "your" if budget.scope == "user" else "the workspace's"
    message = (
        f"Not enough budget: this chain would cost about {format_usd(total)}, but {whose} "
        f"budget this month has {format_usd(left)} left ({format_usd(budget.consumed_micros)} "
        f"of {format_usd(budget.budget_micros)} spent)."
    )
    if fitting:
        message += f" A chain of {fitting} variants would fit."
    message += " An admin can raise the budget."
    return Refusal(
        message=message,
        scope=budget.scope,
        consumed_micros=budget.consumed_micros,
        budget_micros=budget.budget_micros,
        left_micros=left,
        estimate_micros=total,
        cheaper=None,
    )
