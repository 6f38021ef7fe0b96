"""The router's public API is exactly what ``router.__all__`` lists."""

from __future__ import annotations

import importlib

import router

EXPECTED = {
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
}


def test_all_is_exactly_the_public_names() -> None:
    """``__all__`` lists every public name and nothing else."""
    assert set(router.__all__) == EXPECTED
    assert len(router.__all__) == len(EXPECTED)


def test_every_public_name_is_importable() -> None:
    """Each name in ``__all__`` can be imported from the package."""
    module = importlib.import_module("router")
    for name in router.__all__:
        assert getattr(module, name) is not None


def test_no_public_module_level_name_is_left_out() -> None:
    """Every public (non-module) attribute of the package is in ``__all__``."""
    public = {
        name
        for name, value in vars(router).items()
        if not name.startswith("_") and type(value).__name__ != "module"
    }
    assert public <= set(router.__all__)


def test_every_router_module_declares_all() -> None:
    """Each router module declares ``__all__`` naming things it defines."""
    for name in (
        "availability",
        "budget",
        "card",
        "chain",
        "command",
        "constraints",
        "errors",
        "money",
        "plan",
        "pricing",
        "usage",
    ):
        module = importlib.import_module(f"router.{name}")
        assert module.__all__, name
        for item in module.__all__:
            assert hasattr(module, item), f"router.{name}.{item}"
