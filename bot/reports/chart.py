"""The ``/spend team`` chart: spend per day, stacked by model, with the cumulative spend and budget.

Drawn with matplotlib's object API on an Agg canvas chosen here in code (``FigureCanvasAgg``), never
through ``pyplot``: no global figure registry, no backend picked from the environment, nothing left
behind between calls, safe in a worker thread. Dollars become floats only here, for plotting.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from bot.reports.period import Period
from bot.reports.values import DaySpend
from router.money import MICROS_PER_USD

__all__ = ["CHART_SIZE_PX", "render_spend_chart"]

#: Width and height of the PNG in pixels.
CHART_SIZE_PX = (1200, 600)
_DPI = 100
_HEADROOM = 1.3
# Colour-blind-safe palette (Okabe-Ito), one colour per model in order of spend.
_PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#999999",
)


def _usd(micros: int) -> float:
    return float(Decimal(micros) / MICROS_PER_USD)


def _money_axis(value: float, _position: object) -> str:
    return f"${value:,.0f}" if value >= 10 else f"${value:,.2f}"


def render_spend_chart(
    daily: Sequence[DaySpend],
    *,
    period: Period,
    budget_micros: int | None,
    names: Mapping[str, str],
    title: str,
) -> bytes:
    """PNG bytes (1200x600) of spend per day stacked by model, cumulative spend and the budget.

    ``names`` maps model ids to display names (unknown ids are shown as they are). Days outside
    ``period`` are clamped onto its first or last day, as the ledger query does.
    """
    days = list(period.dates())
    index = {day: position for position, day in enumerate(days)}
    per_model: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    for row in daily:
        day = min(max(row.day, period.start), period.end)
        per_model[row.model_id][index[day]] += row.cost_micros
    order = sorted(per_model, key=lambda model: (-sum(per_model[model]), model))

    width_px, height_px = CHART_SIZE_PX
    figure = Figure(figsize=(width_px / _DPI, height_px / _DPI), dpi=_DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(days)))
    bottoms = [0.0] * len(days)
    for number, model in enumerate(order):
        heights = [_usd(micros) for micros in per_model[model]]
        axes.bar(
            positions,
            heights,
            bottom=bottoms,
            width=0.8,
            label=names.get(model, model),
            color=_PALETTE[number % len(_PALETTE)],
        )
        bottoms = [bottom + height for bottom, height in zip(bottoms, heights, strict=True)]
    axes.set_ylabel("Spend per day")
    axes.yaxis.set_major_formatter(FuncFormatter(_money_axis))
    axes.set_xlim(-0.6, len(days) - 0.4)
    step = max(1, len(days) // 16)
    axes.set_xticks(positions[::step], [_tick(day, period) for day in days[::step]])
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)

    totals = [sum(per_model[model][position] for model in order) for position in positions]
    cumulative = []
    running = 0
    for total in totals:
        running += total
        cumulative.append(_usd(running))
    running_axes = axes.twinx()
    running_axes.plot(positions, cumulative, color="#222222", linewidth=2, label="Total so far")
    if budget_micros is not None:
        running_axes.axhline(
            _usd(budget_micros), color="#D55E00", linestyle="--", linewidth=2, label="Budget"
        )
    # Headroom above the tallest bar and line keeps the legend clear of the data.
    axes.set_ylim(0, max([*bottoms, 0.01]) * _HEADROOM)
    running_axes.set_ylim(0, max([*cumulative, _usd(budget_micros or 0), 1.0]) * _HEADROOM)
    running_axes.set_ylabel("Total so far")
    running_axes.yaxis.set_major_formatter(FuncFormatter(_money_axis))

    handles, labels = axes.get_legend_handles_labels()
    more_handles, more_labels = running_axes.get_legend_handles_labels()
    if handles or more_handles:
        axes.legend(
            handles + more_handles, labels + more_labels, loc="upper left", fontsize=9, ncols=2
        )
    axes.set_title(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()


def _tick(day: date, period: Period) -> str:
    if period.start.month == period.end.month and period.start.year == period.end.year:
        return str(day.day)
    return f"{day.day} {day.strftime('%b')}"
