"""``imagebot batch``: many images at half price through the Gemini Batch API.

::

    imagebot batch submit skus.txt --team T0123 --user U0456 --2k --aspect 1:1
    imagebot batch status            # every recent job: state, images, estimate, age
    imagebot batch status sku-run-1  # one job in detail
    imagebot batch collect           # ask Google once; save and settle what finished

``FILE`` holds one prompt per line; blank lines and lines starting with ``#`` are skipped. The
job is planned like ``/image`` with batch pricing, its whole estimate is reserved against the
budget of ``--user`` in ``--team`` (default: the one Slack workspace using the bot, else ``cli``),
and the prompts go to Google as one job. Results arrive within a day (a job Google does not run
within 48 hours expires, and costs nothing); ``collect`` (or the running bot, which polls on its
own) saves the images under ``IMAGEBOT_IMAGE_DIR/batches/<job>/`` and records the actual cost, on
the rate card the job was submitted with. Exit codes: 0 done, 1 refused or not submitted, 2 the
file, the options or the card are wrong (or ``--team`` is needed).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.batch import BatchJobs, BatchQuote, NotSubmitted, PollResult
from bot.cards import load_card
from bot.cli.teams import CLI_WORKSPACE, TeamUnknown, resolve_team
from bot.config import Settings, load_settings
from bot.dispatch import ModelRegistry
from bot.images import ImageStore
from bot.ledger.batches import BatchJobInfo, BatchStore
from bot.ledger.budgets import BudgetLedger
from bot.ledger.engine import make_engine, upgrade
from bot.providers.base import ProviderError
from router import CommandError, Constraints, Purpose, RateCard, RateCardError, Refusal
from router.money import format_usd

__all__ = ["read_prompts", "register"]

#: Who command-line batches are charged to by default (as ``imagebot generate``).
CLI_USER = "cli"


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``batch submit|status|collect`` to the ``imagebot`` command line."""
    parser = subparsers.add_parser(
        "batch",
        help="make many images at half price with the Batch API (results within a day)",
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
    )
    commands = parser.add_subparsers(dest="batch_command", metavar="SUBCOMMAND")
    commands.required = True

    submit = commands.add_parser(
        "submit",
        help="submit a file of prompts (one per line) as one batch job",
        description=(
            "Plan the prompts as one batch job, reserve its estimate and send it to Google. "
            "Prints the plan, the batch estimate against the interactive price, and the job id."
        ),
    )
    submit.add_argument("file", type=Path, metavar="FILE", help="one prompt per line")
    submit.add_argument(
        "--team",
        help=f"workspace charged (default: the one Slack workspace, else {CLI_WORKSPACE})",
    )
    submit.add_argument("--user", default=CLI_USER, help="who is charged (default cli)")
    submit.add_argument("--key", help="job id; the same id never submits twice (default: new)")
    submit.add_argument("--card", metavar="NAME", help="rate card (default: IMAGEBOT_RATE_CARD)")
    submit.add_argument("--estimate", action="store_true", help="print the plan, submit nothing")
    for purpose in (Purpose.ECONOMY, Purpose.DRAFT, Purpose.HERO, Purpose.FINAL):
        submit.add_argument(
            f"--{purpose.value}",
            dest="purpose",
            action="store_const",
            const=purpose,
            help=f"purpose {purpose.value}",
        )
    for flag, size in (("--512", "512"), ("--1k", "1K"), ("--2k", "2K"), ("--4k", "4K")):
        submit.add_argument(flag, dest="size", action="store_const", const=size, help=size)
    submit.add_argument("--size", dest="size", help="512, 1K, 2K or 4K")
    submit.add_argument("--aspect", "--ar", dest="aspect", help="aspect ratio, e.g. 16:9")
    submit.add_argument("--model", help="model id or display name")
    submit.add_argument("--tier", help="tier name")
    submit.add_argument("--thinking", choices=("minimal", "high"), help="thinking level")
    submit.add_argument("--text", action="store_true", help="the images carry text")
    submit.set_defaults(func=_submit_command, purpose=Purpose.ECONOMY)

    status = commands.add_parser("status", help="list batch jobs, or show one")
    status.add_argument("job", nargs="?", metavar="JOB", help="a job id")
    status.add_argument(
        "--team",
        help=f"only this workspace's jobs (default: the one Slack workspace, else {CLI_WORKSPACE})",
    )
    status.set_defaults(func=_status_command)

    collect = commands.add_parser(
        "collect", help="ask Google about open jobs once; save and settle what finished"
    )
    collect.set_defaults(func=_collect_command)


def read_prompts(text: str) -> list[str]:
    """The prompts of a batch file: one per line, blank lines and ``#`` comments skipped."""
    prompts: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            prompts.append(stripped)
    return prompts


