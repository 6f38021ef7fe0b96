"""``imagebot spend``: the spend report in the terminal, as JSON, a CSV export or the chart.

Without ``--user`` it is the team report (everyone, tiers, models, channels); with ``--user`` one
person's. ``--month`` picks the month (default: this month in IMAGEBOT_TIMEZONE); ``--csv FILE``
writes the period's ledger rows and ``--chart FILE`` the PNG chart. Settings are read when the
command runs, never at import.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.cards import load_card
from bot.config import Settings, load_settings
from bot.ledger.budgets import BudgetLedger
from bot.ledger.engine import make_engine, upgrade
from bot.ledger.reports import ReportStore
from bot.reports import (
    Period,
    PeriodError,
    parse_period,
    render_spend_chart,
    write_ledger_csv,
)
from bot.reports.text import (
    team_report_json,
    team_report_text,
    user_report_json,
    user_report_text,
)
from router.card import RateCard

__all__ = ["register", "run_spend"]


def register(subparsers: Any) -> None:
    """Add ``spend`` to the ``imagebot`` command line."""
    parser = subparsers.add_parser(
        "spend",
        help="show who spent what this month (or --month), export CSV or the chart",
        description=(
            "Print the spend report: the team's by default, one person's with --user. "
            "--csv and --chart write files as well."
        ),
    )
    parser.add_argument("--user", metavar="U", help="a Slack user id, e.g. U0123ABCD")
    parser.add_argument("--month", metavar="YYYY-MM", help="the month (default: this month)")
    parser.add_argument(
        "--workspace", metavar="T", help="the Slack team id (default: the only one)"
    )
    parser.add_argument("--csv", metavar="FILE", type=Path, help="write the ledger rows as CSV")
    parser.add_argument("--chart", metavar="FILE", type=Path, help="write the chart as PNG")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    settings = load_settings()
    return asyncio.run(
        run_spend(
            settings,
            user=args.user,
            month=args.month,
            workspace=args.workspace,
            csv_path=args.csv,
            chart_path=args.chart,
            as_json=args.json,
            now=datetime.now(UTC),
        )
    )


async def run_spend(
    settings: Settings,
    *,
    user: str | None,
    month: str | None,
    workspace: str | None,
    csv_path: Path | None,
    chart_path: Path | None,
    as_json: bool,
    now: datetime,
) -> int:
    """The ``spend`` command with its options spelled out; returns the exit code."""
    tz = settings.tz
    try:
        period = parse_period(month or "", today=now.astimezone(tz).date())
    except PeriodError as exc:
        print(f"imagebot spend: {exc}", file=sys.stderr)
        return 2
    if month and not period.is_month:
        print("imagebot spend: --month takes a month such as 2026-10", file=sys.stderr)
        return 2
    card = load_card(settings.rate_card)
    await upgrade(settings.database_url)  # a fresh database reports zeros, not a traceback
    engine = make_engine(settings.database_url, pool_size=2)
    try:
        reports = ReportStore(engine, tz=tz)
        ledger = BudgetLedger(
            engine,
            tz=tz,
            default_user_budget_micros=settings.default_user_budget_micros,
            workspace_budget_micros=settings.workspace_budget_micros,
        )
        if workspace is None:
            known = await reports.workspaces()
            if len(known) != 1:
                listed = ", ".join(known) or "none yet"
                print(
                    f"imagebot spend: pick a workspace with --workspace (known: {listed})",
                    file=sys.stderr,
                )
                return 2
            workspace = known[0]
        await _report(
            reports,
            ledger=ledger,
            card=card,
            workspace=workspace,
            user=user,
            period=period,
            chart_path=chart_path,
            as_json=as_json,
            now=now,
        )
        if csv_path is not None:
            count = await _write_csv(
                reports, path=csv_path, workspace=workspace, user=user, period=period
            )
            print(f"wrote {count:,} ledger rows to {csv_path}", file=sys.stderr)
    finally:
        await engine.dispose()
    return 0


async def _report(
    reports: ReportStore,
    *,
    ledger: BudgetLedger,
    card: RateCard,
    workspace: str,
    user: str | None,
    period: Period,
    chart_path: Path | None,
    as_json: bool,
    now: datetime,
) -> None:
    if user is not None:
        report = await reports.user_report(
            workspace_id=workspace, user_id=user, period=period, card=card, ledger=ledger, now=now
        )
        print(
            json.dumps(user_report_json(report), indent=2) if as_json else user_report_text(report)
        )
        daily = await reports.spend_by_day(workspace_id=workspace, period=period, user_id=user)
        names = {model.model_id: model.display_name for model in report.by_model}
        budget = report.budget_micros
        title = f"Spend per day of {user}, {period.label}"
    else:
        team = await reports.team_report(
            workspace_id=workspace, period=period, card=card, ledger=ledger, now=now
        )
        print(json.dumps(team_report_json(team), indent=2) if as_json else team_report_text(team))
        daily = team.daily
        names = {model.model_id: model.display_name for model in team.by_model}
        budget = team.budget_micros
        title = f"Team spend per day, {period.label}"
    if chart_path is not None:
        png = render_spend_chart(
            daily, period=period, budget_micros=budget, names=names, title=title
        )
        await asyncio.to_thread(chart_path.write_bytes, png)
        print(f"wrote the chart to {chart_path}", file=sys.stderr)


async def _write_csv(
    reports: ReportStore, *, path: Path, workspace: str, user: str | None, period: Period
) -> int:
    rows = [row async for row in reports.rows(workspace_id=workspace, period=period, user_id=user)]
    with path.open("w", encoding="utf-8", newline="") as out:
        return write_ledger_csv(rows, out)
