"""The fake Slack answers like Slack to the real SDK, and records what it was sent."""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.png import png_bytes
from tests.fakes.slack_api import FakeSlackAPI


async def test_wait_for_wakes_when_a_background_call_arrives(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    """wait_for returns once a call made by another task lands; no fixed sleep."""
    task = asyncio.create_task(client.chat_postMessage(channel="C111", text="later"))

    [call] = await slack_api.wait_for("chat.postMessage", timeout=5)

    assert call.params["text"] == "later"
    await task


async def test_wait_for_times_out(slack_api: FakeSlackAPI) -> None:
    """wait_for raises TimeoutError when the call never comes."""
    with pytest.raises(TimeoutError):
        await slack_api.wait_for("chat.update", timeout=0.05)


async def test_recorded_headers_never_hold_the_token(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    """The Authorization header is checked and dropped from the record."""
    await client.auth_test()

    [call] = slack_api.calls_to("auth.test")
    assert call.authorized
    assert all(name.lower() != "authorization" for name in call.headers)
    assert slack_api.token not in repr(call)


async def test_missing_token_is_not_authed(slack_api: FakeSlackAPI) -> None:
    """A call without a token gets not_authed, as from Slack."""
    client = AsyncWebClient(base_url=slack_api.base_url)

    with pytest.raises(SlackApiError) as caught:
        await client.auth_test()

    assert caught.value.response["error"] == "not_authed"


async def test_rate_limit_answers_429_with_retry_after(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    """A scripted rate limit is what the SDK sees from Slack: 429, Retry-After, ratelimited."""
    slack_api.rate_limit("chat.postMessage", retry_after=9)

    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C111", text="x")

    response = caught.value.response
    assert (response.status_code, response.headers["Retry-After"]) == (429, "9")
    assert response["error"] == "ratelimited"
    await client.chat_postMessage(channel="C111", text="x")  # only the next call was scripted


async def test_views_open_and_update(slack_api: FakeSlackAPI, client: AsyncWebClient) -> None:
    """views.open returns a view id that views.update accepts."""
    view = {
        "type": "modal",
        "callback_id": "budget_request",
        "title": {"type": "plain_text", "text": "Ask for more"},
        "blocks": [],
    }
    opened = await client.views_open(trigger_id="111.222.valid", view=view)
    updated = await client.views_update(view_id=opened["view"]["id"], view={**view, "blocks": []})

    assert updated["view"]["callback_id"] == "budget_request"
    assert slack_api.calls_to("views.open")[0].params["view"]["type"] == "modal"


async def test_files_info_describes_an_uploaded_file(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    """A file completed through files_upload_v2 is known to files.info, shares empty."""
    done = await client.files_upload_v2(
        file=png_bytes(), filename="a.png", channel="C111", thread_ts="1.2"
    )

    info = await client.files_info(file=done["file"]["id"])

    assert info["file"]["name"] == "a.png"
    assert info["file"]["shares"] == {}
    assert info["file"]["url_private_download"].startswith(slack_api.origin + "/files-pri/")


async def test_unknown_method_is_unknown_method(
    slack_api: FakeSlackAPI, client: AsyncWebClient
) -> None:
    """Methods the fake does not speak answer unknown_method."""
    with pytest.raises(SlackApiError) as caught:
        await client.api_call("reactions.add", json={"name": "tada"})

    assert caught.value.response["error"] == "unknown_method"
