"""Spend reports: periods, typed report values, Block Kit, the chart, the CSV export, text tables.

Everything in this package is pure (values in, text/bytes out); the queries that produce the values
live in :mod:`bot.ledger.reports` and the Slack wiring in :mod:`bot.listeners.spend`.

Errors: :class:`ReportError` and its tree, see :mod:`bot.reports.errors`.
"""

from __future__ import annotations

from bot.reports.blocks import (
    APPROVE_ACTION,
    ASK_MORE_ACTION,
    ASK_MORE_CALLBACK,
    BUDGET_FORM_CALLBACK,
    DECLINE_ACTION,
    Block,
    Message,
    ask_more_block,
    ask_more_modal,
    budget_form_modal,
    decision_blocks,
    increase_request_blocks,
    team_report_blocks,
    user_report_blocks,
)
from bot.reports.chart import CHART_SIZE_PX, render_spend_chart
from bot.reports.command import SpendAction, SpendCommand, parse_mention, parse_spend_command
from bot.reports.csv_io import (
    LEDGER_CSV_COLUMNS,
    LedgerRow,
    ledger_csv,
    parse_ledger_csv,
    write_ledger_csv,
)
from bot.reports.errors import CsvFormatError, PeriodError, ReportError, SpendCommandError
from bot.reports.format import format_count, format_percent, usage_bar
from bot.reports.period import MAX_PERIOD_DAYS, Period, month_key, parse_period
from bot.reports.text import (
    team_report_json,
    team_report_text,
    user_report_json,
    user_report_text,
)
from bot.reports.values import (
    ChannelSpend,
    DaySpend,
    ModelSpend,
    TeamReport,
    TierSpend,
    UserReport,
    UserSpend,
    per_image_micros,
    project_to_period_end,
)

__all__ = [
    "APPROVE_ACTION",
    "ASK_MORE_ACTION",
    "ASK_MORE_CALLBACK",
    "BUDGET_FORM_CALLBACK",
    "CHART_SIZE_PX",
    "DECLINE_ACTION",
    "LEDGER_CSV_COLUMNS",
    "MAX_PERIOD_DAYS",
    "Block",
    "ChannelSpend",
    "CsvFormatError",
    "DaySpend",
    "LedgerRow",
    "Message",
    "ModelSpend",
    "Period",
    "PeriodError",
    "ReportError",
    "SpendAction",
    "SpendCommand",
    "SpendCommandError",
    "TeamReport",
    "TierSpend",
    "UserReport",
    "UserSpend",
    "ask_more_block",
    "ask_more_modal",
    "budget_form_modal",
    "decision_blocks",
    "format_count",
    "format_percent",
    "increase_request_blocks",
    "ledger_csv",
    "month_key",
    "parse_ledger_csv",
    "parse_mention",
    "parse_period",
    "parse_spend_command",
    "per_image_micros",
    "project_to_period_end",
    "render_spend_chart",
    "team_report_blocks",
    "team_report_json",
    "team_report_text",
    "usage_bar",
    "user_report_blocks",
    "user_report_json",
    "user_report_text",
    "write_ledger_csv",
]
