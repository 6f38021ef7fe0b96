"""The character chain in Slack: ``/image chain our green owl mascot | waving | jumping``.

One cheap reference image of the character, then every pose on the character tier with that
reference (identity lock), concurrently. The whole chain is priced and reserved up front (and
confirmed first when it costs more than the confirmation threshold); each variant's result and
cost are reported, failed ones included.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bot.jobs import ChainRequest, ChainResult, Requester, StoredImage, budget_left
from bot.ledger.requests import RequestInfo
from bot.listeners.image import ImageFlow
from bot.listeners.texts import (
    CHAIN_WORD,
    NO_BATCH_IN_SLACK,
    constraints_from_dict,
    constraints_to_dict,
)
from bot.slack_io import (
    MessageContent,
    SlackIOError,
    SlashCommand,
    confirm_message,
    error_message,
    status_message,
)
from bot.threadstate import ThreadSettings
from router import ChainPlan, CommandError, Refusal, parse_command
from router.money import format_usd

__all__ = ["ChainFlow"]

log = logging.getLogger(__name__)

USAGE = (
    "A character chain makes one reference image, then each pose locked to it. Separate the "
    "poses with |, e.g. `/image chain our green owl mascot | waving | jumping | reading a book`."
)
MAX_SLACK_VARIANTS = 30


@dataclass(slots=True, kw_only=True)
class ChainFlow:
    """Plans, confirms and runs character chains, using the image flow's Slack plumbing."""

    flow: ImageFlow

    async def on_command(self, command: SlashCommand) -> MessageContent:
        """The immediate answer to ``/image chain ...``; starts the work when it can."""
        requester = Requester(
            workspace_id=command.team_id, user_id=command.user_id, channel_id=command.channel_id
        )
        key = f"chain:{command.team_id}:{command.trigger_id or command.user_id}"
        try:
            request = self.parse(command.text, key=key, requester=requester)
            plan = await self.flow.jobs.quote_chain(request, at=self.flow.clock())
        except CommandError as exc:
            self.flow.metrics.requests.labels("invalid").inc()
            return MessageContent(text=exc.message, blocks=())
        if isinstance(plan, Refusal):
            self.flow.metrics.requests.labels("refused").inc()
            return self.flow.refusal(plan, requester.user_id, how="Ask for fewer poses.")
        if plan.estimate_micros > self.flow.confirm_above_micros:
            await self.flow.requests.record(
                key=request.key,
                workspace_id=requester.workspace_id,
                user_id=requester.user_id,
                prompt=request.prompt,
                constraints={
                    **constraints_to_dict(request.constraints),
                    "chain_variants": list(request.variant_prompts),
                },
                at=self.flow.clock(),
                channel_id=requester.channel_id,
            )
            return confirm_message(
                model_name=f"{plan.reference.primary.display_name} + "
                f"{plan.variants[0].primary.display_name}",
                estimate_micros=plan.estimate_micros,
                image_count=1 + len(plan.variants),
                value=request.key,
                prompt=request.prompt,
            )
        if not await self.flow.deliveries.claim(key, at=self.flow.clock()):
            return MessageContent(text="I'm already working on that chain.", blocks=())
        self.flow.spawn(
            self.run(request, plan, response_url=command.response_url),
            name=f"chain {key}",
            channel=command.channel_id,
            thread_ts=None,
            response_url=command.response_url,
        )
        return MessageContent(text=_plan_text(request, plan), blocks=())

    def parse(self, text: str, *, key: str, requester: Requester) -> ChainRequest:
        """``chain <character, options> | pose | pose ...`` into a request (CommandError if not)."""
        body = text.strip()[len(CHAIN_WORD) :]
        parts = [part.strip() for part in body.split("|")]
        character, poses = parts[0], [part for part in parts[1:] if part]
        if not character or not poses:
            raise CommandError(USAGE)
        if len(poses) > MAX_SLACK_VARIANTS:
            raise CommandError(
                f"A chain in Slack makes at most {MAX_SLACK_VARIANTS} poses; you asked for "
                f"{len(poses)}. Split it into two chains."
            )
        parsed = parse_command(character)
        if parsed.constraints.batch:
            raise CommandError(NO_BATCH_IN_SLACK)
        return ChainRequest(
            key=key,
            requester=requester,
            prompt=parsed.prompt,
            variant_prompts=tuple(f"{parsed.prompt}, {pose}" for pose in poses),
            constraints=parsed.constraints,
        )

    def from_held(self, held: RequestInfo) -> ChainRequest | None:
        """Rebuild a chain held for confirmation (None when the held request is not a chain)."""
        raw: dict[str, Any] = dict(held.constraints)
        variants = raw.pop("chain_variants", None)
        if not isinstance(variants, list) or not variants:
            return None
        return ChainRequest(
            key=held.key,
            requester=Requester(
                workspace_id=held.workspace_id,
                user_id=held.user_id,
                channel_id=held.channel_id,
            ),
            prompt=held.prompt,
            variant_prompts=tuple(str(variant) for variant in variants),
            constraints=constraints_from_dict(raw),
        )

    async def run_confirmed(self, request: ChainRequest, *, response_url: str | None) -> None:
        """Go ahead on a held chain: re-plan on today's budget, then run it."""
        plan = await self.flow.jobs.quote_chain(request, at=self.flow.clock())
        if isinstance(plan, Refusal):
            await self.flow.respond(response_url, plan.message)
            return
        await self.flow.respond(response_url, _plan_text(request, plan), replace=True)
        await self.run(request, plan, response_url=response_url)

    async def run(
        self, request: ChainRequest, plan: ChainPlan, *, response_url: str | None
    ) -> None:
        """Post the status message (the thread), run the chain, deliver and report every pose."""
        flow = self.flow
        requester = request.requester
        channel = requester.channel_id
        assert channel is not None
        status = status_message(
            model_name=plan.variants[0].primary.display_name,
            estimate_micros=plan.estimate_micros,
            image_count=1 + len(plan.variants),
            prompt=f"character chain: {request.prompt}",
            asked_by=requester.user_id,
        )
        try:
            posted = await flow.messages.post(
                channel=channel, text=status.text, blocks=list(status.blocks)
            )
        except SlackIOError as exc:
            await flow.respond(
                response_url, f"{exc.user_message} Nothing was generated or charged."
            )
            return
        thread_ts = posted.ts
        await flow.threads.create(
            channel_id=channel,
            thread_ts=thread_ts,
            workspace_id=requester.workspace_id,
            owner_user_id=requester.user_id,
            settings=ThreadSettings.from_request(
                prompt=request.prompt, constraints=request.constraints
            ).to_dict(),
            at=flow.clock(),
        )
        request = ChainRequest(
            key=request.key,
            requester=Requester(
                workspace_id=requester.workspace_id,
                user_id=requester.user_id,
                channel_id=channel,
                thread_ts=thread_ts,
            ),
            prompt=request.prompt,
            variant_prompts=request.variant_prompts,
            constraints=request.constraints,
        )
        result = await flow.jobs.run_chain(request, plan, at=flow.clock(), clock=flow.clock)
        if result.duplicate:
            return
        await self._report(result, request=request, channel=channel, thread_ts=thread_ts)
        if flow.after_settle is not None and result.cost_micros:
            await flow.after_settle(request.requester)

    async def _report(
        self, result: ChainResult, *, request: ChainRequest, channel: str, thread_ts: str
    ) -> None:
        flow = self.flow
        if result.reference is None:
            flow.metrics.requests.labels("refused" if result.refused else "failed").inc()
            content = error_message(
                what_happened=result.error or "The reference image could not be made.",
                charged_micros=result.cost_micros,
                next_step="No pose was made. Try again, or change the character's description.",
            )
            await flow.say(channel, thread_ts, content)
            return
        flow.metrics.requests.labels("done").inc()
        images: list[tuple[StoredImage, str]] = [(result.reference, "Reference")]
        images += [
            (variant.image, f"Pose {index}: {_pose(variant.prompt, request.prompt)}")
            for index, variant in enumerate(result.variants, start=1)
            if variant.image is not None
        ]
        for image, _ in images:
            flow.metrics.images.labels(image.model_id).inc()
        last = await flow.deliver(images, channel=channel, thread_ts=thread_ts)
        await flow.threads.set_last_image(
            channel_id=channel, thread_ts=thread_ts, path=last, at=flow.clock()
        )
        total = await flow.threads.total_micros(channel_id=channel, thread_ts=thread_ts)
        lines = [f"Reference: {format_usd(result.reference_cost_micros)}"]
        for index, variant in enumerate(result.variants, start=1):
            pose = _pose(variant.prompt, request.prompt)
            if variant.image is not None:
                lines.append(f"Pose {index} ({pose}): {format_usd(variant.cost_micros)}")
            else:
                charged = (
                    f"charged {format_usd(variant.cost_micros)}"
                    if variant.cost_micros
                    else "nothing charged"
                )
                lines.append(f"Pose {index} ({pose}) failed: {variant.error} ({charged})")
        made = sum(1 for variant in result.variants if variant.image is not None)
        left = budget_left(result.user_budget, result.workspace_budget)
        summary = (
            f"Character chain done: {made} of {len(result.variants)} poses, "
            f"{format_usd(result.cost_micros)} in all. This thread: {format_usd(total)}"
            + (f"; budget left: {format_usd(left)}." if left is not None else ".")
        )
        notices = [f":information_source: {notice}" for notice in result.notices]
        await flow.say(
            channel,
            thread_ts,
            MessageContent(
                text=summary,
                blocks=(
                    {"type": "section", "text": {"type": "mrkdwn", "text": summary}},
                    {
                        "type": "section",
                        "text": {"type": "mrkdwn", "text": "\n".join(lines + notices)[:2900]},
                    },
                ),
            ),
        )


def _pose(variant_prompt: str, character: str) -> str:
    return variant_prompt.removeprefix(f"{character}, ")


def _plan_text(request: ChainRequest, plan: ChainPlan) -> str:
    return (
        f"On it: a reference with {plan.reference.primary.display_name}, then "
        f"{len(request.variant_prompts)} poses with {plan.variants[0].primary.display_name}, "
        f"about {format_usd(plan.estimate_micros)} in all."
    )
