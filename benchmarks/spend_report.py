"""How long ``/spend`` takes on a big ledger: 1,000,000 rows on SQLite and on PostgreSQL.

Usage::

    python benchmarks/spend_report.py                  # both engines, 1M rows each
    python benchmarks/spend_report.py --rows 100000 --engines sqlite
    python benchmarks/spend_report.py --docs           # regenerate docs/example-report.txt
                                                       # and docs/spend-chart.png from a sample

The ledger is built by ``benchmarks/seed_ledger.py`` in a throwaway SQLite file under
``benchmarks/data/`` (gitignored) and a throwaway PostgreSQL database (``IMAGEBOT_BENCH_PG_URL``,
an admin URL, default ``postgresql://postgres@127.0.0.1:5432/postgres``), both removed afterwards.
Timed, for the month with the most rows: ``/spend`` of the heaviest user (queries and Block Kit),
``/spend team`` (queries and Block Kit) and the chart (PNG). Figures are medians of a few runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import make_url

from bot.cards import load_card
from bot.ledger import BudgetLedger, make_engine, transaction, upgrade
from bot.ledger.reports import ReportStore
from bot.ledger.tables import LedgerEntry, Workspace
from bot.reports import Period, render_spend_chart, team_report_blocks, user_report_blocks

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed_ledger import seed_ledger

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
DOCS = HERE.parent / "docs"
MONTH = Period.month(2026, 11)
NOW = datetime(2026, 11, 30, 23, tzinfo=UTC)
TZ = ZoneInfo("UTC")
WORKSPACE = "default"
RUNS = 5


async def _median(step: Callable[[], Awaitable[object]], runs: int = RUNS) -> float:
    await step()  # warm caches and connections once
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        await step()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


async def measure(url: str, *, label: str) -> dict[str, float]:
    """Time the three steps on an already seeded database."""
    card = load_card("current-2026-11")
    engine = make_engine(url, pool_size=2)
    try:
        reports = ReportStore(engine, tz=TZ)
        ledger = BudgetLedger(
            engine, tz=TZ, default_user_budget_micros=500_000_000, workspace_budget_micros=None
        )
        users = await reports.spend_by_user(workspace_id=WORKSPACE, period=MONTH)
        heaviest = users[0][0]

        async def user() -> object:
            report = await reports.user_report(
                workspace_id=WORKSPACE,
                user_id=heaviest,
                period=MONTH,
                card=card,
                ledger=ledger,
                now=NOW,
            )
            return user_report_blocks(report, viewer_id=heaviest)

        async def team() -> object:
            report = await reports.team_report(
                workspace_id=WORKSPACE, period=MONTH, card=card, ledger=ledger, now=NOW
            )
            return team_report_blocks(report)

        report = await reports.team_report(
            workspace_id=WORKSPACE, period=MONTH, card=card, ledger=ledger, now=NOW
        )
        names = {model.model_id: model.display_name for model in report.by_model}

        async def chart() -> object:
            return render_spend_chart(
                report.daily,
                period=MONTH,
                budget_micros=report.budget_micros,
                names=names,
                title="Team spend per day",
            )

        figures = {
            "/spend (heaviest user)": await _median(user),
            "/spend team": await _median(team),
            "chart": await _median(chart),
        }
        rows_in_month = sum(u[1] for u in users)
        print(f"{label}: {len(users)} people, {rows_in_month:,} images in {MONTH.label}")
        return figures
    finally:
        await engine.dispose()


def _admin_url() -> str:
    return (
        os.environ.get("IMAGEBOT_BENCH_PG_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    )


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _with_pg(rows: int) -> dict[str, float]:
    name = f"imagebot_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_plain(_admin_url()))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = make_url(_admin_url()).set(database=name).render_as_string(hide_password=False)
    try:
        summary = await seed_ledger(url, rows=rows)
        print(f"postgresql: seeded {summary.rows:,} rows in {summary.seconds:.1f} s")
        return await measure(url, label="postgresql")
    finally:
        admin = await asyncpg.connect(_plain(_admin_url()))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def _with_sqlite(rows: int) -> dict[str, float]:
    DATA.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=DATA) as folder:
        url = f"sqlite:///{Path(folder) / 'ledger.db'}"
        summary = await seed_ledger(url, rows=rows)
        print(f"sqlite: seeded {summary.rows:,} rows in {summary.seconds:.1f} s")
        return await measure(url, label="sqlite")


def _table(results: dict[str, dict[str, float]], rows: int) -> str:
    engines = list(results)
    steps = list(next(iter(results.values())))
    lines = [
        f"Latency with {rows:,} ledger rows (median of {RUNS} runs, ms)",
        "step                      " + "".join(f"{engine:>12}" for engine in engines),
    ]
    for step in steps:
        cells = "".join(f"{results[engine][step] * 1000:>12.1f}" for engine in engines)
        lines.append(f"{step:<26}{cells}")
    return "\n".join(lines)


# -- the sample ledger behind docs/example-report.txt and docs/spend-chart.png ---------------

_SAMPLE_MIX = (
    # (model id, tier, size, share of requests, cost per image in micros)
    ("gemini-3.1-flash-image", "economy", "1K", 0.65, 67_000),
    ("gemini-3.1-flash-image", "draft", "512", 0.12, 45_000),
    ("gemini-3.1-flash-image", "hero", "2K", 0.10, 101_000),
    ("gemini-3.1-flash-image", "edit", "1K", 0.06, 67_000),
    ("gemini-3-pro-image", "character", "1K", 0.05, 134_000),
    ("gemini-3-pro-image", "final", "4K", 0.02, 240_000),
)
_SAMPLE_PEOPLE = ("U0ANNA", "U0BRUNO", "U0CLEO", "U0DARIO", "U0EVA", "U0FINN")
_SAMPLE_CHANNELS = ("C0SOCIAL", "C0LAUNCH", "C0BRAND", None)


async def build_sample(url: str) -> None:
    """A month of a six-person team's images (deterministic), for the docs."""
    import random

    rng = random.Random(6)
    await upgrade(url)
    engine = make_engine(url, pool_size=1)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    weights = [share for *_, share, _ in _SAMPLE_MIX]
    try:
        async with transaction(engine) as session:
            session.add(Workspace(id=WORKSPACE, created_at=start))
            await session.flush()
            for n in range(900):
                model, tier, size, _, price = rng.choices(_SAMPLE_MIX, weights=weights)[0]
                person = rng.choices(_SAMPLE_PEOPLE, weights=(30, 22, 16, 12, 8, 4))[0]
                at = start + timedelta(seconds=rng.random() * 19.5 * 86_400)
                thinking = rng.randint(150, 500)
                cost = price + thinking * (12 if "pro" in model else 3)
                session.add(
                    LedgerEntry(
                        idempotency_key=f"sample:{n}",
                        workspace_id=WORKSPACE,
                        user_id=person,
                        channel_id=rng.choice(_SAMPLE_CHANNELS),
                        model_id=model,
                        tier=tier,
                        images=1,
                        image_size=size,
                        thinking_tokens=thinking,
                        cost_micros=cost,
                        month="2026-11",
                        created_at=at,
                    )
                )
        ledger = BudgetLedger(
            engine, tz=TZ, default_user_budget_micros=25_000_000, workspace_budget_micros=None
        )
        await ledger.set_budget(
            workspace_id=WORKSPACE,
            user_id=None,
            amount_micros=150_000_000,
            set_by="U0MANAGER",
            at=start,
        )
        await ledger.set_budget(
            workspace_id=WORKSPACE,
            user_id="U0ANNA",
            amount_micros=40_000_000,
            set_by="U0MANAGER",
            at=start,
        )
    finally:
        await engine.dispose()


