"""Pricing in micro-USD: estimates from the card, actual costs from usage, the seed's blend."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router import (
    CommandError,
    RateCard,
    Usage,
    actual_micros,
    blended_cost_micros,
    estimate_image_micros,
    per_image_micros,
)


def test_seed_blend_is_pinned_to_its_true_value(seed_card: RateCard) -> None:
    """The seed's 65/12/10/6/5/2 blend is $0.04367 from its own figures, not the $0.041 it prints.

    .65*.039 + .12*.02 + .10*.04 + .06*.067 + .05*.134 + .02*.06
    = .02535 + .0024 + .004 + .00402 + .0067 + .0012 = .04367
    """
    assert blended_cost_micros(seed_card) == 43_670


def test_seed_batch_blend_uses_the_seeds_batch_figures(seed_card: RateCard) -> None:
    """With the seed's batch figures the blend is $0.021865 (the seed prints $0.021).

    .65*.0195 + .12*.01 + .10*.02 + .06*.034 + .05*.067 + .02*.03
    = .012675 + .0012 + .002 + .00204 + .00335 + .0006 = .021865
    """
    assert blended_cost_micros(seed_card, batch=True) == 21_865


def test_blend_takes_an_explicit_mix(seed_card: RateCard) -> None:
    """An explicit mix with string tier names is weighted the same way."""
    assert blended_cost_micros(seed_card, {"economy": 1}) == 39_000
    assert blended_cost_micros(seed_card, {"economy": 1, "character": 1}) == 86_500
    assert blended_cost_micros(seed_card, {"hero": Decimal("0.5")}) == 40_000


def test_blend_rejects_an_empty_mix(seed_card: RateCard) -> None:
    """A mix whose shares add up to zero is an error."""
    with pytest.raises(ValueError, match="zero"):
        blended_cost_micros(seed_card, {"economy": 0})


def test_current_blend_is_priced_from_the_current_tiers(current_card: RateCard) -> None:
    """The current card's blend comes from its first tier options, thinking allowance included."""
    assert blended_cost_micros(current_card) == 47_036


@pytest.mark.parametrize(
    ("model_id", "size", "batch", "micros"),
    [
        ("gemini-3-pro-image-preview", "1K", False, 134_000),
        ("gemini-3-pro-image-preview", "2K", False, 134_000),
        ("gemini-3-pro-image-preview", "4K", False, 240_000),
        ("gemini-3-pro-image-preview", "4K", True, 120_000),
        ("gemini-3.1-flash-image-preview", "512", False, 45_000),
        ("gemini-3.1-flash-image-preview", "2K", False, 101_000),
        ("gemini-2.5-flash-image", None, False, 39_000),
        ("gemini-2.5-flash-image", None, True, 19_500),
        ("imagen-4.0-fast-generate-001", "1K", True, 10_000),
    ],
)
def test_seed_estimates_are_the_seeds_figures(
    seed_card: RateCard, model_id: str, size: str | None, batch: bool, micros: int
) -> None:
    """Without input images a seed-card estimate is the seed's per-image figure."""
    model = seed_card.model(model_id)
    assert estimate_image_micros(model, image_size=size, reference_images=0, batch=batch) == micros


def test_reference_images_are_priced_at_the_input_rate(seed_card: RateCard) -> None:
    """Each reference image on Pro adds 560 tokens at $2.00 per 1M = 1,120 micros."""
    pro = seed_card.model("gemini-3-pro-image-preview")
    base = estimate_image_micros(pro, image_size="1K", reference_images=0, batch=False)
    three = estimate_image_micros(pro, image_size="1K", reference_images=3, batch=False)
    assert three - base == 3 * 1_120


def test_batch_reference_images_are_priced_at_the_batch_input_rate(seed_card: RateCard) -> None:
    """A Pro reference image in batch is 560 tokens at $1.00 per 1M = 560 micros."""
    pro = seed_card.model("gemini-3-pro-image-preview")
    assert estimate_image_micros(pro, image_size="1K", reference_images=1, batch=True) == 67_560


