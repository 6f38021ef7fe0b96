"""The composition root: the one place that builds the bot's objects and wires them together.

:func:`build_runtime` turns :class:`~bot.config.Settings` into a :class:`Runtime` (database
migrated and recovered, rate card loaded, models checked against ``models.list``, Slack app with
its listeners); :func:`web_application` serves it over HTTP (``POST /slack/events``,
``GET /healthz``, ``GET /metrics``); :func:`serve` runs it until SIGTERM, in Socket Mode when an
app token is set. Tests call the same functions with fakes' base URLs, so what they exercise is
what production runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.alerts import check_thresholds, deliver_notices
from bot.batch import BatchJobs
from bot.cards import load_card
from bot.config import Settings
from bot.dispatch import Dispatcher, ModelRegistry
from bot.images import ImageStore
from bot.jobs import ImageJobs, Requester
from bot.ledger.alerts import AlertStore
from bot.ledger.batches import BatchStore
from bot.ledger.budgets import BudgetLedger
from bot.ledger.deliveries import DeliveryStore
from bot.ledger.engine import check_schema, make_engine, upgrade
from bot.ledger.reports import ReportStore
from bot.ledger.requests import RequestStore
from bot.ledger.threads import ThreadStore
from bot.listeners.image import ImageFlow
from bot.listeners.register import register_image
from bot.listeners.spend import SlackNotifier, register_spend
from bot.metrics import Metrics
from bot.providers import ImageProvider, ProviderError
from bot.providers.gemini import GeminiProvider
from bot.reports.blocks import ask_more_block
from bot.slack_io import (
    DownloadPolicy,
    SlackFileDownloader,
    SlackMessages,
    SlackUploads,
)
from bot.tasks import TaskTracker
from router import RateCard, Refusal

__all__ = [
    "Runtime",
    "build_runtime",
    "connect_socket_mode",
    "serve",
    "utc_now",
    "web_application",
]

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    """The wall clock, UTC-aware (injected everywhere time matters)."""
    return datetime.now(UTC)


@dataclass(slots=True)
class Runtime:
    """Everything a running bot owns; :meth:`aclose` releases it in reverse order."""

    settings: Settings
    card: RateCard
    engine: AsyncEngine
    provider: ImageProvider
    registry: ModelRegistry
    http: aiohttp.ClientSession
    slack: AsyncWebClient
    bolt: AsyncApp
    tasks: TaskTracker
    metrics: Metrics
    flow: ImageFlow
    ledger: BudgetLedger
    batches: BatchJobs | None
    clock: Callable[[], datetime]
    _closed: bool = field(default=False)

    async def healthy(self) -> bool:
        """True when the database answers."""
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            log.warning("healthz database check failed", exc_info=True)
            return False
        return True

    async def maintain(self) -> None:
        """One maintenance pass (each step survives the others' failures):

        repost images Slack refused, settle reservations orphaned by a crashed replica (at their
        estimate, marked interrupted), ask models.list again if start-up could not, collect
        finished Batch API jobs, and forget Slack delivery ids older than Slack's retry window.
        """
        steps: tuple[tuple[str, Callable[[], Awaitable[object]]], ...] = (
            ("repost", self.flow.repost_pending),
            ("recover", lambda: self.ledger.recover_interrupted(at=self.clock())),
            ("models", self._refresh_models),
            ("batches", self._poll_batches),
            (
                "forget",
                lambda: self.flow.deliveries.forget_before(self.clock() - timedelta(days=3)),
            ),
        )
        for name, step in steps:
            try:
                await step()
            except Exception:
                log.exception("maintenance step failed step=%s", name)

    async def _poll_batches(self) -> None:
        if self.batches is not None:
            for result in await self.batches.poll(at=self.clock()):
                if result.changed:
                    log.info(
                        "batch job key=%s state=%s %s", result.key, result.state, result.message
                    )

    async def _refresh_models(self) -> None:
        if self.registry.listed is None:
            await self.registry.refresh(self.provider)

    async def maintenance_loop(self, stop: asyncio.Event, *, every_s: float = 600.0) -> None:
        """Run :meth:`maintain` every ``every_s`` seconds until ``stop`` is set."""
        while not stop.is_set():
            await self.maintain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every_s)

    async def aclose(self, *, grace_s: float = 25.0) -> None:
        """Finish or cancel running work, then close clients and the database."""
        if self._closed:
            return
        self._closed = True
        await self.tasks.shutdown(grace_s=grace_s)
        await self.provider.aclose()
        await self.http.close()
        await self.engine.dispose()


RUNTIME_KEY = web.AppKey("runtime", Runtime)


async def build_runtime(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_now,
    provider: ImageProvider | None = None,
) -> Runtime:
    """Build a ready-to-serve bot from its settings (see the module docstring)."""
    settings.require("slack_bot_token", "gemini_api_key")
    if settings.slack_app_token is None:
        settings.require("slack_signing_secret")
    assert settings.slack_bot_token is not None  # narrowed by require()
    assert settings.gemini_api_key is not None
    card = load_card(settings.rate_card)

    await upgrade(settings.database_url)
    await check_schema(settings.database_url)
    engine = make_engine(settings.database_url)
    tz = settings.tz
    ledger = BudgetLedger(
        engine,
        tz=tz,
        default_user_budget_micros=settings.default_user_budget_micros,
        workspace_budget_micros=settings.workspace_budget_micros,
    )
    recovered = await ledger.recover_interrupted(at=clock())
    if recovered:
        log.warning("recovered interrupted reservations count=%d", recovered)

    if provider is None:
        provider = GeminiProvider(
            api_key=settings.gemini_api_key.get_secret_value(),
            base_url=settings.gemini_base_url,
            api_version=settings.gemini_api_version,
            timeout_s=settings.gemini_timeout_s,
            max_concurrency=settings.gemini_concurrency,
        )
    registry = ModelRegistry()
    try:
        listed = await provider.list_models()
    except ProviderError as exc:
        # Routing then relies on retirement dates and live 404s; say so loudly.
        log.error("models.list failed at start-up error=%s; routing on card dates only", exc)
    else:
        registry.set_listed(listed)
        log.info("models.list ok count=%d", len(listed))

    http = aiohttp.ClientSession()
    slack = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
    )
    bolt = AsyncApp(
        signing_secret=(
            settings.slack_signing_secret.get_secret_value()
            if settings.slack_signing_secret is not None
            else None
        ),
        client=slack,
        request_verification_enabled=settings.slack_signing_secret is not None,
        # Listeners only claim, plan and spawn (milliseconds); the slow work runs in our own
        # TaskTracker, so nothing bolt starts is left unowned.
        process_before_response=True,
    )
    tasks = TaskTracker()
    metrics = Metrics.create()
    images = ImageStore(settings.image_dir)
    jobs = ImageJobs(
        card=card,
        ledger=ledger,
        dispatcher=Dispatcher(provider, card=card, registry=registry),
        registry=registry,
        images=images,
    )
    messages = SlackMessages(slack, session=http)
    alerts = AlertStore(engine, budgets=ledger)
    notifier = SlackNotifier(slack)

    async def after_settle(requester: Requester) -> None:
        """Budget alerts at 50/90/100% (user) and 90/100% (workspace), once per month."""
        at = clock()
        user, workspace = await ledger.state(
            workspace_id=requester.workspace_id, user_id=requester.user_id, at=at
        )
        notices = await check_thresholds(
            claims=alerts,
            workspace_id=requester.workspace_id,
            user_id=requester.user_id,
            month=ledger.month_of(at),
            user=user,
            workspace=workspace,
            at=at,
        )
        await deliver_notices(notices, notifier=notifier, managers=settings.admins)

    def ask_more(refusal: Refusal, user_id: str) -> dict[str, Any] | None:
        """The "Ask for more" button under a budget refusal (user budgets only)."""
        del user_id
        if refusal.scope != "user":
            return None
        return ask_more_block(suggested_micros=refusal.estimate_micros - refusal.left_micros)

    flow = ImageFlow(
        jobs=jobs,
        deliveries=DeliveryStore(engine),
        threads=ThreadStore(engine),
        requests=RequestStore(engine),
        images=images,
        tasks=tasks,
        metrics=metrics,
        clock=clock,
        confirm_above_micros=settings.confirm_above_micros,
        messages=messages,
        uploads=SlackUploads(slack),
        downloader=SlackFileDownloader(
            http,
            token=settings.slack_bot_token.get_secret_value(),
            policy=DownloadPolicy(
                allowed_hosts=settings.slack_file_hosts,
                max_bytes=settings.max_download_mb * 1024 * 1024,
            ),
        ),
        ask_more=ask_more,
        after_settle=after_settle,
    )
    register_image(bolt, flow)
    register_spend(
        bolt,
        ledger=ledger,
        reports=ReportStore(engine, tz=tz),
        alerts=alerts,
        card=card,
        admins=settings.admins,
        tz=tz,
        clock=clock,
        tasks=tasks,
        deliveries=flow.deliveries,
    )
    return Runtime(
        settings=settings,
        card=card,
        engine=engine,
        provider=provider,
        registry=registry,
        http=http,
        slack=slack,
        bolt=bolt,
        tasks=tasks,
        metrics=metrics,
        flow=flow,
        ledger=ledger,
        batches=(
            BatchJobs(
                card=card,
                ledger=ledger,
                provider=provider,
                store=BatchStore(engine),
                images=images,
                registry=registry,
            )
            if isinstance(provider, GeminiProvider)
            else None
        ),
        clock=clock,
    )


def web_application(runtime: Runtime) -> web.Application:
    """The HTTP face of the bot: Slack events, health and metrics."""
    app = web.Application()
    app[RUNTIME_KEY] = runtime

    async def slack_events(request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        bolt_response = await runtime.bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def healthz(_: web.Request) -> web.Response:
        if await runtime.healthy():
            return web.json_response({"status": "ok"})
        return web.json_response({"status": "database unavailable"}, status=503)

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=runtime.metrics.render(), content_type="text/plain")

    if runtime.settings.slack_signing_secret is not None:
        # Without a signing secret (Socket Mode) nothing could tell Slack's requests from
        # forgeries, so the HTTP endpoint is not served at all.
        app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


async def connect_socket_mode(runtime: Runtime, app_token: str) -> AsyncSocketModeHandler:
    """Connect the bot to Slack over Socket Mode (no public URL); close it with close_async()."""
    handler = AsyncSocketModeHandler(runtime.bolt, app_token, web_client=runtime.slack)
    await handler.connect_async()  # type: ignore[no-untyped-call]  # bolt leaves it unannotated
    return handler


async def serve(settings: Settings, *, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - a server listens on all interfaces by design; set --host to narrow it
    """Run the bot until SIGINT/SIGTERM: Socket Mode with an app token, else HTTP events."""
    runtime = await build_runtime(settings)
    runner = web.AppRunner(web_application(runtime))
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    socket: AsyncSocketModeHandler | None = None
    if settings.slack_app_token is not None:
        socket = await connect_socket_mode(runtime, settings.slack_app_token.get_secret_value())
        log.info("serving mode=socket health_port=%d", port)
    else:
        log.info("serving mode=http port=%d path=/slack/events", port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    maintenance = runtime.tasks.spawn(runtime.maintenance_loop(stop), name="maintenance")
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        if maintenance is not None:
            maintenance.cancel()
        if socket is not None:
            await socket.close_async()  # type: ignore[no-untyped-call]  # bolt leaves it unannotated
        await runtime.aclose()
        await runner.cleanup()
