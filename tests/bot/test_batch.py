"""Batch jobs end to end: the real google-genai SDK against the fake Gemini API, a real SQLite
ledger, and simulated restarts (a new BatchJobs on the same database)."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from google.genai import errors as genai_errors
from google.genai.batches import AsyncBatches
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from bot.batch import (
    BATCH_EXPIRY,
    EXPIRY_MARGIN,
    SUBMIT_GRACE,
    BatchJobs,
    NotSubmitted,
    Submitted,
    batch_reservation_key,
    card_reference,
)
from bot.cards import load_card
from bot.dispatch import ModelRegistry
from bot.images import ImageStore
from bot.ledger import BudgetLedger, ReservationState, make_engine, transaction, upgrade
from bot.ledger.batches import BatchJobState, BatchStore, NewBatchJob
from bot.ledger.tables import LedgerEntry
from bot.providers.base import (
    BatchFailure,
    ImageRequest,
    ImageResult,
    MalformedResponse,
    ReferenceImage,
)
from bot.providers.gemini import GeminiProvider
from router import (
    Constraints,
    Purpose,
    RateCard,
    Usage,
    actual_micros,
    estimate_image_micros,
    per_image_micros,
)
from tests.bot.ledger.support import counters_match_rows
from tests.fakes.gemini_api import (
    DEFAULT_LISTED,
    AcceptedThen,
    BatchItemError,
    ClientError,
    FakeGeminiAPI,
    ImageBlocked,
    Malformed,
    NotFound,
    RateLimit,
    ServerError,
    Slow,
    input_image_tokens,
    output_image_tokens,
    png_bytes,
    text_tokens,
    thinking_tokens,
)
from tests.pg import fresh_sqlite_url

AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NB2 = "gemini-3.1-flash-image"
NB21 = "gemini-nano-banana-2.1"
TEAM = "T1"
USER = "U1"
HERO = Constraints(purpose=Purpose.HERO)  # hero: Nano Banana 2.1 cannot batch -> Nano Banana 2
PROMPTS = ("red sneaker on white", "blue sneaker on white", "green sneaker on white")


@dataclass
class World:
    """One process's view: its engine, ledger, provider and use case, on a shared database."""

    engine: AsyncEngine
    ledger: BudgetLedger
    provider: GeminiProvider
    store: BatchStore
    jobs: BatchJobs
    images: Path


@pytest.fixture
async def api() -> AsyncIterator[FakeGeminiAPI]:
    """The fake Gemini API, listing Nano Banana 2.1 as well."""
    async with FakeGeminiAPI(listed=DEFAULT_LISTED | {NB21}) as fake:
        yield fake


@pytest.fixture
async def db_url(tmp_path: Path) -> str:
    """A migrated SQLite ledger file."""
    url = fresh_sqlite_url(tmp_path)
    await upgrade(url)
    return url


@pytest.fixture
def card() -> RateCard:
    """The current rate card."""
    return load_card("current-2026-11")


class Worlds:
    """Builds processes on one database and closes them all at the end.

    ``now`` is every process's clock (when Google accepted a job); tests move it by hand.
    """

    def __init__(self, *, url: str, api: FakeGeminiAPI, card: RateCard, images: Path) -> None:
        self.url, self.api, self.card, self.images = url, api, card, images
        self.now = AT
        self.opened: list[World] = []

    def start(
        self,
        *,
        user_budget_micros: int | None = 50_000_000,
        card: RateCard | None = None,
        timeout_s: float = 120,
    ) -> World:
        engine = make_engine(self.url)
        ledger = BudgetLedger(
            engine,
            tz=ZoneInfo("UTC"),
            default_user_budget_micros=user_budget_micros,
            workspace_budget_micros=None,
        )
        provider = GeminiProvider(
            api_key=self.api.api_key, base_url=self.api.base_url, timeout_s=timeout_s
        )
        store = BatchStore(engine)
        jobs = BatchJobs(
            card=card or self.card,
            ledger=ledger,
            provider=provider,
            store=store,
            images=ImageStore(self.images),
            registry=ModelRegistry(listed=frozenset(self.api.listed)),
            clock=lambda: self.now,
        )
        world = World(engine, ledger, provider, store, jobs, self.images)
        self.opened.append(world)
        return world

    async def close(self) -> None:
        for world in self.opened:
            await world.provider.aclose()
            await world.engine.dispose()


@pytest.fixture
async def worlds(
    db_url: str, api: FakeGeminiAPI, card: RateCard, tmp_path: Path
) -> AsyncIterator[Worlds]:
    """A factory of processes sharing the database and the image folder."""
    made = Worlds(url=db_url, api=api, card=card, images=tmp_path / "images")
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture
def world(worlds: Worlds) -> World:
    """The first process."""
    return worlds.start()


