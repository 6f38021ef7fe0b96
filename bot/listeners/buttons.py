"""The buttons under results: More like this, Make it hero, Final render, and Go ahead.

Each click is charged to whoever clicked, and claimed once per button, result and person, so a
double click never generates twice. Go ahead runs a request held for confirmation, only for the
person who asked, re-planned on today's budget.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.jobs import JobRequest, Requester
from bot.ledger.requests import RequestState
from bot.listeners.chain import ChainFlow
from bot.listeners.image import ImageFlow
from bot.listeners.replies import thread_inputs
from bot.listeners.texts import button_name, constraints_from_dict, mime_of, plan_text
from bot.providers import ReferenceImage
from bot.slack_io import ActionValue, ButtonClick, MessageContent, PayloadError
from bot.threadstate import ThreadSettings
from router import CommandError, Purpose, Refusal

__all__ = ["ButtonFlow"]


@dataclass(slots=True, kw_only=True)
class ButtonFlow:
    """Handles result buttons and confirmations through the image flow."""

    flow: ImageFlow
    chains: ChainFlow

    async def on_button(self, click: ButtonClick) -> None:
        """More like this / Make it hero / Final render / Go ahead: charged to whoever clicks."""
        key = f"btn:{click.team_id}:{click.action_id}:{click.message_ts}:{click.user_id}"
        if not await self.flow.deliveries.claim(key, at=self.flow.clock()):
            await self.flow.respond(
                click.response_url,
                f"You already clicked {button_name(click.action_id)} on this one; use the "
                "buttons under the newest result, or reply in the thread for another variant.",
            )
            return
        self.flow.spawn(
            self._handle_button(click, key=key),
            name=key,
            channel=None,
            thread_ts=None,
            response_url=click.response_url,
        )

    async def _handle_button(self, click: ButtonClick, *, key: str) -> None:
        if click.action_id == "image_confirm":
            await self._confirmed(click)
            return
        try:
            value = ActionValue.decode(click.value or "")
        except (PayloadError, ValueError):
            await self.flow.respond(
                click.response_url, "That button is out of date; start again with /image."
            )
            return
        thread = await self.flow.threads.get(channel_id=value.channel, thread_ts=value.thread_ts)
        if thread is None:
            await self.flow.respond(
                click.response_url, "That result is too old to build on; start again with /image."
            )
            return
        settings = ThreadSettings.from_dict(thread.settings)
        requester = Requester(
            workspace_id=click.team_id or thread.workspace_id,
            user_id=click.user_id,
            channel_id=value.channel,
            thread_ts=value.thread_ts,
        )
        references: tuple[ReferenceImage, ...] = ()
        purpose = settings.purpose  # More like this: the same settings as the result
        size: str | None = None
        if click.action_id == "image_hero":
            try:
                data = self.flow.images.read(value.image_id)
            except (OSError, ValueError):
                await self.flow.respond(
                    click.response_url,
                    "I can't find that image any more, so I can't lock onto it. Nothing was "
                    "charged; drop the image into the thread to use it as a reference.",
                )
                return
            references = (ReferenceImage(data=data, mime_type=mime_of(value.image_id)),)
            purpose = Purpose.CHARACTER
        elif click.action_id == "image_final":
            purpose, size = Purpose.FINAL, "4K"
        prompt_text = f"-- {settings.prompt}"
        prepared = await self.flow.prepare(
            key=key,
            requester=requester,
            text=prompt_text,
            references=references,
            defaults=settings.defaults(),
            purpose=purpose,
            image_size=size,
        )
        if prepared.request is None and size is not None:
            # 4K is not on offer for the final tier's model: render at its default size.
            prepared = await self.flow.prepare(
                key=key,
                requester=requester,
                text=prompt_text,
                references=references,
                defaults=settings.defaults(),
                purpose=purpose,
            )
        if prepared.request is None or prepared.plan is None:
            await self.flow.respond(click.response_url, prepared.answer.text)
            return
        intro = MessageContent(
            text=f"<@{click.user_id}> clicked {button_name(click.action_id)}. "
            + prepared.answer.text,
            blocks=(),
        )
        status_ts = await self.flow.say(value.channel, value.thread_ts, intro)
        await self.flow.execute(prepared.request, prepared.plan, status_ts=status_ts)

    async def _confirmed(self, click: ButtonClick) -> None:
        """Go ahead on a held request: only its owner can, and only once."""
        held = await self.flow.requests.get(click.value or "")
        if held is None or held.state is not RequestState.RECEIVED:
            await self.flow.respond(click.response_url, "That request was already handled.")
            return
        if held.user_id != click.user_id:
            await self.flow.respond(click.response_url, "Only the person who asked can confirm it.")
            return
        if not await self.flow.deliveries.claim(f"confirm:{held.key}", at=self.flow.clock()):
            return
        chain = self.chains.from_held(held)
        if chain is not None:
            await self.flow.requests.update(
                held.key, state=RequestState.RUNNING, at=self.flow.clock()
            )
            await self.chains.run_confirmed(chain, response_url=click.response_url)
            return
        constraints = constraints_from_dict(held.constraints)
        references: tuple[ReferenceImage, ...] = ()
        if held.thread_ts is not None and held.channel_id is not None:
            # A reply held for confirmation builds on the thread's images, as it would have.
            inputs = await thread_inputs(
                self.flow, channel=held.channel_id, thread_ts=held.thread_ts
            )
            references = inputs.references
            if inputs.source is not None and constraints.purpose is not Purpose.CHARACTER:
                references = (inputs.source, *references)
            constraints = replace(
                constraints,
                reference_count=len(inputs.references),
                has_source_image=inputs.source is not None and not inputs.references,
            )
        request = JobRequest(
            key=held.key,
            requester=Requester(
                workspace_id=held.workspace_id,
                user_id=held.user_id,
                channel_id=held.channel_id,
                thread_ts=held.thread_ts,
            ),
            prompt=held.prompt,
            constraints=constraints,
            references=references,
        )
        try:
            quote = await self.flow.jobs.quote(request, at=self.flow.clock())
        except CommandError as exc:
            await self.flow.requests.update(
                held.key, state=RequestState.FAILED, at=self.flow.clock()
            )
            await self.flow.respond(click.response_url, exc.message)
            return
        if isinstance(quote.outcome, Refusal):
            await self.flow.requests.update(
                held.key, state=RequestState.REFUSED, at=self.flow.clock()
            )
            await self.flow.respond(click.response_url, quote.outcome.message)
            return
        await self.flow.requests.update(held.key, state=RequestState.RUNNING, at=self.flow.clock())
        await self.flow.respond(click.response_url, plan_text(quote.outcome, quote), replace=True)
        if held.thread_ts is not None:
            status_ts = await self.flow.say(
                held.channel_id or "",
                held.thread_ts,
                MessageContent(text=plan_text(quote.outcome, quote), blocks=()),
            )
            await self.flow.execute(request, quote.outcome, status_ts=status_ts)
        else:
            await self.flow.start_thread(request, quote.outcome, response_url=click.response_url)
