"""Posting, updating and answering Slack messages, with the package's retry policy.

Every method retries 429 (waiting the Retry-After Slack names) and 5xx / transient errors under
one :class:`~bot.slack_io.retry.RetryPolicy`, then raises :class:`MessageFailed` with
``retryable`` and a ``user_message`` for the marketer (``not_in_channel`` tells them to invite the
bot). Build one :class:`SlackMessages` in the composition root and share it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.slack_io.errors import MessageFailed
from bot.slack_io.retry import HttpStatusError, RetryPolicy, Sleep, call_with_retry

__all__ = ["PostedMessage", "SlackMessages"]

Blocks = Sequence[dict[str, Any]]


@dataclass(frozen=True)
class PostedMessage:
    """Where a message now lives: its channel and timestamp (``ts`` is its id in Slack)."""

    channel: str
    ts: str


class SlackMessages:
    """Chat calls on one bot token. ``session`` is used for response_url replies (optional)."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._client = client
        self._policy = policy or RetryPolicy()
        self._sleep = sleep
        self._session = session

    async def post(
        self,
        *,
        channel: str,
        text: str,
        blocks: Blocks | None = None,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
    ) -> PostedMessage:
        """Post a message (in a thread when ``thread_ts`` is given); ``text`` is the fallback
        shown in notifications and must read well alone."""
        response = await call_with_retry(
            lambda: self._client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=list(blocks) if blocks is not None else None,
                thread_ts=thread_ts,
                reply_broadcast=reply_broadcast or None,
                unfurl_links=False,
                unfurl_media=False,
            ),
            method="chat.postMessage",
            policy=self._policy,
            sleep=self._sleep,
            failure=MessageFailed,
        )
        return PostedMessage(channel=str(response["channel"]), ts=str(response["ts"]))

    async def update(
        self, *, channel: str, ts: str, text: str, blocks: Blocks | None = None
    ) -> PostedMessage:
        """Replace the text and blocks of a message the bot posted (e.g. the status message)."""
        response = await call_with_retry(
            lambda: self._client.chat_update(
                channel=channel,
                ts=ts,
                text=text,
                blocks=list(blocks) if blocks is not None else [],
            ),
            method="chat.update",
            policy=self._policy,
            sleep=self._sleep,
            failure=MessageFailed,
        )
        return PostedMessage(channel=str(response["channel"]), ts=str(response["ts"]))

    async def post_ephemeral(
        self,
        *,
        channel: str,
        user: str,
        text: str,
        blocks: Blocks | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """Show a message only ``user`` can see; returns its ``message_ts``."""
        response = await call_with_retry(
            lambda: self._client.chat_postEphemeral(
                channel=channel,
                user=user,
                text=text,
                blocks=list(blocks) if blocks is not None else None,
                thread_ts=thread_ts,
            ),
            method="chat.postEphemeral",
            policy=self._policy,
            sleep=self._sleep,
            failure=MessageFailed,
        )
        return str(response["message_ts"])

    async def open_dm(self, user: str) -> str:
        """Open (or find) the direct-message channel with ``user``; returns its channel id."""
        response = await call_with_retry(
            lambda: self._client.conversations_open(users=user),
            method="conversations.open",
            policy=self._policy,
            sleep=self._sleep,
            failure=MessageFailed,
        )
        channel = response["channel"]
        return str(channel["id"])

    async def permalink(self, *, channel: str, ts: str) -> str:
        """A link people can click to jump to a message."""
        response = await call_with_retry(
            lambda: self._client.chat_getPermalink(channel=channel, message_ts=ts),
            method="chat.getPermalink",
            policy=self._policy,
            sleep=self._sleep,
            failure=MessageFailed,
        )
        return str(response["permalink"])

    async def respond(
        self,
        response_url: str,
        *,
        text: str,
        blocks: Blocks | None = None,
        ephemeral: bool = True,
        replace_original: bool = False,
        thread_ts: str | None = None,
    ) -> None:
        """Answer a slash command or a button click through its ``response_url``.

        ``ephemeral`` shows the answer to the clicker only; ``replace_original`` swaps the
        message the button sat on. The URL came in a signed Slack payload, so it is trusted;
        it accepts up to five answers within 30 minutes.
        """
        body: dict[str, Any] = {
            "text": text,
            "response_type": "ephemeral" if ephemeral else "in_channel",
        }
        if blocks is not None:
            body["blocks"] = list(blocks)
        if replace_original:
            body["replace_original"] = True
        if thread_ts is not None:
            body["thread_ts"] = thread_ts
        webhook = AsyncWebhookClient(url=response_url, session=self._session)

        async def send() -> None:
            response = await webhook.send_dict(body)
            if not 200 <= response.status_code < 300:
                retry_after = response.headers.get("Retry-After") if response.headers else None
                raise HttpStatusError(
                    response.status_code,
                    response.body or "",
                    retry_after=str(retry_after) if retry_after is not None else None,
                )

        await call_with_retry(
            send,
            method="response_url",
            policy=self._policy,
            sleep=self._sleep,
            failure=MessageFailed,
        )
