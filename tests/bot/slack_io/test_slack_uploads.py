"""Uploads into a thread through the real files_upload_v2 against the fake Slack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_io import (
    MAX_INLINE_COMMENT_CHARS,
    ImageUpload,
    RetryPolicy,
    SlackUploads,
    UploadFailed,
)
from tests.bot.slack_io.support import SleepRecorder
from tests.fakes.png import jpeg_bytes, png_bytes
from tests.fakes.slack_api import FakeSlackAPI


def uploads(
    client: AsyncWebClient, sleeps: SleepRecorder, policy: RetryPolicy | None = None
) -> SlackUploads:
    return SlackUploads(client, policy=policy, sleep=sleeps)


async def test_upload_lands_in_the_thread_with_bytes_intact(
    slack_api: FakeSlackAPI, client: AsyncWebClient, sleeps: SleepRecorder
) -> None:
    """An image reaches the upload URL byte for byte and is shared into the right thread."""
    data = png_bytes(16, 9)
    result = await uploads(client, sleeps).upload_image(
        file=data,
        filename="hero.png",
        title="Hero product shot",
        channel="C111",
        thread_ts="1764600000.000100",
        initial_comment="Nano Banana 2 · $0.067",
    )

    [upload] = slack_api.calls_to("upload")
    assert upload.body == data
    assert upload.token is None  # the SDK sends no token to the upload URL
    [complete] = slack_api.calls_to("files.completeUploadExternal")
    assert complete.params["channel_id"] == "C111"
    assert complete.params["thread_ts"] == "1764600000.000100"
    assert complete.params["initial_comment"] == "Nano Banana 2 · $0.067"
    assert json.loads(complete.params["files"]) == [
        {"id": result.files[0].id, "title": "Hero product shot"}
    ]
    assert result.comment is None
    assert slack_api.uploaded_files()[result.files[0].id].data == data
    assert sleeps.waits == []


async def test_initial_comment_travels_in_the_query_string(
    slack_api: FakeSlackAPI, client: AsyncWebClient, sleeps: SleepRecorder
) -> None:
    """The SDK sends the completion's comment, thread and channel in the URL, not the body."""
    await uploads(client, sleeps).upload_image(
        file=png_bytes(),
        filename="a.png",
        channel="C111",
        thread_ts="1.2",
        initial_comment="Prix: 5 € & <b>",
    )

    [complete] = slack_api.calls_to("files.completeUploadExternal")
    assert complete.body == b""
    assert complete.query["initial_comment"] == "Prix: 5 € & <b>"
    assert complete.query["thread_ts"] == "1.2"


async def test_long_comment_is_posted_as_a_thread_message_first(
    slack_api: FakeSlackAPI, client: AsyncWebClient, sleeps: SleepRecorder
) -> None:
    """A comment too long for a URL goes as chat.postMessage in the thread, before the files."""
    comment = "x" * (MAX_INLINE_COMMENT_CHARS + 1)
    result = await uploads(client, sleeps).upload_image(
        file=png_bytes(), filename="a.png", channel="C111", thread_ts="1.2", initial_comment=comment
    )

    [post] = slack_api.calls_to("chat.postMessage")
    assert post.params["text"] == comment
    assert post.params["thread_ts"] == "1.2"
    [complete] = slack_api.calls_to("files.completeUploadExternal")
    assert "initial_comment" not in complete.params
    assert result.comment is not None
    assert slack_api.calls[0].method == "chat.postMessage"


async def test_several_images_share_one_message_and_paths_are_read(
    slack_api: FakeSlackAPI, client: AsyncWebClient, sleeps: SleepRecorder, tmp_path: Path
) -> None:
    """Bytes and a path upload together; every file is completed in one call."""
    path = tmp_path / "second.jpg"
    path.write_bytes(jpeg_bytes())
    result = await uploads(client, sleeps).upload(
        [
            ImageUpload(file=png_bytes(), filename="one.png"),
            ImageUpload(file=path, filename="2.jpg"),
        ],
        channel="C111",
        thread_ts="1.2",
    )

    assert len(result.files) == 2
    assert sorted(c.body for c in slack_api.calls_to("upload")) == sorted(
        [png_bytes(), jpeg_bytes()]
    )
    assert len(slack_api.calls_to("files.completeUploadExternal")) == 1


async def test_rate_limit_honours_retry_after_then_succeeds(
    slack_api: FakeSlackAPI, client: AsyncWebClient, sleeps: SleepRecorder
) -> None:
    """A 429 on completion waits the Retry-After Slack named, then the upload succeeds."""
    slack_api.rate_limit("files.completeUploadExternal", retry_after=7)

    result = await uploads(client, sleeps).upload_image(
        file=png_bytes(), filename="a.png", channel="C111", thread_ts="1.2"
    )

    assert sleeps.waits == [7.0]
    assert len(result.files) == 1
    assert [c.status for c in slack_api.calls_to("files.completeUploadExternal")] == [429, 200]


async def test_server_errors_back_off_with_a_cap(
    slack_api: FakeSlackAPI, client: AsyncWebClient, sleeps: SleepRecorder
) -> None:
    """5xx answers on any step are retried with doubling waits capped at max_delay_s."""
    slack_api.server_error("files.getUploadURLExternal", status=503, times=2)
    slack_api.server_error("upload", status=500)

    await uploads(client, sleeps, RetryPolicy(base_delay_s=1.0, max_delay_s=3.0)).upload_image(
        file=png_bytes(), filename="a.png", channel="C111", thread_ts="1.2"
    )

    assert sleeps.waits == [1.0, 2.0, 3.0]
    assert len(slack_api.calls_to("files.completeUploadExternal")) == 1


async def test_permanent_error_raises_typed_without_retrying(
    slack_api: FakeSlackAPI, client: AsyncWebClient, sleeps: SleepRecorder
) -> None:
    """not_in_channel fails at once with UploadFailed, not retryable, and advice to invite."""
    slack_api.error("files.completeUploadExternal", "not_in_channel")

    with pytest.raises(UploadFailed) as caught:
        await uploads(client, sleeps).upload_image(
            file=png_bytes(), filename="a.png", channel="C999", thread_ts="1.2"
        )

    assert caught.value.error == "not_in_channel"
    assert caught.value.retryable is False
    assert "/invite" in caught.value.user_message
    assert sleeps.waits == []


async def test_spent_retries_raise_retryable(
    slack_api: FakeSlackAPI, client: AsyncWebClient, sleeps: SleepRecorder
) -> None:
    """When every attempt is rate limited the error says trying later may work."""
    slack_api.rate_limit("files.getUploadURLExternal", retry_after=2, times=10)

    with pytest.raises(UploadFailed) as caught:
        await uploads(client, sleeps, RetryPolicy(max_attempts=3)).upload_image(
            file=png_bytes(), filename="a.png", channel="C111", thread_ts="1.2"
        )

    assert caught.value.retryable is True
    assert caught.value.attempts == 3
    assert sleeps.waits == [2.0, 2.0]


async def test_unreadable_path_is_a_permanent_upload_failure(
    client: AsyncWebClient, sleeps: SleepRecorder, tmp_path: Path
) -> None:
    """A missing image file fails typed before anything is sent."""
    with pytest.raises(UploadFailed) as caught:
        await uploads(client, sleeps).upload_image(
            file=tmp_path / "gone.png", filename="gone.png", channel="C111", thread_ts=None
        )

    assert caught.value.error == "file_unreadable"
    assert caught.value.retryable is False
