"""Planning: the seed's routing table, the current card, the budget guard, refusals, pins."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router import (
    Availability,
    BudgetState,
    CommandError,
    Constraints,
    Plan,
    Purpose,
    RateCard,
    Refusal,
    parse_command,
    plan_request,
)

USD = 1_000_000
#: The seed's as-of date plus a few days: every seed model is live, the GA ids are not out yet.
SEED_TODAY = date(2026, 4, 15)
#: A day when Imagen and the preview ids are shut down.
CURRENT_TODAY = date(2026, 12, 1)


def plan(
    card: RateCard,
    constraints: Constraints,
    *,
    today: date,
    budgets: tuple[BudgetState, ...] = (),
    availability: Availability | None = None,
) -> Plan | Refusal:
    """Plan with every card model listed unless told otherwise."""
    return plan_request(
        constraints,
        card=card,
        budgets=budgets,
        availability=availability if availability is not None else Availability.everything(card),
        today=today,
    )


def planned(card: RateCard, constraints: Constraints, **kwargs: object) -> Plan:
    """A plan that must not be a refusal."""
    result = plan(card, constraints, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, Plan), result
    return result


def user_budget(*, spent: int, budget: int) -> BudgetState:
    """A user budget with ``spent`` of ``budget`` micros consumed."""
    return BudgetState(consumed_micros=spent, budget_micros=budget, scope="user")


SEED_ROUTING_TABLE = [
    pytest.param(
        Constraints(reference_count=1), "character", "gemini-3-pro-image-preview", id="references"
    ),
    pytest.param(
        Constraints(purpose=Purpose.CHARACTER),
        "character",
        "gemini-3-pro-image-preview",
        id="character",
    ),
    pytest.param(
        Constraints(purpose=Purpose.FINAL, text_heavy=True),
        "final",
        "imagen-4.0-ultra-generate-001",
        id="final-text-heavy",
    ),
    pytest.param(
        Constraints(purpose=Purpose.FINAL), "final", "imagen-4.0-ultra-generate-001", id="final"
    ),
    pytest.param(Constraints(purpose=Purpose.HERO), "hero", "imagen-4.0-generate-001", id="hero"),
    pytest.param(
        Constraints(purpose=Purpose.DRAFT), "draft", "imagen-4.0-fast-generate-001", id="draft"
    ),
    pytest.param(
        Constraints(purpose=Purpose.EDIT, has_source_image=True),
        "edit",
        "gemini-3.1-flash-image-preview",
        id="edit",
    ),
    pytest.param(Constraints(), "economy", "gemini-2.5-flash-image", id="economy"),
    pytest.param(
        Constraints(purpose=Purpose.HERO, reference_count=2),
        "character",
        "gemini-3-pro-image-preview",
        id="references-beat-hero",
    ),
]


@pytest.mark.parametrize(("constraints", "tier", "model_id"), SEED_ROUTING_TABLE)
def test_seed_card_reproduces_the_seeds_routing_table(
    seed_card: RateCard, constraints: Constraints, tier: str, model_id: str
) -> None:
    """With the seed card in April 2026 every row of the seed's table gives the seed's model."""
    result = planned(seed_card, constraints, today=SEED_TODAY)
    assert result.tier == tier
    assert result.primary.model_id == model_id
    assert not result.downgraded
    assert result.notices == ()


def test_seed_budget_row_goes_to_the_cheapest_capable_model(seed_card: RateCard) -> None:
    """At 90% of budget the seed card's cheapest capable model (Imagen 4 Fast) is used."""
    result = planned(
        seed_card,
        Constraints(purpose=Purpose.HERO),
        today=SEED_TODAY,
        budgets=(user_budget(spent=90 * USD, budget=100 * USD),),
    )
    assert result.primary.model_id == "imagen-4.0-fast-generate-001"
    assert result.downgraded


def test_reasons_say_why_in_words(seed_card: RateCard) -> None:
    """Attached references give the reason in words, naming the model and what it is for."""
    result = planned(seed_card, Constraints(reference_count=1), today=SEED_TODAY)
    assert result.reasons == ("reference images attached -> Nano Banana Pro (identity lock)",)


def test_final_poster_in_4k_goes_to_imagen_ultra_on_the_seed_card(seed_card: RateCard) -> None:
    """The seed's text-heavy 4K poster lands on Imagen 4 Ultra at 4K."""
    parsed = parse_command('final "SUMMER SALE 50%" poster --4k')
    result = planned(seed_card, parsed.constraints, today=SEED_TODAY)
    assert result.primary.model_id == "imagen-4.0-ultra-generate-001"
    assert result.primary.image_size == "4K"
    assert result.estimate_micros == 60_000


