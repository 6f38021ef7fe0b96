"""The generation use case's money rules, on a real SQLite ledger.

The provider here is a fake of the ImageProvider protocol (the seam), scripted per test; the
dispatcher, the router and the ledger are the real ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bot.cards import load_card
from bot.dispatch import Dispatcher, ModelRegistry
from bot.images import ImageStore
from bot.jobs import Completed, Failed, ImageJobs, JobRequest, Requester
from bot.ledger.budgets import BudgetLedger
from bot.ledger.engine import make_engine, upgrade
from bot.providers import GeneratedImage, ImageRequest, ImageResult, RateLimited
from router import Constraints, Plan, Purpose, Usage
from tests.fakes.png import png_bytes

AT = datetime(2026, 12, 1, 9, tzinfo=UTC)


class ScriptedProvider:
    """An ImageProvider whose answers per model are scripted: 'ok', 'busy' or 'crash'."""

    def __init__(self, script: dict[str, str]) -> None:
        self.script = script
        self.calls: list[str] = []

    async def generate(self, request: ImageRequest) -> ImageResult:
        self.calls.append(request.model_id)
        behaviour = self.script.get(request.model_id, "ok")
        if behaviour == "crash":
            raise RuntimeError("a bug deep inside")
        if behaviour == "busy":
            raise RateLimited("busy", model_id=request.model_id, retry_after_s=None, daily=True)
        return ImageResult(
            model_id=request.model_id,
            images=(GeneratedImage(data=png_bytes(), mime_type="image/png"),),
            usage=Usage(input_tokens=20, output_image_tokens=1120, thinking_tokens=100),
        )

    async def list_models(self) -> frozenset[str]:
        return frozenset()

    async def aclose(self) -> None:
        return None


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[BudgetLedger]:
    """A migrated SQLite ledger with a $5 user budget."""
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    await upgrade(url)
    engine = make_engine(url)
    try:
        yield BudgetLedger(
            engine,
            tz=ZoneInfo("UTC"),
            default_user_budget_micros=5_000_000,
            workspace_budget_micros=None,
        )
    finally:
        await engine.dispose()


def jobs_with(provider: ScriptedProvider, ledger: BudgetLedger, tmp_path: Path) -> ImageJobs:
    """ImageJobs on the current card with every model of it offered."""
    card = load_card("current-2026-11")
    registry = ModelRegistry(frozenset(card.models))
    return ImageJobs(
        card=card,
        ledger=ledger,
        dispatcher=Dispatcher(
            provider, card=card, registry=registry, sleep=_no_sleep, max_attempts=1
        ),
        registry=registry,
        images=ImageStore(tmp_path / "images"),
    )


async def _no_sleep(_: float) -> None:
    return None


async def plan_for(jobs: ImageJobs, purpose: Purpose, key: str) -> tuple[JobRequest, Plan]:
    """A hero-or-other request and its plan on an empty budget."""
    request = JobRequest(
        key=key,
        requester=Requester(workspace_id="T1", user_id="U1"),
        prompt="a lamp",
        constraints=Constraints(purpose=purpose),
    )
    quote = await jobs.quote(request, at=AT)
    assert isinstance(quote.outcome, Plan)
    return request, quote.outcome


async def ledger_costs(ledger: BudgetLedger) -> list[int]:
    """Every ledger row's cost."""
    async with ledger._engine.connect() as connection:
        return list(
            (await connection.execute(text("SELECT cost_micros FROM ledger_entry"))).scalars()
        )


async def test_a_crash_mid_call_settles_at_what_was_reserved(
    ledger: BudgetLedger, tmp_path: Path
) -> None:
    """An unexpected error during the call settles at the reservation and reports it."""
    card = load_card("current-2026-11")
    primary = card.tier(Purpose.HERO).options[0].model
    provider = ScriptedProvider({primary: "crash"})
    jobs = jobs_with(provider, ledger, tmp_path)
    request, plan = await plan_for(jobs, Purpose.HERO, "crash-1")
    result = await jobs.run(request, plan, at=AT, clock=lambda: AT)
    assert isinstance(result, Failed)
    dearest = max(choice.estimate_micros for choice in plan.choices)
    assert result.charged_micros == dearest
    assert await ledger_costs(ledger) == [dearest]
    user, _ = await ledger.state(workspace_id="T1", user_id="U1", at=AT)
    assert user.consumed_micros == dearest


async def test_the_reservation_covers_the_dearest_fallback(
    ledger: BudgetLedger, tmp_path: Path
) -> None:
    """While a request runs, the budget holds its dearest fallback; settling frees the rest."""
    card = load_card("current-2026-11")
    options = [option.model for option in card.tier(Purpose.HERO).options]
    provider = ScriptedProvider({options[0]: "busy"})
    jobs = jobs_with(provider, ledger, tmp_path)
    request, plan = await plan_for(jobs, Purpose.HERO, "fallback-1")
    assert len(plan.choices) > 1
    result = await jobs.run(request, plan, at=AT, clock=lambda: AT)
    assert isinstance(result, Completed)
    assert provider.calls[0] == options[0]
    held = await ledger.reservation("fallback-1")
    assert held is not None
    assert held.estimate_micros == max(choice.estimate_micros for choice in plan.choices)
    assert await ledger_costs(ledger) == [result.cost_micros]


async def test_when_only_the_primary_fits_dearer_fallbacks_are_dropped(
    ledger: BudgetLedger, tmp_path: Path
) -> None:
    """Near the budget's end a busy primary does not fall back to a model the budget can't pay."""
    jobs = jobs_with(ScriptedProvider({}), ledger, tmp_path)
    request, plan = await plan_for(jobs, Purpose.HERO, "tight-1")
    dearest = max(choice.estimate_micros for choice in plan.choices)
    assert dearest > plan.estimate_micros
    await ledger.set_budget(
        workspace_id="T1",
        user_id="U1",
        amount_micros=plan.estimate_micros + (dearest - plan.estimate_micros) // 2,
        set_by="test",
        at=AT,
    )
    provider = ScriptedProvider({plan.primary.model_id: "busy"})
    jobs = jobs_with(provider, ledger, tmp_path)
    result = await jobs.run(request, plan, at=AT, clock=lambda: AT)
    assert isinstance(result, Failed)
    cheaper = {c.model_id for c in plan.fallbacks if c.estimate_micros <= plan.estimate_micros}
    assert set(provider.calls) <= {plan.primary.model_id} | cheaper
    user, _ = await ledger.state(workspace_id="T1", user_id="U1", at=AT)
    assert user.budget_micros is not None
    assert user.consumed_micros <= user.budget_micros