def regenerate_docs() -> None:
    """Build the sample ledger and run ``imagebot spend`` on it to write the two docs files."""
    DATA.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=DATA) as folder:
        url = f"sqlite:///{Path(folder) / 'sample.db'}"
        asyncio.run(build_sample(url))
        env = {
            **os.environ,
            "IMAGEBOT_DATABASE_URL": url,
            "IMAGEBOT_TIMEZONE": "UTC",
            "IMAGEBOT_RATE_CARD": "current-2026-11",
            "IMAGEBOT_DEFAULT_USER_BUDGET_USD": "25",
            "IMAGEBOT_WORKSPACE_BUDGET_USD": "150",
        }
        command = [
            sys.executable,
            "-m",
            "bot",
            "spend",
            "--month",
            "2026-11",
            "--chart",
            str(DOCS / "spend-chart.png"),
        ]
        result = subprocess.run(  # noqa: S603 - our own CLI with fixed arguments
            command, env=env, check=True, capture_output=True, text=True, cwd=HERE.parent
        )
        header = "$ imagebot spend --month 2026-11 --chart docs/spend-chart.png\n"
        (DOCS / "example-report.txt").write_text(header + result.stdout, encoding="utf-8")
    print(f"wrote {DOCS / 'example-report.txt'} and {DOCS / 'spend-chart.png'}")


def main() -> None:
    """Command line: seed, measure and print (or regenerate the docs sample with --docs)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--docs", action="store_true", help="regenerate the docs sample instead")
    args = parser.parse_args()
    if args.docs:
        regenerate_docs()
        return
    results: dict[str, dict[str, float]] = {}
    for engine in args.engines.split(","):
        runner = _with_sqlite if engine == "sqlite" else _with_pg
        results[engine] = asyncio.run(runner(args.rows))
    print(_table(results, args.rows))


if __name__ == "__main__":
    main()
