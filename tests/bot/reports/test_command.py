"""Parsing the text after /spend into a typed command."""

from __future__ import annotations

from datetime import date

import pytest

from bot.reports import Period, SpendAction, SpendCommandError, parse_mention, parse_spend_command

TODAY = date(2026, 11, 20)
NOVEMBER = Period.month(2026, 11)


def test_empty_text_is_my_month() -> None:
    """/spend alone is the caller's own month so far."""
    command = parse_spend_command("", today=TODAY)
    assert command.action is SpendAction.ME
    assert command.period == NOVEMBER
    assert not command.needs_manager("U1")


@pytest.mark.parametrize("word", ["team", "all", "TEAM"])
def test_team_and_all_ask_for_everyone(word: str) -> None:
    """team and all are the manager report."""
    command = parse_spend_command(f"{word} 2026-10", today=TODAY)
    assert command.action is SpendAction.TEAM
    assert command.period == Period.month(2026, 10)
    assert command.needs_manager("U1")


@pytest.mark.parametrize("mention", ["<@U123|ann>", "<@U123>", "<@W123ABC|ann.b>"])
def test_mentions_in_both_forms_name_the_person(mention: str) -> None:
    """Slack's escaped mention, with or without the name part, gives the member id."""
    command = parse_spend_command(f"{mention} last month", today=TODAY)
    assert command.action is SpendAction.USER
    assert command.user_id == parse_mention(mention)
    assert command.period == Period.month(2026, 10)
    assert command.needs_manager("U999")


def test_asking_about_yourself_needs_no_manager() -> None:
    """Mentioning yourself is your own report."""
    command = parse_spend_command("<@U1|me>", today=TODAY)
    assert not command.needs_manager("U1")


def test_plain_at_name_is_explained() -> None:
    """An unescaped @name cannot be resolved and the message says how to fix it."""
    with pytest.raises(SpendCommandError, match="@ menu"):
        parse_spend_command("@ann", today=TODAY)


def test_csv_scopes() -> None:
    """csv alone, csv team and csv @user keep their scope; only others' rows need a manager."""
    mine = parse_spend_command("csv 2026-10-01..2026-10-15", today=TODAY)
    assert mine.action is SpendAction.CSV
    assert (mine.team, mine.user_id) == (False, None)
    assert mine.period.days == 15
    assert not mine.needs_manager("U1")
    assert parse_spend_command("csv team", today=TODAY).needs_manager("U1")
    assert parse_spend_command("csv <@U2>", today=TODAY).needs_manager("U1")


def test_budget_for_a_person_and_the_team() -> None:
    """budget @user 50 and budget team 2000 carry the amount in micros."""
    person = parse_spend_command("budget <@U2|bo> $50", today=TODAY)
    assert person.action is SpendAction.SET_BUDGET
    assert (person.user_id, person.team, person.amount_micros) == ("U2", False, 50_000_000)
    assert person.period == NOVEMBER
    team = parse_spend_command("budget team 2,000 2026-12", today=TODAY)
    assert (team.user_id, team.team, team.amount_micros) == (None, True, 2_000_000_000)
    assert team.period == Period.month(2026, 12)
    assert team.needs_manager("U1")


def test_budget_without_arguments_opens_the_form() -> None:
    """budget alone asks for the form."""
    assert parse_spend_command("budget", today=TODAY).action is SpendAction.BUDGET_FORM


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("budget <@U2>", "monthly amount"),
        ("budget <@U2> lots", "not a dollar amount"),
        ("budget <@U2> -5", "not a dollar amount"),
        ("budget 50", "whose budget"),
        ("budget team 50 2026-10-01..2026-10-02", "Budgets are monthly"),
        ("team <@U2>", "not both"),
        ("<@U2> <@U3>", "one person"),
        ("2026-13", "not a month"),
    ],
)
def test_bad_commands_say_what_works(text: str, message: str) -> None:
    """Malformed commands raise SpendCommandError with a helpful message."""
    with pytest.raises(SpendCommandError, match=message):
        parse_spend_command(text, today=TODAY)
