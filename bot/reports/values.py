"""Typed report values: what the ledger queries return and what the renderers draw.

All money is integer micro-USD. Shares and fractions are :class:`fractions.Fraction` so that the
percentages shown are exact functions of the integer sums (no float drift between the numbers a
manager reads and the ledger rows they came from).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction

from bot.reports.period import Period

__all__ = [
    "ChannelSpend",
    "DaySpend",
    "ModelSpend",
    "TeamReport",
    "TierSpend",
    "UserReport",
    "UserSpend",
    "per_image_micros",
    "project_to_period_end",
]


def per_image_micros(cost_micros: int, images: int) -> int | None:
    """Average cost of one image, rounded half up to a micro; None when there are no images."""
    if images <= 0:
        return None
    return (2 * cost_micros + images) // (2 * images)


def _fraction(part: int, whole: int | None) -> Fraction | None:
    if whole is None or whole <= 0:
        return None
    return Fraction(part, whole)


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSpend:
    """Images made and money spent on one model in a period."""

    model_id: str
    display_name: str
    images: int
    cost_micros: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TierSpend:
    """Images and money per routing tier, beside the share the rate card recommends."""

    tier: str
    images: int
    cost_micros: int
    recommended_share: Fraction | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UserSpend:
    """One person's spend in a period against their monthly budget (None: unlimited)."""

    user_id: str
    images: int
    cost_micros: int
    budget_micros: int | None

    @property
    def fraction(self) -> Fraction | None:
        """Spend over budget (1 = all used); None without a budget."""
        return _fraction(self.cost_micros, self.budget_micros)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelSpend:
    """Images and money per Slack channel (``""`` for requests without a channel, e.g. batch)."""

    channel_id: str
    images: int
    cost_micros: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DaySpend:
    """Money spent on one model on one local day (the chart's stacked bars)."""

    day: date
    model_id: str
    images: int
    cost_micros: int


def project_to_period_end(
    spent_micros: int, *, period_start: datetime, period_end: datetime, now: datetime
) -> int | None:
    """Spend at ``period_end`` if the pace since ``period_start`` continues; None once it is over.

    The bounds are the period's UTC bounds (:meth:`Period.utc_bounds`). At least one day counts as
    elapsed, so an early-morning report does not blow a small spend up into a huge projection.
    """
    if now >= period_end:
        return None
    if now <= period_start:
        return spent_micros
    total = int((period_end - period_start).total_seconds())
    elapsed = max(int((now - period_start).total_seconds()), 86_400)
    if elapsed >= total:
        return spent_micros
    return (spent_micros * total + elapsed // 2) // elapsed


@dataclass(frozen=True, slots=True, kw_only=True)
class UserReport:
    """``/spend`` for one person: their spend in a period and what it would have cost on Pro.

    ``all_pro_micros`` prices the same images, at the same sizes, on the rate card's reference
    model (``reference_name``: Nano Banana Pro); ``projection_micros`` is None once it ended.
    """

    user_id: str
    period: Period
    images: int
    cost_micros: int
    budget_micros: int | None
    by_model: tuple[ModelSpend, ...]
    all_pro_micros: int
    reference_name: str
    projection_micros: int | None = None

    @property
    def fraction(self) -> Fraction | None:
        """Spend over budget; None without a budget."""
        return _fraction(self.cost_micros, self.budget_micros)

    @property
    def per_image_micros(self) -> int | None:
        """Blended cost of one image in the period."""
        return per_image_micros(self.cost_micros, self.images)

    @property
    def saved_micros(self) -> int:
        """What routing saved against making every image on the reference model."""
        return self.all_pro_micros - self.cost_micros


@dataclass(frozen=True, slots=True, kw_only=True)
class TeamReport:
    """``/spend team``: everyone's spend, the workspace total, tier and model mix, top channels."""

    period: Period
    users: tuple[UserSpend, ...]
    images: int
    cost_micros: int
    budget_micros: int | None
    by_tier: tuple[TierSpend, ...]
    by_model: tuple[ModelSpend, ...]
    channels: tuple[ChannelSpend, ...]
    daily: tuple[DaySpend, ...]
    all_pro_micros: int
    reference_name: str
    projection_micros: int | None = None

    @property
    def fraction(self) -> Fraction | None:
        """Workspace spend over the workspace budget; None without one."""
        return _fraction(self.cost_micros, self.budget_micros)

    @property
    def per_image_micros(self) -> int | None:
        """Blended cost of one image across the workspace."""
        return per_image_micros(self.cost_micros, self.images)

    @property
    def saved_micros(self) -> int:
        """What routing saved against making every image on the reference model."""
        return self.all_pro_micros - self.cost_micros
