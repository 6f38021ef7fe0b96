"""Availability: which models are usable on a date, successors and the notices."""

from __future__ import annotations

from datetime import date

import pytest

from router import (
    Availability,
    BudgetState,
    RateCard,
    retirement_notice,
    successor_for,
    unavailable_reason,
)


@pytest.mark.parametrize(
    ("model_id", "today", "availability", "reason"),
    [
        ("imagen-4.0-generate-001", date(2026, 8, 16), Availability(), None),
        (
            "imagen-4.0-generate-001",
            date(2026, 8, 17),
            Availability(),
            "was retired by Google on 2026-08-17",
        ),
        (
            "imagen-4.0-generate-001",
            date(2026, 9, 1),
            Availability(listed=frozenset({"imagen-4.0-generate-001"})),
            "was retired by Google on 2026-08-17",
        ),
        (
            "gemini-3-pro-image",
            date(2026, 5, 1),
            Availability(),
            "is not released until 2026-05-28",
        ),
        (
            "gemini-2.5-flash-image",
            date(2026, 11, 1),
            Availability(),
            "may have been retired by Google on 2026-10-02 (its earliest shutdown date)",
        ),
        (
            "gemini-2.5-flash-image",
            date(2026, 11, 1),
            Availability(listed=frozenset({"gemini-2.5-flash-image"})),
            None,
        ),
        (
            "gemini-2.5-flash-image",
            date(2026, 11, 1),
            Availability(listed=frozenset()),
            "was retired by Google (shutdown from 2026-10-02)",
        ),
        (
            "gemini-2.5-flash-image",
            date(2026, 5, 1),
            Availability(not_found=frozenset({"gemini-2.5-flash-image"})),
            "is not offered to this API key",
        ),
        (
            "gemini-2.5-flash-image",
            date(2026, 5, 1),
            Availability(listed=frozenset({"gemini-3-pro-image"})),
            "is not offered to this API key",
        ),
    ],
)
def test_unavailable_reason(
    seed_card: RateCard,
    model_id: str,
    today: date,
    availability: Availability,
    reason: str | None,
) -> None:
    """Each case gives the reason a model cannot be used, or None when it can."""
    spec = seed_card.model(model_id)
    assert unavailable_reason(spec, availability=availability, today=today) == reason


def test_successor_chain_skips_unusable_models(current_card: RateCard) -> None:
    """Imagen 4 Fast -> Nano Banana 2, or on to Nano Banana 2.1 when that one 404s."""
    today = date(2026, 12, 1)
    direct = successor_for(
        current_card, "imagen-4.0-fast-generate-001", availability=Availability(), today=today
    )
    assert direct is not None
    assert direct.id == "gemini-3.1-flash-image"
    gone = Availability(not_found=frozenset({"gemini-3.1-flash-image"}))
    onward = successor_for(
        current_card, "imagen-4.0-fast-generate-001", availability=gone, today=today
    )
    assert onward is not None
    assert onward.id == "gemini-nano-banana-2.1"


def test_no_successor_gives_none(current_card: RateCard) -> None:
    """A model without a successor has none to offer."""
    assert (
        successor_for(
            current_card, "gemini-3-pro-image", availability=Availability(), today=date(2026, 12, 1)
        )
        is None
    )


def test_notice_after_a_live_404(current_card: RateCard) -> None:
    """The dispatcher's notice after a 404 names the model, the reason and the replacement."""
    today = date(2026, 12, 1)
    availability = Availability(
        listed=frozenset(current_card.models), not_found=frozenset({"gemini-3-pro-image"})
    )
    notice = retirement_notice(
        current_card,
        "gemini-3-pro-image",
        replacement=current_card.model("gemini-nano-banana-2.1"),
        availability=availability,
        today=today,
    )
    assert notice == "Nano Banana Pro is not offered to this API key; used Nano Banana 2.1 instead."
    alone = retirement_notice(
        current_card,
        "gemini-3-pro-image",
        replacement=None,
        availability=availability,
        today=today,
    )
    assert alone == (
        "Nano Banana Pro is not offered to this API key, and this rate card names no replacement."
    )


def test_seed_notice_for_imagen(seed_card: RateCard) -> None:
    """The seed's Imagen 4 Standard notice reads as the contract shows."""
    today = date(2026, 9, 1)
    replacement = successor_for(
        seed_card, "imagen-4.0-generate-001", availability=Availability(), today=today
    )
    notice = retirement_notice(
        seed_card,
        "imagen-4.0-generate-001",
        replacement=replacement,
        availability=Availability(),
        today=today,
    )
    assert notice == (
        "Imagen 4 Standard was retired by Google on 2026-08-17; used Nano Banana 2 instead."
    )


def test_everything_lists_every_card_model(seed_card: RateCard) -> None:
    """``Availability.everything`` lists every model on the card."""
    assert Availability.everything(seed_card).listed == frozenset(seed_card.models)


@pytest.mark.parametrize(
    ("consumed", "budget", "fraction", "left"),
    [
        (0, 100, "0", 100),
        (90, 100, "0.9", 10),
        (899, 1000, "0.899", 101),
        (120, 100, "1.2", 0),
        (0, 0, "1", 0),
    ],
)
def test_budget_state_fraction_and_left(
    consumed: int, budget: int, fraction: str, left: int
) -> None:
    """Fractions are exact Decimals and what is left is never negative."""
    from decimal import Decimal

    state = BudgetState(consumed_micros=consumed, budget_micros=budget)
    assert state.fraction == Decimal(fraction)
    assert state.left_micros == left


def test_unlimited_budget_has_no_fraction() -> None:
    """A budget of None is unlimited: no fraction, nothing left to count, everything fits."""
    state = BudgetState(consumed_micros=5, budget_micros=None, scope="workspace")
    assert state.fraction is None
    assert state.left_micros is None
    assert state.fits(10**12)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"consumed_micros": 0, "budget_micros": 1, "scope": "team"},
        {"consumed_micros": -1, "budget_micros": 1},
        {"consumed_micros": 0, "budget_micros": -1},
    ],
)
def test_budget_state_rejects_nonsense(kwargs: dict[str, object]) -> None:
    """An unknown scope or negative amounts are programming errors."""
    with pytest.raises(ValueError, match="BudgetState"):
        BudgetState(**kwargs)  # type: ignore[arg-type]
