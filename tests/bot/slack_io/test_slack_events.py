"""Every captured Slack payload (copied verbatim from shared/fixtures/slack) parses as it is,
and no dict at all makes a parser raise anything but PayloadError."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.slack_io import (
    ButtonClick,
    FileRef,
    MessageEvent,
    PayloadError,
    SlashCommand,
    loads_payload,
    parse_button_click,
    parse_file_ref,
    parse_form_body,
    parse_message_event,
    parse_slash_command,
    parse_view_submission,
)

FIXTURES = Path(__file__).parent / "fixtures"


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())["payload"]
    return data


def form_body(name: str) -> str:
    lines = (FIXTURES / name).read_text().splitlines()
    return next(line for line in lines if line and not line.startswith("#"))


def test_every_fixture_is_covered() -> None:
    """The tests below cover each fixture file present."""
    assert sorted(p.name for p in FIXTURES.iterdir()) == [
        "01_slash_command_form_body.txt",
        "02_event_message_file_share_channel.json",
        "04_event_message_thread_broadcast.json",
        "05_event_message_thread_reply_im.json",
        "06_block_actions_button.json",
        "07_view_submission.json",
        "09_files_upload_v2_api_responses.json",
    ]


def test_slash_command_form_body() -> None:
    """The form-encoded command decodes into its fields."""
    command = parse_slash_command(parse_form_body(form_body("01_slash_command_form_body.txt")))

    assert command == SlashCommand(
        command="/hello-world",
        text="Hi",
        team_id="T111",
        user_id="W111",
        channel_id="C111",
        trigger_id="111.111.xxx",
        response_url="https://hooks.slack.com/commands/T111/111/xxxxx",
        enterprise_id="E111",
    )


def test_file_share_message_carries_its_file() -> None:
    """A top-level file_share message yields its image file and the envelope's ids."""
    event = parse_message_event(payload("02_event_message_file_share_channel.json"))

    assert event is not None
    assert (event.kind, event.subtype, event.channel, event.user) == (
        "message",
        "file_share",
        "C111",
        "U111",
    )
    assert (event.event_id, event.team, event.thread_ts) == ("Ev03EGJQAVMM", "T111", None)
    assert event.thread_root == event.ts == "1652227646.593159"
    assert not event.in_thread
    assert event.files == (
        FileRef(
            id="F111",
            name="file.png",
            mimetype="image/png",
            url_private_download="https://files.slack.com/files-pri/T111-F111/download/file.png",
            size=92582,
        ),
    )
    assert event.files[0].looks_like_image


def test_thread_broadcast_is_a_thread_reply() -> None:
    """A broadcast reply is in its thread and keeps its subtype."""
    event = parse_message_event(payload("04_event_message_thread_broadcast.json"))

    assert event is not None
    assert event.subtype == "thread_broadcast"
    assert event.thread_root == "1633663824.000500"
    assert event.in_thread
    assert event.files == ()


def test_thread_reply_in_a_dm() -> None:
    """A plain reply in a DM thread has no subtype and channel_type im."""
    event = parse_message_event(payload("05_event_message_thread_reply_im.json"))

    assert event == MessageEvent(
        kind="message",
        channel="D111",
        user="W222",
        text="When Slack was released?",
        ts="1726133700.887259",
        thread_ts="1726133698.626339",
        subtype=None,
        bot_id=None,
        files=(),
        event_id="Ev111",
        team="T111",
        channel_type="im",
    )


def test_block_actions_button() -> None:
    """A button click on an ephemeral message: no thread, channel from the payload."""
    click = parse_button_click(payload("06_block_actions_button.json"))

    assert click == ButtonClick(
        action_id="a",
        block_id="b",
        value="click_me_123",
        user_id="W111",
        team_id="T111",
        channel_id="C111",
        message_ts="111.222",
        thread_ts=None,
        trigger_id="111.222.valid",
        response_url="https://hooks.slack.com/actions/T111/111/random-value",
        action_ts="1596530385.194939",
    )


def test_block_actions_survives_the_form_field_encoding() -> None:
    """The payload= form field JSON decodes back to the same click."""
    raw = json.dumps(payload("06_block_actions_button.json"))

    assert parse_button_click(loads_payload(raw)) == parse_button_click(
        payload("06_block_actions_button.json")
    )


