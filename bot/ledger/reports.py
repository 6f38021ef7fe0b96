"""Spend report queries over ``ledger_entry``: who spent what, on which model, tier, channel, day.

Every figure is a ``SUM`` over ledger rows, so a report always equals the rows it covers (a test
checks this on random ledgers). Which rows a period covers:

* a whole calendar month (``2026-10``) is the rows whose ``month`` column says so, the very rows
  that count against that month's budgets (a batch settled after midnight still counts where it
  was reserved);
* any other range is the rows created between the local midnights that bound it (time zone
  ``tz``).

A whole report reads the period's rows twice: once grouped by (person, model, tier, channel,
size, batch), from which every total and breakdown is summed (:class:`Breakdown`), and once for
the chart's days. Days are summed per UTC hour in SQL and the hours placed on local days here when
every local midnight of the period is a whole UTC hour (DST included); in zones such as UTC+05:30
one ``CASE`` over the local midnights does it in SQL. Both are exact and behave the same on SQLite
and PostgreSQL. A row of a month created outside its days counts on the nearest day.

The savings figure prices the same images at the same sizes on the rate card's reference model
(Nano Banana Pro), at its batch price for batch rows. Budgets come from the ``budget`` table with
the same precedence as :class:`~bot.ledger.budgets.BudgetLedger` (this month's override, else the
standing budget, else the configured default, which is asked of the ledger itself).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from typing import Any, TypeVarTuple
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Row, Select, case, func, literal, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col
from sqlmodel import select as orm_select

from bot.ledger.budgets import BudgetLedger
from bot.ledger.engine import transaction
from bot.ledger.tables import WORKSPACE_SCOPE, Budget, LedgerEntry, Workspace
from bot.reports.csv_io import LedgerRow
from bot.reports.period import Period
from bot.reports.values import (
    ChannelSpend,
    DaySpend,
    ModelSpend,
    TeamReport,
    TierSpend,
    UserReport,
    UserSpend,
    project_to_period_end,
)
from router.card import ModelSpec, RateCard
from router.constraints import Purpose

__all__ = ["REFERENCE_MODEL_NAME", "UNTIERED", "Breakdown", "ReportStore", "reference_model"]

#: The model the savings figure compares against, found on the card by display name.
REFERENCE_MODEL_NAME = "Nano Banana Pro"
#: The tier shown for ledger rows without one (e.g. written by crash recovery).
UNTIERED = "other"
# The seed's tier order, which is also the order of its 65/12/10/6/5/2 blend.
_TIER_ORDER = (
    Purpose.ECONOMY,
    Purpose.DRAFT,
    Purpose.HERO,
    Purpose.EDIT,
    Purpose.CHARACTER,
    Purpose.FINAL,
)
_ROWS_PER_FETCH = 5_000
_Ts = TypeVarTuple("_Ts")
_GROUPING_WORK_MEM = "64MB"


def reference_model(card: RateCard) -> ModelSpec:
    """The model savings are measured against: Nano Banana Pro, else the priciest per image."""
    found = card.find_model(REFERENCE_MODEL_NAME)
    if found is not None:
        return found
    return max(
        card.models.values(),
        key=lambda spec: max(spec.per_image_micros.values(), default=0),
    )


def _reference_price(spec: ModelSpec, *, image_size: str | None, batch: bool) -> int:
    """One image on ``spec`` at ``image_size`` (nearest size it offers), batch price if batch."""
    size = image_size if image_size in spec.per_image_micros else None
    if size is None:
        # 512px or a size the reference model lacks: its smallest (default) size.
        size = spec.default_size
    if batch and size in spec.batch_per_image_micros:
        return spec.batch_per_image_micros[size]
    return spec.per_image_micros.get(size, 0)


def _display_name(card: RateCard, model_id: str) -> str:
    spec = card.models.get(model_id)
    return spec.display_name if spec is not None else model_id


def _int(value: Any) -> int:
    # PostgreSQL sums BIGINT into NUMERIC (Decimal); SQLite gives int. Both are exact.
    return int(value or 0)


def _on_the_hour(day: date, tz: ZoneInfo) -> bool:
    """True when local midnight of ``day`` in ``tz`` is a whole UTC hour."""
    offset = datetime.combine(day, time.min, tzinfo=tz).utcoffset()
    return offset is not None and offset % timedelta(hours=1) == timedelta(0)


def _utc_hour(value: Any) -> datetime:
    """An hour bucket as SQL hands it back (text on SQLite, a timestamp on PostgreSQL)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.strptime(str(value), "%Y-%m-%d %H").replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Cell:
    user_id: str
    model_id: str
    tier: str
    channel_id: str
    image_size: str | None
    batch: bool
    images: int
    cost_micros: int


