"""Report queries: every figure equals the sum of the ledger rows it covers, on both engines."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.ledger.budgets import BudgetLedger
from bot.ledger.engine import make_engine
from bot.ledger.reports import UNTIERED, ReportStore
from bot.reports import Period
from tests.bot.reports.samples import Row, card, insert_rows
from tests.pg import db_url, migrated_db_url  # noqa: F401 - fixtures

TZ = ZoneInfo("America/New_York")  # whole-hour offsets: days are summed per UTC hour
KOLKATA = ZoneInfo("Asia/Kolkata")  # UTC+05:30: days are bucketed by one CASE in SQL
NOW = datetime(2026, 11, 20, 15, tzinfo=UTC)
CARD = card()
MODELS = ["gemini-3-pro-image", "gemini-3.1-flash-image", "gemini-2.5-flash-image", "unknown"]
# Nano Banana Pro per image on the current card (1K/2K $0.134, 4K $0.24; batch half), the
# independent expectation for the savings figure. 512px and no size price as its 1K default.
PRO = {"1K": 134_000, "2K": 134_000, "4K": 240_000, "512": 134_000, None: 134_000}

rows_strategy = st.lists(
    st.builds(
        Row,
        user_id=st.sampled_from(["U1", "U2", "U3"]),
        model_id=st.sampled_from(MODELS),
        cost_micros=st.integers(min_value=0, max_value=2_000_000),
        created_at=st.datetimes(
            min_value=datetime(2026, 9, 25),  # noqa: DTZ001 - hypothesis wants naive bounds
            max_value=datetime(2026, 11, 5),  # noqa: DTZ001 - and adds the zone itself
            timezones=st.just(UTC),
        ),
        images=st.integers(min_value=0, max_value=4),
        tier=st.sampled_from([None, "economy", "draft", "hero", "edit", "character", "final"]),
        channel_id=st.sampled_from([None, "C1", "C2", "C3"]),
        image_size=st.sampled_from([None, "512", "1K", "2K", "4K"]),
        batch=st.booleans(),
        month=st.sampled_from([None, None, None, "2026-09", "2026-10"]),
    ),
    max_size=40,
)
periods_strategy = st.sampled_from(
    [
        Period.month(2026, 10),
        Period(date(2026, 10, 5), date(2026, 10, 20)),
        Period(date(2026, 9, 28), date(2026, 10, 3)),
        Period(date(2026, 11, 1), date(2026, 11, 1)),
    ]
)


@pytest.fixture
async def engine(migrated_db_url: str) -> AsyncIterator[AsyncEngine]:  # noqa: F811 - fixture
    """A migrated database on each engine."""
    engine = make_engine(migrated_db_url)
    try:
        yield engine
    finally:
        await engine.dispose()


def _covered(row: Row, period: Period, tz: ZoneInfo) -> bool:
    if period.month_key is not None:
        month = row.month or row.created_at.astimezone(tz).strftime("%Y-%m")
        return month == period.month_key
    start, end = period.utc_bounds(tz)
    return start <= row.created_at < end


def _sums(rows: list[Row], key: object) -> dict[object, tuple[int, int]]:
    out: dict[object, tuple[int, int]] = defaultdict(lambda: (0, 0))
    for row in rows:
        k = key(row)  # type: ignore[operator]
        images, cost = out[k]
        out[k] = (images + row.images, cost + row.cost_micros)
    return dict(out)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=rows_strategy, period=periods_strategy, tz=st.sampled_from([TZ, KOLKATA]))
async def test_report_figures_equal_the_sums_of_ledger_rows(
    engine: AsyncEngine, rows: list[Row], period: Period, tz: ZoneInfo
) -> None:
    """Totals and every breakdown equal sums over the rows the period covers, in any zone."""
    workspace = f"T{uuid.uuid4().hex[:10]}"
    await insert_rows(engine, rows, workspace_id=workspace, tz=tz, at=NOW)
    store = ReportStore(engine, tz=tz)
    covered = [row for row in rows if _covered(row, period, tz)]
    kw = {"workspace_id": workspace, "period": period}

    images, cost = await store.totals(**kw)  # type: ignore[arg-type]
    assert (images, cost) == (sum(r.images for r in covered), sum(r.cost_micros for r in covered))

    by_user = await store.spend_by_user(**kw)  # type: ignore[arg-type]
    assert {u: (i, c) for u, i, c in by_user} == _sums(covered, lambda r: r.user_id)
    assert [c for _, _, c in by_user] == sorted((c for _, _, c in by_user), reverse=True)

    by_model = await store.spend_by_model(card=CARD, **kw)  # type: ignore[arg-type]
    assert {m.model_id: (m.images, m.cost_micros) for m in by_model} == _sums(
        covered, lambda r: r.model_id
    )

    by_tier = await store.spend_by_tier(card=CARD, **kw)  # type: ignore[arg-type]
    expected_tiers = _sums(covered, lambda r: r.tier or UNTIERED)
    assert {t.tier: (t.images, t.cost_micros) for t in by_tier if t.images or t.cost_micros} == {
        k: v for k, v in expected_tiers.items() if v != (0, 0)
    }
    assert {str(p) for p in CARD.mix} <= {t.tier for t in by_tier}

    channels = await store.spend_by_channel(**kw)  # type: ignore[arg-type]
    assert {c.channel_id: (c.images, c.cost_micros) for c in channels} == _sums(
        covered, lambda r: r.channel_id or ""
    )

    def local_day(row: Row) -> date:
        day = row.created_at.astimezone(tz).date()
        return min(max(day, period.start), period.end)

    daily = await store.spend_by_day(**kw)  # type: ignore[arg-type]
    assert {(d.day, d.model_id): (d.images, d.cost_micros) for d in daily} == _sums(
        covered, lambda r: (local_day(r), r.model_id)
    )

    expected_pro = 0
    for row in covered:
        price = PRO[row.image_size]
        expected_pro += row.images * (price // 2 if row.batch else price)
    assert await store.all_on_reference_micros(card=CARD, **kw) == expected_pro  # type: ignore[arg-type]

    exported = [row async for row in store.rows(**kw)]  # type: ignore[arg-type]
    assert len(exported) == len(covered)
    assert sum(row.cost_micros for row in exported) == cost


@pytest.mark.parametrize(
    ("zone", "days"),
    [
        (TZ, [(date(2026, 10, 4), 100), (date(2026, 10, 5), 7)]),
        (KOLKATA, [(date(2026, 10, 5), 100), (date(2026, 10, 6), 7)]),
    ],
)
async def test_days_follow_local_midnight_not_utc(
    engine: AsyncEngine, zone: ZoneInfo, days: list[tuple[date, int]]
) -> None:
    """02:00 and 20:00 UTC on 5 Oct fall on 4/5 Oct in New York and on 5/6 Oct in Kolkata."""
    rows = [
        Row(
            user_id="U1",
            model_id=MODELS[0],
            cost_micros=100,
            created_at=datetime(2026, 10, 5, 2, tzinfo=UTC),
        ),
        Row(
            user_id="U1",
            model_id=MODELS[0],
            cost_micros=7,
            created_at=datetime(2026, 10, 5, 20, tzinfo=UTC),
        ),
    ]
    await insert_rows(engine, rows, workspace_id="T1", tz=zone, at=NOW)
    daily = await ReportStore(engine, tz=zone).spend_by_day(
        workspace_id="T1", period=Period.month(2026, 10)
    )
    assert [(d.day, d.cost_micros) for d in daily] == days


async def test_team_report_uses_each_budget_and_the_workspace_budget(engine: AsyncEngine) -> None:
    """Budgets come from the ledger: month override, standing budget, default, workspace."""
    ledger = BudgetLedger(
        engine, tz=TZ, default_user_budget_micros=50_000_000, workspace_budget_micros=None
    )
    november = datetime(2026, 11, 3, 15, tzinfo=UTC)
    rows = [
        Row(user_id=user, model_id=MODELS[1], cost_micros=cost, created_at=november)
        for user, cost in (("U1", 30_000_000), ("U2", 5_000_000), ("U3", 1_000_000))
    ]
    await insert_rows(engine, rows, workspace_id="T1", tz=TZ, at=NOW)
    await ledger.set_budget(
        workspace_id="T1", user_id="U1", amount_micros=40_000_000, set_by="M1", at=NOW
    )
    await ledger.set_budget(
        workspace_id="T1",
        user_id="U1",
        amount_micros=60_000_000,
        set_by="M1",
        at=NOW,
        month="2026-11",
    )
    await ledger.set_budget(
        workspace_id="T1", user_id="U2", amount_micros=None, set_by="M1", at=NOW
    )
    await ledger.set_budget(
        workspace_id="T1", user_id=None, amount_micros=2_000_000_000, set_by="M1", at=NOW
    )
    store = ReportStore(engine, tz=TZ)
    report = await store.team_report(
        workspace_id="T1", period=Period.month(2026, 11), card=CARD, ledger=ledger, now=NOW
    )
    assert [(u.user_id, u.budget_micros) for u in report.users] == [
        ("U1", 60_000_000),
        ("U2", None),
        ("U3", 50_000_000),
    ]
    for user in report.users:
        setting = await ledger.budget_for(workspace_id="T1", user_id=user.user_id, month="2026-11")
        assert setting.amount_micros == user.budget_micros
    assert report.budget_micros == 2_000_000_000
    assert report.cost_micros == 36_000_000
    # New York: the month runs 1 Nov 04:00 UTC to 1 Dec 05:00 UTC (DST ends on 1 Nov), and
    # 20 Nov 15:00 UTC is 19 days 11 hours into it.
    elapsed, total = 19 * 86_400 + 11 * 3_600, 30 * 86_400 + 3_600
    assert report.projection_micros == (36_000_000 * total + elapsed // 2) // elapsed


async def test_user_report_of_a_finished_month_has_no_projection(engine: AsyncEngine) -> None:
    """A past month shows its total, budget and savings but no pace."""
    ledger = BudgetLedger(
        engine, tz=TZ, default_user_budget_micros=25_000_000, workspace_budget_micros=None
    )
    october = datetime(2026, 10, 10, 15, tzinfo=UTC)
    rows = [
        Row(user_id="U1", model_id=MODELS[2], cost_micros=39_000, created_at=october, images=1),
        Row(
            user_id="U1",
            model_id=MODELS[0],
            cost_micros=240_000,
            created_at=october,
            image_size="4K",
        ),
    ]
    await insert_rows(engine, rows, workspace_id="T1", tz=TZ, at=NOW)
    report = await ReportStore(engine, tz=TZ).user_report(
        workspace_id="T1",
        user_id="U1",
        period=Period.month(2026, 10),
        card=CARD,
        ledger=ledger,
        now=NOW,
    )
    assert report.projection_micros is None
    assert report.budget_micros == 25_000_000
    assert report.cost_micros == 279_000
    assert report.all_pro_micros == 134_000 + 240_000
    assert report.saved_micros == 95_000
    assert report.per_image_micros == 139_500
    assert [m.display_name for m in report.by_model] == ["Nano Banana Pro", "Nano Banana"]
