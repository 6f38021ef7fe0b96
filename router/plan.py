"""Planning one request: which model (and settings) serves it, what it will cost, or why not.

:func:`plan_request` runs these stages in order:

1. **Checks** that need no model: count 1..4, a known size, aspect ratio syntax, a known tier,
   an edit has an image to edit, a pinned model exists on the card.
2. **Tier** by purpose (the seed's rules, with ``--tier`` overriding): reference images attached
   or purpose character -> character; final -> final (with or without text: a final render is
   the job of the final tier, text only makes it more so); hero -> hero; draft -> draft;
   edit -> edit; anything else -> economy.
3. **Budget guard, before the purpose rules can spend.** When the most-consumed budget is at 90%
   or more, the purpose's tier (and any ``--model``) is set aside and the request goes to the
   cheapest usable model that can still do the job (``downgraded=True``). The seed checked this
   after its purpose rules, so a hero request at 95% still went to the expensive model.
4. **Availability** (see :mod:`router.availability`): a retired, unreleased, unlisted or 404'd
   model is replaced by its successor chain, with a one-line notice.
5. **Capability**: input images within the model's limit, the size, the aspect ratio, batch.
   A tier whose options cannot do the job widens to the other usable models on the card
   (cheapest first, or best at text for text-heavy requests), saying so; a pinned model that
   cannot do it, or a job no model can do, raises :class:`~router.errors.CommandError` naming
   what would work.
6. **Refusal**: when the estimate would take any budget past 100%, a :class:`Refusal` says what
   is spent, what is left and, when one exists, a cheaper choice that would fit.
7. **Rank**: the primary choice and ordered fallbacks (the tier's other options, then
   successors), each a :class:`Choice` with its estimate for one image.

Everything is pure: ``today`` and the availability are passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from router.availability import Availability, successor_for, unavailable_reason
from router.budget import BudgetState
from router.card import ModelSpec, RateCard
from router.constraints import IMAGE_SIZES, MAX_IMAGES_PER_REQUEST, Constraints, Purpose
from router.errors import CommandError
from router.money import format_usd
from router.pricing import estimate_image_micros

__all__ = ["GUARD_FRACTION", "Choice", "Plan", "Refusal", "plan_request"]

#: At this consumed share of a budget (or more) requests go to the cheapest capable model.
GUARD_FRACTION = Decimal("0.9")

_MAX_GUARD_FALLBACKS = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Choice:
    """One way to make the image: model, settings, and the estimate for ONE image.

    ``image_size`` is always set (the size priced); whether it is sent to the API is the model's
    ``sends_image_size``. ``aspect_ratio`` and ``thinking_level`` None mean the model's default.
    """

    model_id: str
    display_name: str
    image_size: str
    aspect_ratio: str | None
    thinking_level: str | None
    estimate_micros: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """How a request will be served: the primary choice, fallbacks, estimate and why."""

    tier: Purpose
    primary: Choice
    fallbacks: tuple[Choice, ...]
    estimate_micros: int
    image_count: int
    reasons: tuple[str, ...]
    notices: tuple[str, ...]
    downgraded: bool
    constraints: Constraints

    @property
    def choices(self) -> tuple[Choice, ...]:
        """The primary followed by the fallbacks, in the order to try them."""
        return (self.primary, *self.fallbacks)


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """A request that would take a budget past 100%, with the figures and a cheaper way if any."""

    message: str
    scope: str
    consumed_micros: int
    budget_micros: int
    left_micros: int
    estimate_micros: int
    cheaper: Choice | None


@dataclass(frozen=True, slots=True)
class _Candidate:
    spec: ModelSpec
    image_size: str
    thinking_level: str | None


def plan_request(
    constraints: Constraints,
    *,
    card: RateCard,
    budgets: Sequence[BudgetState],
    availability: Availability,
    today: date,
) -> Plan | Refusal:
    """Plan ``constraints`` on ``card`` (see the module docstring for the stages).

    Returns a :class:`Plan`, or a :class:`Refusal` when a budget would go past 100%. Raises
    :class:`~router.errors.CommandError` for requests no model on the card can do as asked.
    """
    return _Planner(constraints, card=card, availability=availability, today=today).plan(budgets)


class _Planner:
    def __init__(
        self, constraints: Constraints, *, card: RateCard, availability: Availability, today: date
    ) -> None:
        self.c = constraints
        self.card = card
        self.availability = availability
        self.today = today
        self.reasons: list[str] = []
        self.notices: list[str] = []

    # -- the stages ------------------------------------------------------------------------

    def plan(self, budgets: Sequence[BudgetState]) -> Plan | Refusal:
        self.check()
        tier, why = self.route_tier()
        pinned = self.pinned_model()
        tightest = _tightest(budgets)
        guard = tightest is not None and _fraction(tightest) >= GUARD_FRACTION
        downgraded = False
        if guard and tightest is not None:
            primary, fallbacks = self.cheapest_plan(tightest, tier=tier, why=why, pinned=pinned)
            downgraded = True
        elif pinned is not None:
            primary, fallbacks = self.pinned_plan(pinned, tier=tier)
        else:
            primary, fallbacks = self.tier_plan(tier, why=why)
        self.thinking_reason(primary)
        plan = Plan(
            tier=tier,
            primary=primary,
            fallbacks=fallbacks,
            estimate_micros=primary.estimate_micros * self.c.image_count,
            image_count=self.c.image_count,
            reasons=tuple(self.reasons),
            notices=tuple(self.notices),
            downgraded=downgraded,
            constraints=self.c,
        )
        refusal = self.refusal(plan, budgets)
        return refusal if refusal is not None else plan

    def check(self) -> None:
        c = self.c
        if not 1 <= c.image_count <= MAX_IMAGES_PER_REQUEST:
            raise CommandError(
                f"You can ask for 1 to {MAX_IMAGES_PER_REQUEST} images at a time, "
                f"not {c.image_count}."
            )
        if c.reference_count < 0:
            raise CommandError("The number of reference images cannot be negative.")
        if c.image_size is not None and c.image_size not in IMAGE_SIZES:
            raise CommandError(
                f"{c.image_size} is not a size I know. Sizes: {', '.join(IMAGE_SIZES)}."
            )
        if c.aspect_ratio is not None and not _is_ratio(c.aspect_ratio):
            raise CommandError(
                f"{c.aspect_ratio} is not an aspect ratio. Write width:height, e.g. 16:9."
            )
        if c.tier_pin is not None and c.tier_pin not in {p.value for p in Purpose}:
            raise CommandError(
                f"There is no tier called {c.tier_pin!r}. Tiers: "
                f"{', '.join(p.value for p in Purpose)}."
            )

    def route_tier(self) -> tuple[Purpose, str]:
        c = self.c
        if c.tier_pin is not None:
            tier, why = Purpose(c.tier_pin), f"--tier {c.tier_pin} asked for"
        elif c.reference_count > 0:
            tier, why = Purpose.CHARACTER, "reference images attached"
        elif c.purpose == Purpose.CHARACTER:
            tier, why = Purpose.CHARACTER, "character consistency asked for"
        elif c.purpose == Purpose.FINAL:
            tier = Purpose.FINAL
            why = "final render with text" if c.text_heavy else "final render"
        elif c.purpose == Purpose.HERO:
            tier, why = Purpose.HERO, "hero image"
        elif c.purpose == Purpose.DRAFT:
            tier, why = Purpose.DRAFT, "draft"
        elif c.purpose == Purpose.EDIT:
            tier, why = Purpose.EDIT, "edit of an image"
        else:
            tier, why = Purpose.ECONOMY, "no special purpose"
        if tier == Purpose.EDIT and c.input_images == 0:
            raise CommandError(
                "An edit needs an image to change. Drop the image into the thread (or reply "
                "under it) and ask again, or leave out “edit” to make a new image."
            )
        return tier, why

    def pinned_model(self) -> ModelSpec | None:
        pin = self.c.model_pin
        if pin is None:
            return None
        spec = self.card.find_model(pin)
        if spec is None:
            usable = [s for s in self.card.models.values() if self.usable(s)]
            names = ", ".join(f"{s.display_name} ({s.id})" for s in usable)
            raise CommandError(
                f"I don't know a model called “{pin}”. Models you can use: {names}. "
                'Quote names with spaces, e.g. --model "Nano Banana Pro".'
            )
        return spec

    def tier_plan(self, tier: Purpose, *, why: str) -> tuple[Choice, tuple[Choice, ...]]:
        spec = self.card.tier(tier)
        resolved: list[tuple[_Candidate, str | None]] = []
        for option in spec.options:
            model = self.card.model(option.model)
            replacement, notice = self.resolve(model)
            if replacement is None:
                continue
            level = option.thinking_level if replacement.id == model.id else None
            size = self.c.image_size or (
                option.image_size if option.image_size in replacement.sizes else None
            )
            candidate = self.candidate(replacement, size=size, level=level)
            resolved.append((candidate, notice))
        capable = [(cand, notice) for cand, notice in resolved if not self.problems(cand)]
        if capable:
            primary, notice = capable[0]
            if notice:
                self.notices.append(notice)
            reason = f"{why} -> {primary.spec.display_name} ({spec.description})"
            skipped = [cand for cand, _ in resolved[: resolved.index(capable[0])]]
            if skipped:
                reason += f", because {self.first_problem(skipped, tier=tier)}"
            self.reasons.append(reason)
            rest = [cand for cand, _ in capable[1:]]
        else:
            problem = self.first_problem([cand for cand, _ in resolved], tier=tier)
            widened = self.capable_models(prefer_text=self.c.text_heavy)
            if not widened:
                raise CommandError(self.nothing_can_message(problem))
            primary = widened[0]
            self.reasons.append(
                f"{why} -> the {tier.value} tier cannot do this ({problem}); "
                f"{primary.spec.display_name} can"
            )
            rest = widened[1:3]
        fallbacks = self.fallbacks(primary, rest)
        return self.choice(primary), fallbacks

    def pinned_plan(self, pinned: ModelSpec, *, tier: Purpose) -> tuple[Choice, tuple[Choice, ...]]:
        model, notice = self.resolve(pinned)
        if model is None:
            raise CommandError(
                f"{pinned.display_name} {self.reason(pinned)} and has no replacement on this "
                f"rate card. Models you can use: {self.usable_names()}."
            )
        if notice:
            self.notices.append(notice)
        candidate = self.candidate(model, size=self.c.image_size, level=None)
        problems = self.problems(candidate)
        if problems:
            others = [cand.spec.display_name for cand in self.capable_models(prefer_text=False)]
            works = f" Models that can: {', '.join(others)}." if others else ""
            raise CommandError(f"{_sentence(problems[0])}.{works}")
        if model.id == pinned.id:
            self.reasons.append(f"--model {self.c.model_pin} asked for -> {model.display_name}")
        else:
            self.reasons.append(
                f"--model {self.c.model_pin} asked for, but it {self.reason(pinned)} "
                f"-> {model.display_name}"
            )
        rest: list[_Candidate] = []
        for option in self.card.tier(tier).options:
            replacement, _ = self.resolve(self.card.model(option.model))
            if replacement is not None:
                rest.append(self.candidate(replacement, size=self.c.image_size, level=None))
        rest = [cand for cand in rest if not self.problems(cand)]
        return self.choice(candidate), self.fallbacks(candidate, rest)

    def cheapest_plan(
        self,
        tightest: BudgetState,
        *,
        tier: Purpose,
        why: str,
        pinned: ModelSpec | None,
    ) -> tuple[Choice, tuple[Choice, ...]]:
        ranked = self.capable_models(prefer_text=False)
        if not ranked:
            options = [self.card.model(o.model) for o in self.card.tier(tier).options]
            candidates = [self.candidate(s, size=self.c.image_size, level=None) for s in options]
            raise CommandError(self.nothing_can_message(self.first_problem(candidates, tier=tier)))
        primary = ranked[0]
        share = _percent(_fraction(tightest))
        whose = "your" if tightest.scope == "user" else "the workspace's"
        asked = f"--model {self.c.model_pin}" if pinned is not None else why
        self.reasons.append(
            f"{share} of {whose} budget is used (the guard acts at 90%): {asked} set aside "
            f"-> {primary.spec.display_name}, the cheapest model that can do this "
            f"({format_usd(self.estimate(primary))} per image)"
        )
        if self.c.text_heavy and primary.spec.text_rank > min(
            cand.spec.text_rank for cand in ranked
        ):
            self.reasons.append(f"text may render less cleanly on {primary.spec.display_name}")
        return self.choice(primary), tuple(
            self.choice(cand) for cand in ranked[1 : 1 + _MAX_GUARD_FALLBACKS]
        )

    def refusal(self, plan: Plan, budgets: Sequence[BudgetState]) -> Refusal | None:
        over = [b for b in budgets if not b.fits(plan.estimate_micros)]
        if not over:
            return None
        worst = min(over, key=lambda b: b.left_micros or 0)
        assert worst.budget_micros is not None  # an unlimited budget always fits
        left = worst.left_micros or 0
        cheaper: Choice | None = None
        for cand in self.capable_models(prefer_text=False):
            cost = self.estimate(cand) * plan.image_count
            if cost < plan.estimate_micros and all(b.fits(cost) for b in budgets):
                cheaper = self.choice(cand)
                break
        whose = "your" if worst.scope == "user" else "the workspace's"
        images = "this image" if plan.image_count == 1 else f"these {plan.image_count} images"
        message = (
            f"Not enough budget: {images} would cost about {format_usd(plan.estimate_micros)}, "
            f"but {whose} budget this month has {format_usd(left)} left "
            f"({format_usd(worst.consumed_micros)} of {format_usd(worst.budget_micros)} spent)."
        )
        if cheaper is not None:
            cost = cheaper.estimate_micros * plan.image_count
            message += (
                f" {cheaper.display_name} would fit at {format_usd(cost)}: add --model "
                f'"{cheaper.display_name}".'
            )
        elif plan.image_count > 1 and all(b.fits(plan.primary.estimate_micros) for b in budgets):
            message += " One image would fit: try -n 1."
        message += " An admin can raise the budget."
        return Refusal(
            message=message,
            scope=worst.scope,
            consumed_micros=worst.consumed_micros,
            budget_micros=worst.budget_micros,
            left_micros=left,
            estimate_micros=plan.estimate_micros,
            cheaper=cheaper,
        )

    # -- helpers ---------------------------------------------------------------------------

    def usable(self, spec: ModelSpec) -> bool:
        return self.reason(spec) is None

    def reason(self, spec: ModelSpec) -> str | None:
        return unavailable_reason(spec, availability=self.availability, today=self.today)

    def usable_names(self) -> str:
        return ", ".join(s.display_name for s in self.card.models.values() if self.usable(s))

    def resolve(self, spec: ModelSpec) -> tuple[ModelSpec | None, str | None]:
        """The model to use for ``spec`` and the notice when it had to be replaced."""
        why = self.reason(spec)
        if why is None:
            return spec, None
        replacement = successor_for(
            self.card, spec.id, availability=self.availability, today=self.today
        )
        if replacement is None:
            return None, None
        return replacement, f"{spec.display_name} {why}; used {replacement.display_name} instead."

    def candidate(self, spec: ModelSpec, *, size: str | None, level: str | None) -> _Candidate:
        wanted = self.c.thinking_level
        if wanted is not None and wanted in spec.thinking_levels:
            level = wanted
        return _Candidate(spec=spec, image_size=size or spec.default_size, thinking_level=level)

    def problems(self, cand: _Candidate) -> list[str]:
        spec, c = cand.spec, self.c
        found: list[str] = []
        if cand.image_size not in spec.sizes:
            found.append(f"{spec.display_name} makes {'/'.join(spec.sizes)} images only")
        if c.aspect_ratio is not None and c.aspect_ratio not in spec.aspect_ratios:
            found.append(
                f"{spec.display_name} has no {c.aspect_ratio} aspect ratio "
                f"(it has {', '.join(spec.aspect_ratios)})"
            )
        if c.input_images > spec.max_reference_images:
            if spec.max_reference_images == 0:
                found.append(f"{spec.display_name} takes no input images")
            else:
                found.append(
                    f"{spec.display_name} takes at most {spec.max_reference_images} input "
                    f"images, not {c.input_images}"
                )
        if c.batch and not spec.batch_supported:
            found.append(f"{spec.display_name} cannot run as a batch job")
        return found

    def first_problem(self, candidates: Sequence[_Candidate], *, tier: Purpose) -> str:
        for cand in candidates:
            problems = self.problems(cand)
            if problems:
                return problems[0]
        return f"no model of the {tier.value} tier is available"

    def capable_models(self, *, prefer_text: bool) -> list[_Candidate]:
        """Every usable model that can do the job, cheapest first (best at text first)."""
        found: list[tuple[tuple[int, int, int], _Candidate]] = []
        for order, spec in enumerate(self.card.models.values()):
            if not self.usable(spec):
                continue
            cand = self.candidate(spec, size=self.c.image_size, level=None)
            if self.problems(cand):
                continue
            cost = self.estimate(cand)
            key = (spec.text_rank, cost, order) if prefer_text else (cost, spec.text_rank, order)
            found.append((key, cand))
        found.sort(key=lambda pair: pair[0])
        return [cand for _, cand in found]

    def nothing_can_message(self, problem: str) -> str:
        c = self.c
        if c.input_images:
            best = max(
                (s for s in self.card.models.values() if self.usable(s)),
                key=lambda s: s.max_reference_images,
                default=None,
            )
            if best is not None and c.input_images > best.max_reference_images:
                return (
                    f"{c.input_images} images is more than any model takes: at most "
                    f"{best.max_reference_images} ({best.display_name}). Use fewer images."
                )
        if c.image_size is not None:
            sizes = sorted(
                {size for s in self.card.models.values() if self.usable(s) for size in s.sizes},
                key=IMAGE_SIZES.index,
            )
            if c.image_size not in sizes:
                return f"No available model makes {c.image_size} images. Sizes: {', '.join(sizes)}."
        if c.aspect_ratio is not None:
            ratios = sorted(
                {r for s in self.card.models.values() if self.usable(s) for r in s.aspect_ratios},
                key=_ratio_key,
            )
            if c.aspect_ratio not in ratios:
                return (
                    f"No available model makes {c.aspect_ratio} images. Aspect ratios: "
                    f"{', '.join(ratios)}."
                )
        return (
            f"No available model can do this as asked: {problem}. Try a different size, "
            "aspect ratio or fewer images."
        )

    def fallbacks(self, primary: _Candidate, rest: Sequence[_Candidate]) -> tuple[Choice, ...]:
        seen = {primary.spec.id}
        ordered: list[_Candidate] = []
        for cand in rest:
            if cand.spec.id not in seen:
                seen.add(cand.spec.id)
                ordered.append(cand)
        for start in [primary, *rest]:
            current = start.spec.successor
            while current is not None:
                spec = self.card.model(current)
                current = spec.successor
                if spec.id in seen or not self.usable(spec):
                    continue
                cand = self.candidate(spec, size=self.c.image_size, level=None)
                if not self.c.image_size and start.image_size in spec.sizes:
                    cand = self.candidate(spec, size=start.image_size, level=None)
                if self.problems(cand):
                    continue
                seen.add(spec.id)
                ordered.append(cand)
        return tuple(self.choice(cand) for cand in ordered)

    def thinking_reason(self, primary: Choice) -> None:
        wanted = self.c.thinking_level
        if wanted is not None and primary.thinking_level != wanted:
            self.reasons.append(
                f"--thinking {wanted} ignored: {primary.display_name} has no such setting"
            )

    def estimate(self, cand: _Candidate) -> int:
        return estimate_image_micros(
            cand.spec,
            image_size=cand.image_size,
            reference_images=self.c.input_images,
            batch=self.c.batch,
            thinking_level=cand.thinking_level,
        )

    def choice(self, cand: _Candidate) -> Choice:
        return Choice(
            model_id=cand.spec.id,
            display_name=cand.spec.display_name,
            image_size=cand.image_size,
            aspect_ratio=self.c.aspect_ratio,
            thinking_level=cand.thinking_level,
            estimate_micros=self.estimate(cand),
        )


def _tightest(budgets: Sequence[BudgetState]) -> BudgetState | None:
    limited = [b for b in budgets if b.budget_micros is not None]
    if not limited:
        return None
    return max(limited, key=_fraction)


def _fraction(budget: BudgetState) -> Decimal:
    fraction = budget.fraction
    return fraction if fraction is not None else Decimal(0)


def _percent(fraction: Decimal) -> str:
    pct = (fraction * 100).quantize(Decimal("0.1"))
    text = f"{pct:f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _is_ratio(text: str) -> bool:
    width, colon, height = text.partition(":")
    return bool(colon) and width.isdigit() and height.isdigit() and int(width) * int(height) > 0


def _ratio_key(ratio: str) -> tuple[int, int]:
    width, _, height = ratio.partition(":")
    return int(width), int(height)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
