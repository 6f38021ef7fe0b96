"""Fixtures for the router tests: the two shipped rate cards, as text and parsed."""

from __future__ import annotations

from importlib import resources

import pytest

from router import Availability, RateCard, parse_card


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
