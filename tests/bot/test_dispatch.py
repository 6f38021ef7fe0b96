"""Dispatcher and ModelRegistry: the real adapter against the fake Gemini API, no real sleeps."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

import router
from bot.dispatch import Dispatcher, ModelRegistry
from bot.providers import (
    KeyRejected,
    ProviderError,
    ProviderTimeout,
    ReferenceImage,
    SafetyBlocked,
)
from bot.providers.gemini import GeminiProvider
from router.card import RateCard, parse_card
from router.constraints import Constraints, Purpose
from router.money import micros_from_rate
from router.plan import Choice, Plan
from router.pricing import estimate_image_micros
from tests.fakes.gemini_api import (
    DEFAULT_LISTED,
    FakeGeminiAPI,
    Malformed,
    NotFound,
    Ok,
    PromptBlocked,
    RateLimit,
    ServerError,
    Slow,
    png_bytes,
)

TODAY = date(2026, 11, 25)
PRO = "gemini-3-pro-image"
FLASH = "gemini-3.1-flash-image"
NB21 = "gemini-nano-banana-2.1"
NANO = "gemini-2.5-flash-image"
PROMPT = "a red bicycle leaning on a white wall"
CARD_PATH = Path(router.__file__).parent / "cards" / "current-2026-11.toml"


@pytest.fixture(scope="module")
def card() -> RateCard:
    """The shipped current rate card."""
    return parse_card(CARD_PATH.read_text(encoding="utf-8"), source=CARD_PATH.name)


@pytest.fixture
async def gemini_api() -> AsyncIterator[FakeGeminiAPI]:
    """The fake Gemini API, listing Nano Banana 2.1 too."""
    async with FakeGeminiAPI(listed=DEFAULT_LISTED | {NB21}) as api:
        yield api


@pytest.fixture
async def provider(gemini_api: FakeGeminiAPI) -> AsyncIterator[GeminiProvider]:
    """The real adapter pointed at the fake."""
    adapter = GeminiProvider(api_key=gemini_api.api_key, base_url=gemini_api.base_url, timeout_s=10)
    yield adapter
    await adapter.aclose()


class Sleeps:
    """An injected sleep that records delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def _dispatcher(
    provider: GeminiProvider,
    card: RateCard,
    *,
    registry: ModelRegistry | None = None,
    sleep: Sleeps | None = None,
    **kwargs: int | float,
) -> Dispatcher:
    return Dispatcher(
        provider,
        card=card,
        registry=registry or ModelRegistry(),
        sleep=sleep or Sleeps(),
        rng=random.Random(7),
        **kwargs,  # type: ignore[arg-type]
    )


def _choice(
    card: RateCard, model_id: str, *, size: str = "1K", thinking: str | None = None, refs: int = 0
) -> Choice:
    spec = card.model(model_id)
    return Choice(
        model_id=model_id,
        display_name=spec.display_name,
        image_size=size,
        aspect_ratio=None,
        thinking_level=thinking,
        estimate_micros=estimate_image_micros(
            spec, image_size=size, reference_images=refs, batch=False, thinking_level=thinking
        ),
    )


def _plan(
    primary: Choice, *fallbacks: Choice, count: int = 1, tier: Purpose = Purpose.HERO
) -> Plan:
    return Plan(
        tier=tier,
        primary=primary,
        fallbacks=fallbacks,
        estimate_micros=primary.estimate_micros * count,
        image_count=count,
        reasons=(),
        notices=(),
        downgraded=False,
        constraints=Constraints(purpose=tier, image_count=count),
    )


