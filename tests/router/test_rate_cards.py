"""Rate cards: the shipped cards' figures, and validation of malformed cards."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from router import Billing, Purpose, RateCard, RateCardError, parse_card

SEED_MODELS = {
    "gemini-3-pro-image-preview": {"1K": 134_000, "2K": 134_000, "4K": 240_000},
    "gemini-3.1-flash-image-preview": {"512": 45_000, "1K": 67_000, "2K": 101_000, "4K": 151_000},
    "gemini-2.5-flash-image": {"1K": 39_000},
    "imagen-4.0-ultra-generate-001": {"1K": 60_000, "2K": 60_000, "4K": 60_000},
    "imagen-4.0-generate-001": {"1K": 40_000, "2K": 40_000, "4K": 40_000},
    "imagen-4.0-fast-generate-001": {"1K": 20_000, "2K": 20_000, "4K": 20_000},
}
SEED_BATCH_1K = {
    "gemini-3-pro-image-preview": 67_000,
    "gemini-3.1-flash-image-preview": 34_000,
    "gemini-2.5-flash-image": 19_500,
    "imagen-4.0-ultra-generate-001": 30_000,
    "imagen-4.0-generate-001": 20_000,
    "imagen-4.0-fast-generate-001": 10_000,
}


def test_seed_card_prices_the_six_models_as_the_seed_does(seed_card: RateCard) -> None:
    """The seed card's per-image figures are the seed's, size by size."""
    for model_id, figures in SEED_MODELS.items():
        assert dict(seed_card.model(model_id).per_image_micros) == figures, model_id


def test_seed_card_keeps_the_seeds_batch_figures(seed_card: RateCard) -> None:
    """The seed's batch figures, Imagen's included, are on the seed card."""
    for model_id, micros in SEED_BATCH_1K.items():
        assert seed_card.model(model_id).batch_per_image_micros["1K"] == micros, model_id


def test_seed_card_flags_imagen_batch_as_contradicted(seed_card: RateCard) -> None:
    """Each Imagen model on the seed card notes that Google's docs contradict its batch price."""
    for model_id in SEED_MODELS:
        if model_id.startswith("imagen"):
            assert "contradicted" in seed_card.model(model_id).note


def test_seed_card_token_prices_match_the_seed(seed_card: RateCard) -> None:
    """Pro input is $2.00 per 1M and an input image 560 tokens; Nano Banana input $0.30."""
    pro = seed_card.model("gemini-3-pro-image-preview")
    assert pro.prices is not None
    assert pro.prices.input == Decimal("2.00")
    assert pro.prices.image_output == Decimal("120")
    assert pro.input_image_tokens == 560
    nano = seed_card.model("gemini-2.5-flash-image")
    assert nano.prices is not None
    assert nano.prices.input == Decimal("0.30")


def test_seed_card_mix_is_the_seeds_blend(seed_card: RateCard) -> None:
    """The recommended mix is 65/12/10/6/5/2 by tier."""
    assert {p.value: int(v) for p, v in seed_card.mix.items()} == {
        "economy": 65,
        "draft": 12,
        "hero": 10,
        "edit": 6,
        "character": 5,
        "final": 2,
    }


def test_seed_tiers_start_with_the_seeds_models(seed_card: RateCard) -> None:
    """Each seed tier's first option is the seed's model for that job."""
    first = {p.value: seed_card.tier(p).options[0].model for p in Purpose}
    assert first == {
        "economy": "gemini-2.5-flash-image",
        "draft": "imagen-4.0-fast-generate-001",
        "hero": "imagen-4.0-generate-001",
        "final": "imagen-4.0-ultra-generate-001",
        "edit": "gemini-3.1-flash-image-preview",
        "character": "gemini-3-pro-image-preview",
    }


@pytest.mark.parametrize(
    ("model_id", "retired_on", "successor"),
    [
        ("imagen-4.0-fast-generate-001", date(2026, 8, 17), "gemini-3.1-flash-image"),
        ("imagen-4.0-generate-001", date(2026, 8, 17), "gemini-3.1-flash-image"),
        ("imagen-4.0-ultra-generate-001", date(2026, 8, 17), "gemini-3-pro-image"),
        ("gemini-3-pro-image-preview", date(2026, 6, 25), "gemini-3-pro-image"),
        ("gemini-3.1-flash-image-preview", date(2026, 6, 25), "gemini-3.1-flash-image"),
    ],
)
def test_retired_seed_models_have_dates_and_successors_on_the_card(
    seed_card: RateCard, model_id: str, retired_on: date, successor: str
) -> None:
    """Retired models carry Google's shutdown date and a successor that is on the card."""
    spec = seed_card.model(model_id)
    assert spec.retired_on == retired_on
    assert spec.successor == successor
    assert successor in seed_card.models


