"""``/spend``: spend reports, budgets, "ask for more" and its approval, wired into a bolt app.

Listeners stay thin: they parse what Slack sent, acknowledge at once (with an error message when
the text makes no sense, or with field errors for a form), and hand the rest to :class:`SpendFlow`
as an owned background task. Replies to the person who typed the command are ephemeral
(``respond()`` through the command's response_url); files (chart, CSV) go to that person's DM
with the app, never into a shared channel, because spend figures are for managers' eyes.

Who is a manager: a Slack user id listed in ``admins`` (IMAGEBOT_ADMINS), or a workspace admin or
owner as ``users.info`` reports them. Identity always comes from the payload's own user field that
Slack signs, never from a button value or form field, and every action that shows or changes
someone else's figures checks it again when it runs (a form opened by a manager and submitted by
someone else is still refused). Refusals show and write nothing.

Approving a request for more budget happens exactly once however many managers click or however
often a click is replayed: :meth:`bot.ledger.alerts.AlertStore.decide_increase` moves the request
out of ``pending`` in one conditional UPDATE and raises the budget in the same transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts import Notice, deliver_notices
from bot.ledger.alerts import AlertStore, IncreaseState
from bot.ledger.budgets import BudgetLedger
from bot.ledger.deliveries import DeliveryStore
from bot.ledger.errors import UnknownIncreaseRequest
from bot.ledger.months import month_key
from bot.ledger.reports import ReportStore
from bot.reports import (
    APPROVE_ACTION,
    ASK_MORE_ACTION,
    ASK_MORE_CALLBACK,
    BUDGET_FORM_CALLBACK,
    DECLINE_ACTION,
    Block,
    Message,
    Period,
    SpendAction,
    SpendCommand,
    SpendCommandError,
    ask_more_block,
    ask_more_modal,
    budget_form_modal,
    decision_blocks,
    increase_request_blocks,
    ledger_csv,
    parse_spend_command,
    render_spend_chart,
    team_report_blocks,
    user_report_blocks,
)
from bot.slack_io.errors import PayloadError
from bot.slack_io.events import (
    ButtonClick,
    ViewSubmission,
    parse_button_click,
    parse_slash_command,
    parse_view_submission,
)
from bot.tasks import TaskTracker
from router.card import RateCard
from router.money import MoneyError, format_usd, parse_usd

__all__ = [
    "FAILED",
    "HELP",
    "MAX_INCREASE_MICROS",
    "REFUSAL",
    "SlackNotifier",
    "SpendFlow",
    "ask_more_block",
    "register_spend",
]

log = logging.getLogger(__name__)

HELP = (
    "*What `/spend` can do*\n"
    "• `/spend`: your spend this month, your budget and where it went\n"
    "• `/spend 2026-10` or `/spend 2026-10-01..2026-10-15`: another period\n"
    "• `/spend csv`: your ledger rows as a CSV file (in your DM)\n"
    "Managers also have `/spend team`, `/spend @someone`, `/spend csv team`, "
    "`/spend budget @someone 50`, `/spend budget team 2000` and `/spend budget` (a form)."
)
REFUSAL = (
    "Sorry, only managers can see other people's spend or change budgets. `/spend` shows your own."
)
FAILED = "Sorry, I couldn't put that report together just now. Please try again in a minute."
#: The most a person can ask for in one request (a typo guard, not a policy).
MAX_INCREASE_MICROS = 100_000 * 1_000_000
_MANAGER_CACHE_TTL = timedelta(minutes=5)

Respond = Callable[..., Awaitable[Any]]


class SlackNotifier:
    """:class:`bot.alerts.Notifier` over Slack: a DM from the app (chat.postMessage to the user)."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    async def dm(self, user_id: str, text: str, blocks: tuple[Block, ...]) -> None:
        """Post ``text``/``blocks`` in the app's DM with ``user_id``."""
        await self._client.chat_postMessage(channel=user_id, text=text, blocks=list(blocks))


def _ephemeral(message: Message) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": message.text, "blocks": list(message.blocks)}