@pytest.mark.parametrize("purpose", list(Purpose))
@pytest.mark.parametrize("listed", ["everything", "unknown"])
def test_current_card_routes_every_purpose_to_a_live_model(
    current_card: RateCard, purpose: Purpose, listed: str
) -> None:
    """On 2026-12-01 every purpose lands on a model that is released and not retired."""
    availability = (
        Availability.everything(current_card) if listed == "everything" else Availability()
    )
    result = planned(
        current_card,
        Constraints(purpose=purpose, has_source_image=True),
        today=CURRENT_TODAY,
        availability=availability,
    )
    for choice in result.choices:
        spec = current_card.model(choice.model_id)
        assert spec.released <= CURRENT_TODAY
        if spec.retired_on is not None:
            assert spec.retired_on_is_earliest, choice.model_id
            assert listed == "everything", choice.model_id


def test_current_card_uses_nano_banana_while_models_list_offers_it(current_card: RateCard) -> None:
    """Past its earliest shutdown date Nano Banana is used only while models.list lists it."""
    listed = planned(current_card, Constraints(), today=CURRENT_TODAY)
    assert listed.primary.model_id == "gemini-2.5-flash-image"
    unknown = planned(current_card, Constraints(), today=CURRENT_TODAY, availability=Availability())
    assert unknown.primary.model_id == "gemini-nano-banana-2.1"
    assert unknown.notices == (
        "Nano Banana may have been retired by Google on 2026-10-02 (its earliest shutdown date); "
        "used Nano Banana 2.1 instead.",
    )
    gone = planned(
        current_card,
        Constraints(),
        today=CURRENT_TODAY,
        availability=Availability(listed=frozenset({"gemini-nano-banana-2.1"})),
    )
    assert gone.primary.model_id == "gemini-nano-banana-2.1"
    assert "was retired by Google (shutdown from 2026-10-02)" in gone.notices[0]


def test_retired_imagen_is_replaced_by_its_successor_with_a_notice(seed_card: RateCard) -> None:
    """After 2026-08-17 a seed hero request goes to Nano Banana 2 and says why in one line."""
    result = planned(seed_card, Constraints(purpose=Purpose.HERO), today=date(2026, 9, 1))
    assert result.primary.model_id == "gemini-3.1-flash-image"
    assert result.notices == (
        "Imagen 4 Standard was retired by Google on 2026-08-17; used Nano Banana 2 instead.",
    )


def test_a_model_retires_on_its_shutdown_date(seed_card: RateCard) -> None:
    """The day before shutdown the model serves; on the day itself its successor does."""
    before = planned(seed_card, Constraints(purpose=Purpose.DRAFT), today=date(2026, 8, 16))
    on = planned(seed_card, Constraints(purpose=Purpose.DRAFT), today=date(2026, 8, 17))
    assert before.primary.model_id == "imagen-4.0-fast-generate-001"
    assert on.primary.model_id == "gemini-3.1-flash-image"


def test_preview_ids_follow_to_their_ga_ids(seed_card: RateCard) -> None:
    """After 2026-06-25 the character tier uses gemini-3-pro-image instead of the preview."""
    result = planned(seed_card, Constraints(reference_count=1), today=date(2026, 7, 1))
    assert result.primary.model_id == "gemini-3-pro-image"
    assert result.notices == (
        "Nano Banana Pro was retired by Google on 2026-06-25; used Nano Banana Pro GA instead.",
    )


def test_unreleased_successors_are_not_offered_before_release(seed_card: RateCard) -> None:
    """In April 2026 the GA ids (released 2026-05-28) appear nowhere in a plan."""
    result = planned(seed_card, Constraints(purpose=Purpose.FINAL), today=SEED_TODAY)
    assert all(
        c.model_id not in {"gemini-3-pro-image", "gemini-3.1-flash-image"} for c in result.choices
    )


def test_a_404_model_is_replaced_by_its_successor(current_card: RateCard) -> None:
    """A model that answered 404 in this process is skipped for its successor."""
    availability = Availability(
        listed=frozenset(current_card.models), not_found=frozenset({"gemini-3.1-flash-image"})
    )
    result = planned(
        current_card,
        Constraints(purpose=Purpose.EDIT, has_source_image=True),
        today=CURRENT_TODAY,
        availability=availability,
    )
    assert result.primary.model_id == "gemini-nano-banana-2.1"
    assert result.notices == (
        "Nano Banana 2 is not offered to this API key; used Nano Banana 2.1 instead.",
    )
    assert "gemini-3.1-flash-image" not in {c.model_id for c in result.choices}


