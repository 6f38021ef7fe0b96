"""Carry out a routing plan: call the provider, retry, fall back, re-route retired models, price.

:class:`Dispatcher` runs a :class:`router.Plan`. Each of the plan's images is its own call, made
concurrently; a semaphore bounds calls in flight and is held only while a call is on the wire,
never while backing off. For one image it tries the plan's primary choice, then each fallback:

* ``RateLimited`` (per-minute) and ``Unavailable`` are retried on the same model with exponential
  backoff and jitter (Google's RetryInfo delay is honoured, capped at ``max_delay_s``); when the
  attempts run out, or the quota is gone for the day, the next fallback is tried.
* ``ProviderTimeout`` and ``MalformedResponse`` go straight to the next fallback: the call may
  already have been billed, and waiting out another full timeout on the same model rarely helps.
* ``ModelNotFound`` marks the model in the process-wide :class:`ModelRegistry` at once and moves
  to the rate card's successor (:func:`router.successor_for`), adding the one-line
  :func:`router.retirement_notice` to the outcome.
* ``SafetyBlocked``, ``NoImage``, ``KeyRejected`` and ``Rejected`` end that image: the prompt is
  not shopped around other models, and a refused key or request fails everywhere.

Every attempt that may have cost money (a success, a block or empty answer with usage, a timeout)
is priced with :func:`router.actual_micros` (timeouts at the choice's estimate, flagged
``possibly_billed``) and returned in ``outcome.attempts``, one entry per billed call, so the
ledger can write one row each. Images that failed are reported per image in ``outcome.failed``;
nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date

from bot.providers.base import (
    GeneratedImage,
    ImageProvider,
    ImageRequest,
    ImageResult,
    KeyRejected,
    ModelNotFound,
    NoImage,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    ReferenceImage,
    Rejected,
    SafetyBlocked,
)
from router.availability import Availability, retirement_notice, successor_for
from router.card import ModelSpec, RateCard
from router.errors import CommandError
from router.plan import Choice, Plan
from router.pricing import actual_micros, estimate_image_micros
from router.usage import Usage

__all__ = [
    "AttemptCost",
    "ChainOutcome",
    "DispatchOutcome",
    "Dispatcher",
    "ImageSlot",
    "ModelRegistry",
    "VariantOutcome",
]

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

#: Errors that end an image on every model: the content or the request itself is the problem.
_TERMINAL = (SafetyBlocked, NoImage, KeyRejected, Rejected)


class ModelRegistry:
    """Which models this API key can use, as learned in this process.

    ``listed`` is the ``models.list`` result taken at start-up (None when it could not be
    fetched); ``not_found`` grows whenever a model answers 404. One instance per process, shared by
    every dispatcher, so one 404 re-routes all later requests at once.
    """

    def __init__(self, listed: frozenset[str] | None = None) -> None:
        self._listed = listed
        self._not_found: set[str] = set()

    @classmethod
    async def from_provider(cls, provider: ImageProvider) -> ModelRegistry:
        """A registry seeded from ``provider.list_models()``; ``listed`` None if that fails."""
        registry = cls()
        await registry.refresh(provider)
        return registry

    async def refresh(self, provider: ImageProvider) -> None:
        """Ask the provider for its models again; keep the old list if asking fails."""
        try:
            self._listed = await provider.list_models()
        except ProviderError as exc:
            log.warning("model registry refresh failed kind=%s detail=%s", exc.kind, exc.detail)
            return
        log.info("model registry refreshed listed=%d", len(self._listed))

    @property
    def listed(self) -> frozenset[str] | None:
        """The ids ``models.list`` returned, or None when unknown."""
        return self._listed

    @property
    def not_found(self) -> frozenset[str]:
        """Models that answered 404 in this process."""
        return frozenset(self._not_found)

    def set_listed(self, listed: frozenset[str] | None) -> None:
        """Replace the ``models.list`` result (None: unknown)."""
        self._listed = listed

    def mark_not_found(self, model_id: str) -> None:
        """Record a live 404: the model is skipped from now on, by every request."""
        if model_id not in self._not_found:
            self._not_found.add(model_id)
            log.warning("model marked not found model=%s", model_id)

    def availability(self) -> Availability:
        """The router's view of what can be called right now."""
        return Availability(listed=self._listed, not_found=frozenset(self._not_found))


