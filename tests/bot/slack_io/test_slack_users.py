"""Identity look-ups: auth.test and users.info admin flags."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_io import SlackCallFailed, SlackDirectory
from tests.bot.slack_io.support import SleepRecorder
from tests.fakes.slack_api import FakeSlackAPI


async def test_identity_names_the_bot(slack_api: FakeSlackAPI, client: AsyncWebClient) -> None:
    """auth.test gives the bot's user id, bot id and team."""
    identity = await SlackDirectory(client).identity()

    assert (identity.user_id, identity.bot_id, identity.team_id) == (
        slack_api.bot_user_id,
        slack_api.bot_id,
        slack_api.team_id,
    )


@pytest.mark.parametrize(
    ("flags", "admin"),
    [({}, False), ({"is_admin": True}, True), ({"is_owner": True}, True)],
)
async def test_user_admin_flags(
    slack_api: FakeSlackAPI, client: AsyncWebClient, flags: dict[str, bool], admin: bool
) -> None:
    """users.info flags decide who counts as a workspace admin."""
    slack_api.add_user("W111", real_name="Ada Marketing", **flags)

    user = await SlackDirectory(client).user("W111")

    assert user.is_workspace_admin is admin
    assert user.display == "Ada Marketing"
    assert user.tz == "Europe/Berlin"


async def test_unknown_user_fails_typed(client: AsyncWebClient, sleeps: SleepRecorder) -> None:
    """user_not_found is permanent."""
    with pytest.raises(SlackCallFailed) as caught:
        await SlackDirectory(client, sleep=sleeps).user("W404")

    assert caught.value.error == "user_not_found"
    assert not caught.value.retryable


async def test_wrong_token_is_invalid_auth(slack_api: FakeSlackAPI) -> None:
    """The fake refuses a wrong token as Slack does, and the error says to reinstall."""
    client = AsyncWebClient(token="xoxb-wrong", base_url=slack_api.base_url)

    with pytest.raises(SlackCallFailed) as caught:
        await SlackDirectory(client).identity()

    assert caught.value.error == "invalid_auth"
    assert "reinstall" in caught.value.user_message
