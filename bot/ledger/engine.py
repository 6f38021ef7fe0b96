"""Database engines, transactions and migrations, for SQLite (one process) and PostgreSQL (many).

* :func:`async_url` turns the URL people configure (``sqlite:///imagebot.db``,
  ``postgresql://user@host/db``, ``postgres://...``) into one with an async driver.
* :func:`make_engine` builds the :class:`~sqlalchemy.ext.asyncio.AsyncEngine`. On SQLite every
  connection gets WAL, a busy timeout and foreign keys, and transactions are begun by us so that
  writers can take the write lock up front (``BEGIN IMMEDIATE``) instead of failing half-way.
* :func:`transaction` is the one way the ledger opens a unit of work.
* :func:`upgrade` / :func:`downgrade` run the Alembic migrations programmatically (the URL or the
  connection is handed to ``migrations/env.py`` through ``Config.attributes``, never the
  environment); :func:`check_schema` refuses a database migrated by a newer imagebot.

The schema is created only by migrations; product code never calls ``create_all``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.ledger.errors import SchemaNotReady, SchemaTooNew

__all__ = [
    "SchemaStatus",
    "async_url",
    "check_schema",
    "downgrade",
    "head_revision",
    "make_engine",
    "transaction",
    "upgrade",
]

_SQLITE_BEGIN = "imagebot_sqlite_begin"
# Any constant will do: replicas starting at once take turns migrating (pg_advisory_xact_lock).
_MIGRATION_LOCK_ID = 0x1A6E_B07


def async_url(url: str) -> str:
    """Return ``url`` with an async driver: aiosqlite for SQLite, asyncpg for PostgreSQL.

    Explicit async drivers (``sqlite+aiosqlite``, ``postgresql+asyncpg``, ``postgresql+psycopg``)
    are kept; sync drivers (``+pysqlite``, ``+psycopg2``) are swapped for the async one.
    """
    parsed = make_url(
        url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url
    )
    backend = parsed.get_backend_name()
    # Only an explicit "+driver" counts: the default driver of a bare scheme varies by version.
    driver = parsed.drivername.partition("+")[2]
    if backend == "sqlite":
        if driver != "aiosqlite":
            parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend == "postgresql":
        if driver not in ("asyncpg", "psycopg"):
            parsed = parsed.set(drivername="postgresql+asyncpg")
    else:
        raise ValueError(
            f"unsupported database {backend!r} in IMAGEBOT_DATABASE_URL: use sqlite:///FILE "
            "or postgresql://USER@HOST/DB"
        )
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """Build an async engine for ``url`` (any form :func:`async_url` accepts).

    The caller owns the engine and must ``await engine.dispose()`` when done.
    """
    full = async_url(url)
    parsed = make_url(full)
    if parsed.get_backend_name() == "sqlite":
        memory = parsed.database in (None, "", ":memory:")
        kwargs: dict[str, Any] = {"poolclass": StaticPool} if memory else {}
        engine = create_async_engine(full, echo=echo, **kwargs)
        _install_sqlite_hooks(engine)
        return engine
    return create_async_engine(
        full,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        pool_timeout=60,
    )


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us emit BEGIN ourselves (the driver's implicit BEGIN cannot be IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_SQLITE_BEGIN, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


@asynccontextmanager
async def transaction(engine: AsyncEngine, *, write: bool = True) -> AsyncIterator[AsyncSession]:
    """Open one transaction and yield a session inside it; commit on success, roll back on error.

    ``write=True`` takes SQLite's write lock at BEGIN (``BEGIN IMMEDIATE``), so a writer waits
    for another (busy timeout) instead of failing on a lock upgrade; on PostgreSQL callers lock
    rows explicitly (``SELECT ... FOR UPDATE``).
    """
    async with engine.connect() as conn:
        if write and conn.dialect.name == "sqlite":
            await conn.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
        async with conn.begin():
            session = AsyncSession(bind=conn, expire_on_commit=False)
            try:
                yield session
                await session.flush()
            finally:
                await session.close()


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where a database's schema stands: ``current`` (None: never migrated) and ``head``."""

    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        """True when no migration is pending."""
        return self.current == self.head


def _alembic_config() -> Config:
    import migrations  # the package that ships migrations/env.py and versions/

    # An editable install may present the package as a namespace (no __file__).
    location = Path(migrations.__file__).parent if migrations.__file__ else None
    if location is None:
        location = Path(next(iter(migrations.__path__)))
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
    return cfg


def head_revision() -> str:
    """The newest migration revision this imagebot knows."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError("no migrations found")
    return head


def _known_revisions() -> set[str]:
    script = ScriptDirectory.from_config(_alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


def _current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


async def _status(engine: AsyncEngine) -> SchemaStatus:
    async with engine.connect() as conn:
        current = await conn.run_sync(_current_revision)
    head = head_revision()
    if current is not None and current not in _known_revisions():
        raise SchemaTooNew(revision=current, head=head)
    return SchemaStatus(current=current, head=head)


async def check_schema(url: str, *, require_head: bool = False) -> SchemaStatus:
    """Return the database's schema status.

    Raises :class:`SchemaTooNew` when the database's revision is unknown to this code, and with
    ``require_head=True`` :class:`SchemaNotReady` when migrations are pending.
    """
    engine = make_engine(url, pool_size=1)
    try:
        status = await _status(engine)
    finally:
        await engine.dispose()
    if require_head and not status.up_to_date:
        raise SchemaNotReady(revision=status.current, head=status.head)
    return status


def _run_alembic(conn: Connection, action: str, revision: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
    cfg = _alembic_config()
    cfg.attributes["connection"] = conn
    if action == "upgrade":
        command.upgrade(cfg, revision)
    else:
        command.downgrade(cfg, revision)


async def _migrate(url: str, action: str, revision: str) -> SchemaStatus:
    engine = make_engine(url, pool_size=1)
    try:
        await _status(engine)  # refuse a database from a newer imagebot before touching it
        async with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                await conn.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
            async with conn.begin():
                await conn.run_sync(_run_alembic, action, revision)
        return await _status(engine)
    finally:
        await engine.dispose()


async def upgrade(url: str, revision: str = "head") -> SchemaStatus:
    """Apply pending migrations up to ``revision`` in one transaction; safe to run on every start.

    Raises :class:`SchemaTooNew` (without touching anything) for a database from a newer imagebot.
    """
    return await _migrate(url, "upgrade", revision)


async def downgrade(url: str, revision: str = "base") -> SchemaStatus:
    """Undo migrations down to ``revision`` (``"base"``: drop every ledger table)."""
    return await _migrate(url, "downgrade", revision)