def test_always_thinking_models_include_our_allowance(current_card: RateCard) -> None:
    """Pro's estimate adds our 400-token thinking allowance at $12 per 1M (4,800 micros)."""
    pro = current_card.model("gemini-3-pro-image")
    assert estimate_image_micros(pro, image_size="1K", reference_images=0, batch=False) == 138_800


def test_thinking_level_changes_the_allowance(current_card: RateCard) -> None:
    """Nano Banana 2 at high thinking budgets 600 tokens, at minimal 100 ($3 per 1M)."""
    flash = current_card.model("gemini-3.1-flash-image")
    high = estimate_image_micros(
        flash, image_size="1K", reference_images=0, batch=False, thinking_level="high"
    )
    minimal = estimate_image_micros(flash, image_size="1K", reference_images=0, batch=False)
    assert high == 67_000 + 1_800
    assert minimal == 67_000 + 300


def test_estimates_refuse_impossible_settings(seed_card: RateCard) -> None:
    """A size, input count or batch the model lacks raises CommandError."""
    nano = seed_card.model("gemini-2.5-flash-image")
    with pytest.raises(CommandError, match="1K images only"):
        estimate_image_micros(nano, image_size="4K", reference_images=0, batch=False)
    with pytest.raises(CommandError, match="at most 3 input images"):
        estimate_image_micros(nano, image_size=None, reference_images=4, batch=False)
    with pytest.raises(ValueError, match="negative"):
        estimate_image_micros(nano, image_size=None, reference_images=-1, batch=False)


def test_models_without_batch_cannot_be_priced_in_batch(current_card: RateCard) -> None:
    """Asking a batch price of a model without batch raises CommandError."""
    with pytest.raises(CommandError, match="cannot run as a batch job"):
        per_image_micros(current_card.model("gemini-nano-banana-2.1"), image_size="1K", batch=True)


def test_actual_cost_is_priced_from_token_counts(seed_card: RateCard) -> None:
    """Input at the input rate, image tokens at the image rate, text and thinking at text rate."""
    pro = seed_card.model("gemini-3-pro-image-preview")
    usage = Usage(
        input_tokens=1_000, output_image_tokens=1_120, output_text_tokens=50, thinking_tokens=250
    )
    cost = actual_micros(pro, usage, images_returned=1, image_size="1K", batch=False)
    assert cost == 1_000 * 2 + 1_120 * 120 + 300 * 12


def test_actual_batch_cost_uses_batch_rates(seed_card: RateCard) -> None:
    """A batch call is priced at the batch token rates."""
    pro = seed_card.model("gemini-3-pro-image-preview")
    usage = Usage(input_tokens=1_000, output_image_tokens=1_120, thinking_tokens=300)
    cost = actual_micros(pro, usage, images_returned=1, image_size="1K", batch=True)
    assert cost == 1_000 * 1 + 1_120 * 60 + 300 * 6


def test_a_call_without_an_image_never_bills_an_image(seed_card: RateCard) -> None:
    """No image returned: only input and thinking are billed, whatever the usage says."""
    pro = seed_card.model("gemini-3-pro-image-preview")
    usage = Usage(input_tokens=500, output_image_tokens=1_120, thinking_tokens=200)
    assert actual_micros(pro, usage, images_returned=0, image_size="1K", batch=False) == (
        500 * 2 + 200 * 12
    )
    unreported = actual_micros(
        pro, Usage.unreported(), images_returned=0, image_size="1K", batch=False
    )
    assert unreported == 0


def test_unreported_usage_falls_back_to_the_card_figure(seed_card: RateCard) -> None:
    """Without usage the card's per-image figure times the images returned is billed."""
    pro = seed_card.model("gemini-3-pro-image-preview")
    cost = actual_micros(pro, Usage.unreported(), images_returned=2, image_size="4K", batch=False)
    assert cost == 2 * 240_000


