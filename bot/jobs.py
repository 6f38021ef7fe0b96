"""The generation use case: quote, reserve, generate, store, settle. No Slack here.

One :class:`ImageJobs` serves the Slack listeners and the CLI. The order of a run is the product's
promise about money:

1. :meth:`ImageJobs.quote` plans the request against the user's and the workspace's spend this
   month (settled + reserved), so the router's 90% guard and 100% refusal see the true figure.
2. :meth:`ImageJobs.run` reserves the estimate atomically (the same idempotency key twice never
   charges twice), dispatches to the provider, writes every image to disk *before* anyone posts it,
   and settles the reservation to the actual cost with one ledger row per call that may have cost
   money. A failure that cost nothing releases the reservation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from bot.dispatch import AttemptCost, ChainOutcome, Dispatcher, DispatchOutcome, ModelRegistry
from bot.images import ImageStore
from bot.ledger.budgets import BudgetLedger, EntryIn, Refused, Reserved
from bot.providers import ReferenceImage
from router import (
    BudgetState,
    ChainPlan,
    Constraints,
    Plan,
    Purpose,
    RateCard,
    Refusal,
    Usage,
    plan_chain,
    plan_request,
)

__all__ = [
    "ChainRequest",
    "ChainResult",
    "Completed",
    "Failed",
    "ImageJobs",
    "JobRequest",
    "JobResult",
    "Quote",
    "Requester",
    "StoredImage",
    "VariantResult",
    "budget_left",
]

log = logging.getLogger(__name__)

CRASH_MESSAGE = (
    "Something went wrong on our side while making your image. What was reserved is counted in "
    "case Google billed the call; an admin can check the logs."
)
STORE_FAILED_MESSAGE = (
    "Your images were made but I could not save them (a storage problem on our side). An admin "
    "needs to check the image folder."
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Requester:
    """Who asks and where the results go."""

    workspace_id: str
    user_id: str
    channel_id: str | None = None
    thread_ts: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRequest:
    """One request for images. ``key`` is its idempotency key (a Slack trigger, event or click)."""

    key: str
    requester: Requester
    prompt: str
    constraints: Constraints
    references: tuple[ReferenceImage, ...] = ()


def budget_left(*states: BudgetState) -> int | None:
    """What is left of the tightest of ``states`` (never negative; None when all are unlimited)."""
    lefts = [
        state.budget_micros - state.consumed_micros
        for state in states
        if state.budget_micros is not None
    ]
    return max(0, min(lefts)) if lefts else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    """The plan (or refusal) for a request, with the budget figures it was made against."""

    outcome: Plan | Refusal
    user_budget: BudgetState
    workspace_budget: BudgetState

    @property
    def left_micros(self) -> int | None:
        """What is left of the tighter of the two budgets (None when both are unlimited)."""
        return budget_left(self.user_budget, self.workspace_budget)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredImage:
    """A generated image, already safe on disk."""

    path: str
    mime_type: str
    model_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Completed:
    """At least one image was made. ``failures`` explains any image of the request that was not."""

    images: tuple[StoredImage, ...]
    model_id: str
    model_name: str
    cost_micros: int
    notices: tuple[str, ...]
    failures: tuple[str, ...]
    user_budget: BudgetState
    workspace_budget: BudgetState
    duplicate: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Failed:
    """No image was made. ``charged_micros`` is what Google may bill for the attempts anyway."""

    message: str
    charged_micros: int
    refused: Refused | None = None
    duplicate: bool = False
    notices: tuple[str, ...] = field(default=())


JobResult = Completed | Failed


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainRequest:
    """A character chain: one reference image of ``prompt``, then each variant locked to it."""

    key: str
    requester: Requester
    prompt: str
    variant_prompts: tuple[str, ...]
    constraints: Constraints


@dataclass(frozen=True, slots=True, kw_only=True)
class VariantResult:
    """One variant of a chain: its image (None when it failed, with the reason) and its cost."""

    prompt: str
    image: StoredImage | None
    cost_micros: int
    error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainResult:
    """A finished chain. ``reference`` is None when the reference failed (no variant ran)."""

    reference: StoredImage | None
    reference_cost_micros: int
    variants: tuple[VariantResult, ...]
    cost_micros: int
    notices: tuple[str, ...]
    error: str | None
    user_budget: BudgetState
    workspace_budget: BudgetState
    refused: Refused | None = None
    duplicate: bool = False


class ImageJobs:
    """Runs image requests against the budget ledger and the provider."""

    def __init__(
        self,
        *,
        card: RateCard,
        ledger: BudgetLedger,
        dispatcher: Dispatcher,
        registry: ModelRegistry,
        images: ImageStore,
    ) -> None:
        self._card = card
        self._ledger = ledger
        self._dispatcher = dispatcher
        self._registry = registry
        self._images = images

    @property
    def card(self) -> RateCard:
        """The rate card every plan is made on."""
        return self._card

    def reference_limit(self, purpose: Purpose) -> int:
        """How many reference images the tier's first model takes (0 when it takes none)."""
        option = self._card.tier(purpose).options[0]
        return self._card.model(option.model).max_reference_images

    async def budgets(
        self, *, workspace_id: str, user_id: str, at: datetime
    ) -> tuple[BudgetState, BudgetState]:
        """The user's and the workspace's spend this month (settled + reserved)."""
        return await self._ledger.state(workspace_id=workspace_id, user_id=user_id, at=at)

    async def quote(self, request: JobRequest, *, at: datetime) -> Quote:
        """Plan the request on the current budgets. Raises CommandError for impossible requests."""
        user, workspace = await self.budgets(
            workspace_id=request.requester.workspace_id,
            user_id=request.requester.user_id,
            at=at,
        )
        outcome = plan_request(
            request.constraints,
            card=self._card,
            budgets=(user, workspace),
            availability=self._registry.availability(),
            today=_today(at),
        )
        return Quote(outcome=outcome, user_budget=user, workspace_budget=workspace)

    async def run(
        self,
        request: JobRequest,
        plan: Plan,
        *,
        at: datetime,
        clock: Callable[[], datetime],
    ) -> JobResult:
        """Reserve, generate, store and settle one planned request (see the module docstring).

        The reservation covers the dearest of the plan's choices, so a fallback can never take the
        budget past what was reserved. When that does not fit but the primary does, the dearer
        fallbacks are dropped instead.
        """
        worst = _dearest(plan)
        description = f"{plan.primary.display_name} x{plan.image_count}"
        reserved = await self._reserve(
            request.key,
            request.requester,
            max(worst, plan.estimate_micros),
            plan=plan,
            description=description,
            at=at,
        )
        if isinstance(reserved, Refused) and worst > plan.estimate_micros:
            plan = _without_dearer_fallbacks(plan)
            reserved = await self._reserve(
                request.key,
                request.requester,
                plan.estimate_micros,
                plan=plan,
                description=description,
                at=at,
            )
        if isinstance(reserved, Refused):
            return Failed(
                message=reserved.message,
                charged_micros=0,
                refused=reserved,
            )
        if reserved.duplicate:
            log.info("job duplicate key=%s", request.key)
            return Failed(
                message="This request is already being handled.", charged_micros=0, duplicate=True
            )
        # The dispatcher reports failures in its outcome and never raises a ProviderError. If this
        # task is cancelled mid-call, the reservation stays open and recovery settles it at the
        # estimate (a call may have been billed).
        try:
            outcome = await self._dispatcher.run(
                plan, prompt=request.prompt, references=request.references, today=_today(at)
            )
        except Exception:
            charged = await self._settle_crash(
                request.key,
                amount=reserved.estimate_micros,
                model_id=plan.primary.model_id,
                tier=plan.tier.value,
                at=clock(),
            )
            return Failed(message=CRASH_MESSAGE, charged_micros=charged)
        return await self._complete(request, plan, outcome, at=clock())

    async def _reserve(
        self,
        key: str,
        requester: Requester,
        amount: int,
        *,
        plan: Plan,
        description: str,
        at: datetime,
    ) -> Reserved | Refused:
        """Hold ``amount`` for ``key``; ``plan`` names the model and tier recovery would record."""
        return await self._ledger.reserve(
            key=key,
            workspace_id=requester.workspace_id,
            user_id=requester.user_id,
            estimate_micros=amount,
            at=at,
            channel_id=requester.channel_id,
            thread_ts=requester.thread_ts,
            description=description,
            model_id=plan.primary.model_id,
            tier=plan.tier.value,
        )

    async def _complete(
        self, request: JobRequest, plan: Plan, outcome: DispatchOutcome, *, at: datetime
    ) -> JobResult:
        # Money first: every billed call is in the ledger before anything else can fail.
        entries = _entries(
            request.key,
            plan.tier.value,
            plan.constraints,
            len(request.references),
            outcome.attempts,
        )
        await self._settle(request.key, entries, at=at)
        # Then the images, to disk, before anyone tries to post them.
        try:
            stored = tuple(
                StoredImage(
                    path=self._images.save(
                        image.data, key=f"{request.key}-{index}", mime_type=image.mime_type, at=at
                    ),
                    mime_type=image.mime_type,
                    model_id=outcome.model_id or "unknown",
                )
                for index, image in enumerate(outcome.images)
            )
        except OSError:
            log.exception("image store failed key=%s", request.key)
            return Failed(message=STORE_FAILED_MESSAGE, charged_micros=outcome.cost_micros)
        errors = [error for error in outcome.failed if error is not None]
        if not stored or outcome.model_id is None:
            log.info(
                "job failed key=%s errors=%s charged_micros=%d",
                request.key,
                ",".join(type(error).__name__ for error in errors),
                outcome.cost_micros,
            )
            return Failed(
                message=errors[0].user_message if errors else "No image came back.",
                charged_micros=outcome.cost_micros,
                notices=outcome.notices,
            )
        user, workspace = await self.budgets(
            workspace_id=request.requester.workspace_id, user_id=request.requester.user_id, at=at
        )
        log.info(
            "job done key=%s model=%s images=%d cost_micros=%d",
            request.key,
            outcome.model_id,
            len(stored),
            outcome.cost_micros,
        )
        return Completed(
            images=stored,
            model_id=outcome.model_id,
            model_name=outcome.display_name or outcome.model_id,
            cost_micros=outcome.cost_micros,
            notices=outcome.notices,
            failures=tuple(
                f"Image {index + 1} of {plan.image_count} failed: {error.user_message}"
                for index, error in enumerate(outcome.failed)
                if error is not None
            ),
            user_budget=user,
            workspace_budget=workspace,
        )

    async def quote_chain(self, request: ChainRequest, *, at: datetime) -> ChainPlan | Refusal:
        """Plan a chain on the current budgets (the whole chain must fit)."""
        user, workspace = await self.budgets(
            workspace_id=request.requester.workspace_id,
            user_id=request.requester.user_id,
            at=at,
        )
        return plan_chain(
            variants=len(request.variant_prompts),
            card=self._card,
            budgets=(user, workspace),
            availability=self._registry.availability(),
            today=_today(at),
            base=request.constraints,
        )

    async def run_chain(
        self, request: ChainRequest, plan: ChainPlan, *, at: datetime, clock: Callable[[], datetime]
    ) -> ChainResult:
        """Reserve the whole chain, run it, settle every billed call, then store every image.

        As for single requests, the reservation covers the dearest fallbacks; when that does not
        fit but the primaries do, the dearer fallbacks are dropped.
        """
        count = len(request.variant_prompts)
        worst = _dearest(plan.reference) + _dearest(plan.variants[0]) * count
        description = f"chain 1 + {count}"
        reserved = await self._reserve(
            request.key,
            request.requester,
            max(worst, plan.estimate_micros),
            plan=plan.variants[0],
            description=description,
            at=at,
        )
        if isinstance(reserved, Refused) and worst > plan.estimate_micros:
            plan = replace(
                plan,
                reference=_without_dearer_fallbacks(plan.reference),
                variants=tuple(_without_dearer_fallbacks(v) for v in plan.variants),
            )
            reserved = await self._reserve(
                request.key,
                request.requester,
                plan.estimate_micros,
                plan=plan.variants[0],
                description=description,
                at=at,
            )
        if isinstance(reserved, Refused) or reserved.duplicate:
            return ChainResult(
                reference=None,
                reference_cost_micros=0,
                variants=(),
                cost_micros=0,
                notices=(),
                error=reserved.message if isinstance(reserved, Refused) else None,
                user_budget=reserved.user,
                workspace_budget=reserved.workspace,
                refused=reserved if isinstance(reserved, Refused) else None,
                duplicate=not isinstance(reserved, Refused),
            )
        try:
            outcome = await self._dispatcher.run_chain(
                reference_plan=plan.reference,
                variant_plan=plan.variants[0],
                reference_prompt=request.prompt,
                variant_prompts=request.variant_prompts,
                today=_today(at),
            )
        except Exception:
            charged = await self._settle_crash(
                request.key,
                amount=reserved.estimate_micros,
                model_id=plan.variants[0].primary.model_id,
                tier=plan.variants[0].tier.value,
                at=clock(),
            )
            return ChainResult(
                reference=None,
                reference_cost_micros=0,
                variants=(),
                cost_micros=charged,
                notices=(),
                error=CRASH_MESSAGE,
                user_budget=reserved.user,
                workspace_budget=reserved.workspace,
            )
        return await self._complete_chain(request, plan, outcome, at=clock())

    async def _settle_crash(
        self, key: str, *, amount: int, model_id: str, tier: str, at: datetime
    ) -> int:
        """Settle a reservation whose calls crashed at what was reserved (Google may have billed).

        Returns the amount charged. Recovery would charge the same; doing it now keeps the
        figures right at once and tells the person the truth.
        """
        log.exception("job crashed key=%s; settling at the reserved %d micros", key, amount)
        await self._settle(
            key,
            [
                EntryIn(
                    idempotency_key=f"{key}:crashed",
                    model_id=model_id,
                    cost_micros=amount,
                    usage=Usage.unreported(),
                    tier=tier,
                    possibly_billed=True,
                )
            ],
            at=at,
        )
        return amount

    async def _complete_chain(
        self, request: ChainRequest, plan: ChainPlan, outcome: ChainOutcome, *, at: datetime
    ) -> ChainResult:
        def store(result: DispatchOutcome | None, name: str) -> StoredImage | None:
            if result is None or not result.images or result.model_id is None:
                return None
            image = result.images[0]
            return StoredImage(
                path=self._images.save(
                    image.data, key=f"{request.key}-{name}", mime_type=image.mime_type, at=at
                ),
                mime_type=image.mime_type,
                model_id=result.model_id,
            )

        entries = _entries(
            request.key,
            plan.reference.tier.value,
            plan.reference.constraints,
            0,
            outcome.reference.attempts,
        )
        for variant in outcome.variants:
            if variant.outcome is not None:
                entries += _entries(
                    f"{request.key}:v{variant.index + 1}",
                    plan.variants[0].tier.value,
                    plan.variants[0].constraints,
                    1,
                    variant.outcome.attempts,
                )
        # Money first (as for single requests), then the images to disk.
        await self._settle(request.key, entries, at=at)
        try:
            reference = store(outcome.reference, "reference")
            variants = tuple(
                VariantResult(
                    prompt=variant.prompt,
                    image=store(variant.outcome, f"variant-{variant.index + 1}"),
                    cost_micros=variant.cost_micros,
                    error=variant.error.user_message if variant.error is not None else None,
                )
                for variant in outcome.variants
            )
        except OSError:
            log.exception("image store failed key=%s", request.key)
            reference, variants = None, ()
        user, workspace = await self.budgets(
            workspace_id=request.requester.workspace_id, user_id=request.requester.user_id, at=at
        )
        error = outcome.reference.error
        log.info(
            "chain done key=%s variants_ok=%d/%d cost_micros=%d",
            request.key,
            sum(1 for v in variants if v.image is not None),
            len(variants),
            outcome.cost_micros,
        )
        return ChainResult(
            reference=reference,
            reference_cost_micros=outcome.reference.cost_micros,
            variants=variants,
            cost_micros=outcome.cost_micros,
            notices=outcome.notices,
            error=(
                (error.user_message if error is not None else STORE_FAILED_MESSAGE)
                if reference is None
                else None
            ),
            user_budget=user,
            workspace_budget=workspace,
        )

    async def _settle(self, key: str, entries: Sequence[EntryIn], *, at: datetime) -> None:
        if entries:
            await self._ledger.settle(key, entries=entries, at=at)
        else:
            await self._ledger.release(key, at=at)


