"""``imagebot migrate`` and ``imagebot budget set|show``: the ledger from the command line.

Amounts are dollars for people (``25``, ``$25.50``, ``unlimited``) and micro-USD inside.
``--team`` names the Slack workspace (team id, e.g. ``T0123ABCD``); it may be left out when exactly
one workspace has used the bot (the usual single-team install).
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli.teams import TeamUnknown, resolve_team
from bot.config import Settings, load_settings
from bot.ledger.budgets import BudgetLedger, BudgetSetting
from bot.ledger.engine import make_engine, upgrade
from bot.ledger.errors import LedgerError
from bot.ledger.months import parse_month
from router.money import MoneyError, format_usd, parse_usd

__all__ = ["register"]

#: The workspace id of a single-workspace install.

_UNLIMITED = ("unlimited", "none")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``migrate`` and ``budget`` (``set``, ``show``) to the ``imagebot`` command line."""
    migrate = subparsers.add_parser(
        "migrate", help="create or upgrade the database schema (safe to run on every deploy)"
    )
    migrate.set_defaults(func=_migrate)

    budget = subparsers.add_parser("budget", help="set or show monthly budgets")
    actions = budget.add_subparsers(dest="budget_command", metavar="ACTION")
    actions.required = True

    set_parser = actions.add_parser("set", help="set a person's or the workspace's monthly budget")
    who = set_parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", metavar="U123", help="Slack user id of the person")
    who.add_argument("--workspace", action="store_true", help="the whole workspace's budget")
    set_parser.add_argument("amount", help="dollars per month, e.g. 25 or 25.50, or 'unlimited'")
    set_parser.add_argument(
        "--month", metavar="YYYY-MM", help="only for this month (default: every month)"
    )
    set_parser.add_argument("--reason", help="why (kept with the budget's history)")
    set_parser.add_argument("--by", default="cli", help="who sets it (default: cli)")
    _team_option(set_parser)
    set_parser.set_defaults(func=_budget_set)

    show = actions.add_parser("show", help="show a budget and this month's spend against it")
    show.add_argument("--user", metavar="U123", help="a person (default: the workspace)")
    show.add_argument("--month", metavar="YYYY-MM", help="default: this month")
    _team_option(show)
    show.set_defaults(func=_budget_show)


def _team_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--team",
        default=None,
        metavar="T123",
        help="Slack workspace (team) id; optional when only one workspace uses the bot",
    )


def _migrate(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        status = asyncio.run(upgrade(settings.database_url))
    except LedgerError as exc:
        print(f"imagebot: {exc}")
        return 1
    print(f"database schema at revision {status.current} (newest: {status.head})")
    return 0


def _describe(setting: BudgetSetting) -> str:
    amount = "unlimited" if setting.amount_micros is None else format_usd(setting.amount_micros)
    if setting.source == "config":
        return f"{amount} (the configured default)"
    scope = "for this month only" if setting.source == "month" else "every month"
    by = f", set by {setting.set_by}" if setting.set_by else ""
    when = f" on {setting.set_at:%Y-%m-%d}" if setting.set_at else ""
    return f"{amount} {scope}{by}{when}"


def _ledger(settings: Settings) -> tuple[AsyncEngine, BudgetLedger]:
    engine = make_engine(settings.database_url, pool_size=1)
    ledger = BudgetLedger(
        engine,
        tz=settings.tz,
        default_user_budget_micros=settings.default_user_budget_micros,
        workspace_budget_micros=settings.workspace_budget_micros,
    )
    return engine, ledger


def _budget_set(args: argparse.Namespace) -> int:
    text = args.amount.strip()
    try:
        amount = None if text.lower() in _UNLIMITED else parse_usd(text)
        month = None if args.month is None else parse_month(args.month)
    except (MoneyError, ValueError) as exc:
        print(f"imagebot: {exc}")
        return 2
    settings = load_settings()
    user_id = None if args.workspace else args.user

    async def run() -> BudgetSetting:
        await upgrade(settings.database_url)
        engine, ledger = _ledger(settings)
        try:
            return await ledger.set_budget(
                workspace_id=await resolve_team(engine, args.team, fallback=None),
                user_id=user_id,
                amount_micros=amount,
                set_by=args.by,
                at=datetime.now(UTC),
                month=month,
                reason=args.reason,
            )
        finally:
            await engine.dispose()

    try:
        setting = asyncio.run(run())
    except TeamUnknown as exc:
        print(f"imagebot: {exc}")
        return 2
    who = "the workspace" if user_id is None else user_id
    print(f"Budget of {who} is now {_describe(setting)}.")
    return 0


def _budget_show(args: argparse.Namespace) -> int:
    try:
        month = None if args.month is None else parse_month(args.month)
    except ValueError as exc:
        print(f"imagebot: {exc}")
        return 2
    settings = load_settings()

    async def run() -> tuple[BudgetSetting, int]:
        await upgrade(settings.database_url)
        engine, ledger = _ledger(settings)
        try:
            now = datetime.now(UTC)
            wanted = month or ledger.month_of(now)
            team = await resolve_team(engine, args.team, fallback=None)
            setting = await ledger.budget_for(workspace_id=team, user_id=args.user, month=wanted)
            consumed = await ledger.consumed(workspace_id=team, user_id=args.user, month=wanted)
            return setting, consumed
        finally:
            await engine.dispose()

    try:
        setting, consumed = asyncio.run(run())
    except TeamUnknown as exc:
        print(f"imagebot: {exc}")
        return 2
    who = "Workspace" if args.user is None else args.user
    line = f"{who}, {setting.month}: budget {_describe(setting)}; spent {format_usd(consumed)}"
    if setting.amount_micros is not None:
        line += f", {format_usd(max(0, setting.amount_micros - consumed))} left"
    print(line + ".")
    return 0