def test_usage_without_image_tokens_still_pays_for_the_image(seed_card: RateCard) -> None:
    """Reported usage lacking image tokens prices a returned image from the card's tokens."""
    nano = seed_card.model("gemini-2.5-flash-image")
    cost = actual_micros(
        nano, Usage(input_tokens=10), images_returned=1, image_size=None, batch=False
    )
    assert cost == 3 + 1_290 * 30


def test_per_image_models_bill_per_image_returned(seed_card: RateCard) -> None:
    """Imagen is billed its flat price per image returned, usage or not."""
    fast = seed_card.model("imagen-4.0-fast-generate-001")
    assert (
        actual_micros(fast, Usage(input_tokens=99), images_returned=3, image_size="1K", batch=False)
        == 60_000
    )
    assert actual_micros(fast, Usage(), images_returned=0, image_size="1K", batch=False) == 0


_USAGE = st.builds(
    Usage,
    input_tokens=st.integers(0, 50_000),
    output_image_tokens=st.integers(0, 5_000),
    output_text_tokens=st.integers(0, 2_000),
    thinking_tokens=st.integers(0, 5_000),
)
_TOKEN_MODELS = [
    "gemini-3-pro-image-preview",
    "gemini-3.1-flash-image-preview",
    "gemini-2.5-flash-image",
]


@settings(max_examples=100, deadline=None)
@given(
    model_id=st.sampled_from(_TOKEN_MODELS),
    count=st.integers(1, 4),
    references=st.integers(0, 3),
    batch=st.booleans(),
)
def test_n_images_cost_n_times_one(
    seed_card: RateCard, model_id: str, count: int, references: int, batch: bool
) -> None:
    """N images with the same settings cost N times one, estimated and unreported alike."""
    model = seed_card.model(model_id)
    one = estimate_image_micros(model, image_size=None, reference_images=references, batch=batch)
    unreported = actual_micros(
        model, Usage.unreported(), images_returned=count, image_size=None, batch=batch
    )
    assert unreported == count * per_image_micros(model, image_size=None, batch=batch)
    assert count * one >= unreported


@settings(max_examples=100, deadline=None)
@given(model_id=st.sampled_from(_TOKEN_MODELS), usage=_USAGE, images=st.integers(0, 4))
def test_batch_is_half_price_within_rounding(
    seed_card: RateCard, model_id: str, usage: Usage, images: int
) -> None:
    """From the same usage a batch call costs half the interactive price, to within 2 micros."""
    model = seed_card.model(model_id)
    interactive = actual_micros(model, usage, images_returned=images, image_size=None, batch=False)
    batch = actual_micros(model, usage, images_returned=images, image_size=None, batch=True)
    assert abs(2 * batch - interactive) <= 4


@settings(max_examples=60, deadline=None)
@given(model_id=st.sampled_from(_TOKEN_MODELS), size_index=st.integers(0, 3))
def test_batch_estimates_are_half_within_published_rounding(
    seed_card: RateCard, model_id: str, size_index: int
) -> None:
    """Batch per-image figures are half the interactive ones, to Google's tenth of a cent."""
    model = seed_card.model(model_id)
    size = model.sizes[size_index % len(model.sizes)]
    interactive = per_image_micros(model, image_size=size, batch=False)
    batch = per_image_micros(model, image_size=size, batch=True)
    assert abs(2 * batch - interactive) <= 1_000


@settings(max_examples=100, deadline=None)
@given(model_id=st.sampled_from(_TOKEN_MODELS), first=_USAGE, second=_USAGE)
def test_cost_of_two_calls_adds_up(
    seed_card: RateCard, model_id: str, first: Usage, second: Usage
) -> None:
    """Pricing the summed usage of two calls is their summed price, to within rounding."""
    model = seed_card.model(model_id)
    apart = sum(
        actual_micros(model, u, images_returned=1, image_size=None, batch=False)
        for u in (first, second)
    )
    together = actual_micros(model, first + second, images_returned=2, image_size=None, batch=False)
    if first.output_image_tokens and second.output_image_tokens:
        assert abs(apart - together) <= 3
    assert together >= 0