def test_nano_banana_has_an_earliest_shutdown_date(current_card: RateCard) -> None:
    """gemini-2.5-flash-image keeps 2026-10-02, marked as Google's earliest possible date."""
    spec = current_card.model("gemini-2.5-flash-image")
    assert spec.retired_on == date(2026, 10, 2)
    assert spec.retired_on_is_earliest


def test_current_card_tiers_use_only_unretired_models(current_card: RateCard) -> None:
    """No current tier option has a firm retirement date."""
    for purpose in Purpose:
        for option in current_card.tier(purpose).options:
            spec = current_card.model(option.model)
            assert spec.retired_on is None or spec.retired_on_is_earliest, option.model


def test_nano_banana_2_1_is_marked_unverified(current_card: RateCard) -> None:
    """The third-party model says its prices are unverified."""
    assert "unverified" in current_card.model("gemini-nano-banana-2.1").note


def test_every_current_figure_cites_a_source(current_text: str) -> None:
    """Every number or date in a model table has a comment on its line or its table header."""
    header = ""
    value = re.compile(r'^\s*"?[A-Za-z0-9_.-]+"?\s*=\s*(-?[0-9]|\{)')
    missing = []
    for number, line in enumerate(current_text.splitlines(), start=1):
        if line.lstrip().startswith("["):
            header = line
            continue
        cited = "#" in line or "#" in header
        if header.startswith("[models") and value.match(line) and not cited:
            missing.append(f"{number}: {line}")
    assert missing == []


@pytest.mark.parametrize("name", ["seed-2026-04.toml", "current-2026-11.toml"])
def test_per_image_figures_agree_with_token_prices(
    name: str, seed_card: RateCard, current_card: RateCard
) -> None:
    """Each token-billed per-image figure is within 1% of its image tokens at the image price."""
    card = seed_card if name.startswith("seed") else current_card
    for spec in card.models.values():
        if spec.billing is not Billing.TOKENS:
            continue
        assert spec.prices is not None
        for size, micros in spec.per_image_micros.items():
            from_tokens = spec.image_tokens[size] * spec.prices.image_output
            assert abs(from_tokens - micros) <= Decimal(micros) / 100, (spec.id, size)


def test_find_model_matches_ids_and_display_names(seed_card: RateCard) -> None:
    """A model is found by id, display name, or the seed's snake_case key, ignoring case."""
    assert seed_card.find_model("gemini-2.5-flash-image") is seed_card.model(
        "gemini-2.5-flash-image"
    )
    pro = seed_card.find_model("nano_banana_pro")
    assert pro is not None
    assert pro.id == "gemini-3-pro-image-preview"
    ultra = seed_card.find_model("IMAGEN 4 ultra")
    assert ultra is not None
    assert ultra.id == "imagen-4.0-ultra-generate-001"
    assert seed_card.find_model("dall-e") is None


def _swap(text: str, old: str, new: str, count: int = 1) -> str:
    assert old in text, old
    return text.replace(old, new, count)


PRO = '[models."gemini-3-pro-image-preview"]\n'
PRO_PRICES = '[models."gemini-3-pro-image-preview".prices]  # USD per 1M tokens\n'
CHAR_TIER = '[tiers.character]\ndescription = "identity lock"\n'

