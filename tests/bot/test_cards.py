"""Loading rate cards at the edge: builtin names, paths on disk, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cards import DEFAULT_CARD, builtin_cards, load_card
from router import RateCardError


def test_builtin_cards_are_listed() -> None:
    """Both shipped cards are builtin, and the default is one of them."""
    assert {"seed-2026-04", "current-2026-11"} <= set(builtin_cards())
    assert DEFAULT_CARD in builtin_cards()


@pytest.mark.parametrize("name", ["seed-2026-04", "current-2026-11"])
def test_builtin_card_loads_by_name(name: str) -> None:
    """A builtin card loads by its name and names its source file."""
    card = load_card(name)
    assert card.name == name
    assert card.source == f"{name}.toml"


def test_card_loads_from_a_path(tmp_path: Path) -> None:
    """A card file on disk loads by path; errors name that path."""
    text = load_card("seed-2026-04").source  # the builtin's name, not its text
    assert text == "seed-2026-04.toml"
    from importlib import resources

    original = resources.files("router").joinpath("cards", "seed-2026-04.toml").read_text("utf-8")
    path = tmp_path / "mine.toml"
    path.write_text(original.replace('name = "seed-2026-04"', 'name = "mine"'), encoding="utf-8")
    card = load_card(str(path))
    assert card.name == "mine"
    assert card.source == str(path)


def test_unknown_builtin_name_lists_the_builtin_cards() -> None:
    """An unknown name fails with the builtin card names."""
    with pytest.raises(RateCardError) as caught:
        load_card("cheap-2027")
    message = str(caught.value)
    assert message.startswith("rate card cheap-2027: (file): no builtin card of that name")
    assert "seed-2026-04" in message


def test_missing_file_is_a_rate_card_error(tmp_path: Path) -> None:
    """A path that does not exist fails with 'file not found'."""
    path = tmp_path / "absent.toml"
    with pytest.raises(RateCardError, match=r"absent\.toml: \(file\): file not found"):
        load_card(str(path))


def test_non_utf8_file_is_a_rate_card_error(tmp_path: Path) -> None:
    """A file that is not UTF-8 text fails clearly."""
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(RateCardError, match="not UTF-8 text"):
        load_card(str(path))


def test_directory_is_a_rate_card_error(tmp_path: Path) -> None:
    """A directory given as a card path fails with the reason it cannot be read."""
    folder = tmp_path / "cards.toml"
    folder.mkdir()
    with pytest.raises(RateCardError, match="cannot read it"):
        load_card(str(folder))


def test_malformed_file_names_file_key_and_problem(tmp_path: Path) -> None:
    """A malformed card on disk fails with ``rate card FILE: KEY: problem``."""
    path = tmp_path / "bad.toml"
    path.write_text('[card]\nname = "x"\n', encoding="utf-8")
    with pytest.raises(RateCardError) as caught:
        load_card(str(path))
    assert str(caught.value).startswith(f"rate card {path}: ")
