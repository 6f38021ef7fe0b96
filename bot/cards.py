"""Loading rate cards at the edge: a builtin card by name, or a TOML file by path.

The cards shipped with the product live in ``router/cards/*.toml`` and are read through
:mod:`importlib.resources` (so they work from a wheel or a zip). Anything that looks like a path
(it contains a slash or ends in ``.toml``) is read from disk. Parsing and validation are the
router's (:func:`router.parse_card`); every problem, including a missing or unreadable file, is a
:class:`router.RateCardError` whose message reads ``rate card FILE: KEY: problem``.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from router import RateCard, RateCardError, parse_card

__all__ = ["DEFAULT_CARD", "builtin_cards", "load_card"]

#: The card used when none is configured.
DEFAULT_CARD = "current-2026-11"

_PACKAGE = "router"
_FOLDER = "cards"


def builtin_cards() -> tuple[str, ...]:
    """Names of the cards shipped with the product, sorted."""
    folder = resources.files(_PACKAGE).joinpath(_FOLDER)
    return tuple(
        sorted(
            entry.name.removesuffix(".toml")
            for entry in folder.iterdir()
            if entry.name.endswith(".toml") and entry.is_file()
        )
    )


def load_card(name_or_path: str) -> RateCard:
    """Load a builtin card by name (``"seed-2026-04"``) or a card file by path.

    Raises :class:`router.RateCardError` when the card does not exist, cannot be read, or is
    malformed.
    """
    if _looks_like_path(name_or_path):
        return _load_path(Path(name_or_path))
    resource = resources.files(_PACKAGE).joinpath(_FOLDER, f"{name_or_path}.toml")
    if not resource.is_file():
        known = ", ".join(builtin_cards())
        raise RateCardError(
            source=name_or_path,
            key="(file)",
            problem=f"no builtin card of that name (builtin cards: {known}; or give a path to "
            "a .toml file)",
        )
    try:
        text = resource.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RateCardError(
            source=name_or_path, key="(file)", problem=f"cannot read it: {exc}"
        ) from exc
    return parse_card(text, source=f"{name_or_path}.toml")


def _looks_like_path(value: str) -> bool:
    return "/" in value or os.sep in value or value.endswith(".toml")


def _load_path(path: Path) -> RateCard:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise RateCardError(source=source, key="(file)", problem="file not found") from exc
    except UnicodeDecodeError as exc:
        raise RateCardError(source=source, key="(file)", problem="not UTF-8 text") from exc
    except OSError as exc:
        raise RateCardError(
            source=source, key="(file)", problem=f"cannot read it: {exc.strerror or exc}"
        ) from exc
    return parse_card(text, source=source)
