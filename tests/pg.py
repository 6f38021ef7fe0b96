"""Fresh databases for tests: SQLite files and PostgreSQL databases, created and dropped per test.

Use from any test package::

    from tests.pg import db_url, migrated_db_url, pg_url  # fixtures (import them to use them)
    from tests.pg import fresh_sqlite_url, create_pg_database, drop_pg_database

* ``fresh_sqlite_url(tmp_path)`` -> ``sqlite:////tmp/.../ledger.db`` (created on first use).
* ``pg_url`` (async fixture): a new, empty PostgreSQL database named ``imagebot_test_<hex>``,
  created with ``CREATE DATABASE`` on the server's ``postgres`` database and dropped (``WITH
  (FORCE)``) after the test. Mark tests that use it ``@pytest.mark.postgres``.
* ``db_url`` (async fixture, parametrised ``sqlite`` / ``postgres``): an empty database of each
  engine; the ``postgres`` case carries the ``postgres`` mark.
* ``migrated_db_url`` (async fixture, parametrised the same way): an empty database at the newest
  migration (SQLite: a copy of a file migrated once; PostgreSQL: one database per session,
  emptied with TRUNCATE before each test, so do not change its schema).

Which server: ``IMAGEBOT_TEST_PG_URL`` (an admin URL, default
``postgresql://postgres@127.0.0.1:5432/postgres``). When that server cannot be reached the
PostgreSQL tests are SKIPPED, except when ``IMAGEBOT_REQUIRE_PG=1`` (CI sets it): then they FAIL
with the connection error, so CI can never go green on SQLite alone.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import make_url

from bot.ledger.engine import upgrade

__all__ = [
    "create_pg_database",
    "db_url",
    "drop_pg_database",
    "fresh_sqlite_url",
    "migrated_db_url",
    "pg_admin_url",
    "pg_url",
    "require_pg",
]

_DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_unreachable: list[str] = []  # the first connection error, remembered for the whole session


def pg_admin_url() -> str:
    """The URL of the server's maintenance database, where test databases are created."""
    return os.environ.get("IMAGEBOT_TEST_PG_URL") or _DEFAULT_ADMIN_URL


def require_pg() -> bool:
    """True when PostgreSQL tests must run (``IMAGEBOT_REQUIRE_PG=1``): fail instead of skip."""
    return os.environ.get("IMAGEBOT_REQUIRE_PG") == "1"


def fresh_sqlite_url(tmp_path: Path, name: str = "ledger.db") -> str:
    """A URL for a new SQLite file under ``tmp_path`` (the file is created on first use)."""
    return f"sqlite:///{(tmp_path / name).resolve()}"


def _plain(url: str) -> str:
    """The URL as asyncpg wants it (no ``+driver``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin_connect() -> asyncpg.Connection:
    return await asyncpg.connect(_plain(pg_admin_url()), timeout=5)


async def create_pg_database(prefix: str = "imagebot_test", *, template: str | None = None) -> str:
    """Create a database on the test server (empty, or a copy of ``template``); return its URL.

    Skips the calling test when the server is unreachable (fails under IMAGEBOT_REQUIRE_PG=1).
    """
    if _unreachable and not require_pg():
        pytest.skip(f"PostgreSQL unreachable: {_unreachable[0]}")
    try:
        admin = await _admin_connect()
    except (OSError, asyncpg.PostgresError) as exc:
        _unreachable.append(f"{pg_admin_url()}: {exc}")
        if require_pg():
            pytest.fail(f"IMAGEBOT_REQUIRE_PG=1 but PostgreSQL is unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    try:
        suffix = f' TEMPLATE "{template}"' if template else ""
        await admin.execute(f'CREATE DATABASE "{name}"{suffix}')
    finally:
        await admin.close()
    return make_url(pg_admin_url()).set(database=name).render_as_string(hide_password=False)


async def drop_pg_database(url: str) -> None:
    """Drop a database made by :func:`create_pg_database`, closing its leftover connections."""
    name = make_url(url).database
    if not name or not name.startswith("imagebot_test"):
        raise ValueError(f"refusing to drop {name!r}: not a test database")
    admin = await _admin_connect()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test (dropped afterwards)."""
    url = await create_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database on each engine (the test runs once per engine)."""
    if request.param == "sqlite":
        yield fresh_sqlite_url(tmp_path)
        return
    url = await create_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(url)


_templates: dict[str, str] = {}  # engine -> URL of a database migrated once per test session


def _drop_template(url: str) -> None:
    asyncio.run(drop_pg_database(url))


async def _migrated_template(engine: str) -> str:
    """A database at the newest migration, made once per session and removed at exit."""
    if engine not in _templates:
        if engine == "sqlite":
            folder = tempfile.mkdtemp(prefix="imagebot-template-")
            atexit.register(shutil.rmtree, folder, True)
            url = fresh_sqlite_url(Path(folder), "template.db")
            await upgrade(url)
        else:
            url = await create_pg_database("imagebot_test_shared")
            atexit.register(_drop_template, url)
            await upgrade(url)
        _templates[engine] = url
    return _templates[engine]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def migrated_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database on each engine with every migration applied (the test runs per engine).

    SQLite: a copy of a file migrated once per session. PostgreSQL: one database migrated once
    per session whose tables are emptied (TRUNCATE) before each test; a test that changes the
    schema itself must take ``db_url`` and migrate it.
    """
    if request.param == "sqlite":
        target = tmp_path / "ledger.db"
        template = await _migrated_template("sqlite")
        shutil.copyfile(make_url(template).database or "", target)
        yield fresh_sqlite_url(tmp_path)
        return
    # One migrated database per session, emptied before each test: much cheaper than
    # CREATE/DROP DATABASE per test. Tests that change the schema must use db_url instead.
    url = await _migrated_template("postgres")
    await _empty_tables(url)
    yield url


async def _empty_tables(url: str) -> None:
    conn = await asyncpg.connect(_plain(url), timeout=5)
    try:
        names = await conn.fetch(
            "SELECT tablename FROM pg_tables "
            "WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        if names:
            tables = ", ".join(f'"{row["tablename"]}"' for row in names)
            await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
