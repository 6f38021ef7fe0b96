"""Budget threshold alerts: after each settlement, who should hear that a budget is running out.

The bot calls :func:`check_thresholds` after every settlement with the fresh budget states. Each
threshold fires once per scope and month, across every replica: the claim is a unique row in the
ledger (:meth:`bot.ledger.alerts.AlertStore.claim_alert`), so two processes settling at once
cannot both win it. A person hears at 50%, 90% and 100% of their budget; the managers hear when the
workspace reaches 90% and 100%. When one settlement jumps past several thresholds, all of them are
claimed (so the lower ones never fire later) and only the highest is told; a caller that did not
win the highest crossed threshold tells nothing, so concurrent settlements send one notice.

Sending is the caller's: :func:`deliver_notices` hands each notice to a :class:`Notifier` (the
Slack adapter lives in :mod:`bot.listeners.spend`), which keeps this module free of Slack.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.ledger.tables import WORKSPACE_SCOPE
from bot.reports.blocks import Block, ask_more_block
from router.money import format_usd

__all__ = [
    "USER_THRESHOLDS",
    "WORKSPACE_THRESHOLDS",
    "AlertClaims",
    "Audience",
    "BudgetFigures",
    "BudgetLike",
    "Notice",
    "Notifier",
    "check_thresholds",
    "deliver_notices",
]

log = logging.getLogger(__name__)

#: Percentages of a person's monthly budget at which they are told.
USER_THRESHOLDS: tuple[int, ...] = (50, 90, 100)
#: Percentages of the workspace's monthly budget at which the managers are told.
WORKSPACE_THRESHOLDS: tuple[int, ...] = (90, 100)


class Audience(StrEnum):
    """Who a notice is for."""

    USER = "user"
    MANAGERS = "managers"


class AlertClaims(Protocol):
    """The once-only claim (``bot.ledger.alerts.AlertStore`` satisfies it)."""

    async def claim_alert(
        self, *, workspace_id: str, scope: str, month: str, threshold: int, at: datetime
    ) -> bool:
        """True for exactly one caller per (workspace, scope, month, threshold)."""
        ...


class Notifier(Protocol):
    """Sends a direct message (the Slack adapter posts to the user's DM with the app)."""

    async def dm(self, user_id: str, text: str, blocks: tuple[Block, ...]) -> None:
        """Send ``text`` (and ``blocks``) to ``user_id`` privately."""
        ...


class BudgetLike(Protocol):
    """Spend (settled plus reserved) against a budget; ``router.BudgetState`` is one."""

    @property
    def consumed_micros(self) -> int:
        """Settled plus reserved spend of the month."""
        ...

    @property
    def budget_micros(self) -> int | None:
        """The month's budget; None means unlimited."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetFigures:
    """A plain :class:`BudgetLike` (for callers without a ``router.BudgetState`` at hand)."""

    consumed_micros: int
    budget_micros: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """One alert to send: to ``user_id`` (``Audience.USER``) or to every manager."""

    audience: Audience
    user_id: str
    threshold: int
    month: str
    text: str
    blocks: tuple[Block, ...]


def _crossed(figures: BudgetLike, thresholds: Iterable[int]) -> list[int]:
    budget = figures.budget_micros
    if budget is None or figures.consumed_micros <= 0:
        return []
    # Integer comparison: consumed / budget >= threshold / 100.
    return [t for t in thresholds if figures.consumed_micros * 100 >= t * budget]


def _month_words(month: str) -> tuple[str, str]:
    """``2026-11`` -> (``November``, ``December 1``)."""
    number = int(month.split("-")[1])
    return calendar.month_name[number], f"{calendar.month_name[number % 12 + 1]} 1"


def _user_text(threshold: int, figures: BudgetLike, month: str) -> str:
    name, next_start = _month_words(month)
    assert figures.budget_micros is not None
    amounts = f"{format_usd(figures.consumed_micros)} of {format_usd(figures.budget_micros)}"
    if threshold >= 100:
        return (
            f"You've used all of your image budget for {name} ({amounts}). New images wait "
            f"until {next_start} unless a manager raises your budget: use the button to ask."
        )
    if threshold >= 90:
        return (
            f"You've used {threshold}% of your image budget for {name} ({amounts}). I'll pick "
            "cheaper models where I can so it lasts. `/spend` shows where it went."
        )
    return (
        f"You've used {threshold}% of your image budget for {name} ({amounts}). "
        "`/spend` shows where it went."
    )


def _workspace_text(threshold: int, figures: BudgetLike, month: str) -> str:
    name, next_start = _month_words(month)
    assert figures.budget_micros is not None
    amounts = f"{format_usd(figures.consumed_micros)} of {format_usd(figures.budget_micros)}"
    if threshold >= 100:
        return (
            f"The workspace has used all of its image budget for {name} ({amounts}). New images "
            f"are paused for everyone until {next_start} unless you raise it, e.g. "
            "`/spend budget team 2500`. `/spend team` shows who spent what."
        )
    return (
        f"The workspace has used {threshold}% of its image budget for {name} ({amounts}). "
        "`/spend team` shows who spent what."
    )


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def _claim_all(
    claims: AlertClaims,
    *,
    workspace_id: str,
    scope: str,
    month: str,
    crossed: list[int],
    at: datetime,
) -> int | None:
    """Claim every crossed threshold; the highest one if this call won it, else None.

    Lower thresholds are claimed silently so they never fire later. Only the highest crossed
    threshold can earn a notice, so two replicas settling at once cannot tell the same person
    "50%" and "100%" together: whoever wins the highest claim tells, the other stays quiet.
    """
    if not crossed:
        return None
    highest = max(crossed)
    won_highest = False
    for threshold in sorted(crossed, reverse=True):
        won = await claims.claim_alert(
            workspace_id=workspace_id, scope=scope, month=month, threshold=threshold, at=at
        )
        if threshold == highest:
            won_highest = won
    return highest if won_highest else None


async def check_thresholds(
    *,
    claims: AlertClaims,
    workspace_id: str,
    user_id: str,
    month: str,
    user: BudgetLike,
    workspace: BudgetLike,
    at: datetime,
) -> tuple[Notice, ...]:
    """The notices this settlement earns (at most one for the user, one for the managers).

    ``user`` and ``workspace`` are the budget states of ``month`` after the settlement (e.g. the
    ``router.BudgetState`` values :meth:`BudgetLedger.state` returns). Safe to call from any number
    of replicas: each threshold is claimed once per month in the ledger.
    """
    notices: list[Notice] = []
    user_won = await _claim_all(
        claims,
        workspace_id=workspace_id,
        scope=user_id,
        month=month,
        crossed=_crossed(user, USER_THRESHOLDS),
        at=at,
    )
    if user_won is not None:
        text = _user_text(user_won, user, month)
        blocks: tuple[Block, ...] = (_section(text),)
        if user_won >= 100:
            blocks = (*blocks, ask_more_block())
        notices.append(
            Notice(
                audience=Audience.USER,
                user_id=user_id,
                threshold=user_won,
                month=month,
                text=text,
                blocks=blocks,
            )
        )
    workspace_won = await _claim_all(
        claims,
        workspace_id=workspace_id,
        scope=WORKSPACE_SCOPE,
        month=month,
        crossed=_crossed(workspace, WORKSPACE_THRESHOLDS),
        at=at,
    )
    if workspace_won is not None:
        text = _workspace_text(workspace_won, workspace, month)
        notices.append(
            Notice(
                audience=Audience.MANAGERS,
                user_id=WORKSPACE_SCOPE,
                threshold=workspace_won,
                month=month,
                text=text,
                blocks=(_section(text),),
            )
        )
    return tuple(notices)


async def deliver_notices(
    notices: Iterable[Notice], *, notifier: Notifier, managers: Iterable[str]
) -> int:
    """Send each notice (user notices to the user, workspace notices to every manager).

    A failed message is logged and the rest are still sent; returns how many messages went out.
    """
    manager_ids = sorted(set(managers))
    sent = 0
    for notice in notices:
        recipients = [notice.user_id] if notice.audience is Audience.USER else manager_ids
        if notice.audience is Audience.MANAGERS and not recipients:
            log.warning(
                "workspace budget alert threshold=%d has no manager to tell (IMAGEBOT_ADMINS)",
                notice.threshold,
            )
        for recipient in recipients:
            try:
                await notifier.dm(recipient, notice.text, notice.blocks)
            except Exception:  # one unreachable person must not stop the rest
                log.warning(
                    "budget alert not delivered user=%s threshold=%d",
                    recipient,
                    notice.threshold,
                    exc_info=True,
                )
                continue
            sent += 1
    return sent
