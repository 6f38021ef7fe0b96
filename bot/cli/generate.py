"""``imagebot generate``: make images from the command line, routed and priced like ``/image``.

The text is read exactly as after ``/image`` (purpose word, ``--4k``, ``--aspect 16:9``, ``-n 3``,
``--model``...). Quote it, or put it after ``--`` so its options are not read as the command's::

    imagebot generate "hero product shot of a lemonade can --16:9" -o out/
    imagebot generate -o out/ -- final "SUMMER SALE 50%" poster --4k

Planning uses the models the API key can see (``models.list``). Every call is reserved, settled
and recorded in the ledger like a Slack request (charged to ``--user``, default ``cli``, in the
workspace ``--team``, default ``cli``), so ``imagebot spend`` counts it. Needs GEMINI_API_KEY;
IMAGEBOT_GEMINI_BASE_URL points it elsewhere.
"""

from __future__ import annotations

import argparse
import asyncio
import mimetypes
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bot.cards import load_card
from bot.cli.teams import CLI_WORKSPACE, TeamUnknown, resolve_team
from bot.config import Settings, load_settings
from bot.dispatch import Dispatcher, ModelRegistry
from bot.images import ImageStore
from bot.jobs import Failed, ImageJobs, JobRequest, JobResult, Requester
from bot.ledger.budgets import BudgetLedger
from bot.ledger.engine import make_engine, upgrade
from bot.providers import ImageProvider, ProviderError, ReferenceImage
from router import (
    CommandError,
    Plan,
    RateCard,
    RateCardError,
    Refusal,
    parse_command,
)
from router.money import format_usd

__all__ = ["register"]

