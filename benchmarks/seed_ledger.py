"""Build N realistic ledger rows fast, on SQLite or PostgreSQL (for the report benchmarks).

Usage::

    python benchmarks/seed_ledger.py --url sqlite:///benchmarks/data/ledger.db --rows 1000000
    python benchmarks/seed_ledger.py --url postgresql://postgres@127.0.0.1/bench --rows 1000000

or from Python: ``await seed_ledger(url, rows=1_000_000)`` (returns a :class:`SeedSummary`).

The database is migrated first. Rows spread over 30 users (a few heavy users, a long tail), six
models in the seed's traffic mix (65/12/10/6/5/2), 20 channels and the three calendar months
ending with ``end``; costs are the per-image prices with realistic jitter. PostgreSQL rows go in
with ``COPY`` (asyncpg ``copy_records_to_table``), SQLite rows with ``executemany`` in large
transactions. The workspace's spend counters are then rebuilt from its rows, so budget states
and reports agree. Deterministic for a given ``seed``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.ledger import WORKSPACE_SCOPE, make_engine, upgrade
from bot.ledger.tables import LedgerEntry, SlackUser, SpendCounter, Workspace

__all__ = ["MODELS", "SeedSummary", "seed_ledger"]

#: (model id, tier, traffic share, cost per image in micros, image tokens)
MODELS: tuple[tuple[str, str, float, int, int], ...] = (
    ("gemini-2.5-flash-image", "economy", 0.65, 39_000, 1290),
    ("gemini-3.1-flash-image", "draft", 0.12, 67_000, 1120),
    ("gemini-3.1-flash-image-2k", "hero", 0.10, 101_000, 1680),
    ("gemini-3.1-flash-image-edit", "edit", 0.06, 67_000, 1120),
    ("gemini-3-pro-image", "character", 0.05, 134_000, 1120),
    ("gemini-3-pro-image-4k", "final", 0.02, 240_000, 2000),
)
USERS = tuple(f"U{n:08d}" for n in range(1, 31))
CHANNELS = tuple(f"C{n:08d}" for n in range(1, 21))
_COLUMNS = (
    "idempotency_key",
    "request_key",
    "workspace_id",
    "user_id",
    "channel_id",
    "thread_ts",
    "model_id",
    "tier",
    "images",
    "image_size",
    "batch",
    "input_tokens",
    "input_image_tokens",
    "output_image_tokens",
    "output_text_tokens",
    "thinking_tokens",
    "usage_reported",
    "reference_inputs",
    "cost_micros",
    "possibly_billed",
    "interrupted",
    "month",
    "created_at",
)


@dataclass(frozen=True, slots=True)
class SeedSummary:
    """What was built: rows, their total cost, the months covered and the time it took."""

    rows: int
    total_micros: int
    months: tuple[str, ...]
    seconds: float


def _month(at: datetime, tz: ZoneInfo) -> str:
    local = at.astimezone(tz)
    return f"{local.year:04d}-{local.month:02d}"


def _rows(
    *,
    count: int,
    rng: random.Random,
    workspace_id: str,
    prefix: str,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
) -> Iterator[tuple[Any, ...]]:
    user_cum = list(accumulate(1.0 / (rank + 1) ** 0.9 for rank in range(len(USERS))))
    model_cum = list(accumulate(share for _, _, share, _, _ in MODELS))
    span = (end - start).total_seconds()
    for i in range(count):
        model_id, tier, _, price, image_tokens = rng.choices(MODELS, cum_weights=model_cum)[0]
        user = rng.choices(USERS, cum_weights=user_cum)[0]
        created = start + timedelta(seconds=rng.random() * span)
        batch = rng.random() < 0.08
        images = 1 if rng.random() < 0.9 else rng.randint(2, 4)
        thinking = 0 if model_id.startswith("gemini-2.5") else rng.randint(100, 600)
        cost = price * images // (2 if batch else 1) + thinking * 12 // (
            1 if "pro" in model_id else 4
        )
        yield (
            f"{prefix}:{i}",
            None,
            workspace_id,
            user,
            rng.choice(CHANNELS),
            f"{1_760_000_000 + i // 3}.{i % 1_000_000:06d}",
            model_id,
            tier,
            images,
            "4K" if model_id.endswith("4k") else ("2K" if model_id.endswith("2k") else "1K"),
            batch,
            rng.randint(20, 400),
            0,
            image_tokens * images,
            rng.randint(0, 40),
            thinking,
            True,
            0,
            cost,
            False,
            False,
            _month(created, tz),
            created,
        )


async def seed_ledger(
    url: str,
    *,
    rows: int,
    seed: int = 0,
    workspace_id: str = "default",
    end: datetime | None = None,
    tz: ZoneInfo | None = None,
    batch_size: int = 20_000,
) -> SeedSummary:
    """Migrate ``url`` and add ``rows`` ledger rows for ``workspace_id`` over three months.

    ``end`` (UTC-aware; default: the start of December 2026) closes the third month. Running it
    twice with the same ``seed`` and workspace fails on the unique idempotency keys, by design.
    """
    zone = tz or ZoneInfo("UTC")
    end = end or datetime(2026, 12, 1, tzinfo=UTC)
    start = end - timedelta(days=91)
    rng = random.Random(seed)
    await upgrade(url)
    engine = make_engine(url, pool_size=1)
    began = time.perf_counter()
    total = 0
    months: set[str] = set()
    try:
        async with engine.begin() as conn:
            now = datetime.now(UTC)
            upsert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            await conn.execute(
                upsert(Workspace).on_conflict_do_nothing(),
                [{"id": workspace_id, "created_at": now}],
            )
            await conn.execute(
                upsert(SlackUser).on_conflict_do_nothing(),
                [
                    {
                        "workspace_id": workspace_id,
                        "user_id": user,
                        "display_name": f"User {n}",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n, user in enumerate(USERS, 1)
                ],
            )
        generator = _rows(
            count=rows,
            rng=rng,
            workspace_id=workspace_id,
            prefix=f"seed-{seed}",
            start=start,
            end=end,
            tz=zone,
        )
        done = 0
        while done < rows:
            chunk = [next(generator) for _ in range(min(batch_size, rows - done))]
            done += len(chunk)
            total += sum(row[18] for row in chunk)
            months.update(row[21] for row in chunk)
            async with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    raw = await conn.get_raw_connection()
                    driver = raw.driver_connection
                    assert driver is not None
                    await driver.copy_records_to_table(
                        LedgerEntry.__tablename__, records=chunk, columns=_COLUMNS
                    )
                else:
                    await conn.execute(
                        insert(LedgerEntry),
                        [dict(zip(_COLUMNS, row, strict=True)) for row in chunk],
                    )
        async with engine.begin() as conn:
            await _rebuild_counters(conn, workspace_id=workspace_id)
            if conn.dialect.name != "postgresql":
                await conn.execute(text("ANALYZE"))
        if engine.dialect.name == "postgresql":
            # What autovacuum does on a live database: statistics, and the visibility map that
            # lets the covering report index answer without visiting the table.
            async with engine.connect() as conn:
                autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.execute(text("VACUUM ANALYZE ledger_entry"))
    finally:
        await engine.dispose()
    return SeedSummary(
        rows=rows,
        total_micros=total,
        months=tuple(sorted(months)),
        seconds=time.perf_counter() - began,
    )


async def _rebuild_counters(conn: Any, *, workspace_id: str) -> None:
    """Set the workspace's counters to the sums of its rows (reserved amounts are kept)."""
    await conn.execute(
        delete(SpendCounter).where(
            SpendCounter.workspace_id == workspace_id,  # type: ignore[arg-type]
            SpendCounter.reserved_micros == 0,  # type: ignore[arg-type]
        )
    )
    sums = await conn.execute(
        text(
            "SELECT user_id, month, SUM(cost_micros) FROM ledger_entry "
            "WHERE workspace_id = :ws GROUP BY user_id, month"
        ),
        {"ws": workspace_id},
    )
    per_scope: dict[tuple[str, str], int] = {}
    for user_id, month, amount in sums:
        per_scope[(user_id, month)] = int(amount)
        key = (WORKSPACE_SCOPE, month)
        per_scope[key] = per_scope.get(key, 0) + int(amount)
    now = datetime.now(UTC)
    for (scope, month), amount in per_scope.items():
        updated = await conn.execute(
            text(
                "UPDATE spend_counter SET settled_micros = :amount "
                "WHERE workspace_id = :ws AND scope = :scope AND month = :month"
            ),
            {"amount": amount, "ws": workspace_id, "scope": scope, "month": month},
        )
        if updated.rowcount == 0:
            await conn.execute(
                insert(SpendCounter),
                [
                    {
                        "workspace_id": workspace_id,
                        "scope": scope,
                        "month": month,
                        "settled_micros": amount,
                        "reserved_micros": 0,
                        "updated_at": now,
                    }
                ],
            )


def main() -> None:
    """Command line: seed a database and print how fast it went."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="sqlite:///FILE or postgresql://USER@HOST/DB")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workspace", default="default")
    args = parser.parse_args()
    summary = asyncio.run(
        seed_ledger(args.url, rows=args.rows, seed=args.seed, workspace_id=args.workspace)
    )
    rate = summary.rows / summary.seconds if summary.seconds else float("inf")
    print(
        f"seeded {summary.rows:,} ledger rows ({', '.join(summary.months)}) in "
        f"{summary.seconds:.1f} s ({rate:,.0f} rows/s); total ${summary.total_micros / 1e6:,.2f}"
    )


if __name__ == "__main__":
    main()