def test_click_on_a_threaded_message_knows_its_thread() -> None:
    """When the message sits in a thread, thread_ts comes from the message."""
    body = payload("06_block_actions_button.json")
    body["message"] = {"ts": "111.222", "thread_ts": "100.000"}

    click = parse_button_click(body)

    assert click is not None
    assert click.thread_ts == "100.000"


def test_view_submission() -> None:
    """A modal submission yields its callback, metadata and input values."""
    view = parse_view_submission(payload("07_view_submission.json"))

    assert view is not None
    assert (view.callback_id, view.view_id, view.user_id, view.team_id) == (
        "view-id",
        "V111",
        "W111",
        "T111",
    )
    assert view.private_metadata == "This is for you!"
    assert view.value("maBWU") == "test"
    assert view.value("missing") is None


def test_upload_api_response_files_parse() -> None:
    """files.completeUploadExternal's file objects parse as FileRefs."""
    data = json.loads((FIXTURES / "09_files_upload_v2_api_responses.json").read_text())

    [file] = data["files.completeUploadExternal_response"]["files"]
    ref = parse_file_ref(file)

    assert ref.id == data["files.getUploadURLExternal_response"]["file_id"]
    assert ref.url_private_download is not None
    assert ref.url_private_download.startswith("https://files.slack.com/")
    assert not ref.looks_like_image


@pytest.mark.parametrize(
    ("name", "parser"),
    [
        ("02_event_message_file_share_channel.json", parse_button_click),
        ("06_block_actions_button.json", parse_message_event),
        ("06_block_actions_button.json", parse_view_submission),
        ("07_view_submission.json", parse_button_click),
    ],
)
def test_other_kinds_of_payload_are_none(
    name: str, parser: Callable[[Mapping[str, Any]], object]
) -> None:
    """A parser given another kind of payload returns None."""
    assert parser(payload(name)) is None


def test_missing_required_fields_raise_payload_error() -> None:
    """A message without channel, or a command without user, is a PayloadError."""
    body = payload("05_event_message_thread_reply_im.json")
    del body["event"]["channel"]
    with pytest.raises(PayloadError):
        parse_message_event(body)
    fields = parse_form_body(form_body("01_slash_command_form_body.txt"))
    del fields["user_id"]
    with pytest.raises(PayloadError):
        parse_slash_command(fields)


PARSERS: list[Callable[[Any], object]] = [
    parse_message_event,
    parse_button_click,
    parse_slash_command,
    parse_view_submission,
    parse_file_ref,
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
slack_keys = st.sampled_from(
    [
        "type",
        "event",
        "channel",
        "ts",
        "user",
        "files",
        "id",
        "actions",
        "action_id",
        "view",
        "state",
        "values",
        "command",
        "team_id",
        "user_id",
        "channel_id",
        "callback_id",
    ]
)
slackish = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.sampled_from(["message", "app_mention", "block_actions", "view_submission"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(slack_keys, children, max_size=6)
    ),
    max_leaves=25,
)


def _check(parser: Callable[[Any], object], value: object) -> None:
    with contextlib.suppress(PayloadError):
        parser(value)


@settings(max_examples=150)
@given(value=json_values | slackish)
def test_parsers_never_crash_on_arbitrary_data(value: object) -> None:
    """Any JSON-like value gives a result, None, or PayloadError; never another exception."""
    for parser in PARSERS:
        _check(parser, value)


def _prune(value: Any, drops: list[bool]) -> Any:
    if isinstance(value, dict):
        kept = {}
        for key, child in value.items():
            if drops and drops.pop():
                continue
            kept[key] = _prune(child, drops)
        return kept
    if isinstance(value, list):
        return [_prune(child, drops) for child in value]
    return value


@settings(max_examples=150)
@given(
    name=st.sampled_from(
        [
            "02_event_message_file_share_channel.json",
            "04_event_message_thread_broadcast.json",
            "05_event_message_thread_reply_im.json",
            "06_block_actions_button.json",
            "07_view_submission.json",
        ]
    ),
    drops=st.lists(st.booleans(), max_size=200),
)
def test_parsers_never_crash_on_fixtures_missing_keys(name: str, drops: list[bool]) -> None:
    """Real payloads with any keys removed give a result, None, or PayloadError."""
    pruned = _prune(payload(name), list(drops))
    for parser in PARSERS:
        _check(parser, pruned)