def _dearest(plan: Plan) -> int:
    """The estimate of ``plan`` if every image ended on its dearest choice."""
    return max(choice.estimate_micros for choice in plan.choices) * plan.image_count


def _without_dearer_fallbacks(plan: Plan) -> Plan:
    """``plan`` with only the fallbacks that cost no more than its primary."""
    return replace(
        plan,
        fallbacks=tuple(
            choice
            for choice in plan.fallbacks
            if choice.estimate_micros <= plan.primary.estimate_micros
        ),
    )


def _today(at: datetime) -> date:
    return at.date()


def _entries(
    key: str,
    tier: str,
    constraints: Constraints,
    reference_inputs: int,
    attempts: Sequence[AttemptCost],
) -> list[EntryIn]:
    """One ledger row per call that may have cost money, keyed by request and attempt."""
    return [
        EntryIn(
            idempotency_key=f"{key}:{index}",
            model_id=attempt.model_id,
            cost_micros=attempt.cost_micros,
            usage=attempt.usage if attempt.usage is not None else Usage.unreported(),
            tier=tier,
            images=attempt.images,
            image_size=attempt.image_size,
            batch=constraints.batch,
            reference_inputs=reference_inputs,
            possibly_billed=attempt.possibly_billed,
        )
        for index, attempt in enumerate(attempts)
    ]