@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptCost:
    """One call that may have cost money, priced; the ledger writes one row per attempt.

    ``usage`` is the response's token counts, None when Google reported none (then the cost is
    the card's figure). ``ok`` is True when the call returned images; ``error`` is the error kind
    otherwise (e.g. ``"safety_blocked"``, ``"timeout"``). ``possibly_billed`` marks a cost that is
    the choice's estimate because no answer (or no readable answer) came back: Google may or may
    not have billed it. ``image_index`` says which of the request's images the call was for.
    """

    model_id: str
    usage: Usage | None
    cost_micros: int
    images: int
    image_size: str | None
    ok: bool
    error: str | None = None
    possibly_billed: bool = False
    image_index: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageSlot:
    """The fate of one of the requested images: its images and model, or the error that ended it.

    A model can return more than one image for one call (several candidates); all are kept,
    because all were paid for.
    """

    index: int
    images: tuple[GeneratedImage, ...] = ()
    model_id: str | None = None
    display_name: str | None = None
    error: ProviderError | None = None

    @property
    def ok(self) -> bool:
        """True when this slot produced at least one image."""
        return bool(self.images)


@dataclass(frozen=True, slots=True, kw_only=True)
class DispatchOutcome:
    """What running a plan produced.

    ``images`` are every image made, in slot order; ``model_id``/``display_name`` name the model
    that made the first of them (None when nothing was made; see ``slots`` for each image);
    ``failed`` has one entry per requested image: None when it succeeded, else the error that
    ended it. ``cost_micros`` is the sum of ``attempts``; ``notices`` are one line each (the
    plan's, then re-routes and fallbacks that happened).
    """

    images: tuple[GeneratedImage, ...]
    model_id: str | None
    display_name: str | None
    cost_micros: int
    notices: tuple[str, ...]
    failed: tuple[ProviderError | None, ...]
    attempts: tuple[AttemptCost, ...]
    slots: tuple[ImageSlot, ...]

    @property
    def ok(self) -> bool:
        """True when at least one image was made."""
        return bool(self.images)

    @property
    def complete(self) -> bool:
        """True when every requested image was made."""
        return all(error is None for error in self.failed)

    @property
    def error(self) -> ProviderError | None:
        """The first error, when any image failed (the one to show when nothing was made)."""
        return next((error for error in self.failed if error is not None), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class VariantOutcome:
    """One variant of a character chain: its prompt and what dispatching it produced."""

    index: int
    prompt: str
    outcome: DispatchOutcome | None
    error: ProviderError | None = None

    @property
    def ok(self) -> bool:
        """True when the variant produced an image."""
        return self.outcome is not None and self.outcome.ok

    @property
    def cost_micros(self) -> int:
        """What this variant cost (its billed attempts)."""
        return self.outcome.cost_micros if self.outcome is not None else 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainOutcome:
    """A character chain: the reference image's outcome and every variant's, in order.

    When the reference failed, no variant ran and each variant carries the reference's error.
    """

    reference: DispatchOutcome
    variants: tuple[VariantOutcome, ...]

    @property
    def cost_micros(self) -> int:
        """The whole chain's cost: the reference plus every variant."""
        return self.reference.cost_micros + sum(v.cost_micros for v in self.variants)

    @property
    def attempts(self) -> tuple[AttemptCost, ...]:
        """Every billed call of the chain, reference first."""
        out = list(self.reference.attempts)
        for variant in self.variants:
            if variant.outcome is not None:
                out.extend(variant.outcome.attempts)
        return tuple(out)

    @property
    def notices(self) -> tuple[str, ...]:
        """Every notice of the chain, once each."""
        lines = list(self.reference.notices)
        for variant in self.variants:
            if variant.outcome is not None:
                lines.extend(variant.outcome.notices)
        return _unique(lines)


class _Run:
    """Mutable state of one plan run, shared by its concurrent image slots."""

    def __init__(self, notices: Sequence[str]) -> None:
        self.notices: list[str] = list(notices)
        self.attempts: list[AttemptCost] = []

    def notice(self, line: str) -> None:
        if line not in self.notices:
            self.notices.append(line)


class Dispatcher:
    """Runs plans against an :class:`ImageProvider` (see the module docstring for the policy).

    ``sleep`` and ``rng`` are injected so tests run instantly and deterministically.
    ``max_attempts`` counts calls per model (first call included); delays grow from
    ``base_delay_s`` doubling per attempt, plus up to 25% jitter, capped at ``max_delay_s``.
    ``max_concurrency`` bounds this dispatcher's calls in flight.
    """

    def __init__(
        self,
        provider: ImageProvider,
        *,
        card: RateCard,
        registry: ModelRegistry,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        max_attempts: int = 3,
        base_delay_s: float = 1.0,
        max_delay_s: float = 30.0,
        max_concurrency: int = 8,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._provider = provider
        self._card = card
        self._registry = registry
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._max_attempts = max_attempts
        self._base_delay_s = base_delay_s
        self._max_delay_s = max_delay_s
        self._calls = asyncio.Semaphore(max_concurrency)

    @property
    def card(self) -> RateCard:
        """The rate card used for pricing and successors."""
        return self._card

    async def run(
        self,
        plan: Plan,
        *,
        prompt: str,
        references: Sequence[ReferenceImage] = (),
        today: date,
    ) -> DispatchOutcome:
        """Make ``plan.image_count`` images, concurrently; never raises a ProviderError.

        Failures are in ``outcome.failed`` (one entry per image) and every billed call is in
        ``outcome.attempts``.
        """
        return await self._run(plan, prompt=prompt, references=tuple(references), today=today)

    async def run_chain(
        self,
        *,
        reference_plan: Plan,
        variant_plan: Plan,
        reference_prompt: str,
        variant_prompts: Sequence[str],
        today: date,
        references: Sequence[ReferenceImage] = (),
        max_parallel: int = 4,
    ) -> ChainOutcome:
        """The character chain: one reference image, then every variant built on it.

        The reference is made with ``reference_plan`` (the economy tier) from ``reference_prompt``
        and the caller's ``references``. Each variant is one image made with ``variant_plan`` (the
        character tier) from its own prompt, with the new reference image first among its inputs.
        Variants run concurrently, at most ``max_parallel`` at a time; each reports its own result
        and cost, failed ones included.
        """
        if max_parallel < 1:
            raise ValueError("max_parallel must be at least 1")
        refs = tuple(references)
        reference = await self._run(
            reference_plan, prompt=reference_prompt, references=refs, today=today, count=1
        )
        if not reference.ok:
            error = reference.error
            log.warning(
                "chain reference failed variants_skipped=%d kind=%s",
                len(variant_prompts),
                error.kind if error else "none",
            )
            skipped = tuple(
                VariantOutcome(index=i, prompt=p, outcome=None, error=error)
                for i, p in enumerate(variant_prompts)
            )
            return ChainOutcome(reference=reference, variants=skipped)
        anchor = reference.images[0]
        variant_refs = (ReferenceImage(anchor.data, anchor.mime_type), *refs)
        gate = asyncio.Semaphore(max_parallel)

        async def one(index: int, text: str) -> VariantOutcome:
            async with gate:
                outcome = await self._run(
                    variant_plan, prompt=text, references=variant_refs, today=today, count=1
                )
            return VariantOutcome(index=index, prompt=text, outcome=outcome, error=outcome.error)

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(i, p)) for i, p in enumerate(variant_prompts)]
        variants = tuple(task.result() for task in tasks)
        log.info(
            "chain done variants=%d ok=%d cost_micros=%d",
            len(variants),
            sum(1 for v in variants if v.ok),
            reference.cost_micros + sum(v.cost_micros for v in variants),
        )
        return ChainOutcome(reference=reference, variants=variants)

    # -- internals -------------------------------------------------------------------------

    async def _run(
        self,
        plan: Plan,
        *,
        prompt: str,
        references: tuple[ReferenceImage, ...],
        today: date,
        count: int | None = None,
    ) -> DispatchOutcome:
        state = _Run(plan.notices)
        total = plan.image_count if count is None else count
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(
                    self._image(
                        index,
                        plan,
                        prompt=prompt,
                        references=references,
                        today=today,
                        state=state,
                    )
                )
                for index in range(total)
            ]
        slots = tuple(task.result() for task in tasks)
        images = tuple(image for slot in slots for image in slot.images)
        first = next((slot for slot in slots if slot.ok), None)
        attempts = tuple(sorted(state.attempts, key=lambda a: a.image_index))
        outcome = DispatchOutcome(
            images=images,
            model_id=first.model_id if first else None,
            display_name=first.display_name if first else None,
            cost_micros=sum(a.cost_micros for a in attempts),
            notices=_unique(state.notices),
            failed=tuple(slot.error for slot in slots),
            attempts=attempts,
            slots=slots,
        )
        log.info(
            "dispatch done tier=%s images=%d requested=%d failed=%d attempts=%d cost_micros=%d",
            plan.tier,
            len(images),
            total,
            sum(1 for slot in slots if not slot.ok),
            len(attempts),
            outcome.cost_micros,
        )
        return outcome

    async def _image(
        self,
        index: int,
        plan: Plan,
        *,
        prompt: str,
        references: tuple[ReferenceImage, ...],
        today: date,
        state: _Run,
    ) -> ImageSlot:
        queue: list[Choice] = [plan.primary, *plan.fallbacks]
        tried: set[str] = set()
        last_error: ProviderError | None = None
        busy: Choice | None = None  # the first choice that was busy, for the fallback notice
        while queue:
            choice = queue.pop(0)
            if choice.model_id in tried:
                continue
            tried.add(choice.model_id)
            if choice.model_id in self._registry.not_found:
                # Another request saw this model 404 after the plan was made.
                replacement = self._reroute(choice, references=references, today=today, state=state)
                if replacement is not None:
                    queue.insert(0, replacement)
                continue
            result, error = await self._try_model(
                choice, index=index, prompt=prompt, references=references, state=state
            )
            if result is not None:
                if busy is not None and busy.model_id != choice.model_id:
                    state.notice(
                        f"{busy.display_name} was busy, so {choice.display_name} made this image."
                    )
                return ImageSlot(
                    index=index,
                    images=result.images,
                    model_id=choice.model_id,
                    display_name=choice.display_name,
                )
            assert error is not None
            last_error = error
            if isinstance(error, ModelNotFound):
                self._registry.mark_not_found(choice.model_id)
                replacement = self._reroute(choice, references=references, today=today, state=state)
                if replacement is not None:
                    queue.insert(0, replacement)
                continue
            if isinstance(error, _TERMINAL):
                break
            if busy is None:
                busy = choice
            log.info(
                "dispatch falling back image=%d from=%s kind=%s remaining=%d",
                index,
                choice.model_id,
                error.kind,
                len(queue),
            )
        if last_error is None:
            last_error = ModelNotFound(
                "no usable model left for this request", model_id=plan.primary.model_id
            )
        return ImageSlot(index=index, error=last_error)

    async def _try_model(
        self,
        choice: Choice,
        *,
        index: int,
        prompt: str,
        references: tuple[ReferenceImage, ...],
        state: _Run,
    ) -> tuple[ImageResult | None, ProviderError | None]:
        spec = self._card.models.get(choice.model_id)
        request = ImageRequest(
            model_id=choice.model_id,
            prompt=prompt,
            references=references,
            aspect_ratio=choice.aspect_ratio,
            image_size=choice.image_size if spec is None or spec.sends_image_size else None,
            thinking_level=choice.thinking_level,
        )
        error: ProviderError | None = None
        for attempt in range(1, self._max_attempts + 1):
            async with self._calls:
                try:
                    result = await self._provider.generate(request)
                except ProviderError as exc:
                    error = exc
                else:
                    error = None
            if error is None:
                state.attempts.append(self._price_success(choice, spec, result, index=index))
                return result, None
            billed = self._price_failure(choice, spec, error, index=index)
            if billed is not None:
                state.attempts.append(billed)
            if (
                not error.retryable
                or isinstance(error, ProviderTimeout)
                or attempt == self._max_attempts
            ):
                return None, error
            delay = self._delay(attempt, error)
            log.info(
                "dispatch retry image=%d model=%s kind=%s attempt=%d delay_s=%.2f",
                index,
                choice.model_id,
                error.kind,
                attempt,
                delay,
            )
            await self._sleep(delay)
        return None, error

    def _delay(self, attempt: int, error: ProviderError) -> float:
        if isinstance(error, RateLimited) and error.retry_after_s is not None:
            base = error.retry_after_s
        else:
            base = self._base_delay_s * 2 ** (attempt - 1)
        return float(min(self._max_delay_s, base + self._rng.uniform(0, base * 0.25)))

    def _price_success(
        self, choice: Choice, spec: ModelSpec | None, result: ImageResult, *, index: int
    ) -> AttemptCost:
        images = len(result.images)
        if spec is None:
            cost = choice.estimate_micros * images
        else:
            cost = actual_micros(
                spec,
                result.usage,
                images_returned=images,
                image_size=choice.image_size,
                batch=False,
            )
        return AttemptCost(
            model_id=choice.model_id,
            usage=result.usage if result.usage.reported else None,
            cost_micros=cost,
            images=images,
            image_size=choice.image_size,
            ok=True,
            image_index=index,
        )

    def _price_failure(
        self, choice: Choice, spec: ModelSpec | None, error: ProviderError, *, index: int
    ) -> AttemptCost | None:
        if not error.may_have_billed:
            return None
        usage = error.usage if error.usage is not None and error.usage.reported else None
        if usage is not None and spec is not None:
            cost = actual_micros(
                spec, usage, images_returned=0, image_size=choice.image_size, batch=False
            )
            possibly = False
        else:
            # No token counts (a timeout, an unreadable answer): Google may have billed the whole
            # call, so count the estimate and flag it.
            cost = choice.estimate_micros
            possibly = True
        return AttemptCost(
            model_id=choice.model_id,
            usage=usage,
            cost_micros=cost,
            images=0,
            image_size=choice.image_size,
            ok=False,
            error=error.kind,
            possibly_billed=possibly,
            image_index=index,
        )

    def _reroute(
        self,
        choice: Choice,
        *,
        references: tuple[ReferenceImage, ...],
        today: date,
        state: _Run,
    ) -> Choice | None:
        if choice.model_id not in self._card.models:
            return None
        availability = self._registry.availability()
        spec = successor_for(self._card, choice.model_id, availability=availability, today=today)
        state.notice(
            retirement_notice(
                self._card,
                choice.model_id,
                replacement=spec,
                availability=availability,
                today=today,
            )
        )
        if spec is None:
            return None
        replacement = _choice_for(spec, like=choice, references=len(references))
        if replacement is not None:
            log.warning("dispatch rerouted retired model from=%s to=%s", choice.model_id, spec.id)
        return replacement


def _choice_for(spec: ModelSpec, *, like: Choice, references: int) -> Choice | None:
    """A choice on ``spec`` keeping ``like``'s settings where ``spec`` supports them."""
    size = like.image_size if like.image_size in spec.sizes else spec.default_size
    ratio = like.aspect_ratio if like.aspect_ratio in spec.aspect_ratios else None
    level = like.thinking_level if like.thinking_level in spec.thinking_levels else None
    try:
        estimate = estimate_image_micros(
            spec, image_size=size, reference_images=references, batch=False, thinking_level=level
        )
    except CommandError as exc:
        log.warning("successor unusable model=%s reason=%s", spec.id, exc.message)
        return None
    return Choice(
        model_id=spec.id,
        display_name=spec.display_name,
        image_size=size,
        aspect_ratio=ratio,
        thinking_level=level,
        estimate_micros=estimate,
    )


def _unique(lines: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(lines))