# -- submit ---------------------------------------------------------------------------------------


def _submit_command(args: argparse.Namespace) -> int:
    settings = load_settings()
    settings.require("gemini_api_key")
    try:
        prompts = read_prompts(args.file.read_text(encoding="utf-8"))
        card = load_card(args.card or settings.rate_card)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"imagebot: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    except RateCardError as exc:
        print(f"imagebot: {exc}", file=sys.stderr)
        return 2
    if not prompts:
        print(f"imagebot: {args.file} has no prompts (one per line).", file=sys.stderr)
        return 2
    constraints = Constraints(
        purpose=args.purpose,
        text_heavy=args.text,
        image_size=args.size.upper() if args.size and args.size != "512" else args.size,
        aspect_ratio=args.aspect,
        model_pin=args.model,
        tier_pin=args.tier,
        thinking_level=args.thinking,
    )
    request = _SubmitRequest(
        prompts=prompts,
        constraints=constraints,
        team=args.team,
        user=args.user,
        key=args.key or f"batch-{uuid.uuid4().hex[:12]}",
        estimate_only=args.estimate,
    )
    return asyncio.run(
        _submit(settings, card=card, request=request, out=sys.stdout, err=sys.stderr)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _SubmitRequest:
    prompts: Sequence[str]
    constraints: Constraints
    team: str | None
    user: str
    key: str
    estimate_only: bool


async def _submit(
    settings: Settings, *, card: RateCard, request: _SubmitRequest, out: TextIO, err: TextIO
) -> int:
    now = datetime.now(UTC)
    async with _batch_jobs(settings, card=card, err=err) as (jobs, engine):
        try:
            team = await resolve_team(engine, request.team, fallback=CLI_WORKSPACE)
        except TeamUnknown as exc:
            print(f"imagebot: {exc}", file=err)
            return 2
        try:
            quote = await jobs.quote(
                workspace_id=team,
                user_id=request.user,
                prompts=request.prompts,
                constraints=request.constraints,
                at=now,
            )
        except CommandError as exc:
            print(f"imagebot: {exc.message}", file=err)
            return 2
        if isinstance(quote, Refusal):
            print(f"imagebot: {quote.message}", file=err)
            return 1
        _print_quote(quote, out=out)
        if request.estimate_only:
            return 0
        result = await jobs.submit(
            workspace_id=team,
            user_id=request.user,
            prompts=request.prompts,
            constraints=request.constraints,
            key=request.key,
            at=now,
        )
    if isinstance(result, NotSubmitted):
        print(f"imagebot: {result.message}", file=err)
        return 1
    job = result.job
    if result.duplicate:
        print(f"job {job.key} was submitted before ({job.state.value}); nothing new sent", file=out)
        return 0
    if job.name is None:
        print(
            f"job: {job.key} (Google did not answer in time; `imagebot batch collect` finds out "
            "whether the job was created)",
            file=out,
        )
        return 0
    print(f"job: {job.key} ({job.name}), results within 24 hours", file=out)
    print("collect with: imagebot batch collect", file=out)
    return 0


def _print_quote(quote: BatchQuote, *, out: TextIO) -> None:
    primary = quote.plan.primary
    count = "1 image" if quote.image_count == 1 else f"{quote.image_count} images"
    print(
        f"plan: {count} on {primary.display_name} ({primary.model_id}), {primary.image_size}, "
        f"batch estimate {format_usd(quote.estimate_micros)}",
        file=out,
    )
    print(
        f"interactive price: {format_usd(quote.interactive_micros)}, "
        f"batch saves {format_usd(quote.saving_micros)}",
        file=out,
    )
    for reason in quote.plan.reasons:
        print(f"why: {reason}", file=out)
    for notice in quote.plan.notices:
        print(f"notice: {notice}", file=out)


# -- status ---------------------------------------------------------------------------------------


def _status_command(args: argparse.Namespace) -> int:
    settings = load_settings()
    return asyncio.run(
        _status(settings, job=args.job, team=args.team, out=sys.stdout, err=sys.stderr)
    )


async def _status(
    settings: Settings, *, job: str | None, team: str | None, out: TextIO, err: TextIO
) -> int:
    now = datetime.now(UTC)
    await upgrade(settings.database_url)
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        store = BatchStore(engine)
        if job is not None:
            found = await store.get(job)
            if found is None:
                print(f"imagebot: no batch job {job!r}", file=err)
                return 1
            _print_job(found, settings=settings, now=now, out=out)
            return 0
        try:
            workspace = await resolve_team(engine, team, fallback=CLI_WORKSPACE)
        except TeamUnknown as exc:
            print(f"imagebot: {exc}", file=err)
            return 2
        jobs = await store.list_recent(workspace_id=workspace)
    finally:
        await engine.dispose()
    if not jobs:
        print("no batch jobs", file=out)
        return 0
    header = f"{'JOB':<24} {'STATE':<10} {'IMAGES':>9} {'ESTIMATE':>10} {'COST':>10} {'AGE':>6}"
    print(header, file=out)
    for info in jobs:
        images = f"{info.succeeded_count}/{info.request_count}"
        cost = format_usd(info.actual_micros) if info.actual_micros is not None else "-"
        print(
            f"{info.key:<24} {info.state.value:<10} {images:>9} "
            f"{format_usd(info.estimate_micros):>10} {cost:>10} {_age(now - info.created_at):>6}",
            file=out,
        )
    return 0


def _print_job(info: BatchJobInfo, *, settings: Settings, now: datetime, out: TextIO) -> None:
    print(f"job: {info.key} ({info.name or 'not at Google yet'})", file=out)
    print(f"state: {info.state.value}, submitted {_age(now - info.created_at)} ago", file=out)
    print(f"model: {info.model_id}, {info.image_size}, tier {info.tier}", file=out)
    print(f"who: {info.user_id} in {info.workspace_id}", file=out)
    print(f"images: {info.succeeded_count} made of {info.request_count}", file=out)
    print(f"estimate: {format_usd(info.estimate_micros)}", file=out)
    if info.actual_micros is not None:
        print(f"cost: {format_usd(info.actual_micros)}", file=out)
    if info.output_dir and info.finished_at is not None and info.succeeded_count:
        print(f"folder: {settings.image_dir / info.output_dir}", file=out)
    if info.error:
        print(f"note: {info.error}", file=out)


def _age(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 48 * 60:
        return f"{minutes // 60}h"
    return f"{minutes // (24 * 60)}d"


# -- collect --------------------------------------------------------------------------------------


def _collect_command(args: argparse.Namespace) -> int:
    settings = load_settings()
    settings.require("gemini_api_key")
    try:
        card = load_card(settings.rate_card)
    except RateCardError as exc:
        print(f"imagebot: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_collect(settings, card=card, out=sys.stdout, err=sys.stderr))


async def _collect(settings: Settings, *, card: RateCard, out: TextIO, err: TextIO) -> int:
    async with _batch_jobs(settings, card=card, err=err) as (jobs, _):
        results = await jobs.poll(at=datetime.now(UTC))
    if not results:
        print("no open batch jobs", file=out)
        return 0
    for result in results:
        _print_poll(result, settings=settings, out=out)
    return 0


def _print_poll(result: PollResult, *, settings: Settings, out: TextIO) -> None:
    if not result.finished:
        line = f"{result.key}: {result.state.value}"
        if result.message:
            line += f" ({result.message})"
        print(line, file=out)
        return
    print(f"{result.key}: {result.state.value}. {result.message or ''}".rstrip(), file=out)
    if result.images and result.output_dir:
        print(f"  images: {settings.image_dir / result.output_dir}", file=out)
    print(
        f"  cost: {format_usd(result.cost_micros)} (estimate {format_usd(result.estimate_micros)})",
        file=out,
    )
    for failure in result.failures:
        print(f"  {failure}", file=out)


# -- wiring ---------------------------------------------------------------------------------------


@asynccontextmanager
async def _batch_jobs(
    settings: Settings, *, card: RateCard, err: TextIO
) -> AsyncIterator[tuple[BatchJobs, AsyncEngine]]:
    """The use case wired to the database, the provider and ``card``, with the engine."""
    from bot.providers.gemini import GeminiProvider  # the SDK loads only when a call is made

    assert settings.gemini_api_key is not None  # checked by settings.require
    await upgrade(settings.database_url)
    engine = make_engine(settings.database_url, pool_size=2)
    provider = GeminiProvider(
        api_key=settings.gemini_api_key.get_secret_value(),
        base_url=settings.gemini_base_url,
        api_version=settings.gemini_api_version,
        timeout_s=settings.gemini_timeout_s,
        max_concurrency=settings.gemini_concurrency,
    )
    try:
        registry = ModelRegistry()
        try:
            registry.set_listed(await provider.list_models())
        except ProviderError as exc:
            print(
                f"warning: could not list the models this key can use ({exc.kind}); "
                "routing on the rate card's dates only",
                file=err,
            )
        jobs = BatchJobs(
            card=card,
            ledger=BudgetLedger(
                engine,
                tz=settings.tz,
                default_user_budget_micros=settings.default_user_budget_micros,
                workspace_budget_micros=settings.workspace_budget_micros,
            ),
            provider=provider,
            store=BatchStore(engine),
            images=ImageStore(settings.image_dir),
            registry=registry,
        )
        yield jobs, engine
    finally:
        await provider.aclose()
        await engine.dispose()
