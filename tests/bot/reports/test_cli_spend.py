"""``imagebot spend``: the report in the terminal, as JSON, and the CSV and chart files."""

from __future__ import annotations

import argparse
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from bot.cli import spend
from bot.config import Settings
from bot.ledger.engine import make_engine, upgrade
from bot.reports import parse_ledger_csv
from tests.bot.reports.samples import Row, insert_rows
from tests.pg import fresh_sqlite_url

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
async def settings(tmp_path: Path) -> Settings:
    """Settings pointing at a small sample ledger."""
    url = fresh_sqlite_url(tmp_path)
    await upgrade(url)
    engine = make_engine(url)
    rows = [
        Row(user_id="U1", model_id="gemini-3.1-flash-image", cost_micros=67_000, created_at=NOW),
        Row(
            user_id="U2",
            model_id="gemini-3-pro-image",
            cost_micros=240_000,
            created_at=NOW,
            image_size="4K",
        ),
    ]
    await insert_rows(engine, rows, workspace_id="T1", tz=ZoneInfo("UTC"), at=NOW)
    await engine.dispose()
    return Settings(database_url=url, timezone="UTC", workspace_budget_usd="100")


def test_register_adds_spend_with_a_handler() -> None:
    """The subcommand parses its options and sets func."""
    parser = argparse.ArgumentParser()
    spend.register(parser.add_subparsers())
    args = parser.parse_args(["spend", "--user", "U1", "--month", "2026-10", "--json"])
    assert (args.user, args.month, args.json) == ("U1", "2026-10", True)
    assert callable(args.func)


async def test_team_table_csv_and_chart(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default run prints the team table and writes a CSV and a PNG."""
    csv_path, chart_path = tmp_path / "rows.csv", tmp_path / "chart.png"
    code = await spend.run_spend(
        settings,
        user=None,
        month="2026-11",
        workspace=None,
        csv_path=csv_path,
        chart_path=chart_path,
        as_json=False,
        now=NOW,
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "Team spend · November 2026" in out
    assert "Spent     $0.307 of $100.00" in out
    rows = parse_ledger_csv(csv_path.read_text(encoding="utf-8"))
    assert sum(row.cost_micros for row in rows) == 307_000
    assert Image.open(io.BytesIO(chart_path.read_bytes())).size == (1200, 600)


async def test_one_person_as_json(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """--user --json prints that person's figures as JSON."""
    code = await spend.run_spend(
        settings,
        user="U2",
        month=None,
        workspace="T1",
        csv_path=None,
        chart_path=None,
        as_json=True,
        now=NOW,
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["spent"]["micros"] == 240_000
    assert data["all_on_reference"]["micros"] == 240_000


async def test_a_bad_month_is_an_error(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """A range given to --month is refused with exit code 2."""
    code = await spend.run_spend(
        settings,
        user=None,
        month="2026-11-01..2026-11-03",
        workspace=None,
        csv_path=None,
        chart_path=None,
        as_json=False,
        now=NOW,
    )
    assert code == 2
    assert "--month takes a month" in capsys.readouterr().err
