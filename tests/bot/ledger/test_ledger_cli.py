"""``imagebot migrate`` and ``imagebot budget set|show`` against a real SQLite file."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bot.cli import ledger as ledger_cli
from bot.ledger.engine import head_revision
from tests.pg import fresh_sqlite_url


def run(*argv: str) -> int:
    """Parse ``argv`` with only the ledger commands registered and run the chosen handler."""
    parser = argparse.ArgumentParser(prog="imagebot")
    ledger_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """IMAGEBOT_DATABASE_URL points at a new SQLite file; budgets use the defaults."""
    monkeypatch.chdir(tmp_path)  # no stray .env file
    url = fresh_sqlite_url(tmp_path)
    monkeypatch.setenv("IMAGEBOT_DATABASE_URL", url)
    monkeypatch.setenv("IMAGEBOT_DEFAULT_USER_BUDGET_USD", "50")
    monkeypatch.setenv("IMAGEBOT_WORKSPACE_BUDGET_USD", "2000")
    return url


def test_migrate_prints_the_revision(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    """migrate applies the migrations and prints the revision the database is at."""
    assert run("migrate") == 0
    out = capsys.readouterr().out
    assert f"database schema at revision {head_revision()}" in out
    assert run("migrate") == 0  # again: nothing to do, same answer


def test_budget_set_and_show_in_dollars(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Budgets are set and shown in dollars, per user and for the workspace."""
    run("migrate")
    capsys.readouterr()
    assert run("budget", "show", "--user", "U123") == 2
    assert "pass --team with your Slack team id" in capsys.readouterr().out
    assert run("budget", "show", "--team", "T111", "--user", "U123") == 0
    assert "budget $50.00 (the configured default); spent $0.00, $50.00 left" in (
        capsys.readouterr().out
    )
    assert run("budget", "set", "--team", "T111", "--user", "U123", "25") == 0
    assert "Budget of U123 is now $25.00 every month, set by cli" in capsys.readouterr().out
    assert run("budget", "set", "--workspace", "$2,500") == 0
    assert "Budget of the workspace is now $2,500.00 every month" in capsys.readouterr().out
    assert run("budget", "show") == 0
    assert "Workspace" in (out := capsys.readouterr().out)
    assert "$2,500.00" in out
    assert run("budget", "set", "--user", "U9", "unlimited", "--month", "2026-11") == 0
    assert "unlimited for this month only" in capsys.readouterr().out


def test_budget_set_on_another_team(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--team keeps budgets of different workspaces apart; with several, --team is required."""
    run("migrate")
    run("budget", "set", "--team", "T111", "--user", "U1", "5")
    run("budget", "set", "--team", "T777", "--user", "U1", "7")
    capsys.readouterr()
    assert run("budget", "show", "--user", "U1") == 2
    assert "several workspaces use imagebot (T111, T777)" in capsys.readouterr().out
    run("budget", "show", "--team", "T111", "--user", "U1")
    assert "$5.00 every month" in capsys.readouterr().out
    run("budget", "show", "--team", "T777", "--user", "U1")
    assert "$7.00 every month" in capsys.readouterr().out


def test_a_bad_amount_is_explained(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed amount or month exits 2 with a one-line explanation."""
    assert run("budget", "set", "--user", "U1", "twenty") == 2
    assert "is not a dollar amount (try 25 or 25.50)" in capsys.readouterr().out
    assert run("budget", "show", "--month", "11/2026") == 2
    assert "YYYY-MM" in capsys.readouterr().out
