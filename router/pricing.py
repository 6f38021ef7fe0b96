"""What an image costs, in integer micro-USD: estimated from the rate card, actual from usage.

Estimates (:func:`estimate_image_micros`) price ONE image before the call: the card's per-image
figure for the size, plus each input image at the model's input token price, plus, for models that
think, *our* thinking allowance (``[thinking] allowance_tokens`` on the card, not a Google figure)
at the text output price. Prompt text tokens are left out of estimates (a long prompt is a few
hundred tokens, a fraction of a tenth of a cent); actual costs include them.

Actual costs (:func:`actual_micros`) come from the response's own token counts: input tokens at
the input rate, output image tokens at the image rate, visible text plus thinking at the text
rate, batch rates for batch calls. The card's per-image figure is used only when the response
carried no usage (``usage.reported`` is False) or the model bills a flat price per image (Imagen).
A call that returned no image never pays for an image, only for what Google bills without one
(input, text and thinking).

The seed's blend, computed exactly from its own figures (:func:`blended_cost_micros`)::

    .65 * .039 + .12 * .02 + .10 * .04 + .06 * .067 + .05 * .134 + .02 * .06
      = .02535 + .0024 + .004 + .00402 + .0067 + .0012 = $0.04367 per image

and with the seed's batch figures ``.65*.0195 + .12*.01 + .10*.02 + .06*.034 + .05*.067 +
.02*.03 = $0.021865``. The seed prints $0.041 and $0.021; its own numbers do not give those.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from router.card import Billing, ModelSpec, RateCard, TokenPrices
from router.constraints import Purpose
from router.errors import CommandError
from router.money import micros_from_rate
from router.usage import Usage

__all__ = [
    "actual_micros",
    "blended_cost_micros",
    "estimate_image_micros",
    "per_image_micros",
]


def per_image_micros(model: ModelSpec, *, image_size: str | None, batch: bool) -> int:
    """The card's per-image figure for ``image_size`` (None: the model's default size)."""
    size = _size(model, image_size)
    if batch:
        if not model.batch_supported:
            raise CommandError(f"{model.display_name} cannot run as a batch job.")
        return model.batch_per_image_micros[size]
    return model.per_image_micros[size]


def estimate_image_micros(
    model: ModelSpec,
    *,
    image_size: str | None,
    reference_images: int,
    batch: bool,
    thinking_level: str | None = None,
) -> int:
    """Estimated cost of ONE image: per-image figure + input images + our thinking allowance.

    ``reference_images`` counts every image sent with the prompt (references and an image to
    edit). ``thinking_level`` None means the model's default level.
    """
    if reference_images < 0:
        raise ValueError("reference_images must not be negative")
    if reference_images > model.max_reference_images:
        raise CommandError(
            f"{model.display_name} takes at most {model.max_reference_images} input images."
        )
    total = per_image_micros(model, image_size=image_size, batch=batch)
    prices = _prices(model, batch=batch)
    if prices is None:
        return total
    total += micros_from_rate(reference_images * model.input_image_tokens, prices.input)
    if model.always_thinks or thinking_level is not None:
        allowance = model.thinking_allowance(thinking_level)
        total += micros_from_rate(allowance, prices.text_output)
    return total


def actual_micros(
    model: ModelSpec,
    usage: Usage,
    *,
    images_returned: int,
    image_size: str | None,
    batch: bool,
) -> int:
    """What one call really cost, priced from its usage (see the module docstring).

    When usage was reported but carries no image tokens although images came back (a response
    without per-modality counts), the images are priced from the card's token count per image at
    the image rate, so an image is never logged at $0.
    """
    if images_returned < 0:
        raise ValueError("images_returned must not be negative")
    prices = _prices(model, batch=batch)
    if model.billing is Billing.PER_IMAGE or prices is None or not usage.reported:
        return per_image_micros(model, image_size=image_size, batch=batch) * images_returned
    total = micros_from_rate(usage.input_tokens, prices.input)
    total += micros_from_rate(usage.output_text_tokens + usage.thinking_tokens, prices.text_output)
    if images_returned > 0:
        image_tokens = usage.output_image_tokens
        if image_tokens == 0:
            image_tokens = model.image_tokens[_size(model, image_size)] * images_returned
        total += micros_from_rate(image_tokens, prices.image_output)
    return total


def blended_cost_micros(
    card: RateCard,
    mix: Mapping[Purpose, Decimal | int] | Mapping[str, Decimal | int] | None = None,
    *,
    batch: bool = False,
) -> int:
    """Average cost of one image over a traffic ``mix`` (shares per tier; default: the card's).

    Each tier is priced at its first option as written on the card (its size and thinking level,
    no input images); with ``batch`` at the first option that can run as a batch. The shares need
    not add up to 100: the result is the weighted mean, rounded half up to a micro.
    """
    weights = card.mix if mix is None else mix
    total_weight = Decimal(0)
    weighted = Decimal(0)
    for name, share in weights.items():
        weight = Decimal(share)
        if weight < 0:
            raise ValueError(f"mix share for {name} is negative")
        tier = card.tier(name)
        options = [o for o in tier.options if not batch or card.model(o.model).batch_supported]
        if not options:
            raise CommandError(f"No {tier.purpose} model on {card.name} can run as a batch job.")
        option = options[0]
        cost = estimate_image_micros(
            card.model(option.model),
            image_size=option.image_size,
            reference_images=0,
            batch=batch,
            thinking_level=option.thinking_level,
        )
        weighted += weight * cost
        total_weight += weight
    if total_weight <= 0:
        raise ValueError("the mix shares add up to zero")
    return int((weighted / total_weight).to_integral_value(rounding=ROUND_HALF_UP))


def _size(model: ModelSpec, image_size: str | None) -> str:
    size = image_size or model.default_size
    if size not in model.sizes:
        raise CommandError(
            f"{model.display_name} makes {_sizes_text(model)} images only, not {size}."
        )
    return size


def _sizes_text(model: ModelSpec) -> str:
    return "/".join(model.sizes)


def _prices(model: ModelSpec, *, batch: bool) -> TokenPrices | None:
    if model.billing is Billing.PER_IMAGE:
        return None
    return model.batch_prices if batch else model.prices