def test_a_model_missing_from_models_list_is_not_used(current_card: RateCard) -> None:
    """A model absent from models.list is replaced even though its dates say it is live."""
    listed = frozenset(current_card.models) - {"gemini-3-pro-image"}
    result = planned(
        current_card,
        Constraints(purpose=Purpose.CHARACTER),
        today=CURRENT_TODAY,
        availability=Availability(listed=listed),
    )
    assert result.primary.model_id == "gemini-nano-banana-2.1"


def test_fallbacks_are_the_tier_options_then_successors(seed_card: RateCard) -> None:
    """Fallbacks list the tier's other options first, then the primary's successors."""
    result = planned(seed_card, Constraints(purpose=Purpose.FINAL), today=date(2026, 6, 1))
    assert [c.model_id for c in result.choices] == [
        "imagen-4.0-ultra-generate-001",
        "gemini-3-pro-image-preview",
        "gemini-3-pro-image",
    ]


@pytest.mark.parametrize(
    ("spent", "downgraded"),
    [
        pytest.param(89_900_000, False, id="89.9%"),
        pytest.param(89_999_999, False, id="just-under-90%"),
        pytest.param(90_000_000, True, id="90%"),
        pytest.param(95_000_000, True, id="95%"),
    ],
)
def test_budget_guard_acts_at_ninety_percent(
    seed_card: RateCard, spent: int, downgraded: bool
) -> None:
    """Below 90% a hero request goes to Imagen 4 Standard; from 90% to the cheapest capable."""
    result = planned(
        seed_card,
        Constraints(purpose=Purpose.HERO),
        today=SEED_TODAY,
        budgets=(user_budget(spent=spent, budget=100 * USD),),
    )
    assert result.downgraded is downgraded
    expected = "imagen-4.0-fast-generate-001" if downgraded else "imagen-4.0-generate-001"
    assert result.primary.model_id == expected


def test_hero_at_95_percent_goes_cheap_and_says_so(current_card: RateCard) -> None:
    """The seed's bug fixed: a hero request at 95% does not reach the expensive tier."""
    result = planned(
        current_card,
        Constraints(purpose=Purpose.FINAL, text_heavy=True),
        today=CURRENT_TODAY,
        budgets=(user_budget(spent=95 * USD, budget=100 * USD),),
    )
    assert result.downgraded
    assert result.tier == Purpose.FINAL
    cheapest = min(result.choices, key=lambda c: c.estimate_micros)
    assert result.primary == cheapest
    assert result.primary.model_id != "gemini-3-pro-image"
    assert result.reasons[0].startswith("95% of your budget is used (the guard acts at 90%)")


def test_guard_keeps_the_job_possible(seed_card: RateCard) -> None:
    """Under the guard a request with references still goes to a model that takes them."""
    result = planned(
        seed_card,
        Constraints(reference_count=2),
        today=SEED_TODAY,
        budgets=(user_budget(spent=96 * USD, budget=100 * USD),),
    )
    assert result.downgraded
    assert result.primary.model_id == "gemini-2.5-flash-image"


def test_guard_overrides_a_pinned_model(seed_card: RateCard) -> None:
    """At 90% a pinned expensive model is set aside, and the reason names the pin."""
    result = planned(
        seed_card,
        Constraints(model_pin="Nano Banana Pro"),
        today=SEED_TODAY,
        budgets=(user_budget(spent=92 * USD, budget=100 * USD),),
    )
    assert result.primary.model_id == "imagen-4.0-fast-generate-001"
    assert "--model Nano Banana Pro set aside" in result.reasons[0]


def test_workspace_budget_counts_too(seed_card: RateCard) -> None:
    """The most-consumed budget decides, whichever scope it has."""
    result = planned(
        seed_card,
        Constraints(purpose=Purpose.HERO),
        today=SEED_TODAY,
        budgets=(
            user_budget(spent=0, budget=100 * USD),
            BudgetState(consumed_micros=950 * USD, budget_micros=1000 * USD, scope="workspace"),
        ),
    )
    assert result.downgraded
    assert "of the workspace's budget" in result.reasons[0]