async def _submit(
    world: World,
    key: str = "job-1",
    *,
    prompts: tuple[str, ...] = PROMPTS,
    constraints: Constraints = HERO,
    at: datetime = AT,
) -> Submitted:
    result = await world.jobs.submit(
        workspace_id=TEAM,
        user_id=USER,
        prompts=prompts,
        constraints=constraints,
        key=key,
        at=at,
    )
    assert isinstance(result, Submitted), result
    return result


async def _entries(engine: AsyncEngine) -> list[LedgerEntry]:
    async with transaction(engine, write=False) as session:
        rows = await session.exec(select(LedgerEntry).order_by(col(LedgerEntry.idempotency_key)))
        return list(rows.all())


async def _consumed(world: World) -> int:
    user, _ = await world.ledger.state(workspace_id=TEAM, user_id=USER, at=AT)
    return user.consumed_micros


async def test_submit_reserves_the_batch_estimate_and_records_the_job(
    world: World, api: FakeGeminiAPI, card: RateCard
) -> None:
    """Submit plans at batch rates, holds count x the batch estimate and sends one inline job."""
    result = await _submit(world)
    spec = card.model(NB2)
    per_image = estimate_image_micros(
        spec, image_size="1K", reference_images=0, batch=True, thinking_level="high"
    )
    assert result.quote is not None
    assert result.quote.plan.primary.model_id == NB2
    assert result.job.estimate_micros == result.quote.estimate_micros == 3 * per_image
    # Batch rates are half the interactive ones (the card's per-image $0.067 vs $0.034 rounds).
    assert spec.prices is not None and spec.batch_prices is not None
    assert 2 * spec.batch_prices.image_output == spec.prices.image_output
    assert 2 * spec.batch_prices.text_output == spec.prices.text_output
    assert result.quote.interactive_micros > result.quote.estimate_micros
    assert (
        result.quote.saving_micros == result.quote.interactive_micros - result.job.estimate_micros
    )
    assert result.job.state is BatchJobState.PENDING
    assert result.job.name in api.batches
    reservation = await world.ledger.reservation(batch_reservation_key("job-1"))
    assert reservation is not None
    assert reservation.state == ReservationState.OPEN.value
    assert reservation.estimate_micros == result.job.estimate_micros
    assert await _consumed(world) == result.job.estimate_micros
    sent = api.batches[result.job.name or ""]
    assert sent.model == NB2
    assert sent.display_name == "job-1"
    assert [r.prompt for r in sent.requests] == list(PROMPTS)
    assert {(r.image_size, r.thinking_level) for r in sent.requests} == {("1K", "HIGH")}
    assert all(r.response_modalities == ("IMAGE",) for r in sent.requests)


async def test_poll_while_pending_changes_nothing(world: World, api: FakeGeminiAPI) -> None:
    """A poll of a job Google still holds changes neither the job nor the ledger."""
    submitted = await _submit(world)
    before = await _consumed(world)
    polled = await world.jobs.poll(at=AT + timedelta(hours=3))
    assert [(p.key, p.changed, p.finished) for p in polled] == [("job-1", False, False)]
    job = await world.store.get("job-1")
    assert job is not None and job.state is BatchJobState.PENDING
    assert job.updated_at == submitted.job.updated_at
    assert await _consumed(world) == before
    assert await _entries(world.engine) == []
    assert api.batch_calls[-1].endswith(f"/{submitted.job.name}")