def _sum_by(cells: Iterable[_Cell], key: Callable[[_Cell], str]) -> dict[str, tuple[int, int]]:
    sums: dict[str, tuple[int, int]] = {}
    for cell in cells:
        images, cost = sums.get(key(cell), (0, 0))
        sums[key(cell)] = (images + cell.images, cost + cell.cost_micros)
    return sums


@dataclass(frozen=True, slots=True)
class Breakdown:
    """A period's spend per (person, model, tier, channel, size, batch); see
    :meth:`ReportStore.breakdown`. Every report figure is a sum over these cells."""

    cells: tuple[_Cell, ...]

    def totals(self) -> tuple[int, int]:
        """``(images, cost_micros)``."""
        return (
            sum(cell.images for cell in self.cells),
            sum(cell.cost_micros for cell in self.cells),
        )

    def by_user(self) -> tuple[tuple[str, int, int], ...]:
        """``(user_id, images, cost_micros)`` per person, most spent first."""
        sums = _sum_by(self.cells, lambda cell: cell.user_id)
        return tuple(
            sorted(
                ((user, images, cost) for user, (images, cost) in sums.items()),
                key=lambda r: (-r[2], -r[1], r[0]),
            )
        )

    def by_model(self, card: RateCard) -> tuple[ModelSpend, ...]:
        """Per model, most spent first, with the card's display names."""
        sums = _sum_by(self.cells, lambda cell: cell.model_id)
        models = [
            ModelSpend(
                model_id=model_id,
                display_name=_display_name(card, model_id),
                images=images,
                cost_micros=cost,
            )
            for model_id, (images, cost) in sums.items()
        ]
        return tuple(sorted(models, key=lambda m: (-m.cost_micros, -m.images, m.model_id)))

    def by_tier(self, card: RateCard) -> tuple[TierSpend, ...]:
        """The card's blend tiers in the seed's order (even unused), others, then ``other``."""
        found = _sum_by(self.cells, lambda cell: cell.tier)
        mix = {str(purpose): Fraction(share) / 100 for purpose, share in card.mix.items()}
        order = [str(p) for p in _TIER_ORDER if str(p) in mix or str(p) in found]
        order += sorted(t for t in {*mix, *found} if t not in order and t != UNTIERED)
        if UNTIERED in found:
            order.append(UNTIERED)
        return tuple(
            TierSpend(
                tier=tier,
                images=found.get(tier, (0, 0))[0],
                cost_micros=found.get(tier, (0, 0))[1],
                recommended_share=mix.get(tier),
            )
            for tier in order
        )

    def by_channel(self, *, limit: int | None = None) -> tuple[ChannelSpend, ...]:
        """Per channel (``""``: none), most spent first, the first ``limit``."""
        sums = _sum_by(self.cells, lambda cell: cell.channel_id)
        channels = sorted(
            (
                ChannelSpend(channel_id=channel, images=images, cost_micros=cost)
                for channel, (images, cost) in sums.items()
            ),
            key=lambda c: (-c.cost_micros, -c.images, c.channel_id),
        )
        return tuple(channels[:limit] if limit is not None else channels)

    def all_on_reference(self, card: RateCard) -> int:
        """The same images at the same sizes on the reference model (batch price for batch)."""
        spec = reference_model(card)
        return sum(
            cell.images * _reference_price(spec, image_size=cell.image_size, batch=cell.batch)
            for cell in self.cells
        )


