"""Typed views of the raw payloads Slack sends: message events, button clicks, slash commands.

Each parser takes the dict bolt hands a listener (``body``) exactly as Slack sent it and returns a
frozen dataclass, ``None`` when the payload is some other kind (a ``view_submission`` given to
:func:`parse_button_click`), or raises :class:`~bot.slack_io.errors.PayloadError` when a payload of
the right kind lacks a field we need. They never raise anything else, whatever the dict holds.

Only fields the bot uses are kept; everything Slack may omit is ``None``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from bot.slack_io.errors import PayloadError

__all__ = [
    "ButtonClick",
    "FieldValue",
    "FileRef",
    "MessageEvent",
    "SlashCommand",
    "ViewSubmission",
    "loads_payload",
    "parse_button_click",
    "parse_file_ref",
    "parse_form_body",
    "parse_message_event",
    "parse_slash_command",
    "parse_view_submission",
]

_MESSAGE_KINDS = frozenset({"message", "app_mention"})


@dataclass(frozen=True, kw_only=True)
class FileRef:
    """A file attached to a message. ``url_private_download`` falls back to ``url_private``."""

    id: str
    name: str | None
    mimetype: str | None
    url_private_download: str | None
    size: int | None

    @property
    def looks_like_image(self) -> bool:
        """Whether Slack labels it an image (a hint only: downloads check the bytes)."""
        return bool(self.mimetype and self.mimetype.startswith("image/"))


@dataclass(frozen=True, kw_only=True)
class MessageEvent:
    """A ``message`` or ``app_mention`` event.

    ``kind`` is the event type; ``subtype`` is Slack's (``file_share``, ``thread_broadcast``,
    ``bot_message``, ``message_changed``...) or ``None`` for a plain message. Ignore your own
    messages by ``bot_id``/``user``.
    """

    kind: str
    channel: str
    user: str | None
    text: str
    ts: str
    thread_ts: str | None
    subtype: str | None
    bot_id: str | None
    files: tuple[FileRef, ...]
    event_id: str | None
    team: str | None
    channel_type: str | None

    @property
    def thread_root(self) -> str:
        """The ``ts`` of the thread this message belongs to (its own ``ts`` at top level)."""
        return self.thread_ts or self.ts

    @property
    def in_thread(self) -> bool:
        """Whether this message is a reply inside a thread (not the thread's root)."""
        return self.thread_ts is not None and self.thread_ts != self.ts


@dataclass(frozen=True, kw_only=True)
class ButtonClick:
    """The first action of a ``block_actions`` payload (our messages carry one per click)."""

    action_id: str
    block_id: str | None
    value: str | None
    user_id: str
    team_id: str | None
    channel_id: str | None
    message_ts: str | None
    thread_ts: str | None
    trigger_id: str | None
    response_url: str | None
    action_ts: str | None


@dataclass(frozen=True, kw_only=True)
class SlashCommand:
    """A slash command, from the form fields Slack POSTs."""

    command: str
    text: str
    team_id: str
    user_id: str
    channel_id: str
    trigger_id: str | None
    response_url: str | None
    enterprise_id: str | None = None


@dataclass(frozen=True)
class FieldValue:
    """One input of a submitted modal: where it sat and what was entered or chosen."""

    block_id: str
    action_id: str
    value: str | None


@dataclass(frozen=True, kw_only=True)
class ViewSubmission:
    """A submitted modal (``view_submission``)."""

    callback_id: str
    view_id: str
    user_id: str
    team_id: str | None
    trigger_id: str | None
    private_metadata: str
    values: tuple[FieldValue, ...]

    def value(self, action_id: str) -> str | None:
        """The value of the first input with ``action_id``, or None."""
        return next((v.value for v in self.values if v.action_id == action_id), None)


# ----------------------------------------------------------------------------- helpers


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PayloadError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _opt_str(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    return value if isinstance(value, str) and value else None


def _req_str(payload: Mapping[str, Any], key: str, where: str) -> str:
    value = _opt_str(payload, key)
    if value is None:
        raise PayloadError(f"{where}: missing or empty {key!r}")
    return value


def _opt_sub(payload: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = payload.get(key)
    return value if isinstance(value, Mapping) else {}


def _opt_int(payload: Mapping[str, Any], key: str) -> int | None:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


# ----------------------------------------------------------------------------- parsers


def parse_file_ref(file: Mapping[str, Any]) -> FileRef:
    """A :class:`FileRef` from a Slack file object (in events or in files.* API answers)."""
    file = _mapping(file, "file")
    return FileRef(
        id=_req_str(file, "id", "file"),
        name=_opt_str(file, "name"),
        mimetype=_opt_str(file, "mimetype"),
        url_private_download=(
            _opt_str(file, "url_private_download") or _opt_str(file, "url_private")
        ),
        size=_opt_int(file, "size"),
    )


def parse_message_event(payload: Mapping[str, Any]) -> MessageEvent | None:
    """A :class:`MessageEvent` from an ``event_callback`` envelope or a bare event.

    Returns None for other event types. Files that lack an id (hidden or tombstoned) are skipped.
    """
    payload = _mapping(payload, "event payload")
    envelope: Mapping[str, Any] = {}
    event = payload
    if "event" in payload:
        envelope = payload
        event = _mapping(payload["event"], "event")
    kind = event.get("type")
    if not isinstance(kind, str) or kind not in _MESSAGE_KINDS:
        return None
    raw_files = event.get("files")
    files: list[FileRef] = []
    if isinstance(raw_files, list):
        for raw in raw_files:
            if isinstance(raw, Mapping) and _opt_str(raw, "id"):
                files.append(parse_file_ref(raw))
    text = event.get("text")
    return MessageEvent(
        kind=kind,
        channel=_req_str(event, "channel", "message event"),
        user=_opt_str(event, "user"),
        text=text if isinstance(text, str) else "",
        ts=_req_str(event, "ts", "message event"),
        thread_ts=_opt_str(event, "thread_ts"),
        subtype=_opt_str(event, "subtype"),
        bot_id=_opt_str(event, "bot_id"),
        files=tuple(files),
        event_id=_opt_str(envelope, "event_id"),
        # The installing workspace (the envelope's team) pays, not the author's home workspace:
        # in a Slack Connect channel ``event.team`` is the outside author's own team.
        team=_opt_str(envelope, "team_id") or _opt_str(event, "team"),
        channel_type=_opt_str(event, "channel_type"),
    )


def parse_button_click(payload: Mapping[str, Any]) -> ButtonClick | None:
    """A :class:`ButtonClick` from a ``block_actions`` payload; None for other payload types."""
    payload = _mapping(payload, "interaction payload")
    if payload.get("type") != "block_actions":
        return None
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions:
        raise PayloadError("block_actions: no actions")
    action = _mapping(actions[0], "block_actions action")
    user = _mapping(payload.get("user"), "block_actions user")
    container = _opt_sub(payload, "container")
    message = _opt_sub(payload, "message")
    channel = _opt_sub(payload, "channel")
    team = _opt_sub(payload, "team")
    return ButtonClick(
        action_id=_req_str(action, "action_id", "block_actions action"),
        block_id=_opt_str(action, "block_id"),
        value=_opt_str(action, "value"),
        user_id=_req_str(user, "id", "block_actions user"),
        team_id=_opt_str(team, "id") or _opt_str(user, "team_id"),
        channel_id=_opt_str(channel, "id") or _opt_str(container, "channel_id"),
        message_ts=_opt_str(container, "message_ts") or _opt_str(message, "ts"),
        thread_ts=_opt_str(message, "thread_ts") or _opt_str(container, "thread_ts"),
        trigger_id=_opt_str(payload, "trigger_id"),
        response_url=_opt_str(payload, "response_url"),
        action_ts=_opt_str(action, "action_ts"),
    )


def parse_form_body(raw: str) -> dict[str, str]:
    """Decode an ``application/x-www-form-urlencoded`` body (a slash command) into fields."""
    return dict(parse_qsl(raw, keep_blank_values=True))


def parse_slash_command(fields: Mapping[str, Any]) -> SlashCommand:
    """A :class:`SlashCommand` from its form fields (bolt's ``body`` for a command)."""
    fields = _mapping(fields, "slash command")
    text = fields.get("text")
    return SlashCommand(
        command=_req_str(fields, "command", "slash command"),
        text=text if isinstance(text, str) else "",
        team_id=_req_str(fields, "team_id", "slash command"),
        user_id=_req_str(fields, "user_id", "slash command"),
        channel_id=_req_str(fields, "channel_id", "slash command"),
        trigger_id=_opt_str(fields, "trigger_id"),
        response_url=_opt_str(fields, "response_url"),
        enterprise_id=_opt_str(fields, "enterprise_id"),
    )


def _input_value(state: Mapping[str, Any]) -> str | None:
    for key in ("value", "selected_date", "selected_time", "selected_user", "selected_channel"):
        if isinstance(state.get(key), str):
            return str(state[key])
    option = state.get("selected_option")
    if isinstance(option, Mapping) and isinstance(option.get("value"), str):
        return str(option["value"])
    return None


def parse_view_submission(payload: Mapping[str, Any]) -> ViewSubmission | None:
    """A :class:`ViewSubmission` from a ``view_submission`` payload; None for other types."""
    payload = _mapping(payload, "interaction payload")
    if payload.get("type") != "view_submission":
        return None
    view = _mapping(payload.get("view"), "view_submission view")
    user = _mapping(payload.get("user"), "view_submission user")
    values: list[FieldValue] = []
    for block_id, actions in _opt_sub(_opt_sub(view, "state"), "values").items():
        if not isinstance(block_id, str) or not isinstance(actions, Mapping):
            continue
        for action_id, state in actions.items():
            if isinstance(action_id, str) and isinstance(state, Mapping):
                values.append(FieldValue(block_id, action_id, _input_value(state)))
    metadata = view.get("private_metadata")
    return ViewSubmission(
        callback_id=_req_str(view, "callback_id", "view_submission view"),
        view_id=_req_str(view, "id", "view_submission view"),
        user_id=_req_str(user, "id", "view_submission user"),
        team_id=_opt_str(_opt_sub(payload, "team"), "id") or _opt_str(user, "team_id"),
        trigger_id=_opt_str(payload, "trigger_id"),
        private_metadata=metadata if isinstance(metadata, str) else "",
        values=tuple(values),
    )


def loads_payload(raw: str) -> Mapping[str, Any]:
    """Decode the JSON of an interactivity ``payload=`` form field, or raise PayloadError."""
    try:
        decoded = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise PayloadError("interaction payload is not JSON") from exc
    return _mapping(decoded, "interaction payload")