async def test_finished_job_stores_images_and_settles_from_usage(
    world: World, api: FakeGeminiAPI, card: RateCard
) -> None:
    """A finished job's images are saved and each request is billed from its usage at batch
    rates; a blocked request pays its input and thinking, an errored one nothing."""
    prompts = (*PROMPTS, "yellow sneaker on white")
    submitted = await _submit(world, prompts=prompts)
    name = submitted.job.name or ""
    api.finish_batch(name, outcomes={1: ImageBlocked(), 3: BatchItemError()})
    [polled] = await world.jobs.poll(at=AT + timedelta(hours=5))
    assert polled.finished and polled.state is BatchJobState.DONE
    assert len(polled.images) == 2
    for relative in polled.images:
        assert relative.startswith("batches/job-1/")
        data = (world.images / relative).read_bytes()
        assert Image.open(io.BytesIO(data)).format == "PNG"
    assert len(polled.failures) == 2
    assert polled.failures[0].startswith("Prompt 2 (blue sneaker on white): Google's safety")
    spec = card.model(NB2)
    rows = await _entries(world.engine)
    assert [(r.idempotency_key, r.images, r.batch) for r in rows] == [
        ("batch:job-1:0", 1, True),
        ("batch:job-1:1", 0, True),
        ("batch:job-1:2", 1, True),
    ]
    image_usage = Usage(
        input_tokens=text_tokens(PROMPTS[0]),
        output_image_tokens=output_image_tokens(NB2, "1K"),
        thinking_tokens=thinking_tokens(NB2),
    )
    assert rows[0].cost_micros == actual_micros(
        spec, image_usage, images_returned=1, image_size="1K", batch=True
    )
    blocked = Usage(input_tokens=text_tokens(PROMPTS[1]), thinking_tokens=thinking_tokens(NB2))
    assert rows[1].cost_micros == actual_micros(
        spec, blocked, images_returned=0, image_size="1K", batch=True
    )
    assert rows[0].cost_micros < actual_micros(
        spec, image_usage, images_returned=1, image_size="1K", batch=False
    )
    total = sum(r.cost_micros for r in rows)
    assert polled.cost_micros == total
    reservation = await world.ledger.reservation(batch_reservation_key("job-1"))
    assert reservation is not None
    assert reservation.state == ReservationState.SETTLED.value
    assert reservation.settled_micros == total
    assert await _consumed(world) == total
    job = await world.store.get("job-1")
    assert job is not None
    assert (job.state, job.actual_micros, job.succeeded_count, job.failed_count) == (
        BatchJobState.DONE,
        total,
        2,
        2,
    )
    assert job.finished_at == AT + timedelta(hours=5)
    await counters_match_rows(world.engine, workspace_id=TEAM)


async def test_a_second_poll_does_nothing(world: World, api: FakeGeminiAPI) -> None:
    """Once a job is collected, polling again neither asks Google nor touches the ledger."""
    submitted = await _submit(world)
    api.finish_batch(submitted.job.name or "")
    await world.jobs.poll(at=AT + timedelta(hours=1))
    rows = await _entries(world.engine)
    calls = len(api.batch_calls)
    assert await world.jobs.poll(at=AT + timedelta(hours=2)) == []
    assert len(api.batch_calls) == calls
    assert [r.id for r in await _entries(world.engine)] == [r.id for r in rows]


async def test_a_new_process_collects_a_job_submitted_by_another(
    worlds: Worlds, api: FakeGeminiAPI
) -> None:
    """After a restart, a new BatchJobs on the same database collects the old process's job."""
    first = worlds.start()
    submitted = await _submit(first)
    await first.provider.aclose()
    await first.engine.dispose()
    api.finish_batch(submitted.job.name or "")
    second = worlds.start()
    [polled] = await second.jobs.poll(at=AT + timedelta(hours=6))
    assert polled.key == "job-1" and polled.state is BatchJobState.DONE
    assert len(polled.images) == 3
    reservation = await second.ledger.reservation(batch_reservation_key("job-1"))
    assert reservation is not None and reservation.state == ReservationState.SETTLED.value


async def test_an_expired_job_releases_its_reservation(world: World, api: FakeGeminiAPI) -> None:
    """A job Google expired gives its reservation back and bills nothing."""
    submitted = await _submit(world)
    api.expire_batch(submitted.job.name or "")
    [polled] = await world.jobs.poll(at=AT + timedelta(hours=49))
    assert polled.finished and polled.state is BatchJobState.EXPIRED
    assert polled.message is not None and "Nothing was charged" in polled.message
    reservation = await world.ledger.reservation(batch_reservation_key("job-1"))
    assert reservation is not None and reservation.state == ReservationState.RELEASED.value
    assert await _consumed(world) == 0
    assert await _entries(world.engine) == []


async def test_a_job_pending_past_48_hours_and_the_margin_is_treated_as_expired(
    world: World, api: FakeGeminiAPI
) -> None:
    """A job Google still calls pending expires here only after 48 hours plus the margin."""
    submitted = await _submit(world)
    [early] = await world.jobs.poll(at=AT + BATCH_EXPIRY + timedelta(minutes=1))
    assert not early.changed
    [edge] = await world.jobs.poll(at=AT + BATCH_EXPIRY + EXPIRY_MARGIN)
    assert not edge.changed
    calls = len(api.batch_calls)
    [late] = await world.jobs.poll(at=AT + BATCH_EXPIRY + EXPIRY_MARGIN + timedelta(minutes=1))
    assert len(api.batch_calls) == calls + 1
    assert late.state is BatchJobState.EXPIRED
    reservation = await world.ledger.reservation(batch_reservation_key("job-1"))
    assert reservation is not None and reservation.state == ReservationState.RELEASED.value
    assert submitted.job.name in api.batches


