"""``/image``, replies and mentions in the bot's threads, and the buttons under every result.

Listeners stay thin: acknowledge Slack within 3 seconds (with the plan in words, a refusal, or a
friendly error), then hand the work to :class:`ImageFlow`, which runs it as an owned background
task. Every delivery is claimed once by key before anything is generated, so a retried event, a
double click or a replayed slash command never generates or charges twice, across replicas too.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from slack_bolt.async_app import AsyncApp

from bot.images import ImageStore
from bot.jobs import (
    ChainRequest,
    Failed,
    ImageJobs,
    JobRequest,
    Requester,
    StoredImage,
    budget_left,
)
from bot.ledger.deliveries import DeliveryStore
from bot.ledger.requests import RequestInfo, RequestState, RequestStore
from bot.ledger.threads import ImageKind, ThreadInfo, ThreadStore
from bot.listeners.texts import (
    HELP,
    button_name,
    constraints_from_dict,
    constraints_to_dict,
    is_chain,
    mime_of,
    plan_text,
    strip_mention,
)
from bot.metrics import Metrics
from bot.providers import ReferenceImage
from bot.slack_io import (
    ActionValue,
    ButtonClick,
    ButtonPrices,
    CheaperOption,
    MessageContent,
    MessageEvent,
    PayloadError,
    ResultInfo,
    SlackFileDownloader,
    SlackIOError,
    SlackMessages,
    SlackUploads,
    SlashCommand,
    budget_refusal_message,
    confirm_message,
    error_message,
    parse_button_click,
    parse_message_event,
    parse_slash_command,
    result_message,
    status_message,
)
from bot.tasks import TaskTracker
from bot.threadstate import ThreadSettings
from router import CommandError, Constraints, Plan, Purpose, Refusal, parse_command
from router.money import format_usd

__all__ = ["AfterSettle", "AskMore", "ChainCommands", "ImageFlow", "register_image"]

log = logging.getLogger(__name__)

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

AskMore = Callable[[Refusal, str], dict[str, Any] | None]


class ChainCommands(Protocol):
    """The character chain's entry points (bot.listeners.chain.ChainFlow)."""

    async def on_command(self, command: SlashCommand) -> MessageContent:
        """The immediate answer to ``/image chain ...``."""
        ...

    def from_held(self, held: RequestInfo) -> ChainRequest | None:
        """A chain held for confirmation, or None when ``held`` is not a chain."""
        ...

    async def run_confirmed(self, request: ChainRequest, *, response_url: str | None) -> None:
        """Run a confirmed chain."""
        ...


AfterSettle = Callable[[Requester], Awaitable[None]]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Prepared:
    """What to answer at once, and the request to run (None when there is nothing to run)."""

    answer: MessageContent
    request: JobRequest | None = None
    plan: Plan | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _ThreadInputs:
    """What a reply builds on: uploaded references (identity lock) or the last image to edit."""

    references: tuple[ReferenceImage, ...] = ()
    source: ReferenceImage | None = None
    purpose: Purpose = Purpose.ECONOMY
    note: str | None = None