def test_unlimited_budgets_never_guard_or_refuse(seed_card: RateCard) -> None:
    """Budgets of None never downgrade or refuse."""
    result = planned(
        seed_card,
        Constraints(purpose=Purpose.CHARACTER, image_count=4),
        today=SEED_TODAY,
        budgets=(BudgetState(consumed_micros=10**12, budget_micros=None),),
    )
    assert not result.downgraded


def test_full_budget_is_refused_with_the_amount_left(seed_card: RateCard) -> None:
    """A request that would cross 100% is refused with spent, left and budget."""
    result = plan(
        seed_card,
        Constraints(),
        today=SEED_TODAY,
        budgets=(user_budget(spent=24_990_000, budget=25 * USD),),
    )
    assert isinstance(result, Refusal)
    assert result.left_micros == 10_000
    assert result.consumed_micros == 24_990_000
    assert result.budget_micros == 25 * USD
    assert result.estimate_micros == 20_000
    assert result.scope == "user"
    assert result.cheaper is None
    assert "$0.01 left ($24.99 of $25.00 spent)" in result.message


def test_budget_at_exactly_one_hundred_percent_is_refused(seed_card: RateCard) -> None:
    """With nothing left any request is refused, and nothing left is reported as $0.00."""
    result = plan(
        seed_card,
        Constraints(),
        today=SEED_TODAY,
        budgets=(user_budget(spent=25 * USD, budget=25 * USD),),
    )
    assert isinstance(result, Refusal)
    assert result.left_micros == 0
    assert "$0.00 left" in result.message


def test_refusal_names_a_cheaper_choice_that_fits(seed_card: RateCard) -> None:
    """A pricey request below the guard is refused with a cheaper model that would fit."""
    result = plan(
        seed_card,
        Constraints(purpose=Purpose.CHARACTER, image_count=4),
        today=SEED_TODAY,
        budgets=(user_budget(spent=800_000, budget=1 * USD),),
    )
    assert isinstance(result, Refusal)
    assert result.estimate_micros == 4 * 134_000
    assert result.cheaper is not None
    assert result.cheaper.model_id == "imagen-4.0-fast-generate-001"
    assert 'Imagen 4 Fast would fit at $0.08: add --model "Imagen 4 Fast".' in result.message


def test_refusal_suggests_fewer_images_when_one_fits(seed_card: RateCard) -> None:
    """When no cheaper model fits but one image would, the message says -n 1."""
    result = plan(
        seed_card,
        Constraints(purpose=Purpose.DRAFT, image_count=4),
        today=SEED_TODAY,
        budgets=(user_budget(spent=950_000, budget=1 * USD),),
    )
    assert isinstance(result, Refusal)
    assert "try -n 1" in result.message


def test_refusal_reports_the_tightest_budget(seed_card: RateCard) -> None:
    """When two budgets would be crossed, the one with less left is reported."""
    result = plan(
        seed_card,
        Constraints(),
        today=SEED_TODAY,
        budgets=(
            user_budget(spent=24_990_000, budget=25 * USD),
            BudgetState(consumed_micros=999_995_000, budget_micros=1000 * USD, scope="workspace"),
        ),
    )
    assert isinstance(result, Refusal)
    assert result.scope == "workspace"
    assert result.left_micros == 5_000


@pytest.mark.parametrize(
    ("pin", "model_id"),
    [
        ("gemini-3.1-flash-image-preview", "gemini-3.1-flash-image-preview"),
        ("Gemini 3.1 Flash Image", "gemini-3.1-flash-image-preview"),
        ("imagen_4_ultra", "imagen-4.0-ultra-generate-001"),
        ("NANO BANANA", "gemini-2.5-flash-image"),
    ],
)
def test_pinned_model_is_honoured(seed_card: RateCard, pin: str, model_id: str) -> None:
    """A model pin by id or display name, in any case, is used."""
    result = planned(seed_card, Constraints(model_pin=pin), today=SEED_TODAY)
    assert result.primary.model_id == model_id


def test_pinned_retired_model_goes_to_its_successor(current_card: RateCard) -> None:
    """A pin on a retired model is replaced by its successor, with the notice."""
    result = planned(
        current_card, Constraints(model_pin="imagen-4.0-generate-001"), today=CURRENT_TODAY
    )
    assert result.primary.model_id == "gemini-3.1-flash-image"
    assert result.notices == (
        "Imagen 4 Standard was retired by Google on 2026-08-17; used Nano Banana 2 instead.",
    )
    assert "but it was retired by Google on 2026-08-17" in result.reasons[0]