async def test_a_model_without_batch_support_is_refused(world: World, api: FakeGeminiAPI) -> None:
    """Pinning a model Google cannot batch is refused, naming one that can; nothing is held."""
    result = await world.jobs.submit(
        workspace_id=TEAM,
        user_id=USER,
        prompts=PROMPTS,
        constraints=Constraints(model_pin="Nano Banana 2.1"),
        key="job-x",
        at=AT,
    )
    assert isinstance(result, NotSubmitted)
    assert "Nano Banana 2.1 cannot run as a batch job" in result.message
    assert "Nano Banana 2" in result.message.split("cannot run as a batch job", 1)[1]
    assert api.batches == {}
    assert await world.store.get("job-x") is None
    assert await _consumed(world) == 0


async def test_imagen_is_refused_even_when_a_card_says_it_batches(
    worlds: Worlds, api: FakeGeminiAPI
) -> None:
    """On the seed card (which prices Imagen batches) an Imagen plan is refused, naming Gemini."""
    worlds.card = load_card("seed-2026-04")
    api.listed |= set(worlds.card.models)  # April 2026: every model of the seed is offered
    world = worlds.start()
    result = await world.jobs.submit(
        workspace_id=TEAM,
        user_id=USER,
        prompts=PROMPTS,
        constraints=Constraints(model_pin="imagen-4.0-fast-generate-001"),
        key="job-imagen",
        at=datetime(2026, 4, 20, 12, tzinfo=UTC),
    )
    assert isinstance(result, NotSubmitted)
    assert result.message.startswith("Imagen 4 Fast cannot run as a batch job")
    assert '--model "' in result.message
    assert api.batches == {}


async def test_the_same_key_submits_once(world: World, api: FakeGeminiAPI) -> None:
    """Submitting the same key again returns the first job and sends nothing to Google."""
    first = await _submit(world)
    again = await _submit(world)
    assert again.duplicate and again.job.key == first.job.key and again.job.name == first.job.name
    assert len(api.batches) == 1
    assert await _consumed(world) == first.job.estimate_micros


async def test_recovery_does_not_sweep_a_pending_batch_reservation(
    world: World, api: FakeGeminiAPI
) -> None:
    """recover_interrupted leaves a pending batch's reservation alone but still recovers others."""
    submitted = await _submit(world)
    await world.ledger.reserve(
        key="slack-crashed", workspace_id=TEAM, user_id=USER, estimate_micros=1_000, at=AT
    )
    recovered = await world.ledger.recover_interrupted(at=AT + timedelta(hours=20))
    assert recovered == 1
    batch = await world.ledger.reservation(batch_reservation_key("job-1"))
    assert batch is not None and batch.state == ReservationState.OPEN.value
    api.finish_batch(submitted.job.name or "")
    [polled] = await world.jobs.poll(at=AT + timedelta(hours=21))
    assert polled.state is BatchJobState.DONE
    settled = await world.ledger.reservation(batch_reservation_key("job-1"))
    assert settled is not None and settled.state == ReservationState.SETTLED.value
    await counters_match_rows(world.engine, workspace_id=TEAM)


async def test_a_refused_create_releases_the_reservation(world: World, api: FakeGeminiAPI) -> None:
    """When Google refuses to create the job, the money is released and the job marked failed."""
    api.script_batch_create(NB2, ClientError())
    result = await world.jobs.submit(
        workspace_id=TEAM, user_id=USER, prompts=PROMPTS, constraints=HERO, key="job-2", at=AT
    )
    assert isinstance(result, NotSubmitted)
    assert result.message.startswith("Google did not accept the batch.")
    assert result.job is not None and result.job.state is BatchJobState.FAILED
    reservation = await world.ledger.reservation(batch_reservation_key("job-2"))
    assert reservation is not None and reservation.state == ReservationState.RELEASED.value
    assert await world.jobs.poll(at=AT + timedelta(hours=1)) == []


async def test_a_batch_over_budget_is_refused(worlds: Worlds, api: FakeGeminiAPI) -> None:
    """A batch whose total estimate exceeds the budget is refused whole, before Google is asked."""
    world = worlds.start(user_budget_micros=60_000)  # one image fits, three do not
    result = await world.jobs.submit(
        workspace_id=TEAM, user_id=USER, prompts=PROMPTS, constraints=HERO, key="job-3", at=AT
    )
    assert isinstance(result, NotSubmitted)
    assert result.refused is not None
    assert result.message.startswith("This would cost about $0.")
    assert result.job is not None and result.job.state is BatchJobState.REFUSED
    assert api.batches == {}
    assert await _consumed(world) == 0