#: Who command-line generations are charged to in the ledger (see ``--user``/``--team``).
CLI_USER = "cli"
_SPINNER = "|/-\\"


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``generate`` to the ``imagebot`` command line."""
    parser = subparsers.add_parser(
        "generate",
        help="make images from a prompt, routed and priced like /image",
        description=(
            "Plan the request with the rate card, call Gemini, save the images to DIR and print "
            "the model used, the actual cost and any notices. Quote the text, or put it after "
            "--, so that its options (--4k, --aspect 16:9, -n 3, --model NAME...) are read as "
            "part of the request."
        ),
    )
    parser.add_argument("text", nargs="+", help="what you would type after /image")
    parser.add_argument(
        "-o", "--output", required=True, metavar="DIR", type=Path, help="folder for the images"
    )
    parser.add_argument(
        "--card", metavar="NAME", help="rate card name or TOML path (default: IMAGEBOT_RATE_CARD)"
    )
    parser.add_argument(
        "--ref",
        action="append",
        default=[],
        metavar="FILE",
        type=Path,
        help="a reference image (repeat for several); routes to the character tier",
    )
    parser.add_argument(
        "--user", default=CLI_USER, help=f"who is charged in the ledger (default {CLI_USER!r})"
    )
    parser.add_argument(
        "--team",
        default=None,
        help="workspace charged (default: the one Slack workspace using the bot, else 'cli')",
    )
    parser.set_defaults(func=_generate)


def _generate(args: argparse.Namespace) -> int:
    settings = load_settings()
    settings.require("gemini_api_key")
    text = " ".join(args.text)
    try:
        card = load_card(args.card or settings.rate_card)
        references = tuple(_read_reference(path) for path in args.ref)
    except RateCardError as exc:
        print(f"imagebot: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"imagebot: cannot use reference image: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(
        _run(
            settings,
            card=card,
            text=text,
            references=references,
            output=args.output,
            out=sys.stdout,
            err=sys.stderr,
            team=args.team,
            user=args.user,
        )
    )


def _read_reference(path: Path) -> ReferenceImage:
    mime_type, _ = mimetypes.guess_type(path.name)
    if mime_type is None or not mime_type.startswith("image/"):
        raise ValueError(f"{path} is not a PNG, JPEG or WebP image")
    return ReferenceImage(path.read_bytes(), mime_type)


def _provider(settings: Settings) -> ImageProvider:
    from bot.providers.gemini import GeminiProvider  # the SDK loads only when a call is made

    assert settings.gemini_api_key is not None  # checked by settings.require
    return GeminiProvider(
        api_key=settings.gemini_api_key.get_secret_value(),
        base_url=settings.gemini_base_url,
        api_version=settings.gemini_api_version,
        timeout_s=settings.gemini_timeout_s,
        max_concurrency=settings.gemini_concurrency,
    )


async def _run(
    settings: Settings,
    *,
    card: RateCard,
    text: str,
    references: Sequence[ReferenceImage],
    output: Path,
    out: TextIO,
    err: TextIO,
    team: str | None = None,
    user: str = CLI_USER,
) -> int:
    now = datetime.now(UTC)
    try:
        parsed = parse_command(text)
        if references:
            constraints = replace(parsed.constraints, reference_count=len(references))
        else:
            constraints = parsed.constraints
    except CommandError as exc:
        print(f"imagebot: {exc.message}", file=err)
        return 2
    await upgrade(settings.database_url)
    engine = make_engine(settings.database_url, pool_size=2)
    provider = _provider(settings)
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
        jobs = ImageJobs(
            card=card,
            ledger=BudgetLedger(
                engine,
                tz=settings.tz,
                default_user_budget_micros=settings.default_user_budget_micros,
                workspace_budget_micros=settings.workspace_budget_micros,
            ),
            dispatcher=Dispatcher(provider, card=card, registry=registry),
            registry=registry,
            images=ImageStore(output),
        )
        try:
            workspace_id = await resolve_team(engine, team, fallback=CLI_WORKSPACE)
        except TeamUnknown as exc:
            print(f"imagebot: {exc}", file=err)
            return 2
        request = JobRequest(
            key=f"cli:{uuid.uuid4().hex}",
            requester=Requester(workspace_id=workspace_id, user_id=user),
            prompt=parsed.prompt,
            constraints=constraints,
            references=tuple(references),
        )
        try:
            quote = await jobs.quote(request, at=now)
        except CommandError as exc:
            print(f"imagebot: {exc.message}", file=err)
            return 2
        if isinstance(quote.outcome, Refusal):
            print(f"imagebot: {quote.outcome.message}", file=err)
            return 1
        plan: Plan = quote.outcome
        count = "1 image" if plan.image_count == 1 else f"{plan.image_count} images"
        print(
            f"plan: {count} on {plan.primary.display_name} ({plan.primary.model_id}), "
            f"{plan.primary.image_size}, estimate {format_usd(plan.estimate_micros)}",
            file=out,
        )
        for line in plan.notices:
            print(f"notice: {line}", file=out)
        if constraints.estimate_only:
            return 0
        work = jobs.run(request, plan, at=now, clock=lambda: datetime.now(UTC))
        result = await _with_progress(work, label=plan.primary.display_name, err=err)
    finally:
        await provider.aclose()
        await engine.dispose()
    return _report(result, output=output, out=out, err=err)


async def _with_progress(work: Any, *, label: str, err: TextIO) -> JobResult:
    """Await ``work`` showing a spinner with elapsed seconds on a terminal, else one line."""
    started = time.monotonic()
    if not err.isatty():
        print(f"Generating with {label}…", file=err, flush=True)
        result: JobResult = await work
        return result
    task: asyncio.Task[JobResult] = asyncio.ensure_future(work)
    frame = 0
    while not task.done():
        elapsed = time.monotonic() - started
        err.write(f"\r{_SPINNER[frame % len(_SPINNER)]} Generating with {label}… {elapsed:4.1f}s")
        err.flush()
        frame += 1
        await asyncio.wait({task}, timeout=0.1)
    err.write("\r\033[K")
    err.flush()
    return task.result()


def _report(result: JobResult, *, output: Path, out: TextIO, err: TextIO) -> int:
    """Print what was made, what it cost (as recorded in the ledger) and where it was saved."""
    if isinstance(result, Failed):
        print(f"cost: {format_usd(result.charged_micros)}", file=out)
        for line in result.notices:
            print(f"notice: {line}", file=out)
        print(f"imagebot: {result.message}", file=err)
        return 1
    print(f"model: {result.model_name} ({result.model_id})", file=out)
    print(f"cost: {format_usd(result.cost_micros)}", file=out)
    for line in result.notices:
        print(f"notice: {line}", file=out)
    for image in result.images:
        print(f"saved: {output / image.path}", file=out)
    for line in result.failures:
        print(line, file=err)
    return 0 if not result.failures else 3
