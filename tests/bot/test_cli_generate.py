"""``imagebot generate`` and ``imagebot models`` end to end against the fake Gemini API."""

from __future__ import annotations

import argparse
import asyncio
import io
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from PIL import Image

from bot.cli import generate, models
from bot.config import ConfigError
from router.money import format_usd
from tests.fakes.gemini_api import DEFAULT_LISTED, FakeGeminiAPI, NotFound, png_bytes

NB2 = "gemini-3.1-flash-image"
NB21 = "gemini-nano-banana-2.1"
PRO = "gemini-3-pro-image"


def _cli(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="imagebot")
    subparsers = parser.add_subparsers(dest="command", required=True)
    generate.register(subparsers)
    models.register(subparsers)
    args = parser.parse_args(list(argv))
    code: int = args.func(args)
    return code


async def _run(*argv: str) -> int:
    # The command runs its own event loop (asyncio.run), so it runs in a worker thread while the
    # fake server keeps serving on this test's loop.
    return await asyncio.to_thread(_cli, argv)


@pytest.fixture
async def gemini_api(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[FakeGeminiAPI]:
    """The fake API, with the environment pointing the CLI at it (and no .env file in reach)."""
    async with FakeGeminiAPI(listed=DEFAULT_LISTED | {NB21}) as api:
        monkeypatch.chdir(tmp_path)
        for name in (
            "GOOGLE_API_KEY",
            "IMAGEBOT_RATE_CARD",
            "IMAGEBOT_GEMINI_API_VERSION",
            "IMAGEBOT_GEMINI_TIMEOUT_S",
        ):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("GEMINI_API_KEY", api.api_key)
        monkeypatch.setenv("IMAGEBOT_GEMINI_BASE_URL", api.base_url)
        yield api


async def test_generate_saves_images_and_prints_model_and_cost(
    gemini_api: FakeGeminiAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A hero request is planned, made, saved as PNG and reported with its actual cost."""
    out_dir = tmp_path / "out"
    code = await _run("generate", "hero lemonade can on a beach --16:9 -n 2", "-o", str(out_dir))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    files = sorted(path for path in out_dir.rglob("*") if path.is_file())
    assert len(files) == 2
    assert all(Image.open(io.BytesIO(f.read_bytes())).format == "PNG" for f in files)
    assert f"model: Nano Banana 2.1 ({NB21})" in captured.out
    assert "cost: $0." in captured.out
    assert all(f"saved: {f}" in captured.out for f in files)
    assert "Generating with Nano Banana 2.1" in captured.err
    sent = gemini_api.generate_requests(NB21)
    assert len(sent) == 2
    assert sent[0].aspect_ratio == "16:9"
    assert sent[0].prompt == "lemonade can on a beach"
    with sqlite3.connect(tmp_path / "imagebot.db") as db:
        rows = db.execute("SELECT user_id, images, cost_micros FROM ledger_entry").fetchall()
    assert [(user, images) for user, images, _ in rows] == [("cli", 1), ("cli", 1)]
    assert f"cost: {format_usd(sum(cost for _, _, cost in rows))}" in captured.out


async def test_generate_reports_reroute_notice(
    gemini_api: FakeGeminiAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A live 404 on the planned model is re-routed to its successor and the notice printed."""
    gemini_api.script(PRO, NotFound())
    code = await _run("generate", "final spring poster", "-o", str(tmp_path / "o"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "notice: Nano Banana Pro is not offered to this API key" in captured.out


async def test_generate_estimate_only_makes_no_call(
    gemini_api: FakeGeminiAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--estimate prints the plan and its estimate without calling generateContent."""
    code = await _run("generate", "-o", str(tmp_path / "o"), "--", "draft", "banner", "--estimate")
    captured = capsys.readouterr()
    assert code == 0
    assert "estimate $" in captured.out
    assert gemini_api.generate_requests() == []


async def test_generate_sends_reference_files(
    gemini_api: FakeGeminiAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--ref files are sent inline and route to the character tier."""
    ref = tmp_path / "mascot.png"
    ref.write_bytes(png_bytes(5))
    code = await _run("generate", "our mascot waving", "--ref", str(ref), "-o", str(tmp_path / "o"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    (sent,) = gemini_api.generate_requests()
    assert sent.images == (ref.read_bytes(),)


async def test_generate_with_wrong_key_fails_without_leaking_it(
    gemini_api: FakeGeminiAPI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A refused key exits 1 with a message for people and never prints the key."""
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-wrong-key-987")
    code = await _run("generate", "a cat", "-o", str(tmp_path / "o"))
    captured = capsys.readouterr()
    assert code == 1
    assert "Ask an admin to check the Gemini API key" in captured.err
    assert "AIza-wrong-key-987" not in captured.out + captured.err


async def test_generate_needs_an_api_key(
    gemini_api: FakeGeminiAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without GEMINI_API_KEY the command stops with a ConfigError naming it."""
    monkeypatch.delenv("GEMINI_API_KEY")
    with pytest.raises(ConfigError, match="GEMINI_API_KEY"):
        await _run("generate", "a cat", "-o", str(tmp_path / "o"))


async def test_models_shows_live_retired_and_not_offered(
    gemini_api: FakeGeminiAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    """models lists each card model with its price and what models.list says about it."""
    gemini_api.listed.discard(NB21)
    code = await _run("models")
    out = capsys.readouterr().out
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert lines[PRO].endswith("live")
    assert "1K $0.134" in lines[PRO]
    assert lines[NB21].endswith("not offered to this key")
    assert lines["imagen-4.0-generate-001"].endswith("retired on 2026-08-17")
    assert lines["gemini-2.5-flash-image"].endswith("live")


async def test_models_offline_makes_no_call(
    gemini_api: FakeGeminiAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    """--offline shows card dates only and does not ask the API."""
    code = await _run("models", "--offline")
    out = capsys.readouterr().out
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert lines[PRO].endswith("unchecked")
    assert lines["imagen-4.0-ultra-generate-001"].endswith("retired on 2026-08-17")
    assert gemini_api.requests == []
