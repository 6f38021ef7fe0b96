"""The ``imagebot`` command line: one parser, one module per group of subcommands.

Each module exposes ``register(subparsers)``, which adds its subcommands and sets ``func`` on each
to a callable ``(args) -> int`` (the exit code). Nothing is configured at import time; handlers
read :class:`bot.config.Settings` when they run.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from bot.cli.batch import register as register_batch
from bot.cli.generate import register as register_generate
from bot.cli.ledger import register as register_ledger
from bot.cli.models import register as register_models
from bot.cli.route import register as register_route
from bot.cli.serve import register as register_serve
from bot.cli.spend import register as register_spend
from bot.config import ConfigError, load_settings
from bot.ledger.errors import SchemaTooNew
from router import RateCardError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="imagebot",
        description="Route image requests to the right Gemini image model, on a budget.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for register in (
        register_serve,
        register_route,
        register_models,
        register_generate,
        register_batch,
        register_ledger,
        register_spend,
    ):
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``imagebot`` command and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = "WARNING"
    if args.command == "serve":
        try:
            level = load_settings().log_level.upper()
        except ConfigError:
            level = "INFO"  # the handler reports the bad setting in one line
    logging.basicConfig(
        level=level if level in logging.getLevelNamesMapping() else "INFO",
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        code: int = args.func(args)
    except (ConfigError, RateCardError, SchemaTooNew) as exc:
        # Start-up problems an operator fixes: one line, no traceback.
        print(f"imagebot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover - exercised through the console script
    sys.exit(main())
