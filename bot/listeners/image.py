"""``/image``: plan, answer at once, then make the images in a thread and report their cost.

:class:`ImageFlow` is the Slack side of generation that replies (:mod:`bot.listeners.replies`),
buttons (:mod:`bot.listeners.buttons`) and chains (:mod:`bot.listeners.chain`) build on: it plans
a request and words the immediate answer (the plan, a refusal, or a friendly error), holds
expensive requests for confirmation, posts the status message that becomes the thread, runs the
job, uploads the stored images, and reports cost, the thread's total and the budget left. Every
delivery is claimed once by key before anything is generated, so a retried event, a double click
or a replayed slash command never generates or charges twice, across replicas too.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.images import ImageStore
from bot.jobs import (
    Failed,
    ImageJobs,
    JobRequest,
    Requester,
    StoredImage,
    budget_left,
)
from bot.ledger.deliveries import DeliveryStore
from bot.ledger.requests import RequestStore
from bot.ledger.threads import ImageKind, ThreadStore
from bot.listeners.texts import (
    HELP,
    NO_BATCH_IN_SLACK,
    constraints_to_dict,
    plan_text,
)
from bot.metrics import Metrics
from bot.providers import ReferenceImage
from bot.slack_io import (
    ButtonPrices,
    CheaperOption,
    MessageContent,
    ResultInfo,
    SlackFileDownloader,
    SlackIOError,
    SlackMessages,
    SlackUploads,
    SlashCommand,
    budget_refusal_message,
    confirm_message,
    error_message,
    result_message,
    status_message,
)
from bot.tasks import TaskTracker
from bot.threadstate import ThreadSettings
from router import CommandError, Constraints, Plan, Purpose, Refusal, parse_command
from router.money import format_usd

__all__ = ["AfterSettle", "AskMore", "ImageFlow", "Prepared"]

log = logging.getLogger(__name__)

AskMore = Callable[[Refusal, str], dict[str, Any] | None]
AfterSettle = Callable[[Requester], Awaitable[None]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Prepared:
    """What to answer at once, and the request to run (None when there is nothing to run)."""

    answer: MessageContent
    request: JobRequest | None = None
    plan: Plan | None = None


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
    bot_user_id: str | None = None

    # ---- /image -----------------------------------------------------------------------------

    async def on_command(self, command: SlashCommand) -> MessageContent:
        """Decide the immediate answer to ``/image`` and start the work."""
        text = command.text.strip()
        if not text or text.lower() in ("help", "--help", "-h"):
            return MessageContent(text=HELP, blocks=())
        requester = Requester(
            workspace_id=command.team_id, user_id=command.user_id, channel_id=command.channel_id
        )
        key = f"cmd:{command.team_id}:{command.trigger_id or command.user_id + ':' + text}"
        prepared = await self.prepare(key=key, requester=requester, text=text)
        if prepared.request is None or prepared.plan is None:
            return prepared.answer
        if prepared.plan.estimate_micros > self.confirm_above_micros:
            return await self.hold_for_confirmation(prepared.request, prepared.plan)
        if not await self.deliveries.claim(key, at=self.clock()):
            self.metrics.requests.labels("duplicate").inc()
            return MessageContent(text="I'm already working on that one.", blocks=())
        self.spawn(
            self.start_thread(prepared.request, prepared.plan, response_url=command.response_url),
            name=f"image {key}",
            channel=command.channel_id,
            thread_ts=None,
            response_url=command.response_url,
        )
        return prepared.answer

    async def prepare(
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
    ) -> Prepared:
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
                raise CommandError(NO_BATCH_IN_SLACK)
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
            return Prepared(answer=MessageContent(text=exc.message, blocks=()))
        if isinstance(quote.outcome, Refusal):
            self.metrics.requests.labels("refused").inc()
            return Prepared(answer=self.refusal(quote.outcome, requester.user_id))
        plan = quote.outcome
        if constraints.estimate_only:
            return Prepared(
                answer=MessageContent(text=plan_text(plan, quote, estimate_only=True), blocks=())
            )
        return Prepared(
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

    async def hold_for_confirmation(self, request: JobRequest, plan: Plan) -> MessageContent:
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

    async def start_thread(
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
            prompt=request.prompt,
            asked_by=requester.user_id,
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
        await self.execute(request, plan, status_ts=posted.ts)

    async def execute(self, request: JobRequest, plan: Plan, *, status_ts: str | None) -> None:
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
