"""Which Slack workspace a terminal command means when ``--team`` is left out.

Most installs serve one workspace, so operators should not need its id: the one workspace that
has used the bot is meant. Terminal spend before any Slack use is charged to the pseudo-workspace
``cli``, which never counts as "the one workspace" and never makes the choice ambiguous.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from bot.ledger.engine import transaction
from bot.ledger.tables import Workspace

__all__ = ["CLI_WORKSPACE", "TeamUnknown", "resolve_team"]

#: The workspace terminal spend is charged to before any Slack workspace has used the bot.
CLI_WORKSPACE = "cli"


class TeamUnknown(Exception):
    """Raised when ``--team`` is needed to say which workspace is meant; the text says so."""


async def resolve_team(engine: AsyncEngine, team: str | None, *, fallback: str | None) -> str:
    """``team``, else the one Slack workspace that used the bot, else ``fallback``.

    Raises :class:`TeamUnknown` when several workspaces use the bot, or when none has and there
    is no ``fallback`` (e.g. for setting a budget, which must name a real workspace).
    """
    if team:
        return team
    async with transaction(engine, write=False) as session:
        known = sorted(
            workspace
            for workspace in (await session.exec(select(Workspace.id))).all()
            if workspace != CLI_WORKSPACE
        )
    if len(known) == 1:
        return known[0]
    if len(known) > 1:
        raise TeamUnknown(f"several workspaces use imagebot ({', '.join(known)}); pass --team")
    if fallback is not None:
        return fallback
    raise TeamUnknown(
        "no Slack workspace has used imagebot yet; pass --team with your Slack team id "
        "(it starts with T)"
    )
