"""``imagebot batch submit|status|collect`` end to end against the fake Gemini API."""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import batch
from bot.ledger import make_engine, transaction, upgrade
from bot.ledger.tables import Workspace
from tests.fakes.gemini_api import DEFAULT_LISTED, FakeGeminiAPI

NB2 = "gemini-3.1-flash-image"
NB21 = "gemini-nano-banana-2.1"


def _cli(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="imagebot")
    subparsers = parser.add_subparsers(dest="command", required=True)
    batch.register(subparsers)
    args = parser.parse_args(list(argv))
    code: int = args.func(args)
    return code


async def _run(*argv: str) -> int:
    # The command runs its own event loop, so it runs in a thread while the fake keeps serving.
    return await asyncio.to_thread(_cli, argv)


@pytest.fixture
async def gemini_api(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[FakeGeminiAPI]:
    """The fake API, with the environment pointing the CLI at it (and no .env file in reach)."""
    async with FakeGeminiAPI(listed=DEFAULT_LISTED | {NB21}) as api:
        monkeypatch.chdir(tmp_path)
        for name in ("GOOGLE_API_KEY", "IMAGEBOT_RATE_CARD", "IMAGEBOT_GEMINI_API_VERSION"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("GEMINI_API_KEY", api.api_key)
        monkeypatch.setenv("IMAGEBOT_GEMINI_BASE_URL", api.base_url)
        monkeypatch.setenv("IMAGEBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'imagebot.db'}")
        monkeypatch.setenv("IMAGEBOT_IMAGE_DIR", str(tmp_path / "images"))
        yield api


def test_read_prompts_skips_blank_lines_and_comments() -> None:
    """A batch file is one prompt per line; blank lines and # comments are not prompts."""
    text = "# catalog\nred sneaker\n\n   \n  blue sneaker  \n# done\n"
    assert batch.read_prompts(text) == ["red sneaker", "blue sneaker"]


async def test_submit_collect_and_status(
    gemini_api: FakeGeminiAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """submit prints the plan, the saving and the job; collect saves and prices the images;
    status lists the job as done with its cost."""
    prompts = tmp_path / "skus.txt"
    prompts.write_text("# SKUs\nred sneaker\n\nblue sneaker\n", encoding="utf-8")
    code = await _run(
        "batch", "submit", str(prompts), "--hero", "--2k", "--aspect", "1:1", "--key", "skus-1"
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "plan: 2 images on Nano Banana 2 (gemini-3.1-flash-image), 2K, batch estimate $" in out
    assert "interactive price: $" in out and "batch saves $" in out
    [name] = gemini_api.batches
    assert f"job: skus-1 ({name})" in out
    sent = gemini_api.batches[name].requests
    assert [(r.prompt, r.image_size, r.aspect_ratio) for r in sent] == [
        ("red sneaker", "2K", "1:1"),
        ("blue sneaker", "2K", "1:1"),
    ]

    assert await _run("batch", "collect") == 0
    assert "skus-1: pending" in capsys.readouterr().out

    gemini_api.finish_batch(name)
    assert await _run("batch", "collect") == 0
    out = capsys.readouterr().out
    assert "skus-1: done. 2 of 2 images made for $" in out
    assert f"images: {tmp_path / 'images' / 'batches' / 'skus-1'}" in out
    saved = sorted((tmp_path / "images" / "batches" / "skus-1").rglob("*.png"))
    assert [p.name for p in saved] == ["0001.png", "0002.png"]
    with sqlite3.connect(tmp_path / "imagebot.db") as db:
        rows = db.execute("SELECT user_id, batch, cost_micros FROM ledger_entry").fetchall()
    assert [(user, bool(flag)) for user, flag, _ in rows] == [("cli", True), ("cli", True)]

    assert await _run("batch", "status") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["JOB", "STATE", "IMAGES", "ESTIMATE", "COST", "AGE"]
    assert out.splitlines()[1].split()[:3] == ["skus-1", "done", "2/2"]
    assert await _run("batch", "status", "skus-1") == 0
    assert "state: done" in capsys.readouterr().out


async def test_submit_refuses_a_model_that_cannot_batch(
    gemini_api: FakeGeminiAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--model naming a model without batch support exits 2 naming models that can batch."""
    prompts = tmp_path / "p.txt"
    prompts.write_text("red sneaker\n", encoding="utf-8")
    code = await _run("batch", "submit", str(prompts), "--model", "Nano Banana 2.1")
    err = capsys.readouterr().err
    assert code == 2
    assert "Nano Banana 2.1 cannot run as a batch job" in err
    assert gemini_api.batches == {}


async def test_submit_estimate_sends_nothing(
    gemini_api: FakeGeminiAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--estimate prints the plan and the saving without creating a job."""
    prompts = tmp_path / "p.txt"
    prompts.write_text("red sneaker\nblue sneaker\n", encoding="utf-8")
    assert await _run("batch", "submit", str(prompts), "--estimate") == 0
    assert "batch saves $" in capsys.readouterr().out
    assert gemini_api.batches == {}


async def _slack_workspaces(database: Path, *ids: str) -> None:
    """Record Slack workspaces as having used the bot."""
    url = f"sqlite:///{database}"
    await upgrade(url)
    engine = make_engine(url)
    try:
        async with transaction(engine) as session:
            for workspace in ids:
                session.add(Workspace(id=workspace, created_at=datetime(2026, 11, 1, tzinfo=UTC)))
    finally:
        await engine.dispose()


async def test_without_team_the_one_slack_workspace_is_charged(
    gemini_api: FakeGeminiAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --team, submit charges the single Slack workspace and status lists its jobs."""
    await _slack_workspaces(tmp_path / "imagebot.db", "T9")
    prompts = tmp_path / "p.txt"
    prompts.write_text("red sneaker\n", encoding="utf-8")
    assert await _run("batch", "submit", str(prompts), "--key", "solo-1") == 0
    with sqlite3.connect(tmp_path / "imagebot.db") as db:
        rows = db.execute("SELECT workspace_id, user_id FROM batch_job").fetchall()
        held = db.execute("SELECT workspace_id FROM reservation").fetchall()
    assert rows == [("T9", "cli")] and held == [("T9",)]
    capsys.readouterr()
    assert await _run("batch", "status") == 0
    assert capsys.readouterr().out.splitlines()[1].split()[:2] == ["solo-1", "pending"]


async def test_without_team_several_workspaces_need_one_named(
    gemini_api: FakeGeminiAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With several Slack workspaces, submit and status without --team exit 2 and send nothing."""
    await _slack_workspaces(tmp_path / "imagebot.db", "T1", "T2")
    prompts = tmp_path / "p.txt"
    prompts.write_text("red sneaker\n", encoding="utf-8")
    assert await _run("batch", "submit", str(prompts)) == 2
    assert "pass --team" in capsys.readouterr().err
    assert gemini_api.batches == {}
    assert await _run("batch", "status") == 2
    assert "pass --team" in capsys.readouterr().err