async def _interrupted(world: World, key: str) -> None:
    """Leave a job as a crash between 'submitting' and Google's answer would."""
    job, _ = await world.store.create(
        NewBatchJob(
            key=key,
            workspace_id=TEAM,
            user_id=USER,
            model_id=NB2,
            tier="hero",
            rate_card="current-2026-11",
            image_size="1K",
            aspect_ratio=None,
            thinking_level="high",
            prompts=PROMPTS,
            reservation_key=batch_reservation_key(key),
            estimate_micros=120_000,
            output_dir=f"batches/{key}",
        ),
        at=AT,
    )
    await world.ledger.reserve(
        key=job.reservation_key,
        workspace_id=TEAM,
        user_id=USER,
        estimate_micros=job.estimate_micros,
        at=AT,
    )


async def test_an_interrupted_submission_is_adopted_or_released(
    world: World, api: FakeGeminiAPI, card: RateCard
) -> None:
    """A 'submitting' job is left alone for the grace period, then adopted if Google has it
    (found by display name) or closed with its reservation released if Google never got it."""
    await _interrupted(world, "lost")
    await _interrupted(world, "landed")
    name = await world.provider.submit_batch(
        model_id=NB2,
        requests=[ImageRequest(model_id=NB2, prompt=p, image_size="1K") for p in PROMPTS],
        display_name="landed",
    )
    early = await world.jobs.poll(at=AT + SUBMIT_GRACE / 2)
    assert [p.changed for p in early] == [False, False]
    assert not any(call.endswith("/batches") for call in api.batch_calls)
    later = {p.key: p for p in await world.jobs.poll(at=AT + SUBMIT_GRACE * 2)}
    assert later["lost"].state is BatchJobState.FAILED
    lost = await world.ledger.reservation(batch_reservation_key("lost"))
    assert lost is not None and lost.state == ReservationState.RELEASED.value
    landed = await world.store.get("landed")
    assert landed is not None and (landed.state, landed.name) == (BatchJobState.PENDING, name)
    api.finish_batch(name)
    [collected] = await world.jobs.poll(at=AT + timedelta(hours=2))
    assert collected.key == "landed" and collected.state is BatchJobState.DONE


async def test_references_go_with_every_request(world: World, api: FakeGeminiAPI) -> None:
    """Reference images are sent inline with each prompt and priced as input images."""
    reference = ReferenceImage(png_bytes(7), "image/png")
    result = await world.jobs.submit(
        workspace_id=TEAM,
        user_id=USER,
        prompts=PROMPTS[:2],
        constraints=HERO,
        key="job-refs",
        at=AT,
        references=[reference],
    )
    assert isinstance(result, Submitted) and result.quote is not None
    sent = api.batches[result.job.name or ""]
    assert [r.images for r in sent.requests] == [(reference.data,), (reference.data,)]
    api.finish_batch(result.job.name or "")
    await world.jobs.poll(at=AT + timedelta(hours=1))
    rows = await _entries(world.engine)
    assert all(r.input_image_tokens == input_image_tokens(NB2) for r in rows)


async def _reservation_state(world: World, key: str) -> str:
    reservation = await world.ledger.reservation(batch_reservation_key(key))
    assert reservation is not None
    return reservation.state


async def test_results_while_running_are_not_collected(world: World, api: FakeGeminiAPI) -> None:
    """Partial results of a job Google still runs are left alone until the job has finished."""
    submitted = await _submit(world)
    name = submitted.job.name or ""
    api.report_partial(name, indexes=(0,))
    [running] = await world.jobs.poll(at=AT + timedelta(hours=1))
    assert (running.state, running.finished, running.images) == (BatchJobState.RUNNING, False, ())
    assert await _entries(world.engine) == []
    assert await _reservation_state(world, "job-1") == ReservationState.OPEN.value
    assert not (world.images / "batches").exists()
    api.finish_batch(name)
    [done] = await world.jobs.poll(at=AT + timedelta(hours=2))
    assert done.state is BatchJobState.DONE and len(done.images) == 3
    assert len(await _entries(world.engine)) == 3


async def test_a_running_job_is_polled_past_the_expiry(world: World, api: FakeGeminiAPI) -> None:
    """A job Google reports running is never expired here, however long it takes."""
    submitted = await _submit(world)
    api.start_batch(submitted.job.name or "")
    [polled] = await world.jobs.poll(at=AT + BATCH_EXPIRY + EXPIRY_MARGIN + timedelta(hours=5))
    assert (polled.state, polled.finished) == (BatchJobState.RUNNING, False)
    assert await _reservation_state(world, "job-1") == ReservationState.OPEN.value
    api.finish_batch(submitted.job.name or "")
    [done] = await world.jobs.poll(at=AT + BATCH_EXPIRY + EXPIRY_MARGIN + timedelta(hours=6))
    assert done.state is BatchJobState.DONE


