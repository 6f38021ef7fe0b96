"""Fixtures for the router tests: the two shipped rate cards, as text and parsed."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import pytest

# Shim until pyproject's [tool.pytest.ini_options] sets pythonpath = ["."]: pytest's prepend
# import mode puts tests/ on sys.path first, where tests/router and tests/bot are directories
# without __init__.py, so `import router` would find a namespace package instead of the project.
# Put the project root first and forget namespace imports of the two packages. A no-op once the
# root is on the path.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
for _name in [n for n in sys.modules if n.split(".")[0] in ("router", "bot")]:
    if getattr(sys.modules[_name], "__file__", None) is None:
        del sys.modules[_name]

from router import Availability, RateCard, parse_card  # noqa: E402 - after the path shim


def card_text(name: str) -> str:
    """The TOML text of a shipped card."""
    return resources.files("router").joinpath("cards", f"{name}.toml").read_text("utf-8")


@pytest.fixture(scope="session")
def seed_text() -> str:
    """The seed card's TOML."""
    return card_text("seed-2026-04")


@pytest.fixture(scope="session")
def current_text() -> str:
    """The current card's TOML."""
    return card_text("current-2026-11")


@pytest.fixture(scope="session")
def seed_card(seed_text: str) -> RateCard:
    """The seed card, parsed."""
    return parse_card(seed_text, source="seed-2026-04.toml")


@pytest.fixture(scope="session")
def current_card(current_text: str) -> RateCard:
    """The current card, parsed."""
    return parse_card(current_text, source="current-2026-11.toml")


@pytest.fixture(scope="session")
def seed_everything(seed_card: RateCard) -> Availability:
    """Every seed model listed by models.list."""
    return Availability.everything(seed_card)


@pytest.fixture(scope="session")
def current_everything(current_card: RateCard) -> Availability:
    """Every current-card model listed by models.list."""
    return Availability.everything(current_card)
