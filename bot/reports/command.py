"""What the text after ``/spend`` asks for, parsed into a :class:`SpendCommand`.

Grammar (words in any order except after ``budget``)::

    /spend                         my month so far
    /spend 2026-10 | 2026-10-01..2026-10-15 | last month
    /spend team | all [PERIOD]     everyone (managers)
    /spend @user [PERIOD]          one person (managers; Slack sends <@U123|name>)
    /spend csv [team | @user] [PERIOD]
    /spend budget                  open the budget form (managers)
    /spend budget @user 50 [MONTH] | /spend budget team 2000 [MONTH]
    /spend help
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from bot.reports.errors import PeriodError, SpendCommandError
from bot.reports.period import Period, parse_period
from router.money import MoneyError, parse_usd

__all__ = ["SpendAction", "SpendCommand", "parse_mention", "parse_spend_command"]

_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_TEAM_WORDS = frozenset({"team", "all", "workspace", "everyone"})
_SELF_WORDS = frozenset({"me", "mine", "my"})
_USAGE = (
    "Try `/spend`, `/spend team`, `/spend @someone`, `/spend 2026-10`, `/spend csv` "
    "or `/spend budget @someone 50`."
)


class SpendAction(StrEnum):
    """The kinds of ``/spend`` request."""

    ME = "me"
    TEAM = "team"
    USER = "user"
    CSV = "csv"
    SET_BUDGET = "set_budget"
    BUDGET_FORM = "budget_form"
    HELP = "help"


@dataclass(frozen=True, slots=True, kw_only=True)
class SpendCommand:
    """A parsed ``/spend``.

    ``user_id`` is the person asked about (``USER``, ``CSV`` of one person, ``SET_BUDGET`` of one
    person); ``team`` marks the workspace (``CSV`` of everyone, ``SET_BUDGET`` of the workspace).
    A ``CSV`` with neither is "the default scope": everyone for a manager, yourself otherwise.
    """

    action: SpendAction
    period: Period
    user_id: str | None = None
    team: bool = False
    amount_micros: int | None = None

    def needs_manager(self, caller_id: str) -> bool:
        """True when ``caller_id`` may only run this command as a manager."""
        if self.action in (SpendAction.TEAM, SpendAction.SET_BUDGET, SpendAction.BUDGET_FORM):
            return True
        if self.action in (SpendAction.USER, SpendAction.CSV):
            return self.team or (self.user_id is not None and self.user_id != caller_id)
        return False


def parse_mention(token: str) -> str | None:
    """The user id in a Slack mention (``<@U123|name>`` or ``<@U123>``), else None."""
    match = _MENTION.match(token.strip())
    return match.group(1) if match else None


def _amount(token: str) -> int:
    try:
        return parse_usd(token)
    except MoneyError as exc:
        raise SpendCommandError(f"{exc}. {_USAGE}") from exc


def _period(words: list[str], *, today: date) -> Period:
    try:
        return parse_period(" ".join(words), today=today)
    except PeriodError as exc:
        raise SpendCommandError(str(exc)) from exc


def _who(token: str) -> str | None:
    user = parse_mention(token)
    if user is None and token.startswith("@"):
        raise SpendCommandError(
            f"I could not tell who {token} is. Pick the person from Slack's @ menu so the "
            "command carries their member id."
        )
    return user


def _parse_budget(words: list[str], *, today: date) -> SpendCommand:
    if not words:
        return SpendCommand(action=SpendAction.BUDGET_FORM, period=Period.containing(today))
    target, *rest = words
    team = target.lower() in _TEAM_WORDS
    user = None if team else _who(target)
    if not team and user is None:
        raise SpendCommandError(
            "Say whose budget to set: `/spend budget @someone 50` or `/spend budget team 2000`."
        )
    if not rest:
        raise SpendCommandError(
            "Say the monthly amount in dollars: `/spend budget @someone 50` or "
            "`/spend budget team 2000`."
        )
    amount = _amount(rest[0])
    period = _period(rest[1:], today=today)
    if not period.is_month:
        raise SpendCommandError("Budgets are monthly: give a month such as 2026-12, or nothing.")
    return SpendCommand(
        action=SpendAction.SET_BUDGET, period=period, user_id=user, team=team, amount_micros=amount
    )


def parse_spend_command(text: str, *, today: date) -> SpendCommand:
    """Parse the text after ``/spend``; ``today`` is the local date that "this month" means.

    Raises :class:`SpendCommandError` with a message that says what works.
    """
    words = text.split()
    if words and words[0].lower() == "budget":
        return _parse_budget(words[1:], today=today)
    if words and words[0].lower() in ("help", "?"):
        return SpendCommand(action=SpendAction.HELP, period=Period.containing(today))
    csv = team = False
    user: str | None = None
    rest: list[str] = []
    for word in words:
        lowered = word.lower()
        mention = _who(word)
        if lowered == "csv":
            csv = True
        elif lowered in _TEAM_WORDS:
            team = True
        elif lowered in _SELF_WORDS:
            continue
        elif mention is not None:
            if user is not None and user != mention:
                raise SpendCommandError(f"Ask about one person at a time. {_USAGE}")
            user = mention
        else:
            rest.append(word)
    if team and user is not None:
        raise SpendCommandError(f"Ask for the team or for one person, not both. {_USAGE}")
    period = _period(rest, today=today)
    if csv:
        return SpendCommand(action=SpendAction.CSV, period=period, user_id=user, team=team)
    if team:
        return SpendCommand(action=SpendAction.TEAM, period=period, team=True)
    if user is not None:
        return SpendCommand(action=SpendAction.USER, period=period, user_id=user)
    return SpendCommand(action=SpendAction.ME, period=period)
