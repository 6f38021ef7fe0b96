"""Alembic migrations of the ledger schema (run by ``bot.ledger.engine.upgrade``)."""
