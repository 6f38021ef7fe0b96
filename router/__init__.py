"""The router: pure, synchronous decisions about which image model serves a request.

No I/O, no clock, no randomness: rate card text, today's date and what the API said about
models are passed in. Modules:

* :mod:`router.card` rate cards (TOML) parsed and validated into :class:`RateCard`;
* :mod:`router.constraints` :class:`Purpose` and :class:`Constraints`;
* :mod:`router.command` ``/image`` text into a prompt and constraints;
* :mod:`router.availability` which models are usable today and their successors;
* :mod:`router.budget` :class:`BudgetState`;
* :mod:`router.plan` :func:`plan_request` -> :class:`Plan` or :class:`Refusal`;
* :mod:`router.chain` the character-consistency chain;
* :mod:`router.pricing` estimates from the card and actual costs from token usage;
* :mod:`router.money`, :mod:`router.usage` integer micro-USD and token usage values;
* :mod:`router.errors` the exception tree (:class:`RouterError`).
"""

from router.availability import (
    Availability,
    retirement_notice,
    successor_for,
    unavailable_reason,
)
from router.budget import BudgetState
from router.card import (
    Billing,
    ModelSpec,
    RateCard,
    TierOption,
    TierSpec,
    TokenPrices,
    parse_card,
)
from router.chain import MAX_CHAIN_VARIANTS, ChainPlan, plan_chain
from router.command import ParsedCommand, parse_command
from router.constraints import IMAGE_SIZES, MAX_IMAGES_PER_REQUEST, Constraints, Purpose
from router.errors import CommandError, RateCardError, RouterError
from router.money import MoneyError
from router.plan import GUARD_FRACTION, Choice, Plan, Refusal, plan_request
from router.pricing import (
    actual_micros,
    blended_cost_micros,
    estimate_image_micros,
    per_image_micros,
)
from router.usage import Usage

__all__ = [
    "GUARD_FRACTION",
    "IMAGE_SIZES",
    "MAX_CHAIN_VARIANTS",
    "MAX_IMAGES_PER_REQUEST",
    "Availability",
    "Billing",
    "BudgetState",
    "ChainPlan",
    "Choice",
    "CommandError",
    "Constraints",
    "ModelSpec",
    "MoneyError",
    "ParsedCommand",
    "Plan",
    "Purpose",
    "RateCard",
    "RateCardError",
    "Refusal",
    "RouterError",
    "TierOption",
    "TierSpec",
    "TokenPrices",
    "Usage",
    "actual_micros",
    "blended_cost_micros",
    "estimate_image_micros",
    "parse_card",
    "parse_command",
    "per_image_micros",
    "plan_chain",
    "plan_request",
    "retirement_notice",
    "successor_for",
    "unavailable_reason",
]