def _text(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text}


@dataclass(slots=True, kw_only=True)
class SpendFlow:
    """What ``/spend`` and its buttons and forms do; built by :func:`register_spend`."""

    ledger: BudgetLedger
    reports: ReportStore
    alerts: AlertStore
    card: RateCard
    admins: frozenset[str]
    tz: ZoneInfo
    clock: Callable[[], datetime]
    tasks: TaskTracker
    deliveries: DeliveryStore | None = None
    _managers: dict[str, tuple[bool, datetime]] = field(default_factory=dict)
    _chart_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    # ---- who may do what ----------------------------------------------------------------------

    async def is_manager(self, client: AsyncWebClient, user_id: str) -> bool:
        """Listed in IMAGEBOT_ADMINS, or a workspace admin/owner per users.info (cached briefly).

        Any failure to ask Slack counts as "not a manager": refusing is the safe answer.
        """
        if user_id in self.admins:
            return True
        now = self.clock()
        cached = self._managers.get(user_id)
        if cached is not None and now - cached[1] < _MANAGER_CACHE_TTL:
            return cached[0]
        try:
            answer = await client.users_info(user=user_id)
        except SlackApiError as exc:
            log.warning("users.info failed user=%s error=%s", user_id, exc.response.get("error"))
            return False
        user = answer.get("user") or {}
        manager = bool(
            not user.get("deleted")
            and (user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        )
        self._managers[user_id] = (manager, now)
        return manager

    def _today_period(self) -> Period:
        return Period.containing(self.clock().astimezone(self.tz).date())

    def _current_month(self) -> str:
        return month_key(self.clock(), self.tz)

    # ---- /spend -------------------------------------------------------------------------------

    def parse(self, text: str) -> SpendCommand:
        """Parse the command text against today's local date."""
        return parse_spend_command(text, today=self.clock().astimezone(self.tz).date())

    async def run_command(
        self,
        command: SpendCommand,
        *,
        team_id: str,
        user_id: str,
        channel_id: str,
        trigger_id: str | None,
        client: AsyncWebClient,
        respond: Respond,
    ) -> None:
        """Carry out a parsed ``/spend`` for ``user_id`` (already acknowledged).

        A failure is logged and the person is told in plain words instead of hearing nothing.
        """
        try:
            await self._run(
                command,
                team_id=team_id,
                user_id=user_id,
                channel_id=channel_id,
                trigger_id=trigger_id,
                client=client,
                respond=respond,
            )
        except Exception:
            log.exception("spend failed user=%s action=%s", user_id, command.action)
            await respond(**_text(FAILED))

    async def _run(
        self,
        command: SpendCommand,
        *,
        team_id: str,
        user_id: str,
        channel_id: str,
        trigger_id: str | None,
        client: AsyncWebClient,
        respond: Respond,
    ) -> None:
        if command.needs_manager(user_id) and not await self.is_manager(client, user_id):
            log.info("spend refused user=%s action=%s", user_id, command.action)
            await respond(**_text(REFUSAL))
            return
        if command.action is SpendAction.HELP:
            await respond(**_text(HELP))
        elif command.action in (SpendAction.ME, SpendAction.USER):
            subject = command.user_id or user_id
            report = await self.reports.user_report(
                workspace_id=team_id,
                user_id=subject,
                period=command.period,
                card=self.card,
                ledger=self.ledger,
                now=self.clock(),
            )
            await respond(**_ephemeral(user_report_blocks(report, viewer_id=user_id)))
        elif command.action is SpendAction.TEAM:
            await self._team(
                command.period,
                team_id=team_id,
                user_id=user_id,
                client=client,
                channel_id=channel_id,
                respond=respond,
            )
        elif command.action is SpendAction.CSV:
            await self._csv(
                command,
                team_id=team_id,
                user_id=user_id,
                client=client,
                channel_id=channel_id,
                respond=respond,
            )
        elif command.action is SpendAction.SET_BUDGET:
            await self._set_budget(command, team_id=team_id, user_id=user_id, respond=respond)
        elif command.action is SpendAction.BUDGET_FORM:
            await self._open_budget_form(trigger_id, client=client, respond=respond)

    async def _dm_channel(self, client: AsyncWebClient, user_id: str, channel_id: str) -> str:
        """Where files for ``user_id`` go: this DM if the command came from one, else theirs."""
        if channel_id.startswith("D"):
            return channel_id
        opened = await client.conversations_open(users=user_id)
        return str(opened["channel"]["id"])

    async def _team(
        self,
        period: Period,
        *,
        team_id: str,
        user_id: str,
        channel_id: str,
        client: AsyncWebClient,
        respond: Respond,
    ) -> None:
        report = await self.reports.team_report(
            workspace_id=team_id,
            period=period,
            card=self.card,
            ledger=self.ledger,
            now=self.clock(),
        )
        await respond(**_ephemeral(team_report_blocks(report, chart_follows=bool(report.images))))
        if not report.images:
            return
        names = {model.model_id: model.display_name for model in report.by_model}
        async with self._chart_lock:  # one chart at a time: matplotlib is not re-entrant
            png = await asyncio.to_thread(
                render_spend_chart,
                report.daily,
                period=period,
                budget_micros=report.budget_micros,
                names=names,
                title=f"Team spend per day, {period.label}",
            )
        dm = await self._dm_channel(client, user_id, channel_id)
        await client.files_upload_v2(
            channel=dm,
            file=png,
            filename=f"spend-{period.text}.png",
            title=f"Team spend, {period.label}",
            alt_txt=f"Spend per day by model, {period.label}, with the budget line",
        )

    async def _csv(
        self,
        command: SpendCommand,
        *,
        team_id: str,
        user_id: str,
        channel_id: str,
        client: AsyncWebClient,
        respond: Respond,
    ) -> None:
        subject: str | None
        if command.user_id is not None:
            subject = command.user_id
        elif command.team:
            subject = None
        else:
            # "csv" alone: everyone for a manager, yourself for anyone else.
            subject = None if await self.is_manager(client, user_id) else user_id
        rows = [
            row
            async for row in self.reports.rows(
                workspace_id=team_id, period=command.period, user_id=subject
            )
        ]
        data = ledger_csv(rows)
        whose = "everyone" if subject is None else f"<@{subject}>"
        dm = await self._dm_channel(client, user_id, channel_id)
        suffix = "team" if subject is None else subject
        await client.files_upload_v2(
            channel=dm,
            file=data,
            filename=f"spend-{command.period.text}-{suffix}.csv",
            title=f"Ledger rows of {whose}, {command.period.label}",
            initial_comment=f"{len(rows):,} ledger rows of {whose} for {command.period.label}.",
        )
        await respond(**_text(f"The CSV ({len(rows):,} rows) is in your DM with me."))

    async def _set_budget(
        self, command: SpendCommand, *, team_id: str, user_id: str, respond: Respond
    ) -> None:
        assert command.amount_micros is not None  # the parser guarantees it for SET_BUDGET
        text = await self.set_budget(
            team_id=team_id,
            target=None if command.team else command.user_id,
            amount_micros=command.amount_micros,
            month=command.period.month_key if command.period != self._today_period() else None,
            set_by=user_id,
        )
        await respond(**_text(text))

    async def set_budget(
        self,
        *,
        team_id: str,
        target: str | None,
        amount_micros: int,
        month: str | None,
        set_by: str,
    ) -> str:
        """Set a monthly budget (``target`` None: the workspace) and say what happened.

        ``month`` None sets the standing budget from now on; if this month already has its own
        figure (e.g. an approved raise), that figure is replaced too, so the new amount holds now.
        """
        now = self.clock()
        whom = "the workspace" if target is None else f"<@{target}>"
        if month is not None:
            await self.ledger.set_budget(
                workspace_id=team_id,
                user_id=target,
                amount_micros=amount_micros,
                set_by=set_by,
                at=now,
                month=month,
                reason="/spend budget",
            )
            label = Period.month(int(month[:4]), int(month[5:])).label
            return f"Set the budget of {whom} for {label} to {format_usd(amount_micros)}."
        current = await self.ledger.budget_for(
            workspace_id=team_id, user_id=target, month=self._current_month()
        )
        await self.ledger.set_budget(
            workspace_id=team_id,
            user_id=target,
            amount_micros=amount_micros,
            set_by=set_by,
            at=now,
            reason="/spend budget",
        )
        if current.source == "month":
            await self.ledger.set_budget(
                workspace_id=team_id,
                user_id=target,
                amount_micros=amount_micros,
                set_by=set_by,
                at=now,
                month=self._current_month(),
                reason="/spend budget",
            )
        return (
            f"Set the monthly budget of {whom} to {format_usd(amount_micros)}, "
            f"starting {self._today_period().label}."
        )

    async def _open_budget_form(
        self, trigger_id: str | None, *, client: AsyncWebClient, respond: Respond
    ) -> None:
        if trigger_id is None:
            await respond(**_text("Slack did not send what I need to open the form; try again."))
            return
        period = self._today_period()
        assert period.month_key is not None
        await client.views_open(
            trigger_id=trigger_id,
            view=budget_form_modal(month_label=period.label, month_key=period.month_key),
        )

    # ---- the managers' budget form ----------------------------------------------------------

    @staticmethod
    def budget_form_errors(view: ViewSubmission) -> tuple[dict[str, str], tuple[str | None, int]]:
        """Field errors of the budget form (empty when valid) and ``(target, amount_micros)``."""
        errors: dict[str, str] = {}
        scope = view.value("scope") or "user"
        target = view.value("user") if scope == "user" else None
        if scope == "user" and not target:
            errors["user"] = "Pick a person, or choose the whole workspace."
        amount = 0
        try:
            amount = parse_usd(view.value("amount") or "")
        except MoneyError:
            errors["amount"] = "Type an amount in dollars, e.g. 50 or 50.25."
        return errors, (target, amount)

    async def submit_budget_form(
        self,
        view: ViewSubmission,
        *,
        target: str | None,
        amount_micros: int,
        client: AsyncWebClient,
    ) -> None:
        """Set the budget from the form, if the person who submitted it is a manager."""
        if not await self.is_manager(client, view.user_id):
            log.info("budget form refused user=%s", view.user_id)
            await client.chat_postMessage(channel=view.user_id, text=REFUSAL)
            return
        text = await self.set_budget(
            team_id=view.team_id or "",
            target=target,
            amount_micros=amount_micros,
            month=None,
            set_by=view.user_id,
        )
        await client.chat_postMessage(channel=view.user_id, text=text)

    # ---- asking for more ----------------------------------------------------------------------

    async def open_ask_more(self, click: ButtonClick, *, client: AsyncWebClient) -> None:
        """Open the "ask for more" form for whoever clicked."""
        if click.trigger_id is None:
            return
        suggested = int(click.value) if click.value and click.value.isdigit() else None
        period = self._today_period()
        assert period.month_key is not None
        await client.views_open(
            trigger_id=click.trigger_id,
            view=ask_more_modal(
                month_label=period.label, month_key=period.month_key, suggested_micros=suggested
            ),
        )

    @staticmethod
    def ask_more_errors(view: ViewSubmission) -> tuple[dict[str, str], int, str]:
        """Field errors of the "ask for more" form, the amount in micros and the reason."""
        errors: dict[str, str] = {}
        amount = 0
        try:
            amount = parse_usd(view.value("amount") or "")
        except MoneyError:
            errors["amount"] = "Type an amount in dollars, e.g. 20 or 20.50."
        else:
            if amount <= 0:
                errors["amount"] = "Ask for more than $0."
            elif amount > MAX_INCREASE_MICROS:
                errors["amount"] = f"Ask for at most {format_usd(MAX_INCREASE_MICROS)} at a time."
        reason = (view.value("reason") or "").strip()
        return errors, amount, reason

    async def submit_ask_more(
        self, view: ViewSubmission, *, amount_micros: int, reason: str, client: AsyncWebClient
    ) -> None:
        """Record the request (for this month) and DM every manager with Approve / Decline."""
        team_id = view.team_id or ""
        requester = view.user_id
        if not self.admins:
            await client.chat_postMessage(
                channel=requester,
                text=(
                    "No managers are set up to approve budget requests here (IMAGEBOT_ADMINS "
                    "is empty). Ask your Slack admin to raise your budget with `/spend budget`."
                ),
            )
            return
        now = self.clock()
        request = await self.alerts.create_increase_request(
            workspace_id=team_id,
            user_id=requester,
            amount_micros=amount_micros,
            reason=reason,
            at=now,
        )
        user_state, _ = await self.ledger.state(workspace_id=team_id, user_id=requester, at=now)
        month = Period.month(int(request.month[:4]), int(request.month[5:]))
        message = increase_request_blocks(
            request_id=str(request.id),
            requester_id=requester,
            amount_micros=amount_micros,
            reason=reason,
            month_label=month.label,
            spent_micros=user_state.consumed_micros,
            budget_micros=user_state.budget_micros,
        )
        for manager in sorted(self.admins):
            try:
                await client.chat_postMessage(
                    channel=manager, text=message.text, blocks=list(message.blocks)
                )
            except SlackApiError as exc:
                log.warning("increase request DM failed manager=%s error=%s", manager, exc)
        await client.chat_postMessage(
            channel=requester,
            text=(
                f"I've asked the managers for {format_usd(amount_micros)} more for "
                f"{month.label}. I'll tell you here when one of them decides."
            ),
        )

    async def decide(
        self, click: ButtonClick, *, approve: bool, client: AsyncWebClient, respond: Respond
    ) -> None:
        """Approve or decline a request: managers only, exactly once."""
        if not await self.is_manager(client, click.user_id):
            log.info("increase decision refused user=%s", click.user_id)
            await respond(**_text(REFUSAL), replace_original=False)
            return
        try:
            request_id = int(click.value or "")
        except ValueError:
            await respond(**_text("That request is not one I know."), replace_original=False)
            return
        request = await self.alerts.get_increase_request(request_id)
        if request is None or (click.team_id and request.workspace_id != click.team_id):
            await respond(**_text("That request is not one I know."), replace_original=False)
            return
        try:
            decision = await self.alerts.decide_increase(
                request_id, approve=approve, decided_by=click.user_id, at=self.clock()
            )
        except UnknownIncreaseRequest:
            await respond(**_text("That request is not one I know."), replace_original=False)
            return
        decided = decision.request
        approved = decided.state is IncreaseState.APPROVED
        outcome = decision_blocks(
            requester_id=decided.user_id,
            amount_micros=decided.amount_micros,
            approved=approved,
            decided_by=decided.decided_by or click.user_id,
            new_budget_micros=decision.budget.amount_micros if decision.budget else None,
        )
        if click.channel_id and click.message_ts:
            try:
                await client.chat_update(
                    channel=click.channel_id,
                    ts=click.message_ts,
                    text=outcome.text,
                    blocks=list(outcome.blocks),
                )
            except SlackApiError as exc:
                log.warning("could not update the request message error=%s", exc)
        if not decision.changed:
            await respond(**_text(f"Already decided: {outcome.text}"), replace_original=False)
            return
        month = Period.month(int(decided.month[:4]), int(decided.month[5:])).label
        if approved:
            budget = decision.budget.amount_micros if decision.budget else None
            tail = f" Your budget for {month} is now {format_usd(budget)}." if budget else ""
            text = (
                f"<@{click.user_id}> approved your request for "
                f"{format_usd(decided.amount_micros)} more.{tail}"
            )
        else:
            text = (
                f"<@{click.user_id}> declined your request for "
                f"{format_usd(decided.amount_micros)} more for {month}."
            )
        await client.chat_postMessage(channel=decided.user_id, text=text)

    # ---- alerts -------------------------------------------------------------------------------

    async def deliver(self, notices: tuple[Notice, ...], *, client: AsyncWebClient) -> int:
        """Send alert notices from :func:`bot.alerts.check_thresholds` as DMs."""
        return await deliver_notices(notices, notifier=SlackNotifier(client), managers=self.admins)


def register_spend(
    app: AsyncApp,
    *,
    ledger: BudgetLedger,
    reports: ReportStore,
    alerts: AlertStore,
    card: RateCard,
    admins: frozenset[str],
    tz: ZoneInfo,
    clock: Callable[[], datetime],
    tasks: TaskTracker,
    deliveries: DeliveryStore | None = None,
) -> None:
    """Add ``/spend``, the budget form, "ask for more" and Approve / Decline to ``app``.

    Every listener acknowledges before doing any work; the work runs as an owned task in
    ``tasks``. ``admins`` are the IMAGEBOT_ADMINS user ids (managers, and the people asked to
    approve requests); ``tz`` keys months and days; ``clock`` returns UTC-aware now;
    ``deliveries`` (when given) makes a form submitted twice, or redelivered, count once.
    """
    flow = SpendFlow(
        ledger=ledger,
        reports=reports,
        alerts=alerts,
        card=card,
        admins=admins,
        tz=tz,
        clock=clock,
        tasks=tasks,
        deliveries=deliveries,
    )

    @app.command("/spend")
    async def on_spend(
        ack: Callable[..., Awaitable[None]],
        body: dict[str, Any],
        client: AsyncWebClient,
        respond: Respond,
    ) -> None:
        try:
            slash = parse_slash_command(body)
            command = flow.parse(slash.text)
        except SpendCommandError as exc:
            await ack(**_text(str(exc)))
            return
        except PayloadError:
            await ack(**_text("Slack sent something I could not read; try again."))
            return
        await ack()
        flow.tasks.spawn(
            flow.run_command(
                command,
                team_id=slash.team_id,
                user_id=slash.user_id,
                channel_id=slash.channel_id,
                trigger_id=slash.trigger_id,
                client=client,
                respond=respond,
            ),
            name=f"spend {command.action} {slash.user_id}",
        )

    @app.action(ASK_MORE_ACTION)
    async def on_ask_more(
        ack: Callable[..., Awaitable[None]], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        click = parse_button_click(body)
        if click is not None:
            flow.tasks.spawn(flow.open_ask_more(click, client=client), name="spend ask more")

    async def on_decision(
        ack: Callable[..., Awaitable[None]],
        body: dict[str, Any],
        client: AsyncWebClient,
        respond: Respond,
    ) -> None:
        await ack()
        click = parse_button_click(body)
        if click is None:
            return
        flow.tasks.spawn(
            flow.decide(
                click, approve=click.action_id == APPROVE_ACTION, client=client, respond=respond
            ),
            name=f"spend decide {click.value}",
        )

    app.action(APPROVE_ACTION)(on_decision)
    app.action(DECLINE_ACTION)(on_decision)

    @app.view(ASK_MORE_CALLBACK)
    async def on_ask_more_submit(
        ack: Callable[..., Awaitable[None]], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        view = parse_view_submission(body)
        if view is None:
            await ack()
            return
        errors, amount, reason = flow.ask_more_errors(view)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        if flow.deliveries is not None and not await flow.deliveries.claim(
            f"ask-more:{view.team_id}:{view.view_id}", at=flow.clock()
        ):
            return  # the same form submitted again: one request is enough
        flow.tasks.spawn(
            flow.submit_ask_more(view, amount_micros=amount, reason=reason, client=client),
            name=f"spend ask more submit {view.user_id}",
        )

    @app.view(BUDGET_FORM_CALLBACK)
    async def on_budget_form_submit(
        ack: Callable[..., Awaitable[None]], body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        view = parse_view_submission(body)
        if view is None:
            await ack()
            return
        errors, (target, amount) = flow.budget_form_errors(view)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        flow.tasks.spawn(
            flow.submit_budget_form(view, target=target, amount_micros=amount, client=client),
            name=f"spend budget form {view.user_id}",
        )
