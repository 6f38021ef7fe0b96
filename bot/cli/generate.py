"""``imagebot generate``: make images from the command line, routed and priced like ``/image``.

The text is read exactly as after ``/image`` (purpose word, ``--4k``, ``--aspect 16:9``, ``-n 3``,
``--model``...). Quote it, or put it after ``--`` so its options are not read as the command's::

    imagebot generate "hero product shot of a lemonade can --16:9" -o out/
    imagebot generate -o out/ -- final "SUMMER SALE 50%" poster --4k

Planning uses no budget (the command line is the operator's) and the models the API key can see
(``models.list``). Needs GEMINI_API_KEY; IMAGEBOT_GEMINI_BASE_URL points it elsewhere.
"""

from __future__ import annotations

import argparse
import asyncio
import mimetypes
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bot.cards import load_card
from bot.config import Settings, load_settings
from bot.dispatch import Dispatcher, DispatchOutcome, ModelRegistry
from bot.providers import ImageProvider, ProviderError, ReferenceImage
from router import (
    BudgetState,
    CommandError,
    Plan,
    RateCard,
    RateCardError,
    Refusal,
    parse_command,
    plan_request,
)
from router.money import format_usd

__all__ = ["register"]

_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}
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
) -> int:
    today = datetime.now(UTC).date()
    try:
        parsed = parse_command(text)
        if references:
            constraints = replace(parsed.constraints, reference_count=len(references))
        else:
            constraints = parsed.constraints
    except CommandError as exc:
        print(f"imagebot: {exc.message}", file=err)
        return 2
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
        try:
            planned = plan_request(
                constraints,
                card=card,
                budgets=[BudgetState(consumed_micros=0, budget_micros=None, scope="user")],
                availability=registry.availability(),
                today=today,
            )
        except CommandError as exc:
            print(f"imagebot: {exc.message}", file=err)
            return 2
        if isinstance(planned, Refusal):  # cannot happen without a budget; kept for safety
            print(f"imagebot: {planned.message}", file=err)
            return 1
        plan: Plan = planned
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
        dispatcher = Dispatcher(provider, card=card, registry=registry)
        work = dispatcher.run(plan, prompt=parsed.prompt, references=references, today=today)
        outcome = await _with_progress(work, label=plan.primary.display_name, err=err)
    finally:
        await provider.aclose()
    return _report(outcome, output=output, out=out, err=err)


async def _with_progress(work: Any, *, label: str, err: TextIO) -> DispatchOutcome:
    """Await ``work`` showing a spinner with elapsed seconds on a terminal, else one line."""
    started = time.monotonic()
    if not err.isatty():
        print(f"Generating with {label}…", file=err, flush=True)
        result: DispatchOutcome = await work
        return result
    task: asyncio.Task[DispatchOutcome] = asyncio.ensure_future(work)
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


def _report(outcome: DispatchOutcome, *, output: Path, out: TextIO, err: TextIO) -> int:
    saved: list[Path] = []
    if outcome.images:
        output.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        for index, image in enumerate(outcome.images, start=1):
            path = output / f"imagebot-{stamp}-{index}{_EXTENSIONS.get(image.mime_type, '.bin')}"
            path.write_bytes(image.data)
            saved.append(path)
    if outcome.model_id is not None:
        print(f"model: {outcome.display_name} ({outcome.model_id})", file=out)
    print(f"cost: {format_usd(outcome.cost_micros)}", file=out)
    for line in outcome.notices:
        print(f"notice: {line}", file=out)
    for path in saved:
        print(f"saved: {path}", file=out)
    failures = [error for error in outcome.failed if error is not None]
    for index, error in enumerate(outcome.failed, start=1):
        if error is not None:
            print(f"image {index} failed: {error.user_message}", file=err)
    if not saved:
        return 1
    return 0 if not failures else 3