def test_unknown_pinned_model_lists_models_that_work(current_card: RateCard) -> None:
    """An unknown model name raises CommandError listing usable models."""
    with pytest.raises(CommandError) as caught:
        plan(current_card, Constraints(model_pin="dall-e 3"), today=CURRENT_TODAY)
    assert "I don't know a model called \u201cdall-e 3\u201d" in caught.value.message
    assert "Nano Banana Pro (gemini-3-pro-image)" in caught.value.message
    assert "Imagen" not in caught.value.message


def test_tier_pin_chooses_the_tier(seed_card: RateCard) -> None:
    """``tier_pin`` overrides the purpose rules."""
    result = planned(
        seed_card, Constraints(purpose=Purpose.DRAFT, tier_pin="final"), today=SEED_TODAY
    )
    assert result.tier == Purpose.FINAL
    assert result.primary.model_id == "imagen-4.0-ultra-generate-001"


@pytest.mark.parametrize(
    ("constraints", "fragments"),
    [
        pytest.param(
            Constraints(model_pin="Nano Banana", image_size="4K"),
            ["Nano Banana makes 1K images only", "Models that can:"],
            id="4k-on-a-1k-model",
        ),
        pytest.param(
            Constraints(model_pin="Nano Banana", aspect_ratio="8:1"),
            ["Nano Banana has no 8:1 aspect ratio", "Gemini 3.1 Flash Image"],
            id="ratio-the-model-lacks",
        ),
        pytest.param(
            Constraints(model_pin="Nano Banana", reference_count=5),
            ["Nano Banana takes at most 3 input images, not 5", "Nano Banana Pro"],
            id="too-many-references-for-the-model",
        ),
        pytest.param(
            Constraints(model_pin="Imagen 4 Fast", has_source_image=True, purpose=Purpose.EDIT),
            ["Imagen 4 Fast takes no input images"],
            id="edit-on-a-text-only-model",
        ),
        pytest.param(
            Constraints(reference_count=20),
            ["20 images is more than any model takes: at most 14"],
            id="too-many-references-for-any-model",
        ),
        pytest.param(
            Constraints(aspect_ratio="7:3"),
            ["No available model makes 7:3 images", "16:9"],
            id="ratio-nobody-makes",
        ),
        pytest.param(
            Constraints(purpose=Purpose.EDIT),
            ["An edit needs an image to change"],
            id="edit-without-an-image",
        ),
        pytest.param(Constraints(image_count=9), ["1 to 4 images", "not 9"], id="nine-images"),
        pytest.param(Constraints(image_size="8K"), ["Sizes: 512, 1K, 2K, 4K"], id="bad-size"),
        pytest.param(Constraints(aspect_ratio="wide"), ["width:height"], id="bad-ratio"),
        pytest.param(Constraints(tier_pin="luxury"), ["no tier called"], id="bad-tier"),
    ],
)
def test_impossible_requests_name_what_would_work(
    seed_card: RateCard, constraints: Constraints, fragments: list[str]
) -> None:
    """Requests no model can do as asked raise CommandError naming what works."""
    with pytest.raises(CommandError) as caught:
        plan(seed_card, constraints, today=SEED_TODAY)
    for fragment in fragments:
        assert fragment in caught.value.message


def test_a_tier_that_cannot_do_the_job_widens(seed_card: RateCard) -> None:
    """Economy (1K only) asked for 4K picks a 4K-capable option and says why."""
    result = planned(seed_card, Constraints(image_size="4K"), today=SEED_TODAY)
    assert result.primary.model_id == "imagen-4.0-fast-generate-001"
    assert "because Nano Banana makes 1K images only" in result.reasons[0]


def test_a_tier_with_no_capable_option_widens_to_the_card(seed_card: RateCard) -> None:
    """Draft with an 8:1 ratio (no Imagen has it) goes to a model that does, saying so."""
    result = planned(
        seed_card, Constraints(purpose=Purpose.DRAFT, aspect_ratio="8:1"), today=SEED_TODAY
    )
    assert result.primary.model_id == "gemini-3.1-flash-image-preview"
    assert "the draft tier cannot do this" in result.reasons[0]


def test_widening_for_text_prefers_the_best_text_model(seed_card: RateCard) -> None:
    """A text-heavy draft at 8:1 widens to the best text renderer that can do it."""
    result = planned(
        seed_card,
        Constraints(purpose=Purpose.DRAFT, aspect_ratio="8:1", text_heavy=True),
        today=SEED_TODAY,
    )
    assert result.primary.model_id == "gemini-3.1-flash-image-preview"