async def test_expiry_counts_from_when_google_accepted_the_job(
    worlds: Worlds, api: FakeGeminiAPI
) -> None:
    """The local expiry counts from the moment Google accepted the job, not the caller's time."""
    world = worlds.start()
    worlds.now = AT + timedelta(hours=1)  # the caller's `at` was taken an hour before the create
    submitted = await _submit(world, at=AT)
    assert submitted.job.submitted_at == AT + timedelta(hours=1)
    limit = BATCH_EXPIRY + EXPIRY_MARGIN
    [kept] = await world.jobs.poll(at=AT + limit + timedelta(minutes=30))
    assert not kept.changed and kept.state is BatchJobState.PENDING
    [late] = await world.jobs.poll(at=AT + timedelta(hours=1) + limit + timedelta(minutes=1))
    assert late.state is BatchJobState.EXPIRED


async def _submitted_but_unanswered(world: World, key: str) -> None:
    result = await world.jobs.submit(
        workspace_id=TEAM, user_id=USER, prompts=PROMPTS, constraints=HERO, key=key, at=AT
    )
    assert isinstance(result, Submitted) and result.job.name is None
    job = await world.store.get(key)
    assert job is not None and job.state is BatchJobState.SUBMITTING
    assert await _reservation_state(world, key) == ReservationState.OPEN.value


async def _adopted_and_collected(world: World, api: FakeGeminiAPI, key: str) -> None:
    [name] = [n for n, b in api.batches.items() if b.display_name == key]
    [early] = await world.jobs.poll(at=AT + SUBMIT_GRACE / 2)
    assert not early.changed
    [adopted] = await world.jobs.poll(at=AT + SUBMIT_GRACE * 2)
    assert (adopted.name, adopted.state) == (name, BatchJobState.PENDING)
    assert await _reservation_state(world, key) == ReservationState.OPEN.value
    api.finish_batch(name)
    [done] = await world.jobs.poll(at=AT + timedelta(hours=3))
    assert done.state is BatchJobState.DONE and len(done.images) == 3
    assert await _reservation_state(world, key) == ReservationState.SETTLED.value


async def test_a_timeout_on_create_stays_submitting_and_is_adopted_later(
    worlds: Worlds, api: FakeGeminiAPI
) -> None:
    """A create that times out stays submitting; find_batch adopts the job after the grace."""
    world = worlds.start(timeout_s=0.2)
    api.script_batch_create(NB2, AcceptedThen(Slow(release=asyncio.Event())))
    await _submitted_but_unanswered(world, "job-slow")
    await _adopted_and_collected(world, api, "job-slow")


async def test_a_5xx_on_create_stays_submitting_and_is_adopted_later(
    world: World, api: FakeGeminiAPI
) -> None:
    """A create answered with a 5xx stays submitting; find_batch adopts the job after the grace."""
    api.script_batch_create(NB2, AcceptedThen(ServerError(status=500)))
    await _submitted_but_unanswered(world, "job-5xx")
    await _adopted_and_collected(world, api, "job-5xx")


async def test_a_5xx_on_create_without_a_job_is_released_after_the_grace(
    world: World, api: FakeGeminiAPI
) -> None:
    """A 5xx create that made no job at Google is released once find_batch finds nothing."""
    api.script_batch_create(NB2, ServerError())
    await _submitted_but_unanswered(world, "job-lost")
    [closed] = await world.jobs.poll(at=AT + SUBMIT_GRACE * 2)
    assert closed.state is BatchJobState.FAILED
    assert await _reservation_state(world, "job-lost") == ReservationState.RELEASED.value


async def test_an_unreadable_create_answer_stays_submitting(
    world: World, api: FakeGeminiAPI
) -> None:
    """A create answered with a body that is not JSON stays submitting and is adopted later."""
    api.script_batch_create(NB2, AcceptedThen(Malformed()))
    await _submitted_but_unanswered(world, "job-garbled")
    await _adopted_and_collected(world, api, "job-garbled")


