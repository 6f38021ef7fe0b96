"""``imagebot serve``: run the Slack bot (Socket Mode with SLACK_APP_TOKEN, else HTTP)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from bot.config import load_settings

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``serve`` to the command line."""
    parser = subparsers.add_parser(
        "serve",
        help="run the Slack bot",
        description=(
            "Run the bot. With SLACK_APP_TOKEN set it connects in Socket Mode (no public URL "
            "needed); otherwise Slack sends requests to POST /slack/events on --port. /healthz "
            "and /metrics are served on --port in both modes; /slack/events only when "
            "SLACK_SIGNING_SECRET is set. Pending database migrations are applied first."
        ),
    )
    parser.add_argument("--port", type=int, default=3000, help="HTTP port (default 3000)")
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on")  # noqa: S104 - a server's default; --host narrows it
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from bot.app import serve  # the Slack stack loads only for this command

    settings = load_settings()
    asyncio.run(serve(settings, port=args.port, host=args.host))
    return 0
