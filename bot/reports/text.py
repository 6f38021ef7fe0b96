"""Terminal renderings of the reports (``imagebot spend``) and their JSON form (``--json``)."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from bot.reports.format import format_money, format_percent, usage_bar
from bot.reports.values import ModelSpend, TeamReport, TierSpend, UserReport, UserSpend

__all__ = ["team_report_json", "team_report_text", "user_report_json", "user_report_text"]


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, left: int = 1) -> list[str]:
    """Columns padded to their widest cell; the first ``left`` columns align left."""
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.ljust(width) if number < left else cell.rjust(width)
            for number, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return [line(headers), line(["-" * width for width in widths]), *(line(row) for row in rows)]


def _budget(spent: int, budget: int | None, fraction: Fraction | None) -> str:
    if budget is None:
        return f"Spent     {format_money(spent)} (no budget set)"
    return (
        f"Spent     {format_money(spent)} of {format_money(budget)} "
        f"({format_percent(fraction)})  {usage_bar(fraction, width=20)}"
    )


def _value(
    *, images: int, per_image: int | None, all_pro: int, spent: int, reference: str
) -> list[str]:
    per = format_money(per_image) if per_image is not None else "-"
    lines = [f"Images    {images:,} · {per} per image"]
    if all_pro:
        lines.append(
            f"Saved     {format_money(all_pro - spent)} against {format_money(all_pro)} "
            f"all on {reference}"
        )
    return lines


def _projection(projection: int | None, budget: int | None) -> list[str]:
    if projection is None:
        return []
    line = f"Pace      about {format_money(projection)} by the end of the period"
    if budget is not None and projection > budget:
        line += f" ({format_money(projection - budget)} over budget)"
    return [line]


def _models(models: Sequence[ModelSpend], total: int) -> list[str]:
    rows = [
        [
            model.display_name,
            model.model_id,
            f"{model.images:,}",
            format_money(model.cost_micros),
            format_percent(Fraction(model.cost_micros, total)) if total else "-",
        ]
        for model in models
    ]
    return _table(["Model", "id", "images", "spend", "share"], rows, left=2)


def user_report_text(report: UserReport) -> str:
    """``imagebot spend --user U``: one person's period as a few lines and a model table."""
    lines = [
        f"Spend of {report.user_id} · {report.period.label}",
        _budget(report.cost_micros, report.budget_micros, report.fraction),
        *_value(
            images=report.images,
            per_image=report.per_image_micros,
            all_pro=report.all_pro_micros,
            spent=report.cost_micros,
            reference=report.reference_name,
        ),
        *_projection(report.projection_micros, report.budget_micros),
        "",
        *_models(report.by_model, report.cost_micros),
    ]
    return "\n".join(lines) + "\n"


def _people(users: Sequence[UserSpend]) -> list[str]:
    rows = [
        [
            user.user_id,
            f"{user.images:,}",
            format_money(user.cost_micros),
            format_money(user.budget_micros) if user.budget_micros is not None else "none",
            format_percent(user.fraction),
        ]
        for user in users
    ]
    return _table(["Person", "images", "spent", "budget", "used"], rows)


def _tiers(tiers: Sequence[TierSpend], images: int) -> list[str]:
    rows = [
        [
            tier.tier,
            f"{tier.images:,}",
            format_money(tier.cost_micros),
            format_percent(Fraction(tier.images, images)) if images else "-",
            format_percent(tier.recommended_share),
        ]
        for tier in tiers
    ]
    return _table(["Tier", "images", "spend", "share", "recommended"], rows)


def team_report_text(report: TeamReport) -> str:
    """``imagebot spend``: the whole team's period as tables."""
    channel_rows = [
        [channel.channel_id or "(none)", f"{channel.images:,}", format_money(channel.cost_micros)]
        for channel in report.channels
    ]
    lines = [
        f"Team spend · {report.period.label}",
        _budget(report.cost_micros, report.budget_micros, report.fraction),
        *_value(
            images=report.images,
            per_image=report.per_image_micros,
            all_pro=report.all_pro_micros,
            spent=report.cost_micros,
            reference=report.reference_name,
        ),
        *_projection(report.projection_micros, report.budget_micros),
        "",
        *_people(report.users),
        "",
        *_tiers(report.by_tier, report.images),
        "",
        *_models(report.by_model, report.cost_micros),
        "",
        *_table(["Channel", "images", "spend"], channel_rows),
    ]
    return "\n".join(lines) + "\n"


def _money(micros: int | None) -> dict[str, Any] | None:
    if micros is None:
        return None
    return {"micros": micros, "usd": format_money(micros)}


def _share(value: Fraction | None) -> str | None:
    return None if value is None else f"{float(value):.4f}"


def _model_json(models: Sequence[ModelSpend]) -> list[dict[str, Any]]:
    return [
        {
            "model_id": model.model_id,
            "display_name": model.display_name,
            "images": model.images,
            "cost_micros": model.cost_micros,
        }
        for model in models
    ]


def user_report_json(report: UserReport) -> dict[str, Any]:
    """The user report as JSON-ready data (money in micros, plus formatted dollars)."""
    return {
        "user_id": report.user_id,
        "period": {"start": report.period.start.isoformat(), "end": report.period.end.isoformat()},
        "images": report.images,
        "spent": _money(report.cost_micros),
        "budget": _money(report.budget_micros),
        "used": _share(report.fraction),
        "per_image": _money(report.per_image_micros),
        "all_on_reference": _money(report.all_pro_micros),
        "reference": report.reference_name,
        "saved": _money(report.saved_micros),
        "projection": _money(report.projection_micros),
        "by_model": _model_json(report.by_model),
    }


def team_report_json(report: TeamReport) -> dict[str, Any]:
    """The team report as JSON-ready data (money in micros, plus formatted dollars)."""
    return {
        "period": {"start": report.period.start.isoformat(), "end": report.period.end.isoformat()},
        "images": report.images,
        "spent": _money(report.cost_micros),
        "budget": _money(report.budget_micros),
        "used": _share(report.fraction),
        "per_image": _money(report.per_image_micros),
        "all_on_reference": _money(report.all_pro_micros),
        "reference": report.reference_name,
        "saved": _money(report.saved_micros),
        "projection": _money(report.projection_micros),
        "users": [
            {
                "user_id": user.user_id,
                "images": user.images,
                "cost_micros": user.cost_micros,
                "budget_micros": user.budget_micros,
                "used": _share(user.fraction),
            }
            for user in report.users
        ],
        "by_tier": [
            {
                "tier": tier.tier,
                "images": tier.images,
                "cost_micros": tier.cost_micros,
                "recommended_share": _share(tier.recommended_share),
            }
            for tier in report.by_tier
        ],
        "by_model": _model_json(report.by_model),
        "channels": [
            {
                "channel_id": channel.channel_id or None,
                "images": channel.images,
                "cost_micros": channel.cost_micros,
            }
            for channel in report.channels
        ],
        "daily": [
            {
                "day": day.day.isoformat(),
                "model_id": day.model_id,
                "images": day.images,
                "cost_micros": day.cost_micros,
            }
            for day in report.daily
        ],
    }