@pytest.mark.parametrize(
    "refusal",
    [RateLimit(), NotFound(), ClientError(status=403, status_name="PERMISSION_DENIED")],
    ids=["rate-limited", "model-not-found", "key-rejected"],
)
async def test_a_definite_refusal_on_create_releases_at_once(
    world: World, api: FakeGeminiAPI, refusal: RateLimit | NotFound | ClientError
) -> None:
    """A create Google clearly refused releases the reservation and marks the job failed."""
    api.script_batch_create(NB2, refusal)
    result = await world.jobs.submit(
        workspace_id=TEAM, user_id=USER, prompts=PROMPTS, constraints=HERO, key="job-no", at=AT
    )
    assert isinstance(result, NotSubmitted)
    assert result.job is not None and result.job.state is BatchJobState.FAILED
    assert await _reservation_state(world, "job-no") == ReservationState.RELEASED.value


async def test_one_job_failing_unexpectedly_does_not_stop_the_next(
    world: World, api: FakeGeminiAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """A job whose check raises an unexpected error is logged and kept; the next is collected."""
    broken = await _submit(world, "job-a")
    fine = await _submit(world, "job-b", at=AT + timedelta(minutes=1))
    api.garble_batch(broken.job.name or "")
    api.finish_batch(fine.job.name or "")
    with caplog.at_level(logging.ERROR, logger="bot.batch"):
        polled = {p.key: p for p in await world.jobs.poll(at=AT + timedelta(hours=1))}
    assert not polled["job-a"].changed and polled["job-a"].state is BatchJobState.PENDING
    assert polled["job-a"].message is not None and "unexpectedly" in polled["job-a"].message
    assert polled["job-b"].state is BatchJobState.DONE and len(polled["job-b"].images) == 3
    assert any("key=job-a" in r.getMessage() and r.exc_info for r in caplog.records)
    assert await _reservation_state(world, "job-a") == ReservationState.OPEN.value


async def test_an_unreadable_get_is_reported_and_checked_again(
    world: World, api: FakeGeminiAPI
) -> None:
    """A get answered with a body that is not JSON is reported as malformed and kept open."""
    submitted = await _submit(world)
    api.garble_batch(submitted.job.name or "", invalid_json=True)
    with pytest.raises(MalformedResponse):
        await world.provider.get_batch(submitted.job.name or "", request_count=3)
    [polled] = await world.jobs.poll(at=AT + timedelta(hours=1))
    assert not polled.changed and polled.message is not None
    assert "malformed_response" in polled.message


async def test_result_slots_with_a_missing_middle_response(
    world: World, api: FakeGeminiAPI
) -> None:
    """A missing middle response leaves its slot empty; the others keep their own prompts."""
    submitted = await _submit(world)
    name = submitted.job.name or ""
    api.finish_batch(name, missing={1})
    status = await world.provider.get_batch(name, request_count=3)
    assert [type(r).__name__ for r in status.results] == ["ImageResult", "NoneType", "ImageResult"]
    [polled] = await world.jobs.poll(at=AT + timedelta(hours=1))
    assert polled.state is BatchJobState.DONE
    assert [Path(p).name for p in polled.images] == ["0001.png", "0003.png"]
    assert polled.failures == (
        "Prompt 2 (blue sneaker on white): Google returned no result for it. Nothing charged.",
    )
    rows = await _entries(world.engine)
    assert [r.idempotency_key for r in rows] == ["batch:job-1:0", "batch:job-1:2"]
    assert rows[1].input_tokens == text_tokens(PROMPTS[2])


async def test_results_without_keys_are_matched_by_position(
    world: World, api: FakeGeminiAPI
) -> None:
    """Responses without keys fill the slots in order (Google answers in request order)."""
    submitted = await _submit(world)
    name = submitted.job.name or ""
    api.finish_batch(name, outcomes={2: ImageBlocked()}, keys=False)
    status = await world.provider.get_batch(name, request_count=3)
    assert isinstance(status.results[0], ImageResult)
    assert isinstance(status.results[2], BatchFailure)
    assert status.results[2].usage.input_tokens == text_tokens(PROMPTS[2])


def _custom_card(tmp_path: Path) -> Path:
    """The current card renamed, with Nano Banana 2's batch token prices doubled."""
    text = (Path(__file__).parents[2] / "router" / "cards" / "current-2026-11.toml").read_text()
    text = text.replace('name = "current-2026-11"', 'name = "custom-2026-11"', 1)
    batch = "batch_input = 0.25\nbatch_text_output = 1.50\nbatch_image_output = 30"
    assert batch in text
    text = text.replace(
        batch, "batch_input = 0.50\nbatch_text_output = 3.00\nbatch_image_output = 60"
    )
    path = tmp_path / "custom.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def test_a_job_is_priced_on_the_card_it_was_submitted_with(
    worlds: Worlds, api: FakeGeminiAPI, tmp_path: Path
) -> None:
    """A process on another card collects a job at the prices of the card it was quoted on."""
    custom = load_card(str(_custom_card(tmp_path)))
    submitted = await _submit(worlds.start(card=custom))
    assert submitted.job.rate_card == card_reference(custom) == str(tmp_path / "custom.toml")
    api.finish_batch(submitted.job.name or "")
    collector = worlds.start()  # the current card
    [polled] = await collector.jobs.poll(at=AT + timedelta(hours=1))
    rows = await _entries(collector.engine)
    usage = Usage(
        input_tokens=text_tokens(PROMPTS[0]),
        output_image_tokens=output_image_tokens(NB2, "1K"),
        thinking_tokens=thinking_tokens(NB2),
    )
    spec = custom.model(NB2)
    assert rows[0].cost_micros == actual_micros(
        spec, usage, images_returned=1, image_size="1K", batch=True
    )
    assert rows[0].cost_micros > actual_micros(
        worlds.card.model(NB2), usage, images_returned=1, image_size="1K", batch=True
    )
    assert polled.cost_micros == sum(r.cost_micros for r in rows)


