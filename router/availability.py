"""Which models on a rate card can be used today, and what replaces the ones that cannot.

A model is usable on ``today`` when all of these hold:

* it has been released (``released <= today``);
* it is not retired: ``today`` is before its ``retired_on`` date (Google shuts a model down *on*
  that date). When the card marks the date as Google's "earliest possible" shutdown
  (``retired_on_is_earliest``), a passed date retires the model only if ``models.list`` does not
  list it; when the list could not be fetched (``listed is None``) the date decides;
* it did not answer 404 in this process (``availability.not_found``);
* ``models.list`` lists it, when the list is known (``availability.listed`` is not None).

An unusable model is replaced by the first usable model down its ``successor`` chain, and the
person is told in one line (:func:`retirement_notice`), e.g. "Imagen 4 Standard was retired by
Google on 2026-08-17; used Nano Banana 2 instead."
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from router.card import ModelSpec, RateCard

__all__ = [
    "Availability",
    "retirement_notice",
    "successor_for",
    "unavailable_reason",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Availability:
    """What the API told us about models: ``listed`` by ``models.list`` (None: could not ask) and
    ``not_found`` (answered 404 in this process)."""

    listed: frozenset[str] | None = None
    not_found: frozenset[str] = frozenset()

    @classmethod
    def everything(cls, card: RateCard) -> Availability:
        """Every model on ``card`` assumed listed (for offline planning, e.g. the CLI)."""
        return cls(listed=frozenset(card.models))


def unavailable_reason(model: ModelSpec, *, availability: Availability, today: date) -> str | None:
    """Why ``model`` cannot be used on ``today``, as words after its name; None when usable.

    E.g. ``"was retired by Google on 2026-08-17"`` or ``"is not offered to this API key"``.
    """
    if today < model.released:
        return f"is not released until {model.released.isoformat()}"
    listed = availability.listed
    if model.retired_on is not None and today >= model.retired_on:
        when = model.retired_on.isoformat()
        if not model.retired_on_is_earliest:
            return f"was retired by Google on {when}"
        if listed is None:
            return f"may have been retired by Google on {when} (its earliest shutdown date)"
        if model.id not in listed:
            return f"was retired by Google (shutdown from {when})"
    if model.id in availability.not_found:
        return "is not offered to this API key"
    if listed is not None and model.id not in listed:
        return "is not offered to this API key"
    return None


def successor_for(
    card: RateCard, model_id: str, *, availability: Availability, today: date
) -> ModelSpec | None:
    """The first usable model down ``model_id``'s successor chain, or None when there is none.

    The card guarantees the chain has no cycle (see :func:`router.card.parse_card`).
    """
    current = card.models[model_id].successor
    while current is not None:
        spec = card.models[current]
        if unavailable_reason(spec, availability=availability, today=today) is None:
            return spec
        current = spec.successor
    return None


def retirement_notice(
    card: RateCard,
    model_id: str,
    *,
    replacement: ModelSpec | None,
    availability: Availability,
    today: date,
) -> str:
    """One line telling a person why ``model_id`` was not used and what was used instead.

    Used by the planner and by the dispatcher after a live 404 (add the model to
    ``availability.not_found`` first so the reason reads right).
    """
    spec = card.models[model_id]
    reason = unavailable_reason(spec, availability=availability, today=today)
    if reason is None:
        reason = "could not be used"
    if replacement is None:
        return f"{spec.display_name} {reason}, and this rate card names no replacement."
    return f"{spec.display_name} {reason}; used {replacement.display_name} instead."
