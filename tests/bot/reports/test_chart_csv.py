"""The chart is a sane PNG; the CSV export round-trips."""

from __future__ import annotations

import io
import threading
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from bot.reports import (
    CHART_SIZE_PX,
    LEDGER_CSV_COLUMNS,
    CsvFormatError,
    DaySpend,
    LedgerRow,
    Period,
    ledger_csv,
    parse_ledger_csv,
    render_spend_chart,
)

MODELS = ("gemini-2.5-flash-image", "gemini-3.1-flash-image", "gemini-3-pro-image")


def _month_of_spend() -> list[DaySpend]:
    return [
        DaySpend(
            day=date(2026, 10, day),
            model_id=model,
            images=day,
            cost_micros=(day * 997 + n * 3_131) * 1_000,
        )
        for day in range(1, 32)
        for n, model in enumerate(MODELS)
    ]


def test_chart_is_a_valid_png_of_sane_size() -> None:
    """A month of spend renders as a 1200x600 PNG between 20 KB and 500 KB."""
    png = render_spend_chart(
        _month_of_spend(),
        period=Period.month(2026, 10),
        budget_micros=2_000_000_000,
        names={MODELS[0]: "Nano Banana"},
        title="Team spend per day, October 2026",
    )
    image = Image.open(io.BytesIO(png))
    image.verify()
    assert image.format == "PNG"
    assert image.size == CHART_SIZE_PX == (1200, 600)
    assert 20_000 <= len(png) <= 500_000


def test_empty_chart_still_renders() -> None:
    """A period without spend and without a budget still gives a valid PNG."""
    png = render_spend_chart(
        [],
        period=Period(date(2026, 10, 1), date(2026, 10, 1)),
        budget_micros=None,
        names={},
        title="Nothing",
    )
    assert Image.open(io.BytesIO(png)).size == CHART_SIZE_PX


def test_charts_render_in_threads_without_pyplot_state() -> None:
    """Two charts rendered at once in threads do not interfere (no pyplot global state)."""
    import matplotlib.pyplot

    results: list[bytes] = []

    def render() -> None:
        results.append(
            render_spend_chart(
                _month_of_spend(),
                period=Period.month(2026, 10),
                budget_micros=None,
                names={},
                title="t",
            )
        )

    threads = [threading.Thread(target=render) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2
    assert all(Image.open(io.BytesIO(png)).size == CHART_SIZE_PX for png in results)
    assert matplotlib.pyplot.get_fignums() == []


rows = st.builds(
    LedgerRow,
    id=st.integers(min_value=1, max_value=2**53),
    created_at=st.datetimes(
        min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(2030, 1, 1),  # noqa: DTZ001 - and adds the zone itself
        timezones=st.just(UTC),
    ),
    month=st.from_regex(r"\A20[2-3][0-9]-(0[1-9]|1[0-2])\Z"),
    workspace_id=st.text(min_size=1, max_size=12),
    user_id=st.text(min_size=1, max_size=12),
    channel_id=st.none() | st.text(min_size=1, max_size=12),
    thread_ts=st.none() | st.from_regex(r"\A[0-9]{10}\.[0-9]{6}\Z"),
    model_id=st.text(min_size=1, max_size=30),
    tier=st.none() | st.sampled_from(["economy", "draft", "hero", "final", "edit", "character"]),
    images=st.integers(min_value=0, max_value=10),
    image_size=st.none() | st.sampled_from(["512", "1K", "2K", "4K"]),
    batch=st.booleans(),
    input_tokens=st.integers(min_value=0, max_value=10**9),
    input_image_tokens=st.integers(min_value=0, max_value=10**9),
    output_image_tokens=st.integers(min_value=0, max_value=10**9),
    output_text_tokens=st.integers(min_value=0, max_value=10**9),
    thinking_tokens=st.integers(min_value=0, max_value=10**9),
    usage_reported=st.booleans(),
    reference_inputs=st.integers(min_value=0, max_value=14),
    cost_micros=st.integers(min_value=-(10**12), max_value=10**12),
    possibly_billed=st.booleans(),
    interrupted=st.booleans(),
    idempotency_key=st.text(min_size=1, max_size=40),
    request_key=st.none() | st.text(min_size=1, max_size=40),
)


@settings(max_examples=100)
@given(st.lists(rows, max_size=20))
def test_csv_round_trips(ledger_rows: list[LedgerRow]) -> None:
    """Any ledger rows written as CSV parse back to the same rows."""
    data = ledger_csv(ledger_rows)
    assert parse_ledger_csv(data.decode("utf-8")) == ledger_rows


def test_csv_has_dollars_for_spreadsheets() -> None:
    """cost_usd sits beside cost_micros with six decimals."""
    row = LedgerRow(
        id=1,
        created_at=datetime(2026, 10, 1, tzinfo=UTC),
        month="2026-10",
        workspace_id="T1",
        user_id="U1",
        channel_id=None,
        thread_ts=None,
        model_id="m",
        tier=None,
        images=1,
        image_size=None,
        batch=False,
        input_tokens=0,
        input_image_tokens=0,
        output_image_tokens=0,
        output_text_tokens=0,
        thinking_tokens=0,
        usage_reported=True,
        reference_inputs=0,
        cost_micros=134_000,
        possibly_billed=False,
        interrupted=False,
        idempotency_key="k",
        request_key=None,
    )
    header, line = ledger_csv([row]).decode().splitlines()
    assert header.split(",") == list(LEDGER_CSV_COLUMNS)
    assert ",134000,0.134000," in line


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\r\n", "header"),
        (",".join(LEDGER_CSV_COLUMNS) + "\r\n1,2\r\n", "line 2: 2 columns"),
    ],
)
def test_csv_parser_names_the_problem(text: str, message: str) -> None:
    """A CSV that is not the export is refused with the line and column."""
    with pytest.raises(CsvFormatError, match=message):
        parse_ledger_csv(text)
