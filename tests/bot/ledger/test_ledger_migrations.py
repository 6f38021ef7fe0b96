"""Engines, URLs and migrations on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from bot.ledger import (
    SchemaNotReady,
    SchemaTooNew,
    async_url,
    check_schema,
    downgrade,
    head_revision,
    make_engine,
    transaction,
    upgrade,
)
from bot.ledger.tables import ProcessedDelivery, metadata

LEDGER_TABLES = {table.name for table in metadata.sorted_tables}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///imagebot.db", "sqlite+aiosqlite:///imagebot.db"),
        ("sqlite:////abs/path.db", "sqlite+aiosqlite:////abs/path.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql://bot@db/imagebot", "postgresql+asyncpg://bot@db/imagebot"),
        ("postgres://bot:pw@db:5433/imagebot", "postgresql+asyncpg://bot:pw@db:5433/imagebot"),
        ("postgresql+asyncpg://bot@db/imagebot", "postgresql+asyncpg://bot@db/imagebot"),
        ("postgresql+psycopg2://bot@db/imagebot", "postgresql+asyncpg://bot@db/imagebot"),
    ],
)
def test_async_url_picks_the_async_driver(given: str, expected: str) -> None:
    """async_url maps every accepted URL form to an async driver and keeps the password."""
    assert async_url(given) == expected


def test_async_url_refuses_other_databases() -> None:
    """async_url names the supported databases when given another one."""
    with pytest.raises(ValueError, match="sqlite:///FILE"):
        async_url("mysql://root@localhost/x")


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


async def test_upgrade_downgrade_upgrade(db_url: str) -> None:
    """Migrations create every table, drop them all, and create them again."""
    status = await upgrade(db_url)
    assert status.current == head_revision()
    assert status.up_to_date
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) >= LEDGER_TABLES
        assert (await downgrade(db_url)).current is None
        async with engine.connect() as conn:
            assert not LEDGER_TABLES & await conn.run_sync(_tables)
        assert (await upgrade(db_url)).up_to_date
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) >= LEDGER_TABLES
    finally:
        await engine.dispose()


async def test_upgrade_twice_changes_nothing(migrated_db_url: str) -> None:
    """Running the migrations on an up-to-date database is a no-op (safe on every start)."""
    assert (await upgrade(migrated_db_url)).current == head_revision()


def _diff(conn: Connection) -> list[object]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_models_match_migrations(migrated_db_url: str) -> None:
    """Autogenerate finds no difference between the SQLModel tables and the migrated schema."""
    engine = make_engine(migrated_db_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_newer_schema_is_refused(db_url: str) -> None:
    """A database migrated by a newer imagebot is refused with a message saying what to do."""
    await upgrade(db_url)
    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
    finally:
        await engine.dispose()
    expected = (
        f"database schema f00dfeed is newer than this imagebot (knows {head_revision()}); "
        "upgrade imagebot or point IMAGEBOT_DATABASE_URL elsewhere"
    )
    with pytest.raises(SchemaTooNew) as caught:
        await check_schema(db_url)
    assert str(caught.value) == expected
    with pytest.raises(SchemaTooNew):
        await upgrade(db_url)


async def test_unmigrated_database_is_not_ready(db_url: str) -> None:
    """check_schema reports a never-migrated database, and refuses it when head is required."""
    status = await check_schema(db_url)
    assert status.current is None
    assert not status.up_to_date
    with pytest.raises(SchemaNotReady, match="imagebot migrate"):
        await check_schema(db_url, require_head=True)


async def test_timestamps_come_back_utc_aware(migrated_db_url: str) -> None:
    """A time stored in any offset reads back as the same instant, UTC-aware, on both engines."""
    paris = timezone(timedelta(hours=1))
    at = datetime(2026, 11, 20, 13, 30, 15, 123456, tzinfo=paris)
    engine = make_engine(migrated_db_url)
    try:
        async with transaction(engine) as session:
            session.add(ProcessedDelivery(key="evt-1", created_at=at))
        async with transaction(engine, write=False) as session:
            row = await session.get(ProcessedDelivery, "evt-1")
        assert row is not None
        assert row.created_at == at
        assert row.created_at.tzinfo == UTC
    finally:
        await engine.dispose()


async def test_naive_timestamps_are_refused(migrated_db_url: str) -> None:
    """Storing a naive datetime fails instead of guessing its zone."""
    engine = make_engine(migrated_db_url)
    try:
        with pytest.raises(Exception, match="naive datetime"):
            async with transaction(engine) as session:
                session.add(ProcessedDelivery(key="evt-2", created_at=datetime(2026, 11, 20)))  # noqa: DTZ001
    finally:
        await engine.dispose()