def test_batch_goes_to_a_model_that_can_batch(current_card: RateCard) -> None:
    """A batch draft skips Nano Banana 2.1 (no batch) and is priced at batch rates."""
    result = planned(
        current_card, Constraints(purpose=Purpose.DRAFT, batch=True), today=CURRENT_TODAY
    )
    assert result.primary.model_id == "gemini-3.1-flash-image"
    assert result.primary.image_size == "512"
    assert result.primary.estimate_micros == 22_000 + 150  # batch figure + 100 thinking at $1.50


def test_thinking_level_is_applied_where_the_model_has_it(current_card: RateCard) -> None:
    """``--thinking high`` reaches models with levels and is noted as ignored elsewhere."""
    edit = planned(
        current_card,
        Constraints(purpose=Purpose.EDIT, has_source_image=True, thinking_level="high"),
        today=CURRENT_TODAY,
    )
    assert edit.primary.thinking_level == "high"
    character = planned(
        current_card,
        Constraints(purpose=Purpose.CHARACTER, thinking_level="high"),
        today=CURRENT_TODAY,
    )
    assert character.primary.thinking_level is None
    assert any("--thinking high ignored" in reason for reason in character.reasons)


def test_plan_estimate_covers_every_image(seed_card: RateCard) -> None:
    """The plan's estimate is the per-image estimate times the number of images."""
    result = planned(
        seed_card, Constraints(purpose=Purpose.CHARACTER, image_count=3), today=SEED_TODAY
    )
    assert result.estimate_micros == 3 * result.primary.estimate_micros
    assert result.image_count == 3


def test_choice_carries_the_requested_aspect_ratio(seed_card: RateCard) -> None:
    """Every choice carries the aspect ratio asked for."""
    result = planned(seed_card, Constraints(aspect_ratio="16:9"), today=SEED_TODAY)
    assert {c.aspect_ratio for c in result.choices} == {"16:9"}


def test_plan_keeps_the_constraints(seed_card: RateCard) -> None:
    """The plan carries the constraints it was made from."""
    constraints = Constraints(purpose=Purpose.HERO, estimate_only=True)
    assert planned(seed_card, constraints, today=SEED_TODAY).constraints == constraints


def test_planning_is_deterministic(current_card: RateCard) -> None:
    """The same inputs give the same plan."""
    constraints = replace(Constraints(), purpose=Purpose.HERO, image_count=2)
    first = planned(current_card, constraints, today=CURRENT_TODAY)
    assert planned(current_card, constraints, today=CURRENT_TODAY) == first


_CONSTRAINTS = st.builds(
    Constraints,
    purpose=st.sampled_from(list(Purpose)),
    text_heavy=st.booleans(),
    reference_count=st.integers(0, 16),
    has_source_image=st.booleans(),
    image_size=st.sampled_from([None, "512", "1K", "2K", "4K", "8K"]),
    aspect_ratio=st.sampled_from([None, "1:1", "16:9", "8:1", "7:3", "x"]),
    image_count=st.integers(0, 5),
    batch=st.booleans(),
    model_pin=st.sampled_from([None, "Nano Banana", "gemini-3-pro-image", "Imagen 4 Fast", "zz"]),
    tier_pin=st.sampled_from([None, "hero", "edit", "nope"]),
    thinking_level=st.sampled_from([None, "minimal", "high"]),
)


@settings(max_examples=150, deadline=None)
@given(
    constraints=_CONSTRAINTS,
    which=st.sampled_from(["seed", "current"]),
    today=st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 6, 30)),
    spent=st.integers(0, 30 * USD),
)
def test_planning_never_crashes(
    seed_card: RateCard,
    current_card: RateCard,
    constraints: Constraints,
    which: str,
    today: date,
    spent: int,
) -> None:
    """Any constraints give a plan within budget, a refusal, or a CommandError; nothing else."""
    card = seed_card if which == "seed" else current_card
    budget = user_budget(spent=spent, budget=25 * USD)
    try:
        result: Plan | Refusal | CommandError = plan(
            card, constraints, today=today, budgets=(budget,), availability=Availability()
        )
    except CommandError as exc:
        result = exc
    if isinstance(result, CommandError):
        assert result.message
        return
    if isinstance(result, Plan):
        assert budget.fits(result.estimate_micros)
        assert result.estimate_micros == result.primary.estimate_micros * result.image_count
        for choice in result.choices:
            spec = card.model(choice.model_id)
            assert spec.released <= today
            assert spec.retired_on is None or today < spec.retired_on
    else:
        assert result.left_micros == budget.left_micros