class ReportStore:
    """Read-only spend queries for ``/spend``, the CLI and the chart. The engine is the caller's."""

    def __init__(self, engine: AsyncEngine, *, tz: ZoneInfo) -> None:
        self._engine = engine
        self._tz = tz

    @property
    def tz(self) -> ZoneInfo:
        """The time zone that local days and months are read in."""
        return self._tz

    async def _fetch(
        self, query: Select[*_Ts], *, hash_groups: bool = False
    ) -> Sequence[Row[*_Ts]]:
        """Run a read-only Core query in its own (read) transaction.

        ``hash_groups``: on PostgreSQL, give this transaction enough ``work_mem`` to group in
        memory; with the default 4 MB a month of rows is sorted on disk first (3x slower).
        """
        async with transaction(self._engine, write=False) as session:
            connection = await session.connection()
            if hash_groups and connection.dialect.name == "postgresql":
                await connection.execute(text(f"SET LOCAL work_mem = '{_GROUPING_WORK_MEM}'"))
            result = await connection.execute(query)
            return result.all()

    # -- filters ----------------------------------------------------------------------------

    def _where(
        self, *, workspace_id: str, period: Period, user_id: str | None
    ) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = [col(LedgerEntry.workspace_id) == workspace_id]
        if period.month_key is not None:
            clauses.append(col(LedgerEntry.month) == period.month_key)
        else:
            start, end = period.utc_bounds(self._tz)
            clauses.append(col(LedgerEntry.created_at) >= start)
            clauses.append(col(LedgerEntry.created_at) < end)
        if user_id is not None:
            clauses.append(col(LedgerEntry.user_id) == user_id)
        return clauses

    async def breakdown(
        self, *, workspace_id: str, period: Period, user_id: str | None = None
    ) -> Breakdown:
        """Images and spend per (person, model, tier, channel, size, batch): one scan of the rows.

        Every per-model, per-tier, per-channel and per-person figure, the totals and the savings
        are sums over these cells, so a whole report reads the period's rows once.
        """
        keys = (
            col(LedgerEntry.user_id),
            col(LedgerEntry.model_id),
            col(LedgerEntry.tier),
            col(LedgerEntry.channel_id),
            col(LedgerEntry.image_size),
            col(LedgerEntry.batch),
        )
        query = (
            select(
                *keys,
                func.coalesce(func.sum(LedgerEntry.images), 0),
                func.coalesce(func.sum(LedgerEntry.cost_micros), 0),
            )
            .where(*self._where(workspace_id=workspace_id, period=period, user_id=user_id))
            .group_by(*keys)
        )
        return Breakdown(
            tuple(
                _Cell(
                    user_id=str(row[0]),
                    model_id=str(row[1]),
                    tier=str(row[2]) if row[2] is not None else UNTIERED,
                    channel_id=str(row[3] or ""),
                    image_size=row[4],
                    batch=bool(row[5]),
                    images=_int(row[6]),
                    cost_micros=_int(row[7]),
                )
                for row in await self._fetch(query, hash_groups=True)
            )
        )

    # -- single figures and breakdowns --------------------------------------------------------

    async def totals(
        self, *, workspace_id: str, period: Period, user_id: str | None = None
    ) -> tuple[int, int]:
        """``(images, cost_micros)`` of the period (one person's with ``user_id``)."""
        cells = await self.breakdown(workspace_id=workspace_id, period=period, user_id=user_id)
        return cells.totals()

    async def spend_by_model(
        self, *, workspace_id: str, period: Period, card: RateCard, user_id: str | None = None
    ) -> tuple[ModelSpend, ...]:
        """Images and spend per model, most spent first (display names from ``card``)."""
        cells = await self.breakdown(workspace_id=workspace_id, period=period, user_id=user_id)
        return cells.by_model(card)

    async def spend_by_tier(
        self, *, workspace_id: str, period: Period, card: RateCard, user_id: str | None = None
    ) -> tuple[TierSpend, ...]:
        """Every tier of the card's blend (even unused ones) with its recommended share, then
        tiers outside the blend and untiered rows (as ``other``)."""
        cells = await self.breakdown(workspace_id=workspace_id, period=period, user_id=user_id)
        return cells.by_tier(card)

    async def spend_by_channel(
        self,
        *,
        workspace_id: str,
        period: Period,
        user_id: str | None = None,
        limit: int | None = None,
    ) -> tuple[ChannelSpend, ...]:
        """Images and spend per channel, most spent first (``""``: no channel)."""
        cells = await self.breakdown(workspace_id=workspace_id, period=period, user_id=user_id)
        return cells.by_channel(limit=limit)

    async def spend_by_user(
        self, *, workspace_id: str, period: Period
    ) -> tuple[tuple[str, int, int], ...]:
        """``(user_id, images, cost_micros)`` per person with any ledger row, most spent first."""
        cells = await self.breakdown(workspace_id=workspace_id, period=period)
        return cells.by_user()

    async def all_on_reference_micros(
        self, *, workspace_id: str, period: Period, card: RateCard, user_id: str | None = None
    ) -> int:
        """What the period's images would have cost on the reference model at the same sizes."""
        cells = await self.breakdown(workspace_id=workspace_id, period=period, user_id=user_id)
        return cells.all_on_reference(card)

    async def spend_by_day(
        self, *, workspace_id: str, period: Period, user_id: str | None = None
    ) -> tuple[DaySpend, ...]:
        """Spend per local day and model (days without spend are absent), in day order.

        When every local midnight of the period falls on a whole UTC hour (any zone with
        whole-hour offsets, DST included), rows are summed per UTC hour in SQL and the hours
        placed on local days here: a cheap expression on every row. Otherwise (e.g. India,
        UTC+05:30) one ``CASE`` over the local midnights does it in SQL.
        """
        days = list(period.dates())
        where = self._where(workspace_id=workspace_id, period=period, user_id=user_id)
        if all(_on_the_hour(day, self._tz) for day in days):
            sums = await self._by_hour(where, first_day=period.start)
        else:
            sums = await self._by_day_index(where, days)
        per_day: dict[tuple[int, str], tuple[int, int]] = {}
        for position, model_id, images, cost in sums:
            position = min(max(position, 0), len(days) - 1)  # rows outside: nearest day
            old_images, old_cost = per_day.get((position, model_id), (0, 0))
            per_day[(position, model_id)] = (old_images + images, old_cost + cost)
        return tuple(
            DaySpend(day=days[position], model_id=model_id, images=images, cost_micros=cost)
            for (position, model_id), (images, cost) in sorted(per_day.items())
        )

    async def _sums_by(
        self, bucket: ColumnElement[Any], where: list[ColumnElement[bool]]
    ) -> list[tuple[Any, str, int, int]]:
        """``(bucket, model, images, cost)`` summed per value of ``bucket`` and model.

        Grouped in an outer query: PostgreSQL would not match the bound parameters of the same
        expression in SELECT and GROUP BY.
        """
        inner = (
            select(
                bucket.label("bucket"),
                col(LedgerEntry.model_id).label("model_id"),
                col(LedgerEntry.images).label("images"),
                col(LedgerEntry.cost_micros).label("cost"),
            )
            .where(*where)
            .subquery()
        )
        query = select(
            inner.c.bucket,
            inner.c.model_id,
            func.coalesce(func.sum(inner.c.images), 0),
            func.coalesce(func.sum(inner.c.cost), 0),
        ).group_by(inner.c.bucket, inner.c.model_id)
        return [
            (row[0], str(row[1]), _int(row[2]), _int(row[3])) for row in await self._fetch(query)
        ]

    async def _by_hour(
        self, where: list[ColumnElement[bool]], *, first_day: date
    ) -> list[tuple[int, str, int, int]]:
        """``(day position, model, images, cost)`` summed per UTC hour, hours put on local days."""
        created = col(LedgerEntry.created_at)
        hour: ColumnElement[Any]
        if self._engine.dialect.name == "postgresql":
            hour = func.date_trunc("hour", func.timezone("UTC", created))
        else:
            # SQLite keeps UTC as text 'YYYY-MM-DD HH:MM:SS.ffffff': the first 13 are the hour.
            hour = func.substr(created, 1, 13)
        return [
            ((_utc_hour(hour_value).astimezone(self._tz).date() - first_day).days, model, n, cost)
            for hour_value, model, n, cost in await self._sums_by(hour, where)
        ]

    async def _by_day_index(
        self, where: list[ColumnElement[bool]], days: list[date]
    ) -> list[tuple[int, str, int, int]]:
        """``(day position, model, images, cost)`` with one CASE over the local midnights."""
        bounds = [Period(day, day).utc_bounds(self._tz)[1] for day in days[:-1]]
        created = col(LedgerEntry.created_at)
        day_index: ColumnElement[int]
        if bounds:
            day_index = case(
                *((created < bound, index) for index, bound in enumerate(bounds)),
                else_=len(days) - 1,
            )
        else:
            day_index = literal(0)
        return [
            (int(bucket), model, n, cost)
            for bucket, model, n, cost in await self._sums_by(day_index, where)
        ]

    async def workspaces(self) -> tuple[str, ...]:
        """Every workspace id the ledger knows (the CLI picks the only one by default)."""
        rows = await self._fetch(select(col(Workspace.id)).order_by(col(Workspace.id)))
        return tuple(str(row[0]) for row in rows)

    async def rows(
        self, *, workspace_id: str, period: Period, user_id: str | None = None
    ) -> AsyncIterator[LedgerRow]:
        """Every ledger row of the period in id order, fetched in pages (for the CSV export)."""
        last_id = 0
        where = self._where(workspace_id=workspace_id, period=period, user_id=user_id)
        while True:
            query = (
                orm_select(LedgerEntry)
                .where(*where, col(LedgerEntry.id) > last_id)
                .order_by(col(LedgerEntry.id))
                .limit(_ROWS_PER_FETCH)
            )
            async with transaction(self._engine, write=False) as session:
                page = list((await session.exec(query)).all())
            for entry in page:
                yield _ledger_row(entry)
            if len(page) < _ROWS_PER_FETCH:
                return
            assert page[-1].id is not None
            last_id = page[-1].id

    # -- budgets ------------------------------------------------------------------------------

    async def budgets_of(
        self,
        users: Sequence[str],
        *,
        workspace_id: str,
        month: str,
        ledger: BudgetLedger,
    ) -> dict[str, int | None]:
        """Each user's budget for ``month`` (None: unlimited) in two queries, not one per user.

        Same precedence as :meth:`BudgetLedger.budget_for`; users without a budget row of their
        own get the configured default, which is asked of ``ledger`` once.
        """
        wanted = set(users)
        if not wanted:
            return {}
        query = (
            select(col(Budget.scope), col(Budget.month), col(Budget.amount_micros), col(Budget.id))
            .where(
                col(Budget.workspace_id) == workspace_id,
                col(Budget.scope) != WORKSPACE_SCOPE,
                (col(Budget.month) == month) | col(Budget.month).is_(None),
            )
            .order_by(col(Budget.id))
        )
        rows = await self._fetch(query)
        standing: dict[str, int | None] = {}
        monthly: dict[str, int | None] = {}
        for scope, row_month, amount, _id in rows:  # id order: the newest row wins
            (monthly if row_month is not None else standing)[str(scope)] = amount
        result: dict[str, int | None] = {}
        missing = []
        for user in wanted:
            if user in monthly:
                result[user] = monthly[user]
            elif user in standing:
                result[user] = standing[user]
            else:
                missing.append(user)
        if missing:
            default = await ledger.budget_for(
                workspace_id=workspace_id, user_id=missing[0], month=month
            )
            for user in missing:
                result[user] = default.amount_micros
        return result

    # -- whole reports ------------------------------------------------------------------------

    def _projection(self, spent: int, *, period: Period, now: datetime) -> int | None:
        start, end = period.utc_bounds(self._tz)
        return project_to_period_end(spent, period_start=start, period_end=end, now=now)

    async def user_report(
        self,
        *,
        workspace_id: str,
        user_id: str,
        period: Period,
        card: RateCard,
        ledger: BudgetLedger,
        now: datetime,
    ) -> UserReport:
        """``/spend`` for one person; the budget is shown for whole-month periods only."""
        cells = await self.breakdown(workspace_id=workspace_id, period=period, user_id=user_id)
        images, cost = cells.totals()
        by_model = cells.by_model(card)
        all_pro = cells.all_on_reference(card)
        budget = None
        if period.month_key is not None:
            setting = await ledger.budget_for(
                workspace_id=workspace_id, user_id=user_id, month=period.month_key
            )
            budget = setting.amount_micros
        return UserReport(
            user_id=user_id,
            period=period,
            images=images,
            cost_micros=cost,
            budget_micros=budget,
            by_model=by_model,
            all_pro_micros=all_pro,
            reference_name=reference_model(card).display_name,
            projection_micros=self._projection(cost, period=period, now=now),
        )

    async def team_report(
        self,
        *,
        workspace_id: str,
        period: Period,
        card: RateCard,
        ledger: BudgetLedger,
        now: datetime,
        top_channels: int = 5,
    ) -> TeamReport:
        """``/spend team``: everyone with spend (most first), totals, mix, channels and days."""
        cells = await self.breakdown(workspace_id=workspace_id, period=period)
        per_user = cells.by_user()
        budgets: dict[str, int | None] = {}
        workspace_budget = None
        if period.month_key is not None:
            budgets = await self.budgets_of(
                [user for user, _, _ in per_user],
                workspace_id=workspace_id,
                month=period.month_key,
                ledger=ledger,
            )
            setting = await ledger.budget_for(
                workspace_id=workspace_id, user_id=None, month=period.month_key
            )
            workspace_budget = setting.amount_micros
        users = tuple(
            UserSpend(
                user_id=user, images=images, cost_micros=cost, budget_micros=budgets.get(user)
            )
            for user, images, cost in per_user
        )
        images = sum(user.images for user in users)
        cost = sum(user.cost_micros for user in users)
        return TeamReport(
            period=period,
            users=users,
            images=images,
            cost_micros=cost,
            budget_micros=workspace_budget,
            by_tier=cells.by_tier(card),
            by_model=cells.by_model(card),
            channels=cells.by_channel(limit=top_channels),
            daily=await self.spend_by_day(workspace_id=workspace_id, period=period),
            all_pro_micros=cells.all_on_reference(card),
            reference_name=reference_model(card).display_name,
            projection_micros=self._projection(cost, period=period, now=now),
        )


def _ledger_row(entry: LedgerEntry) -> LedgerRow:
    assert entry.id is not None
    return LedgerRow(
        id=entry.id,
        created_at=entry.created_at,
        month=entry.month,
        workspace_id=entry.workspace_id,
        user_id=entry.user_id,
        channel_id=entry.channel_id,
        thread_ts=entry.thread_ts,
        model_id=entry.model_id,
        tier=entry.tier,
        images=entry.images,
        image_size=entry.image_size,
        batch=entry.batch,
        input_tokens=entry.input_tokens,
        input_image_tokens=entry.input_image_tokens,
        output_image_tokens=entry.output_image_tokens,
        output_text_tokens=entry.output_text_tokens,
        thinking_tokens=entry.thinking_tokens,
        usage_reported=entry.usage_reported,
        reference_inputs=entry.reference_inputs,
        cost_micros=entry.cost_micros,
        possibly_billed=entry.possibly_billed,
        interrupted=entry.interrupted,
        idempotency_key=entry.idempotency_key,
        request_key=entry.request_key,
    )
