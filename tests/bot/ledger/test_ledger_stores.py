"""Deliveries, threads, alerts, increase requests and generation requests on both engines."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.ledger import (
    WORKSPACE_SCOPE,
    AlertStore,
    BudgetLedger,
    DeliveryStore,
    EntryIn,
    ImageKind,
    IncreaseState,
    RequestState,
    RequestStore,
    ThreadStore,
    UnknownIncreaseRequest,
)
from tests.bot.ledger.support import AT, USER_BUDGET, WORKSPACE


async def test_a_delivery_is_claimed_once_under_concurrency(engine: AsyncEngine) -> None:
    """Twenty concurrent claims of one Slack event id: exactly one wins."""
    store = DeliveryStore(engine)
    results = await asyncio.gather(*(store.claim("Ev123", at=AT) for _ in range(20)))
    assert results.count(True) == 1
    assert await store.claim("Ev124", at=AT)


async def test_old_deliveries_are_forgotten(engine: AsyncEngine) -> None:
    """forget_before drops old claims only, so their keys can be claimed again."""
    store = DeliveryStore(engine)
    await store.claim("old", at=AT - timedelta(days=5))
    await store.claim("new", at=AT)
    assert await store.forget_before(AT - timedelta(days=1)) == 1
    assert await store.claim("old", at=AT)
    assert not await store.claim("new", at=AT)


async def test_threads_keep_owner_settings_and_last_image(engine: AsyncEngine) -> None:
    """A thread is created once and its carried settings and last image can be updated."""
    store = ThreadStore(engine)
    assert await store.create(
        channel_id="C1",
        thread_ts="1700000000.000100",
        workspace_id=WORKSPACE,
        owner_user_id="U1",
        settings={"purpose": "hero", "image_size": "2K"},
        at=AT,
    )
    assert not await store.create(
        channel_id="C1",
        thread_ts="1700000000.000100",
        workspace_id=WORKSPACE,
        owner_user_id="U2",
        settings={},
        at=AT,
    )
    assert await store.get(channel_id="C1", thread_ts="nope") is None
    later = AT + timedelta(minutes=3)
    await store.update_settings(
        channel_id="C1", thread_ts="1700000000.000100", settings={"purpose": "final"}, at=later
    )
    updated = await store.set_last_image(
        channel_id="C1", thread_ts="1700000000.000100", path="images/a.png", at=later
    )
    assert updated is not None
    thread = await store.get(channel_id="C1", thread_ts="1700000000.000100")
    assert thread is not None
    assert (thread.owner_user_id, dict(thread.settings), thread.last_image_path) == (
        "U1",
        {"purpose": "final"},
        "images/a.png",
    )
    assert thread.updated_at == later
    assert await store.set_last_image(channel_id="C9", thread_ts="x", path="p", at=AT) is None


async def test_thread_images_list_newest_first(engine: AsyncEngine) -> None:
    """Images of a thread come back newest first with their kind."""
    store = ThreadStore(engine)
    for minute, kind in ((0, "generated"), (1, ImageKind.UPLOADED), (2, "generated")):
        await store.add_image(
            channel_id="C1",
            thread_ts="t1",
            path=f"images/{minute}.png",
            kind=kind,
            at=AT + timedelta(minutes=minute),
            model_id=None if kind == ImageKind.UPLOADED else "gemini-2.5-flash-image",
        )
    await store.add_image(channel_id="C1", thread_ts="t2", path="other.png", kind="uploaded", at=AT)
    images = await store.images(channel_id="C1", thread_ts="t1")
    assert [(i.path, i.kind) for i in images] == [
        ("images/2.png", ImageKind.GENERATED),
        ("images/1.png", ImageKind.UPLOADED),
        ("images/0.png", ImageKind.GENERATED),
    ]
    with pytest.raises(ValueError, match="not a valid ImageKind"):
        await store.add_image(channel_id="C1", thread_ts="t1", path="x", kind="stolen", at=AT)


async def test_thread_total_sums_its_ledger_rows(engine: AsyncEngine, ledger: BudgetLedger) -> None:
    """total_micros is what the thread's requests cost, from the ledger rows."""
    store = ThreadStore(engine)
    for key, cost in (("a", 39_000), ("b", 134_000)):
        await ledger.reserve(
            key=key,
            workspace_id=WORKSPACE,
            user_id="U1",
            estimate_micros=cost,
            at=AT,
            channel_id="C1",
            thread_ts="t1",
        )
        await ledger.settle(
            key, entries=[EntryIn(idempotency_key=key, model_id="m", cost_micros=cost)], at=AT
        )
    assert await store.total_micros(channel_id="C1", thread_ts="t1") == 173_000
    assert await store.total_micros(channel_id="C1", thread_ts="t2") == 0


