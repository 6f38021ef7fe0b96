"""The character-consistency chain: a cheap reference, then variants locked to it."""

from __future__ import annotations

from datetime import date

import pytest

from router import (
    Availability,
    BudgetState,
    ChainPlan,
    CommandError,
    Constraints,
    Purpose,
    RateCard,
    Refusal,
    plan_chain,
)

USD = 1_000_000
#: The seed's as-of date plus a few days: every seed model is live, the GA ids are not out yet.
SEED_TODAY = date(2026, 4, 15)
#: A day when Imagen and the preview ids are shut down.
CURRENT_TODAY = date(2026, 12, 1)


def chain(card: RateCard, variants: int, **kwargs: object) -> ChainPlan | Refusal:
    """Plan a chain with every card model listed."""
    today = kwargs.pop("today", SEED_TODAY)
    budgets = kwargs.pop("budgets", ())
    return plan_chain(
        variants=variants,
        card=card,
        budgets=budgets,  # type: ignore[arg-type]
        availability=Availability.everything(card),
        today=today,  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


def test_seed_chain_costs_the_seeds_figure_for_the_images(seed_card: RateCard) -> None:
    """1 reference on Nano Banana + 10 variants on Pro is $1.379 for the images."""
    result = chain(seed_card, 10)
    assert isinstance(result, ChainPlan)
    assert result.images_micros == 1_379_000


def test_seed_chain_total_adds_the_reference_inputs(seed_card: RateCard) -> None:
    """Each variant also sends the reference: 10 x $0.00112 on top, $1.3902 in all."""
    result = chain(seed_card, 10)
    assert isinstance(result, ChainPlan)
    assert result.estimate_micros == 1_379_000 + 10 * 1_120


def test_chain_steps_use_the_economy_and_character_tiers(seed_card: RateCard) -> None:
    """The reference is an economy plan; each variant a character plan with one reference."""
    result = chain(seed_card, 3)
    assert isinstance(result, ChainPlan)
    assert result.reference.tier == Purpose.ECONOMY
    assert result.reference.primary.model_id == "gemini-2.5-flash-image"
    assert len(result.variants) == 3
    for variant in result.variants:
        assert variant.tier == Purpose.CHARACTER
        assert variant.constraints.reference_count == 1
        assert variant.primary.model_id == "gemini-3-pro-image-preview"
    assert not result.downgraded


def test_chain_keeps_shared_settings(seed_card: RateCard) -> None:
    """Aspect ratio and batch from ``base`` apply to every step."""
    result = chain(seed_card, 2, base=Constraints(aspect_ratio="4:5", batch=True))
    assert isinstance(result, ChainPlan)
    assert result.reference.primary.aspect_ratio == "4:5"
    assert result.variants[0].primary.aspect_ratio == "4:5"
    assert result.images_micros == 19_500 + 2 * 67_000


def test_chain_on_the_current_card_reports_notices(current_card: RateCard) -> None:
    """On the current card the chain uses live models."""
    result = chain(current_card, 2, today=CURRENT_TODAY)
    assert isinstance(result, ChainPlan)
    assert result.variants[0].primary.model_id == "gemini-3-pro-image"


def test_chain_that_does_not_fit_says_how_many_variants_would(seed_card: RateCard) -> None:
    """A chain over budget is refused with the number of variants that fit."""
    budget = BudgetState(consumed_micros=0, budget_micros=1 * USD, scope="user")
    result = chain(seed_card, 10, budgets=(budget,))
    assert isinstance(result, Refusal)
    assert result.estimate_micros == 1_390_200
    assert "A chain of 7 variants would fit." in result.message


def test_chain_refuses_when_the_reference_does_not_fit(seed_card: RateCard) -> None:
    """With nothing left even the reference is refused."""
    budget = BudgetState(consumed_micros=1 * USD, budget_micros=1 * USD, scope="user")
    assert isinstance(chain(seed_card, 1, budgets=(budget,)), Refusal)


@pytest.mark.parametrize("variants", [0, -1, 101])
def test_chain_size_is_bounded(seed_card: RateCard, variants: int) -> None:
    """A chain needs 1 to 100 variants."""
    with pytest.raises(CommandError, match="1 to 100 variants"):
        chain(seed_card, variants)
