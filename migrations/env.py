"""Alembic environment for the imagebot ledger.

Our code (``bot.ledger.engine.upgrade``) hands over an open connection in
``config.attributes["connection"]``. When the ``alembic`` command line runs this file instead
(``alembic revision --autogenerate``), the URL comes from the ``sqlalchemy.url`` option or, failing
that, from ``bot.config`` (IMAGEBOT_DATABASE_URL); this file never reads the environment itself.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from bot.ledger.engine import make_engine
from bot.ledger.tables import metadata

config = context.config
target_metadata = metadata


def _url() -> str:
    url = config.attributes.get("imagebot_url") or config.get_main_option("sqlalchemy.url")
    if url:
        return str(url)
    from bot.config import load_settings

    return load_settings().database_url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_url(url: str) -> None:
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def run_offline() -> None:
    """Write the SQL to stdout (``alembic upgrade head --sql``)."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate through the connection our code passed in, or through a URL of our own."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_with_url(_url()))


if context.is_offline_mode():
    run_offline()
else:
    run_online()