async def test_pending_uploads_are_kept_until_posted(engine: AsyncEngine) -> None:
    """Pending uploads list oldest first, count failures and disappear once removed."""
    store = ThreadStore(engine)
    first = await store.add_pending_upload(
        channel_id="C1", thread_ts="t1", path="a.png", comment="Hero 1/2", at=AT, error="timeout"
    )
    second = await store.add_pending_upload(
        channel_id="C1", thread_ts=None, path="b.png", at=AT + timedelta(seconds=1)
    )
    assert (first.attempts, first.last_error) == (1, "timeout")
    failed = await store.note_upload_failure(second.id, error="ratelimited", at=AT)
    assert failed is not None
    assert (failed.attempts, failed.last_attempt_at) == (1, AT)
    assert [p.path for p in await store.pending_uploads()] == ["a.png", "b.png"]
    assert await store.remove_pending_upload(first.id)
    assert not await store.remove_pending_upload(first.id)
    assert [p.id for p in await store.pending_uploads()] == [second.id]
    assert await store.note_upload_failure(9999, error="x", at=AT) is None


async def test_an_alert_fires_once_across_replicas(alerts: AlertStore) -> None:
    """Concurrent claims of one threshold alert: exactly one fires; other thresholds still do."""
    results = await asyncio.gather(
        *(
            alerts.claim_alert(
                workspace_id=WORKSPACE, scope="U1", month="2026-11", threshold=80, at=AT
            )
            for _ in range(10)
        )
    )
    assert results.count(True) == 1
    assert await alerts.claim_alert(
        workspace_id=WORKSPACE, scope="U1", month="2026-11", threshold=100, at=AT
    )
    assert await alerts.claim_alert(
        workspace_id=WORKSPACE, scope=WORKSPACE_SCOPE, month="2026-11", threshold=80, at=AT
    )
    assert await alerts.claim_alert(
        workspace_id=WORKSPACE, scope="U1", month="2026-12", threshold=80, at=AT
    )


async def test_an_approval_raises_the_budget_exactly_once(
    alerts: AlertStore, ledger: BudgetLedger
) -> None:
    """Approving twice (even concurrently) raises the month's budget once."""
    request = await alerts.create_increase_request(
        workspace_id=WORKSPACE, user_id="U1", amount_micros=5_000_000, reason="launch", at=AT
    )
    assert request.state is IncreaseState.PENDING
    assert request.month == "2026-11"
    decisions = await asyncio.gather(
        *(
            alerts.decide_increase(request.id, approve=True, decided_by="UBOSS", at=AT)
            for _ in range(3)
        )
    )
    assert [d.changed for d in decisions].count(True) == 1
    winner = next(d for d in decisions if d.changed)
    assert winner.budget is not None
    assert winner.budget.amount_micros == USER_BUDGET + 5_000_000
    assert winner.request.state is IncreaseState.APPROVED
    assert winner.request.decided_by == "UBOSS"
    late = await alerts.decide_increase(request.id, approve=False, decided_by="UX", at=AT)
    assert not late.changed
    assert late.request.state is IncreaseState.APPROVED
    user, _ = await ledger.state(workspace_id=WORKSPACE, user_id="U1", at=AT)
    assert user.budget_micros == USER_BUDGET + 5_000_000


async def test_a_declined_request_changes_no_budget(
    alerts: AlertStore, ledger: BudgetLedger
) -> None:
    """Declining records who and when, and leaves the budget alone; lists filter by state."""
    request = await alerts.create_increase_request(
        workspace_id=WORKSPACE, user_id="U2", amount_micros=1_000_000, reason="", at=AT
    )
    decision = await alerts.decide_increase(request.id, approve=False, decided_by="UB", at=AT)
    assert decision.changed
    assert decision.budget is None
    assert decision.request.decided_at == AT
    assert (
        await alerts.list_increase_requests(workspace_id=WORKSPACE, state=IncreaseState.PENDING)
        == []
    )
    assert [r.id for r in await alerts.list_increase_requests(workspace_id=WORKSPACE)] == [
        request.id
    ]
    setting = await ledger.budget_for(workspace_id=WORKSPACE, user_id="U2", month="2026-11")
    assert setting.amount_micros == USER_BUDGET
    with pytest.raises(UnknownIncreaseRequest):
        await alerts.decide_increase(424242, approve=True, decided_by="UB", at=AT)


async def test_generation_requests_record_state_and_plan(engine: AsyncEngine) -> None:
    """A request is stored once, then moves through states with its plan."""
    store = RequestStore(engine)
    assert await store.record(
        key="req-1",
        workspace_id=WORKSPACE,
        user_id="U1",
        prompt="hero product shot",
        constraints={"purpose": "hero"},
        at=AT,
        channel_id="C1",
        thread_ts="t1",
    )
    assert not await store.record(
        key="req-1", workspace_id=WORKSPACE, user_id="U1", prompt="x", constraints={}, at=AT
    )
    updated = await store.update(
        "req-1", state=RequestState.DONE, plan={"tier": "hero"}, at=AT + timedelta(seconds=9)
    )
    assert updated is not None
    assert updated.plan == {"tier": "hero"}
    stored = await store.get("req-1")
    assert stored is not None
    assert (stored.state, stored.prompt, dict(stored.constraints)) == (
        RequestState.DONE,
        "hero product shot",
        {"purpose": "hero"},
    )
    assert await store.update("nope", state=RequestState.FAILED, at=AT) is None
