"""Who is who: the bot's own identity (auth.test) and workspace members (users.info).

Admin checks (``/spend``, setting budgets) rely on :attr:`SlackUser.is_admin` /
:attr:`SlackUser.is_owner`; the bot's own ``user_id`` / ``bot_id`` let listeners ignore the
bot's messages. Same retry policy as every other Slack call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_io.errors import SlackCallFailed
from bot.slack_io.retry import RetryPolicy, Sleep, call_with_retry

__all__ = ["BotIdentity", "SlackDirectory", "SlackUser"]


@dataclass(frozen=True, kw_only=True)
class BotIdentity:
    """The installed bot: its user id, bot id and workspace."""

    user_id: str
    bot_id: str | None
    team_id: str


@dataclass(frozen=True, kw_only=True)
class SlackUser:
    """A workspace member, as far as budgets and reports need one."""

    id: str
    team_id: str | None
    name: str
    real_name: str
    tz: str | None
    is_admin: bool
    is_owner: bool
    is_primary_owner: bool
    is_bot: bool
    deleted: bool

    @property
    def is_workspace_admin(self) -> bool:
        """Admins and owners may see everyone's spend and set budgets."""
        return self.is_admin or self.is_owner or self.is_primary_owner

    @property
    def display(self) -> str:
        """The friendliest name Slack has for them."""
        return self.real_name or self.name or self.id


def _flag(data: Mapping[str, Any], key: str) -> bool:
    return data.get(key) is True


class SlackDirectory:
    """Identity look-ups on one bot token."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._client = client
        self._policy = policy or RetryPolicy()
        self._sleep = sleep

    async def identity(self) -> BotIdentity:
        """Who the token belongs to (auth.test); call once at start-up."""
        response = await call_with_retry(
            lambda: self._client.auth_test(),
            method="auth.test",
            policy=self._policy,
            sleep=self._sleep,
        )
        bot_id = response.get("bot_id")
        return BotIdentity(
            user_id=str(response["user_id"]),
            bot_id=str(bot_id) if bot_id else None,
            team_id=str(response["team_id"]),
        )

    async def user(self, user_id: str) -> SlackUser:
        """A member's profile and admin flags (users.info).

        Raises :class:`SlackCallFailed` (error ``user_not_found`` for unknown ids).
        """
        response = await call_with_retry(
            lambda: self._client.users_info(user=user_id),
            method="users.info",
            policy=self._policy,
            sleep=self._sleep,
            failure=SlackCallFailed,
        )
        data = response.get("user")
        if not isinstance(data, dict):
            raise SlackCallFailed(method="users.info", error="bad_response", retryable=True)
        profile = data.get("profile") if isinstance(data.get("profile"), dict) else {}
        assert isinstance(profile, dict)
        real_name = data.get("real_name") or profile.get("real_name") or ""
        return SlackUser(
            id=str(data.get("id") or user_id),
            team_id=str(data["team_id"]) if data.get("team_id") else None,
            name=str(data.get("name") or ""),
            real_name=str(real_name),
            tz=str(data["tz"]) if data.get("tz") else None,
            is_admin=_flag(data, "is_admin"),
            is_owner=_flag(data, "is_owner"),
            is_primary_owner=_flag(data, "is_primary_owner"),
            is_bot=_flag(data, "is_bot"),
            deleted=_flag(data, "deleted"),
        )