async def test_a_card_that_cannot_be_loaded_falls_back_to_the_current_one(
    worlds: Worlds, api: FakeGeminiAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A job whose card is gone records the current card's per-image figure and logs it."""
    path = _custom_card(tmp_path)
    submitted = await _submit(worlds.start(card=load_card(str(path))))
    path.unlink()
    api.finish_batch(submitted.job.name or "")
    collector = worlds.start()
    with caplog.at_level(logging.WARNING, logger="bot.batch"):
        [polled] = await collector.jobs.poll(at=AT + timedelta(hours=1))
    figure = per_image_micros(worlds.card.model(NB2), image_size="1K", batch=True)
    rows = await _entries(collector.engine)
    assert [r.cost_micros for r in rows] == [figure] * 3
    assert polled.state is BatchJobState.DONE and polled.cost_micros == 3 * figure
    [warning] = [r for r in caplog.records if "batch card unavailable" in r.getMessage()]
    assert "key=job-1" in warning.getMessage() and "per-image figure" in warning.getMessage()


async def test_images_not_saved_keep_the_job_open_until_the_next_poll(
    world: World, api: FakeGeminiAPI
) -> None:
    """Unsaved images keep the job open; the next poll saves them and settles nothing twice."""
    submitted = await _submit(world)
    api.finish_batch(submitted.job.name or "")
    blocker = world.images / "batches" / "job-1"
    blocker.parent.mkdir(parents=True)
    blocker.write_bytes(b"not a folder")
    [failed] = await world.jobs.poll(at=AT + timedelta(hours=1))
    assert not failed.finished and failed.state is BatchJobState.PENDING
    assert failed.message is not None and "could not be saved" in failed.message
    rows = await _entries(world.engine)
    assert len(rows) == 3
    assert await _reservation_state(world, "job-1") == ReservationState.SETTLED.value
    job = await world.store.get("job-1")
    assert job is not None and job.state is BatchJobState.PENDING
    blocker.unlink()
    [done] = await world.jobs.poll(at=AT + timedelta(hours=2))
    assert done.state is BatchJobState.DONE and len(done.images) == 3
    assert done.cost_micros == failed.cost_micros == sum(r.cost_micros for r in rows)
    assert [r.id for r in await _entries(world.engine)] == [r.id for r in rows]
    assert await _consumed(world) == done.cost_micros
    for relative in done.images:
        assert (world.images / relative).is_file()
    await counters_match_rows(world.engine, workspace_id=TEAM)


@pytest.mark.parametrize("method", ["create", "get", "list"])
async def test_an_unknown_api_response_error_is_mapped(
    world: World, api: FakeGeminiAPI, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    """The SDK's UnknownApiResponseError becomes MalformedResponse on every batch call."""
    request = ImageRequest(model_id=NB2, prompt="red sneaker", image_size="1K")
    name = await world.provider.submit_batch(model_id=NB2, requests=[request], display_name="x")

    # google-genai 3.6.1 raises it only from its streaming JSON reader, so it is injected here.
    async def unreadable(*args: object, **kwargs: object) -> None:
        raise genai_errors.UnknownApiResponseError("Failed to parse response as JSON.")

    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "create": lambda: world.provider.submit_batch(
            model_id=NB2, requests=[request], display_name="y"
        ),
        "get": lambda: world.provider.get_batch(name, request_count=1),
        "list": lambda: world.provider.find_batch("x"),
    }
    monkeypatch.setattr(AsyncBatches, method, unreadable)
    with pytest.raises(MalformedResponse):
        await calls[method]()
