"""Errors raised by bot.slack_io; every one carries a ``user_message`` written for a marketer.

::

    SlackIOError                  base of everything this package raises
    ├── SlackCallFailed           a Web API / response_url call failed for good (after retries)
    │   ├── MessageFailed         posting, updating or answering a message failed
    │   └── UploadFailed          uploading images into a thread failed
    ├── DownloadFailed            a Slack file could not be fetched (network, 404, no access)
    ├── DownloadRefused           a file was fetched or about to be, and policy refuses it
    │                             (host not allowed, private address, too big, not an image,
    │                             too many pixels, too many redirects)
    ├── PayloadError              a Slack event/action/command payload lacks what we need
    └── BlockError                a Block Kit message would break one of Slack's limits

``SlackCallFailed.retryable`` says whether trying again later can help (rate limits, Slack
outages, network trouble) or not (``not_in_channel``, ``channel_not_found``, bad arguments).
"""

from __future__ import annotations

__all__ = [
    "BlockError",
    "DownloadFailed",
    "DownloadRefused",
    "MessageFailed",
    "PayloadError",
    "SlackCallFailed",
    "SlackIOError",
    "UploadFailed",
]


class SlackIOError(Exception):
    """Base of every error bot.slack_io raises; ``user_message`` is safe to show in Slack."""

    def __init__(self, message: str, *, user_message: str) -> None:
        super().__init__(message)
        self.user_message = user_message


_INVITE = "Invite me with `/invite @imagebot` and try again."
_REINSTALL = "Ask whoever installed me to reinstall the app."
_CALL_ADVICE: dict[str, str] = {
    "not_in_channel": f"I'm not in this channel yet. {_INVITE}",
    "channel_not_found": f"I can't see this channel. {_INVITE}",
    "is_archived": "This channel is archived, so I can't post here.",
    "msg_too_long": "That message was too long for Slack.",
    "restricted_action": "A workspace setting stops me from posting here. Ask a Slack admin.",
    "missing_scope": f"I'm missing a Slack permission for this. {_REINSTALL}",
    "invalid_auth": f"My Slack token is not valid any more. {_REINSTALL}",
    "not_authed": "My Slack token is missing. Ask whoever runs me to check the configuration.",
    "account_inactive": f"My Slack token was revoked. {_REINSTALL}",
    "token_revoked": f"My Slack token was revoked. {_REINSTALL}",
    "expired_url": "This button or command is too old to answer. Run the command again.",
    "used_url": "This button or command was already answered. Run the command again.",
}


class SlackCallFailed(SlackIOError):
    """A Slack call failed for good, after the retries the policy allows.

    ``method`` is the Web API method (or ``"response_url"``); ``error`` is Slack's error code
    (``not_in_channel``), ``http_<status>`` or ``network``; ``status`` the HTTP status if one came.
    """

    def __init__(
        self,
        *,
        method: str,
        error: str,
        retryable: bool,
        status: int | None = None,
        attempts: int = 1,
    ) -> None:
        advice = _CALL_ADVICE.get(error)
        if advice is None:
            advice = (
                "Slack is busy or having trouble right now. Please try again in a few minutes."
                if retryable
                else "Slack refused the request. Please try again; if it keeps happening, tell "
                "whoever runs me."
            )
        super().__init__(
            f"Slack {method} failed: {error} (status {status}, {attempts} attempt(s), "
            f"{'retryable' if retryable else 'permanent'})",
            user_message=advice,
        )
        self.method = method
        self.error = error
        self.retryable = retryable
        self.status = status
        self.attempts = attempts


class MessageFailed(SlackCallFailed):
    """Posting, updating or answering a message failed (chat.*, conversations.*, response_url)."""


class UploadFailed(SlackCallFailed):
    """Uploading images into a thread failed (files.getUploadURLExternal, upload, complete)."""


class DownloadFailed(SlackIOError):
    """A Slack file could not be fetched: network trouble, HTTP error, or no access to it."""

    def __init__(self, message: str, *, user_message: str, retryable: bool) -> None:
        super().__init__(message, user_message=user_message)
        self.retryable = retryable


class DownloadRefused(SlackIOError):
    """Policy refuses a file. ``code`` is for logs and tests, ``reason`` for the marketer."""

    def __init__(self, *, code: str, reason: str, detail: str = "") -> None:
        suffix = f": {detail}" if detail else ""
        super().__init__(f"download refused ({code}){suffix}", user_message=reason)
        self.code = code
        self.reason = reason


class PayloadError(SlackIOError):
    """A Slack payload (event, action, command) lacks a field we need or has the wrong type."""

    def __init__(self, message: str) -> None:
        super().__init__(
            message, user_message="Slack sent something I didn't understand. Please try again."
        )


class BlockError(SlackIOError):
    """A message could not be built within Slack's Block Kit limits."""

    def __init__(self, message: str) -> None:
        super().__init__(
            message, user_message="I couldn't lay out that message. Please tell whoever runs me."
        )
