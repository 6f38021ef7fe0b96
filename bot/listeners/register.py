"""Attaching the image listeners to the Slack app: thin handlers that ack and hand over."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.listeners.buttons import ButtonFlow
from bot.listeners.chain import ChainFlow
from bot.listeners.image import ImageFlow
from bot.listeners.replies import ReplyFlow
from bot.listeners.texts import is_chain
from bot.slack_io import (
    MessageContent,
    PayloadError,
    parse_button_click,
    parse_message_event,
    parse_slash_command,
)

__all__ = ["register_image"]

log = logging.getLogger(__name__)

#: How long /image may take to decide its answer before Slack's 3-second limit.
ACK_BUDGET_S = 2.5
UNAVAILABLE = (
    "Sorry, I can't take requests right now (a problem on our side). Nothing was generated or "
    "charged; please try again in a minute."
)


def register_image(app: AsyncApp, flow: ImageFlow) -> None:
    """Attach ``/image``, message and mention events, and the result buttons to ``app``."""

    replies = ReplyFlow(flow=flow)
    chains = ChainFlow(flow=flow)
    buttons = ButtonFlow(flow=flow, chains=chains)

    @app.command("/image")
    async def image_command(ack: Any, command: dict[str, Any]) -> None:
        parsed = parse_slash_command(command)
        try:
            # Slack gives up after 3 seconds; planning is milliseconds unless the database
            # is in trouble, in which case the person hears so instead of a timeout.
            async with asyncio.timeout(ACK_BUDGET_S):
                if is_chain(parsed.text):
                    answer = await chains.on_command(parsed)
                else:
                    answer = await flow.on_command(parsed)
        except Exception:
            log.exception("/image could not be planned user=%s", parsed.user_id)
            answer = MessageContent(text=UNAVAILABLE, blocks=())
        await ack(response_type="ephemeral", text=answer.text, blocks=list(answer.blocks) or None)

    async def on_event(body: dict[str, Any], context: Any, *, mention: bool) -> None:
        try:
            event = parse_message_event(body)
        except PayloadError:
            log.warning("unreadable message event ignored")
            return
        if event is None:
            return
        if flow.bot_user_id is None:
            flow.bot_user_id = context.get("bot_user_id")
        await replies.on_message(event, mention=mention)

    @app.event("message")
    async def message(body: dict[str, Any], context: Any) -> None:
        await on_event(body, context, mention=False)

    @app.event("app_mention")
    async def app_mention(body: dict[str, Any], context: Any) -> None:
        await on_event(body, context, mention=True)

    async def button(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        try:
            click = parse_button_click(body)
        except PayloadError:
            log.warning("unreadable button payload ignored")
            return
        if click is not None:
            await buttons.on_button(click)

    for action_id in ("image_more", "image_hero", "image_final", "image_confirm"):
        app.action(action_id)(button)

    @app.action("image_cancel")
    async def cancel(ack: Any, respond: Any) -> None:
        await ack()
        await respond(replace_original=True, text="Cancelled. Nothing was generated or charged.")
