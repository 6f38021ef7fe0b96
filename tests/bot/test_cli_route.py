"""``imagebot route``: plan a prompt from the command line without generating anything."""

from __future__ import annotations

import argparse
import json

import pytest

from bot.cli import route


def run(argv: list[str]) -> int:
    """Build a parser with only ``route`` registered and run it."""
    parser = argparse.ArgumentParser(prog="imagebot")
    subparsers = parser.add_subparsers(dest="command", required=True)
    route.register(subparsers)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


SEED = ["--card", "seed-2026-04", "--today", "2026-04-15"]


def test_flags_inside_the_quoted_prompt(capsys: pytest.CaptureFixture[str]) -> None:
    """Options inside the quoted prompt string are read."""
    assert run(["route", *SEED, "hero product shot --4k"]) == 0
    out = capsys.readouterr().out
    assert "Tier: hero" in out
    assert "Imagen 4 Standard (imagen-4.0-generate-001), size 4K" in out
    assert "every model on the card is assumed offered" in out


def test_flags_after_the_prompt_words(capsys: pytest.CaptureFixture[str]) -> None:
    """Unquoted words and options after ``route`` are read, the route options included."""
    argv = ["route", "final", '"SUMMER SALE 50%"', "poster", "--4k", *SEED]
    assert run(argv) == 0
    out = capsys.readouterr().out
    assert 'Prompt: "SUMMER SALE 50%" poster' in out
    assert "Imagen 4 Ultra" in out
    assert "Estimate: $0.06 for 1 image" in out
    assert "final render with text -> Imagen 4 Ultra" in out


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    """``--json`` prints the plan as JSON with the notices."""
    argv = ["route", "--card", "seed-2026-04", "--today", "2026-09-01", "--json", "hero", "shot"]
    assert run(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["outcome"] == "plan"
    assert data["tier"] == "hero"
    assert data["primary"]["model_id"] == "gemini-3.1-flash-image"
    assert data["notices"] == [
        "Imagen 4 Standard was retired by Google on 2026-08-17; used Nano Banana 2 instead."
    ]
    assert data["assumed_all_models_listed"] is True
    assert data["constraints"]["purpose"] == "hero"


def test_budget_refusal_exits_one(capsys: pytest.CaptureFixture[str]) -> None:
    """A request past the budget prints the refusal and exits 1."""
    argv = ["route", *SEED, "cat", "--spent", "24.99", "--budget", "25"]
    assert run(argv) == 1
    assert "Refused: Not enough budget" in capsys.readouterr().out


def test_guard_shows_the_downgrade(capsys: pytest.CaptureFixture[str]) -> None:
    """At 95% of budget the output says the guard downgraded the request."""
    argv = ["route", *SEED, "--spent", "95", "--budget", "100", "hero shot"]
    assert run(argv) == 0
    out = capsys.readouterr().out
    assert "downgraded by the budget guard" in out
    assert "Imagen 4 Fast" in out


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["route", *SEED, "cat --foo"], "Unknown option --foo."),
        (["route", *SEED, "cat -n 9"], "1 to 4 images"),
        (["route", "--card", "nope", "cat"], "rate card nope: (file): no builtin card"),
        (["route", "--today", "tomorrow", "--card", "seed-2026-04", "cat"], "YYYY-MM-DD"),
        (["route", *SEED, "cat", "--spent", "3"], "--spent needs --budget"),
        (["route", *SEED, "cat", "--budget", "lots"], "not a dollar amount"),
        (["route", *SEED, "cat", "--card"], "--card needs a value"),
    ],
)
def test_mistakes_exit_two_with_a_friendly_message(
    capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    """Bad requests or cards print one friendly line to stderr and exit 2."""
    assert run(argv) == 2
    assert fragment in capsys.readouterr().err


def test_double_dash_lets_the_prompt_start_with_an_option(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``route -- --4k cat`` reads --4k as an /image option."""
    assert run(["route", *SEED, "--", "--4k", "cat"]) == 0
    assert "size 4K" in capsys.readouterr().out


def test_every_seed_row_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    """With --refs and --with-image every row of the seed's table is reachable from route."""
    rows = [
        (["cat on a sofa", "--refs", "2"], "gemini-3-pro-image-preview"),
        (["character", "our mascot"], "gemini-3-pro-image-preview"),
        (["final", '"SUMMER SALE 50%"', "poster"], "imagen-4.0-ultra-generate-001"),
        (["hero", "product shot"], "imagen-4.0-generate-001"),
        (["draft", "banner ideas"], "imagen-4.0-fast-generate-001"),
        (["edit", "make it blue", "--with-image"], "gemini-3.1-flash-image-preview"),
        (["a cat on a sofa"], "gemini-2.5-flash-image"),
    ]
    for words, model in rows:
        assert run(["route", *SEED, "--json", *words]) == 0
        plan = json.loads(capsys.readouterr().out)
        assert plan["primary"]["model_id"] == model, words


def test_refs_must_be_a_number(capsys: pytest.CaptureFixture[str]) -> None:
    """--refs with something other than a count is explained, exit 2."""
    assert run(["route", *SEED, "a cat", "--refs", "many"]) == 2
    assert "--refs takes a number" in capsys.readouterr().err
