"""Posting, updating and answering messages through the real SDK against the fake Slack."""

from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_io import MessageFailed, RetryPolicy, SlackMessages, status_message
from tests.bot.slack_io.support import SleepRecorder
from tests.fakes.slack_api import FakeSlackAPI


@pytest.fixture
def messages(
    client: AsyncWebClient, sleeps: SleepRecorder, http: aiohttp.ClientSession
) -> SlackMessages:
    """SlackMessages on the fake with instant sleeps."""
    return SlackMessages(client, policy=RetryPolicy(), sleep=sleeps, session=http)


async def test_post_in_thread_returns_where_it_landed(
    slack_api: FakeSlackAPI, messages: SlackMessages
) -> None:
    """A thread reply carries text, blocks and thread_ts as JSON and returns channel and ts."""
    content = status_message(model_name="Nano Banana 2", estimate_micros=67_000)

    posted = await messages.post(
        channel="C111", text=content.text, blocks=content.blocks, thread_ts="1.2"
    )

    [call] = slack_api.calls_to("chat.postMessage")
    assert call.headers["Content-Type"].startswith("application/json")
    assert call.params["thread_ts"] == "1.2"
    assert call.params["blocks"] == list(content.blocks)
    assert call.params["unfurl_links"] is False
    assert slack_api.messages_in("C111", thread_ts="1.2")[0]["ts"] == posted.ts
    assert posted.channel == "C111"


async def test_update_replaces_the_status_message(
    slack_api: FakeSlackAPI, messages: SlackMessages
) -> None:
    """chat.update rewrites the message in place."""
    posted = await messages.post(channel="C111", text="Working on it")

    updated = await messages.update(channel="C111", ts=posted.ts, text="Done")

    assert updated == posted
    assert slack_api.messages_in("C111")[0]["text"] == "Done"


async def test_update_of_unknown_message_fails_permanently(
    messages: SlackMessages, sleeps: SleepRecorder
) -> None:
    """message_not_found is not retried."""
    with pytest.raises(MessageFailed) as caught:
        await messages.update(channel="C111", ts="9.9", text="x")

    assert (caught.value.error, caught.value.retryable, sleeps.waits) == (
        "message_not_found",
        False,
        [],
    )


async def test_rate_limited_post_waits_then_posts_once(
    slack_api: FakeSlackAPI, messages: SlackMessages, sleeps: SleepRecorder
) -> None:
    """A 429 with Retry-After 3 waits 3 s, then one message lands."""
    slack_api.rate_limit("chat.postMessage", retry_after=3)

    await messages.post(channel="C111", text="hello")

    assert sleeps.waits == [3.0]
    assert len(slack_api.messages_in("C111")) == 1


async def test_ok_false_ratelimited_is_retried(
    slack_api: FakeSlackAPI, messages: SlackMessages, sleeps: SleepRecorder
) -> None:
    """A 200 with error=ratelimited is retried with backoff like a 429 without Retry-After."""
    slack_api.error("chat.postMessage", "ratelimited")

    await messages.post(channel="C111", text="hello")

    assert sleeps.waits == [1.0]


async def test_retry_after_beyond_the_policy_gives_up_retryable(
    slack_api: FakeSlackAPI, client: AsyncWebClient, sleeps: SleepRecorder
) -> None:
    """Slack asking for a wait longer than max_retry_after_s fails now, retryable later."""
    slack_api.rate_limit("chat.postMessage", retry_after=600)
    messages = SlackMessages(client, policy=RetryPolicy(max_retry_after_s=60), sleep=sleeps)

    with pytest.raises(MessageFailed) as caught:
        await messages.post(channel="C111", text="hello")

    assert caught.value.retryable is True
    assert caught.value.status == 429
    assert sleeps.waits == []


@pytest.mark.parametrize("error", ["not_in_channel", "channel_not_found"])
async def test_channel_errors_fail_at_once_with_advice(
    slack_api: FakeSlackAPI, messages: SlackMessages, sleeps: SleepRecorder, error: str
) -> None:
    """Channel errors are permanent and tell the marketer to invite the bot."""
    slack_api.error("chat.postMessage", error)

    with pytest.raises(MessageFailed) as caught:
        await messages.post(channel="C999", text="hello")

    assert caught.value.error == error
    assert not caught.value.retryable
    assert "/invite @imagebot" in caught.value.user_message
    assert sleeps.waits == []


async def test_ephemeral_goes_to_one_user(slack_api: FakeSlackAPI, messages: SlackMessages) -> None:
    """An ephemeral message names its user and returns its message_ts."""
    ts = await messages.post_ephemeral(
        channel="C111", user="W111", text="Only you", thread_ts="1.2"
    )

    [call] = slack_api.calls_to("chat.postEphemeral")
    assert (call.params["user"], call.params["thread_ts"]) == ("W111", "1.2")
    assert ts


async def test_open_dm_and_permalink(slack_api: FakeSlackAPI, messages: SlackMessages) -> None:
    """conversations.open returns the DM channel; chat.getPermalink a link to the message."""
    channel = await messages.open_dm("W111")
    link = await messages.permalink(channel="C111", ts="1764600000.000100")

    assert channel == "DW111"
    assert link.endswith("/archives/C111/p1764600000000100")
    [call] = slack_api.calls_to("chat.getPermalink")
    assert call.http_method == "GET"


async def test_respond_posts_json_to_the_response_url(
    slack_api: FakeSlackAPI, messages: SlackMessages
) -> None:
    """A response_url reply is JSON with response_type and the blocks."""
    content = status_message(model_name="Nano Banana 2", estimate_micros=67_000)

    await messages.respond(
        slack_api.response_url("cmd-1"), text=content.text, blocks=content.blocks
    )

    [call] = await slack_api.wait_for("response")
    assert call.path == "/response/cmd-1"
    assert call.params["response_type"] == "ephemeral"
    assert call.params["blocks"] == list(content.blocks)
    assert call.token is None


async def test_respond_retries_a_server_error_then_succeeds(
    slack_api: FakeSlackAPI, messages: SlackMessages, sleeps: SleepRecorder
) -> None:
    """A 502 from the response_url is retried."""
    slack_api.server_error("response", status=502)

    await messages.respond(slack_api.response_url(), text="ok", ephemeral=False)

    assert sleeps.waits == [1.0]
    assert slack_api.calls_to("response")[-1].params["response_type"] == "in_channel"


async def test_respond_to_an_expired_url_fails_permanently(
    slack_api: FakeSlackAPI, client: AsyncWebClient, sleeps: SleepRecorder
) -> None:
    """A response_url on an unknown route (404) fails without retrying."""
    messages = SlackMessages(client, sleep=sleeps)

    with pytest.raises(MessageFailed) as caught:
        await messages.respond(slack_api.url("/nowhere/1"), text="late")

    assert caught.value.status == 404
    assert not caught.value.retryable
