"""Socket Mode: the same bot, driven over a WebSocket instead of signed HTTP requests."""

from __future__ import annotations

from bot.app import connect_socket_mode
from tests.bot.e2e.conftest import Bot


async def test_slash_command_over_socket_mode_generates_an_image(bot: Bot) -> None:
    """A /image envelope is acknowledged with the plan and the image lands in a thread."""
    handler = await connect_socket_mode(bot.runtime, bot.slack.app_token)
    try:
        envelope = await bot.slack.socket_send(
            "slash_commands",
            {
                "token": "verification_token",
                "team_id": "T111",
                "team_domain": "test-domain",
                "channel_id": "C111",
                "channel_name": "marketing",
                "user_id": "U111",
                "user_name": "u111",
                "command": "/image",
                "text": "draft three banner ideas for the winter sale",
                "api_app_id": "A111",
                "response_url": bot.slack.response_url("socket"),
                "trigger_id": "777.111.socket",
            },
        )
        ack = await bot.slack.wait_socket_ack(envelope)
        assert "On it" in ack["payload"]["text"]
        await bot.settle()
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
    assert len(bot.gemini.generate_requests()) == 1
    assert len(bot.slack.uploaded_files()) == 1