MUTATIONS = [
    pytest.param(
        lambda t: _swap(t, 'model = "gemini-3-pro-image-preview"\n', 'model = "gemini-9"\n'),
        "tiers.final.options[1].model",
        "unknown model 'gemini-9'",
        id="unknown-tier-model",
    ),
    pytest.param(
        lambda t: _swap(
            t,
            '[models."gemini-3-pro-image"]\n',
            '[models."gemini-3-pro-image"]\nsuccessor = "gemini-3-pro-image-preview"\n',
        ),
        'models."gemini-3-pro-image-preview".successor',
        "successor cycle",
        id="successor-cycle",
    ),
    pytest.param(
        lambda t: _swap(t, 'successor = "gemini-3-pro-image"\n', 'successor = "gemini-4"\n'),
        'models."gemini-3-pro-image-preview".successor',
        "unknown model 'gemini-4'",
        id="unknown-successor",
    ),
    pytest.param(
        lambda t: _swap(
            t,
            "released = 2025-11-20\n",
            'released = 2025-11-20\nsuccessor = "gemini-3-pro-image-preview"\n',
        ).replace('retired_on = 2026-06-25\nsuccessor = "gemini-3-pro-image"\n', "", 1),
        'models."gemini-3-pro-image-preview".successor',
        "cannot succeed itself",
        id="self-successor",
    ),
    pytest.param(
        lambda t: _swap(t, PRO_PRICES + "input = 2.00\n", PRO_PRICES),
        'models."gemini-3-pro-image-preview".prices.input',
        "missing",
        id="missing-price",
    ),
    pytest.param(
        lambda t: _swap(t, "input = 2.00\n", "input = -2.00\n"),
        'models."gemini-3-pro-image-preview".prices.input',
        "negative price",
        id="negative-price",
    ),
    pytest.param(
        lambda t: _swap(t, '"1K" = 0.134\n', '"1K" = -0.134\n'),
        'models."gemini-3-pro-image-preview".per_image.1K',
        "negative price",
        id="negative-per-image",
    ),
    pytest.param(
        lambda t: _swap(t, '"1K" = 0.134\n', '"1K" = "cheap"\n'),
        'models."gemini-3-pro-image-preview".per_image.1K',
        "must be a number",
        id="price-not-a-number",
    ),
    pytest.param(
        lambda t: _swap(t, '"1K" = 0.039\n', '"1K" = 0.0390001\n'),
        'models."gemini-2.5-flash-image".per_image.1K',
        "more than six decimals",
        id="sub-micro-price",
    ),
    pytest.param(
        lambda t: _swap(t, "released = 2025-11-20\n", 'released = "2025-13-01"\n'),
        'models."gemini-3-pro-image-preview".released',
        "must be a date",
        id="bad-date",
    ),
    pytest.param(
        lambda t: _swap(t, "released = 2025-11-20\n", "released = 2025-11-20T10:00:00Z\n"),
        'models."gemini-3-pro-image-preview".released',
        "not a date-time",
        id="datetime-not-date",
    ),
    pytest.param(
        lambda t: _swap(t, "retired_on = 2026-06-25\n", "retired_on = 2024-01-01\n"),
        'models."gemini-3-pro-image-preview".retired_on',
        "before released",
        id="retired-before-released",
    ),
    pytest.param(
        lambda t: _swap(
            t,
            CHAR_TIER + '[[tiers.character.options]]\nmodel = "gemini-3-pro-image-preview"\n',
            CHAR_TIER + "options = []\n",
        ),
        "tiers.character.options",
        "at least one option",
        id="tier-without-options",
    ),
    pytest.param(
        lambda t: _swap(t, PRO, PRO + 'colour = "blue"\n'),
        'models."gemini-3-pro-image-preview".colour',
        "unknown key",
        id="unknown-model-key",
    ),
    pytest.param(
        lambda t: t + "\n[extras]\nfoo = 1\n",
        "extras",
        "unknown key",
        id="unknown-top-level-key",
    ),
    pytest.param(
        lambda t: _swap(t, "[tiers.edit]\n", "[tiers.premium]\n"),
        "tiers.premium",
        "unknown tier",
        id="unknown-tier",
    ),
    pytest.param(
        lambda t: _swap(t, "[card.mix]\n", "[card.mix]\nluxury = 3\n"),
        "card.mix.luxury",
        "unknown tier",
        id="unknown-mix-tier",
    ),
    pytest.param(
        lambda t: _swap(t, 'display_name = "Nano Banana Pro"\n', ""),
        'models."gemini-3-pro-image-preview".display_name',
        "missing",
        id="missing-display-name",
    ),
    pytest.param(
        lambda t: _swap(
            t, 'display_name = "Gemini 3.1 Flash Image"', 'display_name = "Nano Banana"'
        ),
        'models."gemini-2.5-flash-image".display_name',
        "also the name of gemini-3.1-flash-image-preview",
        id="duplicate-display-name",
    ),
    pytest.param(
        lambda t: _swap(t, '"4K" = 0.24\n', '"8K" = 0.24\n'),
        'models."gemini-3-pro-image-preview".per_image.8K',
        "unknown key",
        id="price-for-unknown-size",
    ),
    pytest.param(
        lambda t: _swap(t, 'sizes = ["1K", "2K", "4K"]\n', 'sizes = ["1K", "8K"]\n'),
        'models."gemini-3-pro-image-preview".sizes',
        "unknown size '8K'",
        id="unknown-size",
    ),
    pytest.param(
        lambda t: _swap(t, 'default_size = "1K"\n', 'default_size = "512"\n'),
        'models."gemini-3-pro-image-preview".default_size',
        "not in sizes",
        id="default-size-not-offered",
    ),
    pytest.param(
        lambda t: _swap(t, '"16:9", "21:9"]', '"16-9", "21:9"]'),
        'models."gemini-3-pro-image-preview".aspect_ratios',
        "not like 16:9",
        id="bad-aspect-ratio",
    ),
    pytest.param(
        lambda t: _swap(
            t,
            '[[tiers.economy.options]]\nmodel = "gemini-2.5-flash-image"\n',
            '[[tiers.economy.options]]\nmodel = "gemini-2.5-flash-image"\nimage_size = "4K"\n',
        ),
        "tiers.economy.options[0].image_size",
        "Nano Banana has no size '4K'",
        id="tier-size-the-model-lacks",
    ),
    pytest.param(
        lambda t: _swap(
            t, "allowance_tokens = { minimal = 0, high = 0 }", "allowance_tokens = { minimal = 0 }"
        ),
        'models."gemini-3.1-flash-image-preview".thinking.allowance_tokens.high',
        "missing",
        id="thinking-allowance-missing-level",
    ),
    pytest.param(
        lambda t: _swap(t, "text_rank = 2  ", "text_rank = 0  "),
        'models."gemini-3-pro-image-preview".text_rank',
        "at least 1",
        id="text-rank-zero",
    ),
    pytest.param(
        lambda t: _swap(t, 'billing = "tokens"', 'billing = "monthly"'),
        'models."gemini-3-pro-image-preview".billing',
        "'tokens' or 'per_image'",
        id="unknown-billing",
    ),
    pytest.param(
        lambda t: _swap(t, "batch_supported = true\n", "batch_supported = false\n"),
        'models."gemini-3-pro-image-preview".batch_per_image',
        "batch_supported is false",
        id="batch-figures-without-batch",
    ),
    pytest.param(
        lambda t: _swap(t, "[tiers.edit]", "[not_edit]").replace(
            "[[tiers.edit.options]]", "[[not_edit.options]]"
        ),
        "not_edit",
        "unknown key",
        id="missing-tier-shows-as-unknown-key",
    ),
    pytest.param(
        lambda t: (
            t.split("[tiers.edit]")[0] + "[tiers.character]" + t.split("[tiers.character]")[1]
        ),
        "tiers.edit",
        "missing tier",
        id="missing-tier",
    ),
    pytest.param(
        lambda t: _swap(t, "[card]\n", "[card\n"),
        "(file)",
        "not valid TOML",
        id="invalid-toml",
    ),
    pytest.param(
        lambda t: _swap(t, 'name = "seed-2026-04"\n', ""),
        "card.name",
        "missing",
        id="missing-card-name",
    ),
    pytest.param(
        lambda t: _swap(t, "max_reference_images = 14", "max_reference_images = -1"),
        'models."gemini-3-pro-image-preview".max_reference_images',
        "at least 0",
        id="negative-reference-limit",
    ),
    pytest.param(
        lambda t: _swap(t, "input_image_tokens = 560", "input_image_tokens = 5.5"),
        'models."gemini-3-pro-image-preview".input_image_tokens',
        "whole number",
        id="fractional-token-count",
    ),
]


@pytest.mark.parametrize(("mutate", "key", "problem"), MUTATIONS)
def test_malformed_card_names_file_key_and_problem(
    seed_text: str, mutate: object, key: str, problem: str
) -> None:
    """A malformed card fails with ``rate card FILE: KEY: problem``."""
    assert callable(mutate)
    broken = mutate(seed_text)
    with pytest.raises(RateCardError) as caught:
        parse_card(broken, source="seed.toml")
    message = str(caught.value)
    assert message.startswith(f"rate card seed.toml: {key}: "), message
    assert problem in message
    assert caught.value.key == key


def test_unmutated_seed_text_parses(seed_text: str) -> None:
    """The baseline for the mutations parses cleanly."""
    assert parse_card(seed_text, source="seed.toml").name == "seed-2026-04"