def _pro_cost(prompt: str, *, image_tokens: int = 1120, thinking: int = 312) -> int:
    """Nano Banana Pro: $2 input, $12 text/thinking, $120 image per 1M tokens."""
    return (
        micros_from_rate(len(prompt) // 4, Decimal(2))
        + micros_from_rate(thinking, Decimal(12))
        + micros_from_rate(image_tokens, Decimal(120))
    )


async def test_success_is_priced_from_token_counts(
    provider: GeminiProvider, card: RateCard
) -> None:
    """One image, one attempt, priced from the response's own token counts."""
    outcome = await _dispatcher(provider, card).run(
        _plan(_choice(card, PRO)), prompt=PROMPT, today=TODAY
    )
    assert outcome.ok
    assert outcome.complete
    assert (outcome.model_id, outcome.display_name) == (PRO, "Nano Banana Pro")
    assert len(outcome.images) == 1
    (attempt,) = outcome.attempts
    assert attempt.ok
    assert attempt.images == 1
    assert attempt.image_size == "1K"
    assert attempt.usage is not None
    assert attempt.usage.thinking_tokens == 312
    assert attempt.cost_micros == _pro_cost(PROMPT) == outcome.cost_micros
    assert outcome.failed == (None,)


async def test_rate_limit_is_retried_then_falls_back(
    provider: GeminiProvider, card: RateCard, gemini_api: FakeGeminiAPI
) -> None:
    """Three 429s on Pro are retried with Google's delay, then Nano Banana 2 answers."""
    gemini_api.script(PRO, *(RateLimit(retry_delay="2s") for _ in range(3)))
    sleeps = Sleeps()
    dispatcher = _dispatcher(provider, card, sleep=sleeps, max_attempts=3)
    outcome = await dispatcher.run(
        _plan(_choice(card, PRO), _choice(card, FLASH, thinking="high")), prompt=PROMPT, today=TODAY
    )
    assert outcome.model_id == FLASH
    assert len(gemini_api.generate_requests(PRO)) == 3
    assert len(sleeps.delays) == 2
    assert all(2.0 <= delay <= 2.5 for delay in sleeps.delays)
    (attempt,) = outcome.attempts  # the 429s cost nothing
    expected = (
        micros_from_rate(len(PROMPT) // 4, Decimal("0.5"))
        + micros_from_rate(248, Decimal(3))
        + micros_from_rate(1120, Decimal(60))
    )
    assert attempt.model_id == FLASH
    assert attempt.cost_micros == expected
    assert outcome.cost_micros == expected
    assert "Nano Banana Pro was busy, so Nano Banana 2 made this image." in outcome.notices


async def test_retry_delay_is_capped(
    provider: GeminiProvider, card: RateCard, gemini_api: FakeGeminiAPI
) -> None:
    """A RetryInfo delay longer than max_delay_s waits only max_delay_s."""
    gemini_api.script(PRO, RateLimit(retry_delay="120s"))
    sleeps = Sleeps()
    outcome = await _dispatcher(provider, card, sleep=sleeps, max_delay_s=30.0).run(
        _plan(_choice(card, PRO)), prompt=PROMPT, today=TODAY
    )
    assert outcome.model_id == PRO
    assert sleeps.delays == [30.0]


async def test_overload_is_retried_with_growing_backoff(
    provider: GeminiProvider, card: RateCard, gemini_api: FakeGeminiAPI
) -> None:
    """Two 503s back off about 1 s then 2 s (plus jitter) and the third call succeeds."""
    gemini_api.script(PRO, ServerError(503), ServerError(503))
    sleeps = Sleeps()
    outcome = await _dispatcher(provider, card, sleep=sleeps).run(
        _plan(_choice(card, PRO)), prompt=PROMPT, today=TODAY
    )
    assert outcome.model_id == PRO
    assert len(outcome.attempts) == 1
    assert 1.0 <= sleeps.delays[0] <= 1.25
    assert 2.0 <= sleeps.delays[1] <= 2.5


async def test_daily_quota_falls_back_without_waiting(
    provider: GeminiProvider, card: RateCard, gemini_api: FakeGeminiAPI
) -> None:
    """A used-up daily quota is not retried: the next fallback is tried at once."""
    gemini_api.script(PRO, RateLimit(per_day=True))
    sleeps = Sleeps()
    outcome = await _dispatcher(provider, card, sleep=sleeps).run(
        _plan(_choice(card, PRO), _choice(card, FLASH)), prompt=PROMPT, today=TODAY
    )
    assert outcome.model_id == FLASH
    assert sleeps.delays == []


async def test_not_found_reroutes_to_successor_and_marks_registry(
    provider: GeminiProvider, card: RateCard, gemini_api: FakeGeminiAPI
) -> None:
    """A live 404 marks the model at once, uses the card's successor and says so in one line."""
    gemini_api.script(FLASH, NotFound())
    registry = ModelRegistry(listed=frozenset(gemini_api.listed))
    dispatcher = _dispatcher(provider, card, registry=registry)
    outcome = await dispatcher.run(
        _plan(_choice(card, FLASH, thinking="high")), prompt=PROMPT, today=TODAY
    )
    assert outcome.model_id == NB21
    assert FLASH in registry.not_found
    assert registry.availability().not_found == frozenset({FLASH})
    assert outcome.notices == (
        "Nano Banana 2 is not offered to this API key; used Nano Banana 2.1 instead.",
    )
    assert gemini_api.generate_requests(NB21)[0].thinking_level == "HIGH"
    again = await dispatcher.run(_plan(_choice(card, FLASH)), prompt=PROMPT, today=TODAY)
    assert again.model_id == NB21
    assert len(gemini_api.generate_requests(FLASH)) == 1  # never called again


async def test_retired_model_with_no_usable_successor_fails_clearly(
    provider: GeminiProvider, card: RateCard, gemini_api: FakeGeminiAPI
) -> None:
    """When the successor chain is exhausted the image fails with ModelNotFound and a notice."""
    gemini_api.retired.update({PRO})
    outcome = await _dispatcher(provider, card).run(
        _plan(_choice(card, PRO)), prompt=PROMPT, today=TODAY
    )
    assert not outcome.ok
    assert outcome.error is not None
    assert outcome.error.kind == "model_not_found"
    assert outcome.notices
    assert "Nano Banana Pro" in outcome.notices[0]
    assert outcome.attempts == ()


async def test_safety_block_is_not_shopped_and_bills_input_and_thinking(
    provider: GeminiProvider, card: RateCard, gemini_api: FakeGeminiAPI
) -> None:
    """A blocked image fails with a clear reason, no other model is tried, input+thinking billed."""
    from tests.fakes.gemini_api import ImageBlocked

    gemini_api.script(PRO, ImageBlocked("IMAGE_SAFETY"))
    outcome = await _dispatcher(provider, card).run(
        _plan(_choice(card, PRO), _choice(card, FLASH)), prompt=PROMPT, today=TODAY
    )
    assert not outcome.ok
    error = outcome.failed[0]
    assert isinstance(error, SafetyBlocked)
    assert "safety filter" in error.user_message
    assert gemini_api.generate_requests(FLASH) == []
    (attempt,) = outcome.attempts
    assert not attempt.ok
    assert attempt.error == "safety_blocked"
    assert attempt.images == 0
    assert attempt.cost_micros == _pro_cost(PROMPT, image_tokens=0)


async def test_key_rejected_is_not_retried(gemini_api: FakeGeminiAPI, card: RateCard) -> None:
    """A refused key fails at once: no retries, no fallback, nothing billed."""
    adapter = GeminiProvider(api_key="wrong", base_url=gemini_api.base_url)
    sleeps = Sleeps()
    try:
        outcome = await _dispatcher(adapter, card, sleep=sleeps).run(
            _plan(_choice(card, PRO), _choice(card, FLASH)), prompt=PROMPT, today=TODAY
        )
    finally:
        await adapter.aclose()
    assert isinstance(outcome.error, KeyRejected)
    assert len(gemini_api.generate_requests()) == 1
    assert sleeps.delays == []
    assert outcome.attempts == ()


async def test_timeout_is_priced_at_estimate_and_flagged(
    gemini_api: FakeGeminiAPI, card: RateCard
) -> None:
    """A timed-out call is reported as possibly billed, at the choice's estimate."""
    gemini_api.script(PRO, Slow(release=asyncio.Event()))
    adapter = GeminiProvider(
        api_key=gemini_api.api_key, base_url=gemini_api.base_url, timeout_s=0.2
    )
    choice = _choice(card, PRO)
    try:
        outcome = await _dispatcher(adapter, card, max_attempts=1).run(
            _plan(choice), prompt=PROMPT, today=TODAY
        )
    finally:
        await adapter.aclose()
    assert isinstance(outcome.error, ProviderTimeout)
    (attempt,) = outcome.attempts
    assert attempt.possibly_billed
    assert attempt.usage is None
    assert not attempt.ok
    assert attempt.cost_micros == choice.estimate_micros
    assert attempt.error == "timeout"


async def test_malformed_answer_moves_to_fallback_and_is_flagged(
    provider: GeminiProvider, card: RateCard, gemini_api: FakeGeminiAPI
) -> None:
    """An unreadable answer is counted at the estimate and the next model is tried."""
    gemini_api.script(PRO, Malformed())
    pro = _choice(card, PRO)
    outcome = await _dispatcher(provider, card).run(
        _plan(pro, _choice(card, FLASH)), prompt=PROMPT, today=TODAY
    )
    assert outcome.model_id == FLASH
    first, second = outcome.attempts
    assert (first.model_id, first.possibly_billed, first.cost_micros) == (
        PRO,
        True,
        pro.estimate_micros,
    )
    assert second.ok
    assert second.model_id == FLASH
    assert outcome.cost_micros == first.cost_micros + second.cost_micros


async def test_partial_failure_is_reported_per_image(
    provider: GeminiProvider, card: RateCard, gemini_api: FakeGeminiAPI
) -> None:
    """Of three images one is blocked: two images come back and the failure is kept."""
    gemini_api.script(PRO, Ok(), PromptBlocked(), Ok())
    outcome = await _dispatcher(provider, card).run(
        _plan(_choice(card, PRO), count=3), prompt=PROMPT, today=TODAY
    )
    assert len(outcome.images) == 2
    assert outcome.ok
    assert not outcome.complete
    assert sum(1 for e in outcome.failed if e is None) == 2
    assert sum(1 for e in outcome.failed if isinstance(e, SafetyBlocked)) == 1
    assert len(outcome.attempts) == 3  # the block billed its input tokens
    assert outcome.cost_micros == sum(a.cost_micros for a in outcome.attempts)
    assert len({image.data for image in outcome.images}) == 2


async def test_semaphore_is_not_held_while_backing_off(
    provider: GeminiProvider, card: RateCard, gemini_api: FakeGeminiAPI
) -> None:
    """With one call slot, an image backing off after a 429 lets the other image's call run."""
    gemini_api.script(PRO, RateLimit(retry_delay="1s"))

    async def sleep_until_other_call(delay: float) -> None:
        await gemini_api.wait_for_requests(2)

    dispatcher = Dispatcher(
        provider,
        card=card,
        registry=ModelRegistry(),
        sleep=sleep_until_other_call,
        rng=random.Random(1),
        max_concurrency=1,
    )
    outcome = await asyncio.wait_for(
        dispatcher.run(_plan(_choice(card, PRO), count=2), prompt=PROMPT, today=TODAY), 10
    )
    assert outcome.complete
    assert len(outcome.images) == 2
    assert gemini_api.max_in_flight == 1


async def test_images_are_made_concurrently(
    provider: GeminiProvider, card: RateCard, gemini_api: FakeGeminiAPI
) -> None:
    """All images of a request are in flight at once (within the concurrency limit)."""
    release = asyncio.Event()
    gemini_api.script(PRO, *(Slow(release=release) for _ in range(3)))
    task = asyncio.create_task(
        _dispatcher(provider, card).run(
            _plan(_choice(card, PRO), count=3), prompt=PROMPT, today=TODAY
        )
    )
    await gemini_api.wait_for_requests(3)
    release.set()
    outcome = await task
    assert len(outcome.images) == 3
    assert gemini_api.max_in_flight == 3


async def test_several_candidates_keep_every_paid_image(
    provider: GeminiProvider, card: RateCard, gemini_api: FakeGeminiAPI
) -> None:
    """A call that returns two candidates delivers both images and prices both."""
    gemini_api.script(PRO, Ok(candidates=2))
    outcome = await _dispatcher(provider, card).run(
        _plan(_choice(card, PRO)), prompt=PROMPT, today=TODAY
    )
    assert len(outcome.images) == 2
    (attempt,) = outcome.attempts
    assert attempt.images == 2
    assert attempt.cost_micros == _pro_cost(PROMPT, image_tokens=2240)


async def test_image_size_is_not_sent_to_single_size_models(
    provider: GeminiProvider, card: RateCard, gemini_api: FakeGeminiAPI
) -> None:
    """Nano Banana (2.5) gets no image_size, as its card entry says, and is priced by tokens."""
    outcome = await _dispatcher(provider, card).run(
        _plan(_choice(card, NANO), tier=Purpose.ECONOMY), prompt=PROMPT, today=TODAY
    )
    (sent,) = gemini_api.generate_requests(NANO)
    assert sent.image_size is None
    assert outcome.cost_micros == micros_from_rate(len(PROMPT) // 4, Decimal("0.3")) + 38_700


async def test_planned_request_runs_end_to_end(
    provider: GeminiProvider, card: RateCard, gemini_api: FakeGeminiAPI
) -> None:
    """A plan from router.plan_request with the registry's availability runs as planned."""
    registry = await ModelRegistry.from_provider(provider)
    parsed = router.parse_command("hero product shot of a lemonade can --16:9")
    plan = router.plan_request(
        parsed.constraints,
        card=card,
        budgets=[router.BudgetState(consumed_micros=0, budget_micros=None)],
        availability=registry.availability(),
        today=TODAY,
    )
    assert isinstance(plan, Plan)
    outcome = await _dispatcher(provider, card, registry=registry).run(
        plan, prompt=parsed.prompt, today=TODAY
    )
    assert outcome.model_id == plan.primary.model_id
    assert gemini_api.generate_requests()[0].aspect_ratio == "16:9"
    assert outcome.cost_micros > 0


async def test_registry_lists_models_or_stays_unknown(
    provider: GeminiProvider, gemini_api: FakeGeminiAPI
) -> None:
    """from_provider keeps the models.list result; a failing list leaves listed None."""
    registry = await ModelRegistry.from_provider(provider)
    assert registry.listed is not None
    assert PRO in registry.listed
    adapter = GeminiProvider(api_key="wrong", base_url=gemini_api.base_url)
    try:
        unknown = await ModelRegistry.from_provider(adapter)
    finally:
        await adapter.aclose()
    assert unknown.listed is None
    assert unknown.availability() == router.Availability(listed=None, not_found=frozenset())


async def test_chain_makes_reference_then_variants_with_it(
    provider: GeminiProvider, card: RateCard, gemini_api: FakeGeminiAPI
) -> None:
    """The chain's variants all carry the reference image; one failed variant is reported."""
    gemini_api.script(PRO, Ok(), PromptBlocked(), Ok())
    user_ref = ReferenceImage(png_bytes(99), "image/png")
    chain = await _dispatcher(provider, card).run_chain(
        reference_plan=_plan(_choice(card, NANO), tier=Purpose.ECONOMY),
        variant_plan=_plan(_choice(card, PRO, refs=2), tier=Purpose.CHARACTER),
        reference_prompt="our mascot, a blue fox, full body, plain background",
        variant_prompts=["waving", "skiing", "reading"],
        references=[user_ref],
        today=TODAY,
        max_parallel=2,
    )
    anchor = chain.reference.images[0].data
    variant_calls = gemini_api.generate_requests(PRO)
    assert len(variant_calls) == 3
    assert all(call.images == (anchor, user_ref.data) for call in variant_calls)
    assert gemini_api.generate_requests(NANO)[0].images == (user_ref.data,)
    assert [v.index for v in chain.variants] == [0, 1, 2]
    assert sum(1 for v in chain.variants if v.ok) == 2
    failed = [v for v in chain.variants if not v.ok]
    assert len(failed) == 1
    assert isinstance(failed[0].error, SafetyBlocked)
    assert all(v.cost_micros > 0 for v in chain.variants)
    assert chain.cost_micros == sum(a.cost_micros for a in chain.attempts)
    assert gemini_api.max_in_flight <= 2


async def test_chain_without_reference_skips_variants(
    provider: GeminiProvider, card: RateCard, gemini_api: FakeGeminiAPI
) -> None:
    """When the reference image fails no variant is attempted and each says why."""
    gemini_api.script(NANO, PromptBlocked())
    chain = await _dispatcher(provider, card).run_chain(
        reference_plan=_plan(_choice(card, NANO), tier=Purpose.ECONOMY),
        variant_plan=_plan(_choice(card, PRO, refs=1), tier=Purpose.CHARACTER),
        reference_prompt="mascot",
        variant_prompts=["a", "b"],
        today=TODAY,
    )
    assert not chain.reference.ok
    assert gemini_api.generate_requests(PRO) == []
    assert all(isinstance(v.error, ProviderError) and not v.ok for v in chain.variants)
    assert chain.cost_micros == chain.reference.cost_micros


async def test_timeout_moves_to_fallback_without_retrying(
    gemini_api: FakeGeminiAPI, card: RateCard
) -> None:
    """A timeout is not retried on the same model; the fallback makes the image."""
    gemini_api.script(PRO, Slow(release=asyncio.Event()))
    adapter = GeminiProvider(
        api_key=gemini_api.api_key, base_url=gemini_api.base_url, timeout_s=0.2
    )
    sleeps = Sleeps()
    try:
        outcome = await _dispatcher(adapter, card, sleep=sleeps).run(
            _plan(_choice(card, PRO), _choice(card, FLASH)), prompt=PROMPT, today=TODAY
        )
    finally:
        await adapter.aclose()
    assert outcome.model_id == FLASH
    assert len(gemini_api.generate_requests(PRO)) == 1
    assert sleeps.delays == []
    assert [a.possibly_billed for a in outcome.attempts] == [True, False]
