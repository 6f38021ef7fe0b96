"""Rate cards: dated, editable data saying which models exist, what they cost and which tier uses
which model.

A rate card is a TOML file (see ``router/cards/*.toml``) with three parts:

``[card]``
    ``name``, ``dated`` (the as-of date of its figures), ``description`` and ``[card.mix]``, the
    recommended share of traffic per tier (used for blended-cost figures).
``[models."<model id>"]``
    One entry per model: ``display_name``; ``billing`` (``"tokens"``: priced from the
    response's token counts, or ``"per_image"``: a flat price per image, as Imagen was); token
    ``prices`` in USD per 1M tokens (``input``, ``text_output`` which also prices thinking,
    ``image_output`` and their ``batch_`` twins); ``per_image`` and ``batch_per_image`` figures
    in USD per size (for estimates); ``image_tokens`` per size and ``input_image_tokens`` (one
    reference image as input); ``sizes``, ``default_size``, ``sends_image_size`` (whether the API
    takes an image size at all), ``aspect_ratios``, ``max_reference_images``; ``[thinking]``
    (``always``, settable ``levels``, ``default_level`` and ``allowance_tokens``: *our* allowance
    of thinking tokens per image for estimates, not a Google figure); ``text_rank`` (1 renders
    text best); ``batch_supported``; lifecycle ``released``, ``retired_on``,
    ``retired_on_is_earliest`` (Google published only an "earliest possible" shutdown date) and
    ``successor``; an optional ``note``.
``[tiers.<purpose>]``
    For each of the six purposes (economy, draft, hero, final, edit, character): a ``description``
    and ordered ``[[tiers.<purpose>.options]]``, each a ``model`` plus optional ``image_size`` and
    ``thinking_level``. The first usable option serves the tier; the rest are fallbacks.

:func:`parse_card` reads the text (the file itself is read at the edge, by ``bot.cards``) and
validates everything; a problem raises :class:`~router.errors.RateCardError` whose message is
``rate card FILE: KEY: problem``. Dollar figures become integer micro-USD; token prices stay
:class:`~decimal.Decimal` dollars per 1M tokens (equal to micro-USD per token).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from router.constraints import IMAGE_SIZES, Purpose
from router.errors import RateCardError
from router.money import MoneyError, usd_to_micros

__all__ = [
    "Billing",
    "ModelSpec",
    "RateCard",
    "TierOption",
    "TierSpec",
    "TokenPrices",
    "normalize_model_name",
    "parse_card",
]

_ASPECT_RE = re.compile(r"^[1-9][0-9]{0,2}:[1-9][0-9]{0,2}$")
_MODEL_ID_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")
_BARE_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+$")


class Billing(StrEnum):
    """How a model is billed: from token counts, or a flat price per image (Imagen)."""

    TOKENS = "tokens"
    PER_IMAGE = "per_image"


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenPrices:
    """USD per 1M tokens (the same number is micro-USD per token). Thinking is text output."""

    input: Decimal
    text_output: Decimal
    image_output: Decimal


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """One model on a rate card: prices, capabilities and lifecycle (see the module docstring)."""

    id: str
    display_name: str
    billing: Billing
    prices: TokenPrices | None
    batch_prices: TokenPrices | None
    per_image_micros: Mapping[str, int]
    batch_per_image_micros: Mapping[str, int]
    image_tokens: Mapping[str, int]
    input_image_tokens: int
    max_reference_images: int
    sizes: tuple[str, ...]
    default_size: str
    sends_image_size: bool
    aspect_ratios: tuple[str, ...]
    always_thinks: bool
    thinking_levels: tuple[str, ...]
    default_thinking_level: str | None
    thinking_allowance_tokens: Mapping[str, int]
    text_rank: int
    batch_supported: bool
    released: date
    retired_on: date | None
    retired_on_is_earliest: bool
    successor: str | None
    note: str

    @property
    def accepts_image_input(self) -> bool:
        """Whether the model takes images with the prompt (references or an image to edit)."""
        return self.max_reference_images > 0

    def thinking_allowance(self, level: str | None) -> int:
        """Our allowance of thinking tokens per image at ``level`` (None: the model's default)."""
        key = level or self.default_thinking_level or "default"
        return self.thinking_allowance_tokens.get(key, 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class TierOption:
    """One way to serve a tier: a model and the settings to call it with (None: model default)."""

    model: str
    image_size: str | None = None
    thinking_level: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TierSpec:
    """A tier: what it is for and its ordered options (the first usable one serves it)."""

    purpose: Purpose
    description: str
    options: tuple[TierOption, ...]


@dataclass(frozen=True, kw_only=True)
class RateCard:
    """A validated rate card. ``models`` keeps the file's order; ``source`` names the file."""

    name: str
    dated: date
    description: str
    source: str
    models: Mapping[str, ModelSpec]
    tiers: Mapping[Purpose, TierSpec]
    mix: Mapping[Purpose, Decimal]

    def model(self, model_id: str) -> ModelSpec:
        """The model with this exact id; KeyError when the card has none."""
        return self.models[model_id]

    def tier(self, purpose: Purpose | str) -> TierSpec:
        """The tier serving ``purpose``."""
        return self.tiers[Purpose(purpose)]

    def find_model(self, name: str) -> ModelSpec | None:
        """The model a person means by ``name``: its id or display name, case and spacing aside.

        ``"Nano Banana Pro"``, ``"nano_banana_pro"`` and ``"nano-banana-pro"`` all name the model
        displayed as Nano Banana Pro. Tried in order: exact id, id or display name ignoring case,
        display name then id ignoring everything but letters and digits.
        """
        wanted = name.strip()
        if wanted in self.models:
            return self.models[wanted]
        folded = normalize_model_name(wanted)
        specs = list(self.models.values())
        matchers = (
            lambda s: s.id.lower() == wanted.lower(),
            lambda s: s.display_name.lower() == wanted.lower(),
            lambda s: normalize_model_name(s.display_name) == folded,
            lambda s: normalize_model_name(s.id) == folded,
        )
        for matches in matchers:
            for spec in specs:
                if matches(spec):
                    return spec
        return None


def normalize_model_name(name: str) -> str:
    """Fold a model name for matching: lower case, only letters and digits."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def parse_card(text: str, *, source: str) -> RateCard:
    """Parse and validate rate card TOML ``text``; ``source`` names the file in error messages.

    Raises :class:`~router.errors.RateCardError` (``rate card FILE: KEY: problem``) on malformed
    TOML, unknown or missing keys, negative or missing prices, bad dates, sizes or aspect ratios,
    tiers with no options or naming unknown models, unknown successors and successor cycles.
    """
    try:
        raw = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise RateCardError(source=source, key="(file)", problem=f"not valid TOML: {exc}") from exc
    return _CardReader(source).card(raw)


def _model_key(model_id: str, *rest: str) -> str:
    """``models."<id>"...``: model ids are always quoted, as in the card files."""
    return ".".join([f'models."{model_id}"', *(_key(part) for part in rest)])


def _key(*parts: str) -> str:
    return ".".join(part if _BARE_KEY_RE.match(part) else f'"{part}"' for part in parts)


class _CardReader:
    """Walks the parsed TOML, converting and checking each value with its key for errors."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> RateCardError:
        return RateCardError(source=self.source, key=key, problem=problem)

    # -- generic readers -------------------------------------------------------------------

    def table(self, parent: Mapping[str, Any], name: str, key: str) -> Mapping[str, Any]:
        value = parent.get(name)
        if value is None:
            raise self.fail(key, "missing table")
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return value

    def check_keys(
        self,
        table: Mapping[str, Any],
        key: str,
        *,
        required: frozenset[str] = frozenset(),
        optional: frozenset[str] = frozenset(),
    ) -> None:
        for name in table:
            if name not in required and name not in optional:
                allowed = ", ".join(sorted(required | optional))
                raise self.fail(_join(key, name), f"unknown key (allowed here: {allowed})")
        for name in sorted(required):
            if name not in table:
                raise self.fail(_join(key, name), "missing")

    def string(self, table: Mapping[str, Any], name: str, key: str) -> str:
        value = table.get(name)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(_join(key, name), "must be a non-empty string")
        return value

    def opt_string(self, table: Mapping[str, Any], name: str, key: str) -> str | None:
        if name not in table:
            return None
        return self.string(table, name, key)

    def boolean(self, table: Mapping[str, Any], name: str, key: str, *, default: bool) -> bool:
        if name not in table:
            return default
        value = table[name]
        if not isinstance(value, bool):
            raise self.fail(_join(key, name), "must be true or false")
        return value

    def integer(self, table: Mapping[str, Any], name: str, key: str, *, minimum: int) -> int:
        value = table.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(_join(key, name), "must be a whole number")
        if value < minimum:
            raise self.fail(_join(key, name), f"must be at least {minimum}, got {value}")
        return value

    def decimal(self, table: Mapping[str, Any], name: str, key: str) -> Decimal:
        value = table.get(name)
        if value is None:
            raise self.fail(_join(key, name), "missing price")
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise self.fail(_join(key, name), "must be a number")
        number = Decimal(value)
        if not number.is_finite():
            raise self.fail(_join(key, name), "must be a finite number")
        if number < 0:
            raise self.fail(_join(key, name), f"negative price {number}")
        return number

    def usd_micros(self, table: Mapping[str, Any], name: str, key: str) -> int:
        number = self.decimal(table, name, key)
        try:
            return usd_to_micros(number)
        except MoneyError as exc:
            raise self.fail(_join(key, name), f"{number} has more than six decimals") from exc

    def day(self, table: Mapping[str, Any], name: str, key: str) -> date:
        value = table.get(name)
        if isinstance(value, datetime):
            raise self.fail(_join(key, name), "must be a date like 2026-04-09, not a date-time")
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise self.fail(_join(key, name), f"must be a date like 2026-04-09, got {value!r}")

    def string_list(self, table: Mapping[str, Any], name: str, key: str) -> tuple[str, ...]:
        value = table.get(name)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(_join(key, name), "must be a list of strings")
        if len(set(value)) != len(value):
            raise self.fail(_join(key, name), "lists a value twice")
        return tuple(value)

    # -- the card --------------------------------------------------------------------------

    def card(self, raw: Mapping[str, Any]) -> RateCard:
        self.check_keys(raw, "", required=frozenset({"card", "models", "tiers"}))
        meta = self.table(raw, "card", "card")
        self.check_keys(meta, "card", required=frozenset({"name", "dated", "description", "mix"}))
        name = self.string(meta, "name", "card")
        dated = self.day(meta, "dated", "card")
        description = self.string(meta, "description", "card")
        mix = self.mix(self.table(meta, "mix", "card.mix"))

        models_raw = self.table(raw, "models", "models")
        if not models_raw:
            raise self.fail("models", "a rate card needs at least one model")
        models: dict[str, ModelSpec] = {}
        for model_id, entry in models_raw.items():
            key = _model_key(model_id)
            if not _MODEL_ID_RE.match(model_id):
                raise self.fail(key, "a model id is lower case letters, digits, '.' and '-'")
            if not isinstance(entry, dict):
                raise self.fail(key, "must be a table")
            models[model_id] = self.model(model_id, entry, key)
        self.check_models(models)

        tiers_raw = self.table(raw, "tiers", "tiers")
        tiers: dict[Purpose, TierSpec] = {}
        for tier_name, entry in tiers_raw.items():
            key = _key("tiers", tier_name)
            try:
                purpose = Purpose(tier_name)
            except ValueError:
                known = ", ".join(p.value for p in Purpose)
                raise self.fail(key, f"unknown tier (tiers are: {known})") from None
            if not isinstance(entry, dict):
                raise self.fail(key, "must be a table")
            tiers[purpose] = self.tier(purpose, entry, key, models)
        for purpose in Purpose:
            if purpose not in tiers:
                raise self.fail(_key("tiers", purpose.value), "missing tier")
        ordered = {purpose: tiers[purpose] for purpose in Purpose}
        return RateCard(
            name=name,
            dated=dated,
            description=description,
            source=self.source,
            models=MappingProxyType(models),
            tiers=MappingProxyType(ordered),
            mix=MappingProxyType(mix),
        )

    def mix(self, table: Mapping[str, Any]) -> dict[Purpose, Decimal]:
        mix: dict[Purpose, Decimal] = {}
        for name in table:
            try:
                purpose = Purpose(name)
            except ValueError:
                raise self.fail(_key("card", "mix", name), "unknown tier") from None
            mix[purpose] = self.decimal(table, name, "card.mix")
        if sum(mix.values(), Decimal(0)) <= 0:
            raise self.fail("card.mix", "the shares must add up to more than zero")
        return mix

    def model(self, model_id: str, entry: Mapping[str, Any], key: str) -> ModelSpec:
        self.check_keys(
            entry,
            key,
            required=frozenset(
                {
                    "display_name",
                    "billing",
                    "released",
                    "sizes",
                    "default_size",
                    "aspect_ratios",
                    "max_reference_images",
                    "text_rank",
                    "batch_supported",
                    "per_image",
                }
            ),
            optional=frozenset(
                {
                    "prices",
                    "batch_per_image",
                    "image_tokens",
                    "input_image_tokens",
                    "sends_image_size",
                    "thinking",
                    "retired_on",
                    "retired_on_is_earliest",
                    "successor",
                    "note",
                }
            ),
        )
        billing_text = self.string(entry, "billing", key)
        try:
            billing = Billing(billing_text)
        except ValueError:
            raise self.fail(
                _join(key, "billing"), f"must be 'tokens' or 'per_image', got {billing_text!r}"
            ) from None
        sizes = self.string_list(entry, "sizes", key)
        if not sizes:
            raise self.fail(_join(key, "sizes"), "must list at least one size")
        for size in sizes:
            if size not in IMAGE_SIZES:
                raise self.fail(
                    _join(key, "sizes"),
                    f"unknown size {size!r} (sizes are: {', '.join(IMAGE_SIZES)})",
                )
        sizes = tuple(s for s in IMAGE_SIZES if s in sizes)
        default_size = self.string(entry, "default_size", key)
        if default_size not in sizes:
            raise self.fail(_join(key, "default_size"), f"{default_size!r} is not in sizes")
        aspect_ratios = self.string_list(entry, "aspect_ratios", key)
        if not aspect_ratios:
            raise self.fail(_join(key, "aspect_ratios"), "must list at least one aspect ratio")
        for ratio in aspect_ratios:
            if not _ASPECT_RE.match(ratio):
                raise self.fail(_join(key, "aspect_ratios"), f"{ratio!r} is not like 16:9")
        batch_supported = self.boolean(entry, "batch_supported", key, default=False)
        max_refs = self.integer(entry, "max_reference_images", key, minimum=0)

        per_image = self.size_figures(entry, "per_image", key, sizes)
        batch_per_image: dict[str, int] = {}
        if batch_supported:
            batch_per_image = self.size_figures(entry, "batch_per_image", key, sizes)
        elif "batch_per_image" in entry:
            raise self.fail(_join(key, "batch_per_image"), "given but batch_supported is false")

        prices: TokenPrices | None = None
        batch_prices: TokenPrices | None = None
        image_tokens: dict[str, int] = {}
        input_image_tokens = 0
        if billing is Billing.TOKENS or "prices" in entry:
            prices_table = self.table(entry, "prices", _join(key, "prices"))
            prices_key = _join(key, "prices")
            names = {"input", "text_output", "image_output"}
            batch_names = {f"batch_{n}" for n in names}
            self.check_keys(
                prices_table,
                prices_key,
                required=frozenset(names | (batch_names if batch_supported else set())),
                optional=frozenset(batch_names),
            )
            prices = self.prices(prices_table, prices_key, prefix="")
            if batch_supported:
                batch_prices = self.prices(prices_table, prices_key, prefix="batch_")
        if billing is Billing.TOKENS:
            tokens_table = self.table(entry, "image_tokens", _join(key, "image_tokens"))
            image_tokens = self.size_counts(tokens_table, _join(key, "image_tokens"), sizes)
        elif "image_tokens" in entry:
            raise self.fail(_join(key, "image_tokens"), "only for billing = 'tokens'")
        if "input_image_tokens" in entry:
            input_image_tokens = self.integer(entry, "input_image_tokens", key, minimum=0)
        elif billing is Billing.TOKENS and max_refs > 0:
            raise self.fail(
                _join(key, "input_image_tokens"), "missing (needed to price reference images)"
            )

        always, levels, default_level, allowance = self.thinking(entry, key)
        released = self.day(entry, "released", key)
        retired_on = self.day(entry, "retired_on", key) if "retired_on" in entry else None
        if retired_on is not None and retired_on < released:
            raise self.fail(_join(key, "retired_on"), f"{retired_on} is before released {released}")
        earliest = self.boolean(entry, "retired_on_is_earliest", key, default=False)
        if earliest and retired_on is None:
            raise self.fail(_join(key, "retired_on_is_earliest"), "set but retired_on is missing")
        successor = self.opt_string(entry, "successor", key)
        if successor == model_id:
            raise self.fail(_join(key, "successor"), "a model cannot succeed itself")
        return ModelSpec(
            id=model_id,
            display_name=self.string(entry, "display_name", key),
            billing=billing,
            prices=prices,
            batch_prices=batch_prices,
            per_image_micros=MappingProxyType(per_image),
            batch_per_image_micros=MappingProxyType(batch_per_image),
            image_tokens=MappingProxyType(image_tokens),
            input_image_tokens=input_image_tokens,
            max_reference_images=max_refs,
            sizes=sizes,
            default_size=default_size,
            sends_image_size=self.boolean(entry, "sends_image_size", key, default=True),
            aspect_ratios=aspect_ratios,
            always_thinks=always,
            thinking_levels=levels,
            default_thinking_level=default_level,
            thinking_allowance_tokens=MappingProxyType(allowance),
            text_rank=self.integer(entry, "text_rank", key, minimum=1),
            batch_supported=batch_supported,
            released=released,
            retired_on=retired_on,
            retired_on_is_earliest=earliest,
            successor=successor,
            note=self.opt_string(entry, "note", key) or "",
        )

    def prices(self, table: Mapping[str, Any], key: str, *, prefix: str) -> TokenPrices:
        return TokenPrices(
            input=self.decimal(table, f"{prefix}input", key),
            text_output=self.decimal(table, f"{prefix}text_output", key),
            image_output=self.decimal(table, f"{prefix}image_output", key),
        )

    def size_figures(
        self, entry: Mapping[str, Any], name: str, key: str, sizes: tuple[str, ...]
    ) -> dict[str, int]:
        table_key = _join(key, name)
        table = self.table(entry, name, table_key)
        self.check_keys(table, table_key, required=frozenset(sizes))
        return {size: self.usd_micros(table, size, table_key) for size in sizes}

    def size_counts(
        self, table: Mapping[str, Any], key: str, sizes: tuple[str, ...]
    ) -> dict[str, int]:
        self.check_keys(table, key, required=frozenset(sizes))
        return {size: self.integer(table, size, key, minimum=1) for size in sizes}

    def thinking(
        self, entry: Mapping[str, Any], key: str
    ) -> tuple[bool, tuple[str, ...], str | None, dict[str, int]]:
        if "thinking" not in entry:
            return False, (), None, {}
        tkey = _join(key, "thinking")
        table = self.table(entry, "thinking", tkey)
        self.check_keys(
            table,
            tkey,
            required=frozenset({"always", "levels"}),
            optional=frozenset({"default_level", "allowance_tokens"}),
        )
        always = self.boolean(table, "always", tkey, default=False)
        levels = self.string_list(table, "levels", tkey)
        default_level = self.opt_string(table, "default_level", tkey)
        if levels and default_level is None:
            raise self.fail(_join(tkey, "default_level"), "missing (levels are given)")
        if default_level is not None and default_level not in levels:
            raise self.fail(_join(tkey, "default_level"), f"{default_level!r} is not in levels")
        expected = set(levels) if levels else ({"default"} if always else set())
        allowance: dict[str, int] = {}
        if expected:
            akey = _join(tkey, "allowance_tokens")
            allowance_table = self.table(table, "allowance_tokens", akey)
            self.check_keys(allowance_table, akey, required=frozenset(expected))
            allowance = {
                level: self.integer(allowance_table, level, akey, minimum=0)
                for level in sorted(expected)
            }
        elif "allowance_tokens" in table:
            raise self.fail(_join(tkey, "allowance_tokens"), "given for a model that never thinks")
        return always, levels, default_level, allowance

    def check_models(self, models: Mapping[str, ModelSpec]) -> None:
        names: dict[str, str] = {}
        for spec in models.values():
            folded = normalize_model_name(spec.display_name)
            if folded in names:
                raise self.fail(
                    _model_key(spec.id, "display_name"),
                    f"{spec.display_name!r} is also the name of {names[folded]}",
                )
            names[folded] = spec.id
            if spec.successor is not None and spec.successor not in models:
                raise self.fail(
                    _model_key(spec.id, "successor"),
                    f"unknown model {spec.successor!r} (not on this card)",
                )
        for spec in models.values():
            seen = [spec.id]
            current = spec.successor
            while current is not None:
                if current in seen:
                    chain = " -> ".join([*seen, current])
                    raise self.fail(_model_key(spec.id, "successor"), f"successor cycle: {chain}")
                seen.append(current)
                current = models[current].successor

    def tier(
        self,
        purpose: Purpose,
        entry: Mapping[str, Any],
        key: str,
        models: Mapping[str, ModelSpec],
    ) -> TierSpec:
        self.check_keys(entry, key, required=frozenset({"description", "options"}))
        description = self.string(entry, "description", key)
        options_raw = entry.get("options")
        if not isinstance(options_raw, list):
            raise self.fail(_join(key, "options"), "must be a list of [[options]] tables")
        if not options_raw:
            raise self.fail(_join(key, "options"), "a tier needs at least one option")
        options: list[TierOption] = []
        for index, option in enumerate(options_raw):
            okey = f"{key}.options[{index}]"
            if not isinstance(option, dict):
                raise self.fail(okey, "must be a table")
            self.check_keys(
                option,
                okey,
                required=frozenset({"model"}),
                optional=frozenset({"image_size", "thinking_level"}),
            )
            model_id = self.string(option, "model", okey)
            spec = models.get(model_id)
            if spec is None:
                raise self.fail(_join(okey, "model"), f"unknown model {model_id!r}")
            size = self.opt_string(option, "image_size", okey)
            if size is not None and size not in spec.sizes:
                raise self.fail(
                    _join(okey, "image_size"),
                    f"{spec.display_name} has no size {size!r} (sizes: {', '.join(spec.sizes)})",
                )
            level = self.opt_string(option, "thinking_level", okey)
            if level is not None and level not in spec.thinking_levels:
                raise self.fail(
                    _join(okey, "thinking_level"),
                    f"{spec.display_name} has no thinking level {level!r}",
                )
            options.append(TierOption(model=model_id, image_size=size, thinking_level=level))
        return TierSpec(purpose=purpose, description=description, options=tuple(options))


def _join(key: str, name: str) -> str:
    part = _key(name)
    return f"{key}.{part}" if key else part