@dataclass(slots=True, kw_only=True)
class ImageFlow:
    """The Slack side of generation: threads, uploads, buttons. Built by the composition root."""

    jobs: ImageJobs
    deliveries: DeliveryStore
    threads: ThreadStore
    requests: RequestStore
    images: ImageStore
    tasks: TaskTracker
    metrics: Metrics
    clock: Callable[[], datetime]
    confirm_above_micros: int
    messages: SlackMessages
    uploads: SlackUploads
    downloader: SlackFileDownloader
    ask_more: AskMore | None = None
    after_settle: AfterSettle | None = None
    chains: ChainCommands | None = None
    bot_user_id: str | None = None

    # ---- /image -----------------------------------------------------------------------------

    async def on_command(self, command: SlashCommand) -> MessageContent:
        """Decide the immediate answer to ``/image`` and start the work."""
        text = command.text.strip()
        if not text or text.lower() in ("help", "--help", "-h"):
            return MessageContent(text=HELP, blocks=())
        if self.chains is not None and is_chain(text):
            return await self.chains.on_command(command)
        requester = Requester(
            workspace_id=command.team_id, user_id=command.user_id, channel_id=command.channel_id
        )
        key = f"cmd:{command.team_id}:{command.trigger_id or command.user_id + ':' + text}"
        prepared = await self._prepare(key=key, requester=requester, text=text)
        if prepared.request is None or prepared.plan is None:
            return prepared.answer
        if prepared.plan.estimate_micros > self.confirm_above_micros:
            return await self._confirmation(prepared.request, prepared.plan)
        if not await self.deliveries.claim(key, at=self.clock()):
            self.metrics.requests.labels("duplicate").inc()
            return MessageContent(text="I'm already working on that one.", blocks=())
        self.spawn(
            self._start_thread(prepared.request, prepared.plan, response_url=command.response_url),
            name=f"image {key}",
            channel=command.channel_id,
            thread_ts=None,
            response_url=command.response_url,
        )
        return prepared.answer

    async def _prepare(
        self,
        *,
        key: str,
        requester: Requester,
        text: str,
        references: tuple[ReferenceImage, ...] = (),
        source: ReferenceImage | None = None,
        defaults: Constraints | None = None,
        purpose: Purpose | None = None,
        image_size: str | None = None,
    ) -> _Prepared:
        """Parse and plan; the answer is the plan in words, a refusal or a friendly error.

        ``references`` lock identity (the character tier); ``source`` is an image to edit (the
        thread's last image), sent first but not counted as a reference. ``purpose`` applies when
        the text names none; ``image_size`` overrides the text's size.
        """
        try:
            parsed = parse_command(text, defaults=defaults)
            constraints = parsed.constraints
            if purpose is not None and constraints.purpose is Purpose.ECONOMY:
                constraints = replace(constraints, purpose=purpose)
            constraints = replace(
                constraints,
                reference_count=len(references),
                has_source_image=source is not None,
            )
            if image_size is not None:
                constraints = replace(constraints, image_size=image_size)
            if constraints.batch:
                raise CommandError(
                    "--batch isn't available in Slack yet: Batch jobs take up to 24 hours. "
                    "Drop --batch to get your image now."
                )
            request = JobRequest(
                key=key,
                requester=requester,
                prompt=parsed.prompt,
                constraints=constraints,
                references=(source, *references) if source is not None else references,
            )
            quote = await self.jobs.quote(request, at=self.clock())
        except CommandError as exc:
            self.metrics.requests.labels("invalid").inc()
            return _Prepared(answer=MessageContent(text=exc.message, blocks=()))
        if isinstance(quote.outcome, Refusal):
            self.metrics.requests.labels("refused").inc()
            return _Prepared(answer=self.refusal(quote.outcome, requester.user_id))
        plan = quote.outcome
        if constraints.estimate_only:
            return _Prepared(
                answer=MessageContent(text=plan_text(plan, quote, estimate_only=True), blocks=())
            )
        return _Prepared(
            answer=MessageContent(text=plan_text(plan, quote), blocks=()),
            request=request,
            plan=plan,
        )

    def refusal(self, refusal: Refusal, user_id: str, *, how: str | None = None) -> MessageContent:
        """A budget refusal with its figures, a cheaper way if any, and the Ask-for-more button."""
        extra = self.ask_more(refusal, user_id) if self.ask_more is not None else None
        cheaper = (
            CheaperOption(
                model_name=refusal.cheaper.display_name,
                estimate_micros=refusal.cheaper.estimate_micros,
                how=how or f"Add --model {refusal.cheaper.model_id} to your request to use it.",
            )
            if refusal.cheaper is not None
            else None
        )
        return budget_refusal_message(
            scope="workspace" if refusal.scope == "workspace" else "user",
            spent_micros=refusal.consumed_micros,
            budget_micros=refusal.budget_micros,
            left_micros=refusal.left_micros,
            estimate_micros=refusal.estimate_micros,
            cheaper=cheaper,
            extra_block=extra,
        )

    async def _confirmation(self, request: JobRequest, plan: Plan) -> MessageContent:
        """Hold an expensive request until its owner clicks Go ahead (stored, not in the button)."""
        await self.requests.record(
            key=request.key,
            workspace_id=request.requester.workspace_id,
            user_id=request.requester.user_id,
            prompt=request.prompt,
            constraints=constraints_to_dict(request.constraints),
            at=self.clock(),
            channel_id=request.requester.channel_id,
            thread_ts=request.requester.thread_ts,
        )
        return confirm_message(
            model_name=plan.primary.display_name,
            estimate_micros=plan.estimate_micros,
            image_count=plan.image_count,
            value=request.key,
            prompt=request.prompt,
        )

    async def _start_thread(
        self,
        request: JobRequest,
        plan: Plan,
        *,
        response_url: str | None,
        thread_ts: str | None = None,
    ) -> None:
        """Post the status message (the thread's root, or a reply under a mention), then run."""
        requester = request.requester
        assert requester.channel_id is not None
        status = status_message(
            model_name=plan.primary.display_name,
            estimate_micros=plan.estimate_micros,
            image_count=plan.image_count,
            prompt=f"<@{requester.user_id}>: {request.prompt}",
        )
        try:
            posted = await self.messages.post(
                channel=requester.channel_id,
                text=status.text,
                blocks=list(status.blocks),
                thread_ts=thread_ts,
            )
        except SlackIOError as exc:
            log.warning("status post failed channel=%s error=%s", requester.channel_id, exc)
            if response_url:
                await self.respond(
                    response_url,
                    f"{exc.user_message} Nothing was generated or charged.",
                )
            return
        root = thread_ts or posted.ts
        await self.threads.create(
            channel_id=requester.channel_id,
            thread_ts=root,
            workspace_id=requester.workspace_id,
            owner_user_id=requester.user_id,
            settings=ThreadSettings.from_request(
                prompt=request.prompt, constraints=request.constraints
            ).to_dict(),
            at=self.clock(),
        )
        request = replace(request, requester=replace(requester, thread_ts=root))
        await self._execute(request, plan, status_ts=posted.ts)

    async def _execute(self, request: JobRequest, plan: Plan, *, status_ts: str | None) -> None:
        """Run the job, deliver the images into the thread, and report cost and budget."""
        requester = request.requester
        channel, thread_ts = requester.channel_id, requester.thread_ts
        assert channel is not None and thread_ts is not None
        started = self.clock()
        result = await self.jobs.run(request, plan, at=started, clock=self.clock)
        self.metrics.generation_seconds.observe((self.clock() - started).total_seconds())
        if isinstance(result, Failed):
            await self._report_failure(result, channel=channel, thread_ts=thread_ts)
            if status_ts is not None:
                await self.quiet_update(channel, status_ts, f":warning: {result.message}")
            if self.after_settle is not None and result.charged_micros:
                await self.after_settle(requester)
            return
        self.metrics.requests.labels("done").inc()
        self.metrics.images.labels(result.model_id).inc(len(result.images))
        self.metrics.spend_micros.labels(result.model_id).inc(result.cost_micros)
        count = len(result.images)
        last_path = await self.deliver(
            [
                (image, f"{result.model_name} {index}/{count}")
                for index, image in enumerate(result.images, start=1)
            ],
            channel=channel,
            thread_ts=thread_ts,
        )
        await self.threads.set_last_image(
            channel_id=channel, thread_ts=thread_ts, path=last_path, at=self.clock()
        )
        total = await self.threads.total_micros(channel_id=channel, thread_ts=thread_ts)
        prices = await self._button_prices(request, fallback=plan.estimate_micros)
        content = result_message(
            ResultInfo(
                model_name=result.model_name,
                image_count=len(result.images),
                cost_micros=result.cost_micros,
                thread_total_micros=total,
                budget_left_micros=budget_left(result.user_budget, result.workspace_budget),
                notices=result.notices + result.failures,
                downgrade_reason="; ".join(plan.reasons) if plan.downgraded else None,
            ),
            channel=channel,
            thread_ts=thread_ts,
            image_id=last_path,
            prices=prices,
            request_key=request.key,
        )
        await self.say(channel, thread_ts, content)
        if status_ts is not None:
            await self.quiet_update(
                channel,
                status_ts,
                f":white_check_mark: {result.model_name}, {format_usd(result.cost_micros)}. "
                "Reply in this thread to make a variant; drop an image in to use it as a "
                "reference.",
            )
        if self.after_settle is not None:
            await self.after_settle(requester)

    async def deliver(
        self, images: Sequence[tuple[StoredImage, str]], *, channel: str, thread_ts: str
    ) -> str:
        """Upload stored images (with titles) into the thread; returns the last one's path.

        Each image is recorded as pending before the upload and cleared after it, so an image
        Slack refuses (or a crash mid-upload) is posted later by maintenance, never lost.
        """
        for image, title in images:
            await self.threads.add_image(
                channel_id=channel,
                thread_ts=thread_ts,
                path=image.path,
                kind=ImageKind.GENERATED,
                model_id=image.model_id,
                at=self.clock(),
            )
            pending = await self.threads.add_pending_upload(
                channel_id=channel,
                thread_ts=thread_ts,
                path=image.path,
                comment=title,
                at=self.clock(),
            )
            try:
                await self.uploads.upload_image(
                    file=self.images.read(image.path),
                    filename=image.path.rsplit("/", 1)[-1],
                    channel=channel,
                    thread_ts=thread_ts,
                    title=title,
                    alt_text=title,
                )
            except SlackIOError as exc:
                log.warning("upload failed path=%s error=%s; kept for retry", image.path, exc)
                await self.threads.note_upload_failure(pending.id, error=str(exc), at=self.clock())
                await self.say(
                    channel,
                    thread_ts,
                    MessageContent(
                        text=(
                            "Slack refused the upload of your image for now. It is saved and "
                            "paid for; I'll post it here as soon as Slack takes it."
                        ),
                        blocks=(),
                    ),
                )
                continue
            await self.threads.remove_pending_upload(pending.id)
        return images[-1][0].path

    async def _report_failure(self, result: Failed, *, channel: str, thread_ts: str) -> None:
        if result.duplicate:
            return
        self.metrics.requests.labels("refused" if result.refused else "failed").inc()
        if result.refused is not None:
            refused = result.refused
            content = budget_refusal_message(
                scope=refused.scope,
                spent_micros=refused.consumed_micros,
                budget_micros=refused.budget_micros,
                left_micros=refused.left_micros,
                estimate_micros=refused.estimate_micros,
            )
        else:
            content = error_message(
                what_happened=" ".join((result.message, *result.notices)),
                charged_micros=result.charged_micros,
                next_step="Try again in a minute, or change the wording. Reply here to retry.",
            )
        await self.say(channel, thread_ts, content)

    async def _button_prices(self, request: JobRequest, *, fallback: int) -> ButtonPrices:
        """Price the three follow-up buttons for the person who asked (a clicker re-quotes)."""
        base = request.constraints
        more = await self._price(request, base)
        hero = await self._price(
            request, replace(base, purpose=Purpose.CHARACTER, reference_count=1)
        )
        final = await self._price(
            request, replace(base, purpose=Purpose.FINAL, image_size="4K")
        ) or await self._price(request, replace(base, purpose=Purpose.FINAL, image_size=None))
        return ButtonPrices(
            more_micros=more or fallback,
            hero_micros=hero or fallback,
            final_micros=final or fallback,
        )

    async def _price(self, request: JobRequest, constraints: Constraints) -> int | None:
        single = replace(constraints, image_count=1, has_source_image=False)
        try:
            quote = await self.jobs.quote(replace(request, constraints=single), at=self.clock())
        except CommandError:
            return None
        return None if isinstance(quote.outcome, Refusal) else quote.outcome.estimate_micros

    # ---- replies and mentions ---------------------------------------------------------------

    async def on_message(self, event: MessageEvent, *, mention: bool = False) -> None:
        """A message the bot can see: act on replies in its threads and on mentions."""
        if event.bot_id or event.subtype in _IGNORED_SUBTYPES or event.user is None:
            return
        if self.bot_user_id is not None and event.user == self.bot_user_id:
            return
        in_thread = event.thread_ts is not None and event.thread_ts != event.ts
        thread = (
            await self.threads.get(channel_id=event.channel, thread_ts=event.thread_ts)
            if in_thread and event.thread_ts is not None
            else None
        )
        if thread is None and not (mention and not in_thread):
            return  # not a thread the bot started, and not a fresh mention: ignore
        # One key per Slack message: covers event retries AND message + app_mention twins.
        key = f"msg:{event.team or '-'}:{event.channel}:{event.ts}"
        if not await self.deliveries.claim(key, at=self.clock()):
            return
        self.spawn(
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
        text = strip_mention(event.text, self.bot_user_id)
        workspace = event.team or (thread.workspace_id if thread else "")
        if thread is None:
            # A mention outside any thread: a new request, threaded under the mention.
            requester = Requester(
                workspace_id=workspace, user_id=event.user, channel_id=event.channel
            )
            prepared = await self._prepare(key=key, requester=requester, text=text)
            if prepared.request is None or prepared.plan is None:
                await self.say(event.channel, event.ts, prepared.answer)
            elif prepared.plan.estimate_micros > self.confirm_above_micros:
                confirm = await self._confirmation(prepared.request, prepared.plan)
                await self.say(event.channel, event.ts, confirm)
            else:
                await self._start_thread(
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
                await self.say(
                    event.channel, thread.thread_ts, MessageContent(text=" ".join(notes), blocks=())
                )
                return
        inputs = await self._thread_inputs(channel=event.channel, thread_ts=thread.thread_ts)
        if inputs.note:
            notes.append(inputs.note)
        if notes:
            await self.say(
                event.channel, thread.thread_ts, MessageContent(text=" ".join(notes), blocks=())
            )
        prompt_text = text if text.strip() else f"-- {settings.prompt}"
        prepared = await self._prepare(
            key=key,
            requester=requester,
            text=prompt_text,
            references=inputs.references,
            source=inputs.source,
            defaults=settings.defaults(),
            purpose=inputs.purpose,
        )
        if prepared.request is None or prepared.plan is None:
            await self.say(event.channel, thread.thread_ts, prepared.answer)
            return
        if prepared.plan.estimate_micros > self.confirm_above_micros:
            confirm = await self._confirmation(prepared.request, prepared.plan)
            await self.say(event.channel, thread.thread_ts, confirm)
            return
        await self.threads.update_settings(
            channel_id=event.channel,
            thread_ts=thread.thread_ts,
            settings=settings.after_reply(
                prompt=prepared.request.prompt, constraints=prepared.request.constraints
            ).to_dict(),
            at=self.clock(),
        )
        status_ts = await self.say(event.channel, thread.thread_ts, prepared.answer)
        await self._execute(prepared.request, prepared.plan, status_ts=status_ts)

    async def _take_uploads(self, event: MessageEvent, *, thread_ts: str, notes: list[str]) -> int:
        """Download a reply's images (checked, capped) into the store as thread references.

        Returns how many were taken; each file that could not be used adds a note saying why.
        """
        taken = 0
        for file in event.files:
            try:
                image = await self.downloader.download_file(file)
            except SlackIOError as exc:
                notes.append(f"I couldn't use {file.name or 'that file'}: {exc.user_message}")
                continue
            path = self.images.save(
                image.data,
                key=f"upload-{event.channel}-{event.ts}-{file.id}",
                mime_type=image.mime_type,
                at=self.clock(),
            )
            await self.threads.add_image(
                channel_id=event.channel,
                thread_ts=thread_ts,
                path=path,
                kind=ImageKind.UPLOADED,
                at=self.clock(),
            )
            taken += 1
        return taken

    async def _thread_inputs(self, *, channel: str, thread_ts: str) -> _ThreadInputs:
        """References (uploaded images, newest first up to the limit) or the last image to edit."""
        stored = await self.threads.images(channel_id=channel, thread_ts=thread_ts)
        uploaded = [image for image in stored if image.kind is ImageKind.UPLOADED]
        if uploaded:
            limit = self.jobs.reference_limit(Purpose.CHARACTER)
            kept, dropped = uploaded[:limit], uploaded[limit:]
            references = tuple(
                ReferenceImage(data=self.images.read(image.path), mime_type=mime_of(image.path))
                for image in kept
            )
            note = (
                f"Using your {len(kept)} newest images as references (the model takes up to "
                f"{limit}); left out the {len(dropped)} oldest."
                if dropped
                else None
            )
            return _ThreadInputs(references=references, purpose=Purpose.CHARACTER, note=note)
        if stored:
            last = stored[0]
            source = ReferenceImage(data=self.images.read(last.path), mime_type=mime_of(last.path))
            return _ThreadInputs(source=source, purpose=Purpose.EDIT)
        return _ThreadInputs()

    # ---- buttons ----------------------------------------------------------------------------

    async def on_button(self, click: ButtonClick) -> None:
        """More like this / Make it hero / Final render / Go ahead: charged to whoever clicks."""
        key = f"btn:{click.team_id}:{click.action_id}:{click.message_ts}:{click.user_id}"
        if not await self.deliveries.claim(key, at=self.clock()):
            await self.respond(
                click.response_url,
                f"You already clicked {button_name(click.action_id)} on this one; use the "
                "buttons under the newest result, or reply in the thread for another variant.",
            )
            return
        self.spawn(
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
            await self.respond(
                click.response_url, "That button is out of date; start again with /image."
            )
            return
        thread = await self.threads.get(channel_id=value.channel, thread_ts=value.thread_ts)
        if thread is None:
            await self.respond(
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
                data = self.images.read(value.image_id)
            except (OSError, ValueError):
                await self.respond(
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
        prepared = await self._prepare(
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
            prepared = await self._prepare(
                key=key,
                requester=requester,
                text=prompt_text,
                references=references,
                defaults=settings.defaults(),
                purpose=purpose,
            )
        if prepared.request is None or prepared.plan is None:
            await self.respond(click.response_url, prepared.answer.text)
            return
        intro = MessageContent(
            text=f"<@{click.user_id}> clicked {button_name(click.action_id)}. "
            + prepared.answer.text,
            blocks=(),
        )
        status_ts = await self.say(value.channel, value.thread_ts, intro)
        await self._execute(prepared.request, prepared.plan, status_ts=status_ts)

    async def _confirmed(self, click: ButtonClick) -> None:
        """Go ahead on a held request: only its owner can, and only once."""
        held = await self.requests.get(click.value or "")
        if held is None or held.state is not RequestState.RECEIVED:
            await self.respond(click.response_url, "That request was already handled.")
            return
        if held.user_id != click.user_id:
            await self.respond(click.response_url, "Only the person who asked can confirm it.")
            return
        if not await self.deliveries.claim(f"confirm:{held.key}", at=self.clock()):
            return
        await self.requests.update(held.key, state=RequestState.RUNNING, at=self.clock())
        chain = self.chains.from_held(held) if self.chains is not None else None
        if chain is not None and self.chains is not None:
            await self.chains.run_confirmed(chain, response_url=click.response_url)
            return
        constraints = constraints_from_dict(held.constraints)
        references: tuple[ReferenceImage, ...] = ()
        if held.thread_ts is not None and held.channel_id is not None:
            # A reply held for confirmation builds on the thread's images, as it would have.
            inputs = await self._thread_inputs(channel=held.channel_id, thread_ts=held.thread_ts)
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
            quote = await self.jobs.quote(request, at=self.clock())
        except CommandError as exc:
            await self.respond(click.response_url, exc.message)
            return
        if isinstance(quote.outcome, Refusal):
            await self.respond(click.response_url, quote.outcome.message)
            return
        await self.respond(click.response_url, plan_text(quote.outcome, quote), replace=True)
        if held.thread_ts is not None:
            status_ts = await self.say(
                held.channel_id or "",
                held.thread_ts,
                MessageContent(text=plan_text(quote.outcome, quote), blocks=()),
            )
            await self._execute(request, quote.outcome, status_ts=status_ts)
        else:
            await self._start_thread(request, quote.outcome, response_url=click.response_url)

    # ---- maintenance ------------------------------------------------------------------------

    def spawn(
        self,
        work: Coroutine[Any, Any, None],
        *,
        name: str,
        channel: str | None,
        thread_ts: str | None,
        response_url: str | None,
    ) -> None:
        """Run ``work`` as an owned task; an unexpected error still ends in a message."""

        async def guarded() -> None:
            try:
                await work
            except Exception:
                log.exception("request failed unexpectedly name=%s", name)
                self.metrics.requests.labels("failed").inc()
                text = (
                    "Something went wrong on our side and I stopped. Anything that may have "
                    "cost money is in the ledger (see /spend); please try again."
                )
                if channel is not None:
                    await self.say(channel, thread_ts, MessageContent(text=text, blocks=()))
                else:
                    await self.respond(response_url, text)

        self.tasks.spawn(guarded(), name=name)

    async def repost_pending(self) -> int:
        """Post images saved earlier that never reached Slack; returns how many were posted."""
        posted = 0
        for pending in await self.threads.pending_uploads():
            if pending.created_at > self.clock() - timedelta(minutes=1):
                continue  # still being uploaded by the job that made it
            try:
                await self.uploads.upload_image(
                    file=self.images.read(pending.path),
                    filename=pending.path.rsplit("/", 1)[-1],
                    channel=pending.channel_id,
                    thread_ts=pending.thread_ts,
                    title=pending.comment or None,
                )
            except SlackIOError as exc:
                await self.threads.note_upload_failure(pending.id, error=str(exc), at=self.clock())
                continue
            await self.threads.remove_pending_upload(pending.id)
            posted += 1
        return posted

    # ---- small Slack helpers ----------------------------------------------------------------

    async def quiet_update(self, channel: str, ts: str, text: str) -> None:
        try:
            await self.messages.update(channel=channel, ts=ts, text=text)
        except SlackIOError:
            log.warning("status update failed channel=%s ts=%s", channel, ts)

    async def say(self, channel: str, thread_ts: str | None, content: MessageContent) -> str | None:
        try:
            posted = await self.messages.post(
                channel=channel,
                text=content.text,
                blocks=list(content.blocks) or None,
                thread_ts=thread_ts,
            )
        except SlackIOError:
            log.warning("could not post channel=%s thread=%s", channel, thread_ts)
            return None
        return posted.ts

    async def respond(self, response_url: str | None, text: str, *, replace: bool = False) -> None:
        if not response_url:
            return
        try:
            await self.messages.respond(response_url, text=text, replace_original=replace)
        except SlackIOError:
            log.warning("response_url post failed")


def register_image(app: AsyncApp, flow: ImageFlow) -> None:
    """Attach ``/image``, message and mention events, and the result buttons to ``app``."""

    @app.command("/image")
    async def image_command(ack: Any, command: dict[str, Any]) -> None:
        answer = await flow.on_command(parse_slash_command(command))
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
        await flow.on_message(event, mention=mention)

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
            await flow.on_button(click)

    for action_id in ("image_more", "image_hero", "image_final", "image_confirm"):
        app.action(action_id)(button)

    @app.action("image_cancel")
    async def cancel(ack: Any, respond: Any) -> None:
        await ack()
        await respond(replace_original=True, text="Cancelled. Nothing was generated or charged.")
