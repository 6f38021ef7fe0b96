"""``imagebot models``: the rate card's models, their prices and whether this key can use them.

Status of each model:

* ``live``: ``models.list`` offers it to this API key;
* ``retired on DATE``: Google shut it down (the card's date has passed and the key is not offered
  it);
* ``not offered to this key``: the API does not list it (not enabled for this key or region);
* ``unchecked``: ``--offline``, or the list could not be fetched; dates alone are shown.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, date, datetime
from typing import Any, TextIO

from bot.cards import load_card
from bot.config import Settings, load_settings
from bot.providers import ImageProvider, ProviderError
from router import ModelSpec, RateCard, RateCardError
from router.money import format_usd

__all__ = ["model_status", "register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``models`` to the ``imagebot`` command line."""
    parser = subparsers.add_parser(
        "models",
        help="list the rate card's models with prices and live status",
        description=(
            "List every model on the rate card with its price per image and whether this API "
            "key can use it (asks models.list; --offline skips the call)."
        ),
    )
    parser.add_argument(
        "--card", metavar="NAME", help="rate card name or TOML path (default: IMAGEBOT_RATE_CARD)"
    )
    parser.add_argument(
        "--offline", action="store_true", help="do not call the API; show the card's dates only"
    )
    parser.set_defaults(func=_models)


def model_status(model: ModelSpec, *, listed: frozenset[str] | None, today: date) -> str:
    """The status word(s) for ``model`` given the ``models.list`` result (None: unchecked)."""
    retired = model.retired_on is not None and today >= model.retired_on
    if listed is None:
        if retired and model.retired_on is not None and not model.retired_on_is_earliest:
            return f"retired on {model.retired_on.isoformat()}"
        return "unchecked"
    if model.id in listed:
        return "live"
    if retired and model.retired_on is not None:
        return f"retired on {model.retired_on.isoformat()}"
    return "not offered to this key"


def _models(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        card = load_card(args.card or settings.rate_card)
    except RateCardError as exc:
        print(f"imagebot: {exc}", file=sys.stderr)
        return 2
    listed: frozenset[str] | None = None
    if not args.offline:
        settings.require("gemini_api_key")
        listed = asyncio.run(_listed(settings, err=sys.stderr))
    _print_table(card, listed=listed, today=datetime.now(UTC).date(), out=sys.stdout)
    return 0


def _provider(settings: Settings) -> ImageProvider:
    from bot.providers.gemini import GeminiProvider  # the SDK loads only when asked to call

    assert settings.gemini_api_key is not None  # checked by settings.require
    return GeminiProvider(
        api_key=settings.gemini_api_key.get_secret_value(),
        base_url=settings.gemini_base_url,
        api_version=settings.gemini_api_version,
        timeout_s=settings.gemini_timeout_s,
    )


async def _listed(settings: Settings, *, err: TextIO) -> frozenset[str] | None:
    provider = _provider(settings)
    try:
        return await provider.list_models()
    except ProviderError as exc:
        print(f"warning: could not list models ({exc.kind}): {exc.user_message}", file=err)
        return None
    finally:
        await provider.aclose()


def _prices(model: ModelSpec) -> str:
    return ", ".join(
        f"{size} {format_usd(model.per_image_micros[size])}"
        for size in model.sizes
        if size in model.per_image_micros
    )


def _print_table(
    card: RateCard, *, listed: frozenset[str] | None, today: date, out: TextIO
) -> None:
    rows = [("MODEL", "NAME", "PER IMAGE", "STATUS")]
    for model in card.models.values():
        rows.append(
            (
                model.id,
                model.display_name,
                _prices(model),
                model_status(model, listed=listed, today=today),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    print(f"rate card {card.name} (dated {card.dated.isoformat()})", file=out)
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
        print("  ".join([*cells, row[3]]), file=out)
