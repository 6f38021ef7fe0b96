"""Upload generated images into a Slack thread with ``AsyncWebClient.files_upload_v2``.

``files_upload_v2`` is three calls: files.getUploadURLExternal (one per file), a raw POST of the
bytes to the returned upload URL (no token), and files.completeUploadExternal, which shares the
files into ``channel_id`` / ``thread_ts``. A failed attempt is retried as a whole (a fresh upload
URL each time; Slack discards uploads that were never completed) under the package's
:class:`~bot.slack_io.retry.RetryPolicy`.

How ``initial_comment`` travels (checked on the wire against tests/fakes/slack_api.py): slack_sdk
sends files.completeUploadExternal with ``params=``, so on a POST ``initial_comment``,
``thread_ts``, ``channel_id`` and the ``files`` JSON all ride in the URL query string and the
form body is empty. Slack accepts that, and the comment shows as the text of the file message. A
long comment would make a long URL, so past :data:`MAX_INLINE_COMMENT_CHARS` characters the
comment is instead posted as its own chat.postMessage in the thread, just before the files.
Comments here are plain text: blocks (buttons) cannot ride on a file upload, so the result message
with buttons is posted separately by the caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_io.errors import UploadFailed
from bot.slack_io.messages import PostedMessage, SlackMessages
from bot.slack_io.retry import RetryPolicy, Sleep, call_with_retry

__all__ = [
    "MAX_INLINE_COMMENT_CHARS",
    "ImageUpload",
    "SlackUploads",
    "UploadResult",
    "UploadedFile",
]

#: Longer comments go as a separate thread message instead of in the completion call's URL.
MAX_INLINE_COMMENT_CHARS = 1000


@dataclass(frozen=True, kw_only=True)
class ImageUpload:
    """One image to upload: its bytes (or a path to read them from) and how to name it."""

    file: bytes | Path
    filename: str
    title: str | None = None
    alt_text: str | None = None


@dataclass(frozen=True)
class UploadedFile:
    """A file Slack now holds; ``permalink`` opens it in Slack."""

    id: str
    title: str
    permalink: str | None


@dataclass(frozen=True)
class UploadResult:
    """The files shared into the thread; ``comment`` is set when the comment went separately."""

    files: tuple[UploadedFile, ...]
    comment: PostedMessage | None = None


class SlackUploads:
    """Uploads on one bot token; share one instance (built in the composition root)."""

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
        self._messages = SlackMessages(client, policy=self._policy, sleep=sleep)

    async def upload_image(
        self,
        *,
        file: bytes | Path,
        filename: str,
        channel: str,
        thread_ts: str | None,
        title: str | None = None,
        initial_comment: str | None = None,
        alt_text: str | None = None,
    ) -> UploadResult:
        """Upload one image into ``channel`` (in the thread ``thread_ts`` when given)."""
        image = ImageUpload(file=file, filename=filename, title=title, alt_text=alt_text)
        return await self.upload(
            [image], channel=channel, thread_ts=thread_ts, initial_comment=initial_comment
        )

    async def upload(
        self,
        images: Sequence[ImageUpload],
        *,
        channel: str,
        thread_ts: str | None,
        initial_comment: str | None = None,
    ) -> UploadResult:
        """Upload ``images`` as one message in ``channel`` / ``thread_ts``.

        Raises :class:`UploadFailed` (``retryable`` says whether later may work) when Slack
        refuses for good or the retries are spent, or when a path cannot be read.
        """
        if not images:
            raise ValueError("upload needs at least one image")
        items = [await self._item(image) for image in images]
        comment: PostedMessage | None = None
        inline_comment = initial_comment
        if initial_comment and len(initial_comment) > MAX_INLINE_COMMENT_CHARS:
            comment = await self._messages.post(
                channel=channel, text=initial_comment, thread_ts=thread_ts
            )
            inline_comment = None
        response = await call_with_retry(
            lambda: self._client.files_upload_v2(
                file_uploads=items,
                channel=channel,
                thread_ts=thread_ts,
                initial_comment=inline_comment or None,
            ),
            method="files.upload_v2",
            policy=self._policy,
            sleep=self._sleep,
            failure=UploadFailed,
        )
        files = tuple(
            UploadedFile(
                id=str(f.get("id")),
                title=str(f.get("title") or ""),
                permalink=str(f["permalink"]) if f.get("permalink") else None,
            )
            for f in (response.get("files") or [])
            if isinstance(f, dict)
        )
        return UploadResult(files=files, comment=comment)

    @staticmethod
    async def _item(image: ImageUpload) -> dict[str, Any]:
        data = image.file
        if isinstance(data, Path):
            try:
                data = await asyncio.to_thread(data.read_bytes)
            except OSError as exc:
                raise UploadFailed(
                    method="files.upload_v2", error="file_unreadable", retryable=False
                ) from exc
        item: dict[str, Any] = {
            "file": data,
            "filename": image.filename,
            "title": image.title or image.filename,
        }
        if image.alt_text:
            item["alt_txt"] = image.alt_text
        return item
