"""The Batch API use case: many prompts at half price, results up to a day later. No Slack here.

:meth:`BatchJobs.submit` plans ONE image with ``Constraints(batch=True)`` (Imagen and models
without batch support are refused, naming one that can), reserves the whole estimate (prompts x
the batch estimate per image) under the caller's key, and submits the prompts as one inline
batch job on the planned model. Creating a job at Google is not idempotent, so the job row is
written (state ``submitting``) BEFORE Google is asked and updated with the job's name after:

* the same key again never submits twice (the row exists: the first job is returned);
* a crash between the two, or a create Google did not clearly refuse (a 5xx, a timeout, an answer
  we could not read), leaves a ``submitting`` row that :meth:`BatchJobs.poll` resolves after
  :data:`SUBMIT_GRACE`: it looks the job up by its display name (the key) and adopts it, or
  releases the reservation when Google never got it. Only a definite refusal (the request or the
  key rejected, the model unknown, rate limited) releases the reservation at once.

:meth:`BatchJobs.poll` (the maintenance hook; run it every few minutes, on any replica) asks
Google about every open job; one job's failure is logged and never stops the others. Results are
collected only once Google says the job finished (a running job may already show some). A
succeeded job is settled first (one ledger row per request, priced from that response's own usage
at batch rates on the rate card the job was quoted on; a request that failed costs only what its
usage says Google billed), then its images are written under ``batches/<key>/`` of the image
store, then the job is marked ``done``. A failed, cancelled or expired job releases its
reservation (nothing billed) unless Google returned results with usage. Google's own state
decides when a job expired; only a job Google still calls pending more than :data:`BATCH_EXPIRY`
plus :data:`EXPIRY_MARGIN` after it accepted it is treated as expired here, and a running job is
polled until Google ends it. Everything lives in the database, so a new process picks up where
the old one stopped, and a repeated poll changes nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.cards import builtin_cards, load_card
from bot.dispatch import ModelRegistry
from bot.images import ImageStore
from bot.ledger.batches import BatchJobInfo, BatchJobState, BatchStore, NewBatchJob
from bot.ledger.budgets import BudgetLedger, EntryIn, Refused
from bot.providers.base import (
    BatchFailure,
    BatchProvider,
    BatchState,
    BatchStatus,
    ImageRequest,
    ImageResult,
    KeyRejected,
    ModelNotFound,
    ProviderError,
    RateLimited,
    ReferenceImage,
    Rejected,
)
from router import (
    Billing,
    CommandError,
    Constraints,
    ModelSpec,
    Plan,
    RateCard,
    RateCardError,
    Refusal,
    Usage,
    actual_micros,
    estimate_image_micros,
    per_image_micros,
    plan_request,
    unavailable_reason,
)
from router.money import format_usd

__all__ = [
    "BATCH_EXPIRY",
    "EXPIRY_MARGIN",
    "MAX_INLINE_BYTES",
    "SUBMIT_GRACE",
    "BatchJobs",
    "BatchQuote",
    "NotSubmitted",
    "PollResult",
    "SubmitResult",
    "Submitted",
    "batch_reservation_key",
    "card_reference",
]

log = logging.getLogger(__name__)

#: Google expires a job that was pending or running for more than 48 hours (no results).
BATCH_EXPIRY = timedelta(hours=48)
#: How much longer than :data:`BATCH_EXPIRY` a job Google still calls pending is waited for
#: before it is expired here (our clock and Google's differ; Google's EXPIRED state is the rule).
EXPIRY_MARGIN = timedelta(hours=2)
#: A ``submitting`` row younger than this may still be in flight on another replica.
SUBMIT_GRACE = timedelta(minutes=15)
#: Google takes inline batches up to 20MB; we stay below with room for the JSON around them.
MAX_INLINE_BYTES = 19 * 1024 * 1024
_MAX_KEY = 190
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def batch_reservation_key(key: str) -> str:
    """The ledger reservation key of the batch job ``key`` (kept apart from /image keys)."""
    return f"batch:{key}"


def card_reference(card: RateCard) -> str:
    """What :func:`bot.cards.load_card` needs to load ``card`` again: a builtin card's name, or
    the absolute path of the file it was read from."""
    if card.source == f"{card.name}.toml" and card.name in builtin_cards():
        return card.name
    return str(Path(card.source).resolve())


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchQuote:
    """What a batch would cost: the plan for one image, and the totals for every prompt."""

    plan: Plan
    image_count: int
    estimate_micros: int
    interactive_micros: int

    @property
    def saving_micros(self) -> int:
        """What the batch saves against making the same images one by one."""
        return max(0, self.interactive_micros - self.estimate_micros)


@dataclass(frozen=True, slots=True, kw_only=True)
class Submitted:
    """The job is recorded and (unless ``job.state`` is still ``submitting``) at Google.

    ``duplicate``: the key was submitted before; this is that job, nothing new was sent.
    ``quote`` is None for a duplicate (the figures are the job's own).
    """

    job: BatchJobInfo
    quote: BatchQuote | None
    duplicate: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class NotSubmitted:
    """Nothing was sent to Google and nothing is held: ``message`` says why and what to do.

    ``refused`` is set when a budget did not allow the batch; ``job`` when a row was recorded.
    """

    message: str
    refused: Refused | Refusal | None = None
    job: BatchJobInfo | None = None


SubmitResult = Submitted | NotSubmitted


@dataclass(frozen=True, slots=True, kw_only=True)
class PollResult:
    """What one poll learned about one open job.

    ``changed`` is False when nothing moved (still pending). When the job finished
    (``finished``), ``images`` are the stored images' paths relative to the image directory,
    ``cost_micros`` the actual cost settled, ``failures`` one line per request without an image.
    ``message`` explains a problem (Google unreachable, images not saved) or the outcome.
    """

    key: str
    name: str | None
    state: BatchJobState
    changed: bool
    finished: bool = False
    images: tuple[str, ...] = ()
    output_dir: str | None = None
    cost_micros: int = 0
    estimate_micros: int = 0
    failures: tuple[str, ...] = ()
    message: str | None = None


class BatchJobs:
    """Submits batch jobs against the budget ledger and collects them when Google is done.

    ``card`` plans and quotes new jobs; a job is priced on the card it was quoted on (loaded by
    its :func:`card_reference` when it is another one). ``clock`` (UTC-aware) stamps the moment
    Google accepted a job, from which its expiry is counted.
    """

    def __init__(
        self,
        *,
        card: RateCard,
        ledger: BudgetLedger,
        provider: BatchProvider,
        store: BatchStore,
        images: ImageStore,
        registry: ModelRegistry,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._card = card
        self._card_ref = card_reference(card)
        self._cards: dict[str, RateCard] = {self._card_ref: card}
        self._ledger = ledger
        self._provider = provider
        self._store = store
        self._images = images
        self._registry = registry
        self._clock = clock

    @property
    def store(self) -> BatchStore:
        """Where the jobs are recorded (for listings)."""
        return self._store

    async def quote(
        self,
        *,
        workspace_id: str,
        user_id: str,
        prompts: Sequence[str],
        constraints: Constraints,
        at: datetime,
        references: Sequence[ReferenceImage] = (),
    ) -> BatchQuote | Refusal:
        """Plan one image of the batch on the current budgets and price every prompt.

        Raises :class:`~router.errors.CommandError` when no prompt is given or no model can run
        the job as a batch (the message names one that can).
        """
        count = len(_clean(prompts))
        if count == 0:
            raise CommandError("The batch has no prompts: give one prompt per line.")
        user, workspace = await self._ledger.state(
            workspace_id=workspace_id, user_id=user_id, at=at
        )
        one = replace(
            constraints,
            batch=True,
            image_count=1,
            reference_count=len(references),
            estimate_only=False,
        )
        try:
            outcome = plan_request(
                one,
                card=self._card,
                budgets=(user, workspace),
                availability=self._registry.availability(),
                today=at.date(),
            )
        except CommandError as exc:
            raise CommandError(self._batch_hint(exc.message, at=at)) from exc
        if isinstance(outcome, Refusal):
            return outcome
        primary = outcome.primary
        spec = self._card.model(primary.model_id)
        if spec.billing is Billing.PER_IMAGE:
            # Imagen is called through :predict, which the Batch API does not take, whatever a
            # rate card says (FACTS b: only GenerateContentRequests can be batched).
            capable = self._batch_models(at=at)
            hint = f' Add --model "{capable[0]}" to run it as a batch.' if capable else ""
            raise CommandError(
                f"{spec.display_name} cannot run as a batch job: Google batches only Gemini "
                f"models.{hint}"
            )
        interactive = estimate_image_micros(
            spec,
            image_size=primary.image_size,
            reference_images=len(references),
            batch=False,
            thinking_level=primary.thinking_level,
        )
        return BatchQuote(
            plan=outcome,
            image_count=count,
            estimate_micros=primary.estimate_micros * count,
            interactive_micros=interactive * count,
        )

    async def submit(
        self,
        *,
        workspace_id: str,
        user_id: str,
        prompts: Sequence[str],
        constraints: Constraints,
        key: str,
        at: datetime,
        references: Sequence[ReferenceImage] = (),
    ) -> SubmitResult:
        """Quote, record, reserve and submit one batch job (see the module docstring).

        ``key`` is the job's idempotency key and id (at most 190 characters): the same key again
        returns the job made the first time (``duplicate=True``) and sends nothing.
        ``references`` go with every prompt. Raises only for programming errors; every refusal
        is a :class:`NotSubmitted` with a message for the person who asked.
        """
        if not key or len(key) > _MAX_KEY:
            raise ValueError(f"a batch key must have 1 to {_MAX_KEY} characters")
        existing = await self._store.get(key)
        if existing is not None:
            return _duplicate(existing)
        cleaned = _clean(prompts)
        try:
            quote = await self.quote(
                workspace_id=workspace_id,
                user_id=user_id,
                prompts=cleaned,
                constraints=constraints,
                at=at,
                references=references,
            )
        except CommandError as exc:
            return NotSubmitted(message=exc.message)
        if isinstance(quote, Refusal):
            return NotSubmitted(message=quote.message, refused=quote)
        size = sum(len(p.encode()) for p in cleaned) + len(cleaned) * sum(
            len(ref.data) * 4 // 3 for ref in references
        )
        if size > MAX_INLINE_BYTES:
            return NotSubmitted(
                message=(
                    f"This batch is too large to send in one go ({size // (1024 * 1024)} MB; "
                    "Google takes up to 20 MB). Split the prompts into smaller batches, or "
                    "attach fewer or smaller reference images."
                )
            )
        plan = quote.plan
        primary = plan.primary
        spec = self._card.model(primary.model_id)
        job, created = await self._store.create(
            NewBatchJob(
                key=key,
                workspace_id=workspace_id,
                user_id=user_id,
                model_id=primary.model_id,
                tier=plan.tier.value,
                rate_card=self._card_ref,
                image_size=primary.image_size,
                aspect_ratio=primary.aspect_ratio,
                thinking_level=primary.thinking_level,
                prompts=cleaned,
                reservation_key=batch_reservation_key(key),
                estimate_micros=quote.estimate_micros,
                output_dir=f"batches/{_SAFE.sub('_', key)}",
            ),
            at=at,
        )
        if not created:  # another replica took this key between our look and our insert
            return _duplicate(job)
        reserved = await self._ledger.reserve(
            key=job.reservation_key,
            workspace_id=workspace_id,
            user_id=user_id,
            estimate_micros=quote.estimate_micros,
            at=at,
            description=f"batch {primary.display_name} x{len(cleaned)}",
            model_id=primary.model_id,
            tier=plan.tier.value,
        )
        if isinstance(reserved, Refused):
            refused = await self._store.mark(
                key, state=BatchJobState.REFUSED, at=at, error=reserved.message
            )
            return NotSubmitted(message=reserved.message, refused=reserved, job=refused or job)
        requests = [
            ImageRequest(
                model_id=primary.model_id,
                prompt=prompt,
                references=tuple(references),
                aspect_ratio=primary.aspect_ratio,
                image_size=primary.image_size if spec.sends_image_size else None,
                thinking_level=primary.thinking_level,
            )
            for prompt in cleaned
        ]
        try:
            name = await self._provider.submit_batch(
                model_id=primary.model_id, requests=requests, display_name=key
            )
        except ProviderError as exc:
            return await self._submit_failed(job, exc, at=at)
        # Expiry counts from when Google accepted the job, not from when the caller started.
        accepted = max(at, self._clock())
        marked = await self._store.mark(
            key,
            state=BatchJobState.PENDING,
            at=accepted,
            name=name,
            only_from=(BatchJobState.SUBMITTING,),
        )
        log.info(
            "batch submitted key=%s name=%s model=%s requests=%d estimate_micros=%d",
            key,
            name,
            primary.model_id,
            len(cleaned),
            quote.estimate_micros,
        )
        return Submitted(job=marked or job, quote=quote)

    async def _submit_failed(
        self, job: BatchJobInfo, exc: ProviderError, *, at: datetime
    ) -> SubmitResult:
        if not isinstance(exc, _DEFINITE_REFUSALS):
            # A 5xx, a timeout or an unreadable answer: Google may have created the job. The row
            # stays "submitting" and the poll after SUBMIT_GRACE finds it by its display name
            # (and adopts it), or releases the money when Google never got it.
            log.warning("batch submit unanswered key=%s kind=%s", job.key, exc.kind)
            return Submitted(job=job, quote=None)
        await self._ledger.release(job.reservation_key, at=at)
        failed = await self._store.mark(
            job.key, state=BatchJobState.FAILED, at=at, error=exc.user_message
        )
        log.warning("batch submit refused key=%s kind=%s", job.key, exc.kind)
        return NotSubmitted(
            message=f"Google did not accept the batch. {exc.user_message}", job=failed or job
        )

    async def poll(self, *, at: datetime) -> list[PollResult]:
        """Ask Google about every open job once and finish those that are done.

        The maintenance hook: safe to run repeatedly and on several replicas at once. A job whose
        check fails (Google unreachable, rate limited, or anything unexpected) is left as it was
        and reported with a message; the others go on.
        """
        results: list[PollResult] = []
        for job in await self._store.list_open():
            try:
                results.append(await self._poll_one(job, at=at))
            except ProviderError as exc:
                log.info("batch poll failed key=%s kind=%s", job.key, exc.kind)
                results.append(
                    _not_checked(
                        job,
                        f"Could not check this batch with Google ({exc.kind}); "
                        "it will be checked again.",
                    )
                )
            except Exception:  # one job's bug or bad data must not stop the others
                log.exception("batch poll error key=%s name=%s", job.key, job.name)
                results.append(
                    _not_checked(
                        job,
                        "Checking this batch failed unexpectedly (see the log); "
                        "it will be checked again.",
                    )
                )
        return results

    async def _poll_one(self, job: BatchJobInfo, *, at: datetime) -> PollResult:
        if job.name is None:
            if at - job.created_at < SUBMIT_GRACE:
                return _unchanged(job)
            name = await self._provider.find_batch(job.key)
            if name is None:
                return await self._close(
                    job,
                    BatchJobState.FAILED,
                    at=at,
                    message="The batch never reached Google (the submission was interrupted). "
                    "Nothing was charged; submit it again.",
                )
            adopted = await self._store.mark(
                job.key,
                state=BatchJobState.PENDING,
                at=at,
                name=name,
                only_from=(BatchJobState.SUBMITTING,),
            )
            if adopted is None:
                return _unchanged(job)
            job = adopted
        assert job.name is not None
        try:
            status = await self._provider.get_batch(job.name, request_count=job.request_count)
        except ModelNotFound:
            late = self._overdue(job, at=at)
            return await self._close(
                job,
                BatchJobState.EXPIRED if late else BatchJobState.FAILED,
                at=at,
                message="Google no longer knows this batch; nothing was charged for it.",
            )
        if status.state.finished:
            if status.has_results:
                return await self._collect(job, status, at=at)
            state = {
                BatchState.FAILED: BatchJobState.FAILED,
                BatchState.CANCELLED: BatchJobState.CANCELLED,
                BatchState.EXPIRED: BatchJobState.EXPIRED,
            }.get(status.state, BatchJobState.FAILED)
            return await self._close(
                job, state, at=at, message=_ended_message(state), error=status.error
            )
        # Not finished: results Google already shows are partial and wait for the end. Only a
        # job Google still has not started is expired here; a running one is Google's to end.
        if status.state is BatchState.PENDING and self._overdue(job, at=at):
            return await self._close(
                job,
                BatchJobState.EXPIRED,
                at=at,
                message=_ended_message(BatchJobState.EXPIRED),
            )
        now = BatchJobState.RUNNING if status.state is BatchState.RUNNING else job.state
        if now is not job.state:
            moved = await self._store.mark(
                job.key, state=now, at=at, only_from=(BatchJobState.PENDING,)
            )
            return PollResult(
                key=job.key,
                name=job.name,
                state=moved.state if moved else job.state,
                changed=moved is not None,
                estimate_micros=job.estimate_micros,
            )
        return _unchanged(job)

    def _overdue(self, job: BatchJobInfo, *, at: datetime) -> bool:
        """More than BATCH_EXPIRY and the margin since Google accepted the job (by our clock)."""
        return at - (job.submitted_at or job.created_at) > BATCH_EXPIRY + EXPIRY_MARGIN

    def _pricing(self, job: BatchJobInfo) -> tuple[RateCard, bool]:
        """The card ``job`` was quoted on and True; the current card and False when that card
        cannot be loaded any more."""
        card = self._cards.get(job.rate_card)
        if card is not None:
            return card, True
        try:
            card = load_card(job.rate_card)
        except RateCardError as exc:
            log.warning(
                "batch card unavailable key=%s card=%s error=%s: recording each image at the "
                "per-image figure of the current card %s",
                job.key,
                job.rate_card,
                exc,
                self._card_ref,
            )
            return self._card, False
        self._cards[job.rate_card] = card
        return card, True

    async def _close(
        self,
        job: BatchJobInfo,
        state: BatchJobState,
        *,
        at: datetime,
        message: str,
        error: str | None = None,
    ) -> PollResult:
        """End a job that produced nothing: give the reservation back, then mark the job."""
        await self._ledger.release(job.reservation_key, at=at)
        marked = await self._store.mark(
            job.key,
            state=state,
            at=at,
            error=error or message,
            actual_micros=0,
            failed_count=job.request_count,
            only_from=_OPEN,
        )
        log.info("batch closed key=%s state=%s", job.key, state.value)
        return PollResult(
            key=job.key,
            name=job.name,
            state=marked.state if marked else state,
            changed=marked is not None,
            finished=True,
            estimate_micros=job.estimate_micros,
            message=message,
        )

    async def _collect(self, job: BatchJobInfo, status: BatchStatus, *, at: datetime) -> PollResult:
        """Money first (settle every billed request), then the images, then the job's state."""
        card, exact = self._pricing(job)
        spec = card.models.get(job.model_id)
        per_request_estimate = job.estimate_micros // max(1, job.request_count)
        results = _slots(status, job.request_count)
        entries: list[EntryIn] = []
        failures: list[str] = []
        succeeded = 0
        for index, result in enumerate(results):
            label = f"Prompt {index + 1} ({_short(job.prompts[index])})"
            if isinstance(result, ImageResult):
                succeeded += 1
                images = len(result.images)
            elif isinstance(result, BatchFailure):
                failures.append(f"{label}: {result.message}")
                images = 0
                if not result.usage.reported:
                    continue  # Google reported nothing: the request was not billed
            else:
                failures.append(f"{label}: Google returned no result for it. Nothing charged.")
                continue
            usage = result.usage
            cost = _cost(
                spec,
                usage,
                images=images,
                image_size=job.image_size,
                exact=exact,
                fallback=per_request_estimate,
            )
            entries.append(
                EntryIn(
                    idempotency_key=f"{job.reservation_key}:{index}",
                    model_id=job.model_id,
                    cost_micros=cost,
                    usage=usage,
                    tier=job.tier,
                    images=images,
                    image_size=job.image_size,
                    batch=True,
                )
            )
        if entries:
            settled = await self._ledger.settle(job.reservation_key, entries=entries, at=at)
            cost_micros = settled.total_micros
        else:
            await self._ledger.release(job.reservation_key, at=at)
            cost_micros = 0
        output_dir = job.output_dir or f"batches/{_SAFE.sub('_', job.key)}"
        folder = ImageStore(self._images.root / output_dir)
        stored: list[str] = []
        # A stable date folder: images saved again after a storage failure replace the first copy.
        saved_at = job.submitted_at or job.created_at
        try:
            for index, result in enumerate(results):
                if not isinstance(result, ImageResult):
                    continue
                for number, image in enumerate(result.images):
                    name = f"{index + 1:04d}" + (f"-{number + 1}" if number else "")
                    relative = folder.save(
                        image.data, key=name, mime_type=image.mime_type, at=saved_at
                    )
                    stored.append(f"{output_dir}/{relative}")
        except OSError as exc:
            log.exception("batch images not saved key=%s", job.key)
            # The money is settled; the job stays open so the next poll saves the images again.
            await self._store.mark(
                job.key, state=job.state, at=at, error=f"images not saved: {exc}"
            )
            return PollResult(
                key=job.key,
                name=job.name,
                state=job.state,
                changed=True,
                cost_micros=cost_micros,
                estimate_micros=job.estimate_micros,
                message=(
                    "The batch is finished and paid for, but its images could not be saved (a "
                    "storage problem on our side). They are saved on the next check once an "
                    "admin has fixed the image folder."
                ),
            )
        state = (
            BatchJobState.DONE
            if status.state is BatchState.SUCCEEDED
            else {
                BatchState.CANCELLED: BatchJobState.CANCELLED,
                BatchState.EXPIRED: BatchJobState.EXPIRED,
            }.get(status.state, BatchJobState.FAILED)
        )
        marked = await self._store.mark(
            job.key,
            state=state,
            at=at,
            actual_micros=cost_micros,
            succeeded_count=succeeded,
            failed_count=job.request_count - succeeded,
            only_from=_OPEN,
        )
        log.info(
            "batch collected key=%s name=%s images=%d failed=%d cost_micros=%d",
            job.key,
            job.name,
            len(stored),
            job.request_count - succeeded,
            cost_micros,
        )
        return PollResult(
            key=job.key,
            name=job.name,
            state=marked.state if marked else state,
            changed=marked is not None,
            finished=True,
            images=tuple(stored),
            output_dir=output_dir,
            cost_micros=cost_micros,
            estimate_micros=job.estimate_micros,
            failures=tuple(failures),
            message=(
                f"{succeeded} of {job.request_count} images made for "
                f"{format_usd(cost_micros)} (estimate {format_usd(job.estimate_micros)})."
            ),
        )

    def _batch_hint(self, message: str, *, at: datetime) -> str:
        """Add which models can run batches when a plan failed for want of batch support."""
        if "batch" not in message or "Models that can" in message:
            return message
        capable = self._batch_models(at=at)
        if not capable:
            return message
        return f'{message} Batch jobs run on {", ".join(capable)}: add --model "{capable[0]}".'

    def _batch_models(self, *, at: datetime) -> list[str]:
        """Display names of the usable models Google can run as batch jobs, cheapest first."""
        availability = self._registry.availability()
        usable = [
            spec
            for spec in self._card.models.values()
            if spec.batch_supported
            and spec.billing is Billing.TOKENS
            and unavailable_reason(spec, availability=availability, today=at.date()) is None
        ]
        usable.sort(key=lambda spec: per_image_micros(spec, image_size=None, batch=True))
        return [spec.display_name for spec in usable]


_OPEN = (BatchJobState.SUBMITTING, BatchJobState.PENDING, BatchJobState.RUNNING)
#: Create failures that prove Google made no job: only these release the reservation at once.
_DEFINITE_REFUSALS = (Rejected, KeyRejected, ModelNotFound, RateLimited)


def _slots(status: BatchStatus, count: int) -> list[ImageResult | BatchFailure | None]:
    """Exactly one slot per request (the provider gives one per request; never trust it blindly)."""
    slots = list(status.results[:count])
    return slots + [None] * (count - len(slots))


def _cost(
    spec: ModelSpec | None,
    usage: Usage,
    *,
    images: int,
    image_size: str | None,
    exact: bool,
    fallback: int,
) -> int:
    """One request's cost at batch rates.

    On the job's own card (``exact``) it is priced from its usage; on the current card standing
    in for one that cannot be loaded, images are recorded at that card's per-image figure (and a
    request without an image at what its usage says Google billed). A card that cannot price the
    model at all counts an image at the job's estimate per request (``fallback``).
    """
    if spec is None or not spec.batch_supported:
        return fallback if images else 0
    try:
        if exact or not images:
            return actual_micros(
                spec, usage, images_returned=images, image_size=image_size, batch=True
            )
        return per_image_micros(spec, image_size=image_size, batch=True) * images
    except CommandError:  # the card does not offer this size
        return fallback if images else 0


def _clean(prompts: Sequence[str]) -> tuple[str, ...]:
    return tuple(p.strip() for p in prompts if p.strip())


def _short(prompt: str, limit: int = 40) -> str:
    return prompt if len(prompt) <= limit else prompt[: limit - 1] + "…"


def _not_checked(job: BatchJobInfo, message: str) -> PollResult:
    return PollResult(
        key=job.key,
        name=job.name,
        state=job.state,
        changed=False,
        estimate_micros=job.estimate_micros,
        message=message,
    )


def _unchanged(job: BatchJobInfo) -> PollResult:
    return PollResult(
        key=job.key,
        name=job.name,
        state=job.state,
        changed=False,
        estimate_micros=job.estimate_micros,
    )


def _duplicate(job: BatchJobInfo) -> SubmitResult:
    if job.state in (BatchJobState.REFUSED, BatchJobState.FAILED) and job.name is None:
        return NotSubmitted(
            message=f"This batch ({job.key}) was not submitted: {job.error or 'it failed'}",
            job=job,
        )
    return Submitted(job=job, quote=None, duplicate=True)


def _ended_message(state: BatchJobState) -> str:
    if state is BatchJobState.EXPIRED:
        return (
            "Google did not run this batch within 48 hours, so it expired. Nothing was charged; "
            "submit it again if you still need the images."
        )
    if state is BatchJobState.CANCELLED:
        return "The batch was cancelled before it finished. Nothing was charged."
    return "Google could not run this batch. Nothing was charged; try submitting it again."
