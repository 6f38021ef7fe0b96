"""Replies and mentions in the bot's threads: variants, edits and reference images.

Slack does not run slash commands typed inside a thread, so iteration is by plain replies and
@mentions (which arrive as events). A reply edits the thread's last image on the edit tier, with
its text as the instruction; images dropped into the thread become references for the character
tier (identity lock; the newest kept up to the model's limit). Flags carry over and can be
overridden. Messages from bots, and threads the bot did not start, are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.jobs import Requester
from bot.ledger.threads import ImageKind, ThreadInfo
from bot.listeners.image import ImageFlow
from bot.listeners.texts import mime_of, strip_mention
from bot.providers import ReferenceImage
from bot.slack_io import MessageContent, MessageEvent, SlackIOError
from bot.threadstate import ThreadSettings
from router import Purpose

__all__ = ["ReplyFlow", "ThreadInputs", "thread_inputs"]

#: Message subtypes that are never requests (edits, joins, bots...).
_IGNORED_SUBTYPES = frozenset(
    {
        "bot_message",
        "message_changed",
        "message_deleted",
        "message_replied",
        "channel_join",
        "channel_leave",
        "group_join",
        "group_leave",
        "thread_broadcast_deleted",
        "tombstone",
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadInputs:
    """What a reply builds on: uploaded references (identity lock) or the last image to edit."""

    references: tuple[ReferenceImage, ...] = ()
    source: ReferenceImage | None = None
    purpose: Purpose = Purpose.ECONOMY
    note: str | None = None


@dataclass(slots=True, kw_only=True)
class ReplyFlow:
    """Acts on messages in the bot's threads and on mentions, through the image flow."""

    flow: ImageFlow

    async def on_message(self, event: MessageEvent, *, mention: bool = False) -> None:
        """A message the bot can see: act on replies in its threads and on mentions."""
        if event.bot_id or event.subtype in _IGNORED_SUBTYPES or event.user is None:
            return
        if self.flow.bot_user_id is not None and event.user == self.flow.bot_user_id:
            return
        in_thread = event.thread_ts is not None and event.thread_ts != event.ts
        thread = (
            await self.flow.threads.get(channel_id=event.channel, thread_ts=event.thread_ts)
            if in_thread and event.thread_ts is not None
            else None
        )
        if thread is None and not (mention and not in_thread):
            return  # not a thread the bot started, and not a fresh mention: ignore
        # One key per Slack message: covers event retries AND message + app_mention twins.
        key = f"msg:{event.team or '-'}:{event.channel}:{event.ts}"
        if not await self.flow.deliveries.claim(key, at=self.flow.clock()):
            return
        self.flow.spawn(
            self._handle_message(event, thread=thread, key=key),
            name=key,
            channel=event.channel,
            thread_ts=thread.thread_ts if thread is not None else event.ts,
            response_url=None,
        )

    async def _handle_message(
        self, event: MessageEvent, *, thread: ThreadInfo | None, key: str
    ) -> None:
        assert event.user is not None
        text = strip_mention(event.text, self.flow.bot_user_id)
        workspace = event.team or (thread.workspace_id if thread else "")
        if thread is None:
            # A mention outside any thread: a new request, threaded under the mention.
            requester = Requester(
                workspace_id=workspace, user_id=event.user, channel_id=event.channel
            )
            prepared = await self.flow.prepare(key=key, requester=requester, text=text)
            if prepared.request is None or prepared.plan is None:
                await self.flow.say(event.channel, event.ts, prepared.answer)
            elif prepared.plan.estimate_micros > self.flow.confirm_above_micros:
                confirm = await self.flow.hold_for_confirmation(prepared.request, prepared.plan)
                await self.flow.say(event.channel, event.ts, confirm)
            else:
                await self.flow.start_thread(
                    prepared.request, prepared.plan, response_url=None, thread_ts=event.ts
                )
            return
        requester = Requester(
            workspace_id=workspace,
            user_id=event.user,
            channel_id=event.channel,
            thread_ts=thread.thread_ts,
        )
        settings = ThreadSettings.from_dict(thread.settings)
        notes: list[str] = []
        if event.files:
            taken = await self._take_uploads(event, thread_ts=thread.thread_ts, notes=notes)
            if not taken:
                # Every attached file failed: do not charge for something nobody asked for.
                notes.append("Nothing was generated or charged; attach a PNG, JPEG or WebP.")
                await self.flow.say(
                    event.channel, thread.thread_ts, MessageContent(text=" ".join(notes), blocks=())
                )
                return
        inputs = await thread_inputs(self.flow, channel=event.channel, thread_ts=thread.thread_ts)
        if inputs.note:
            notes.append(inputs.note)
        if notes:
            await self.flow.say(
                event.channel, thread.thread_ts, MessageContent(text=" ".join(notes), blocks=())
            )
        prompt_text = text if text.strip() else f"-- {settings.prompt}"
        prepared = await self.flow.prepare(
            key=key,
            requester=requester,
            text=prompt_text,
            references=inputs.references,
            source=inputs.source,
            defaults=settings.defaults(),
            purpose=inputs.purpose,
        )
        if prepared.request is None or prepared.plan is None:
            await self.flow.say(event.channel, thread.thread_ts, prepared.answer)
            return
        if prepared.plan.estimate_micros > self.flow.confirm_above_micros:
            confirm = await self.flow.hold_for_confirmation(prepared.request, prepared.plan)
            await self.flow.say(event.channel, thread.thread_ts, confirm)
            return
        await self.flow.threads.update_settings(
            channel_id=event.channel,
            thread_ts=thread.thread_ts,
            settings=settings.after_reply(
                prompt=prepared.request.prompt, constraints=prepared.request.constraints
            ).to_dict(),
            at=self.flow.clock(),
        )
        status_ts = await self.flow.say(event.channel, thread.thread_ts, prepared.answer)
        await self.flow.execute(prepared.request, prepared.plan, status_ts=status_ts)

    async def _take_uploads(self, event: MessageEvent, *, thread_ts: str, notes: list[str]) -> int:
        """Download a reply's images (checked, capped) into the store as thread references.

        Returns how many were taken; each file that could not be used adds a note saying why.
        """
        taken = 0
        for file in event.files:
            try:
                image = await self.flow.downloader.download_file(file)
            except SlackIOError as exc:
                notes.append(f"I couldn't use {file.name or 'that file'}: {exc.user_message}")
                continue
            path = self.flow.images.save(
                image.data,
                key=f"upload-{event.channel}-{event.ts}-{file.id}",
                mime_type=image.mime_type,
                at=self.flow.clock(),
            )
            await self.flow.threads.add_image(
                channel_id=event.channel,
                thread_ts=thread_ts,
                path=path,
                kind=ImageKind.UPLOADED,
                at=self.flow.clock(),
            )
            taken += 1
        return taken


async def thread_inputs(flow: ImageFlow, *, channel: str, thread_ts: str) -> ThreadInputs:
    """References (uploaded images, newest first up to the limit) or the last image to edit."""
    stored = await flow.threads.images(channel_id=channel, thread_ts=thread_ts)
    uploaded = [image for image in stored if image.kind is ImageKind.UPLOADED]
    if uploaded:
        limit = flow.jobs.reference_limit(Purpose.CHARACTER)
        kept, dropped = uploaded[:limit], uploaded[limit:]
        references = tuple(
            ReferenceImage(data=flow.images.read(image.path), mime_type=mime_of(image.path))
            for image in kept
        )
        note = (
            f"Using your {len(kept)} newest images as references (the model takes up to "
            f"{limit}); left out the {len(dropped)} oldest."
            if dropped
            else None
        )
        return ThreadInputs(references=references, purpose=Purpose.CHARACTER, note=note)
    if stored:
        last = stored[0]
        source = ReferenceImage(data=flow.images.read(last.path), mime_type=mime_of(last.path))
        return ThreadInputs(source=source, purpose=Purpose.EDIT)
    return ThreadInputs()
