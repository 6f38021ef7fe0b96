"""``imagebot serve`` as a real process: start-up, health, metrics, clean shutdown, bad settings."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp

from tests.fakes.gemini_api import FakeGeminiAPI
from tests.fakes.slack_api import FakeSlackAPI

ROOT = str(Path(__file__).resolve().parents[3])


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any of the bot's variables, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("IMAGEBOT_", "SLACK_", "GEMINI_", "GOOGLE_"))
    }
    env.update(extra)
    return env


async def wait_healthy(url: str, process: asyncio.subprocess.Process) -> aiohttp.ClientResponse:
    """Poll /healthz until it answers (or the process dies), at most 30 seconds."""
    async with asyncio.timeout(30), aiohttp.ClientSession() as session:
        while True:
            assert process.returncode is None, "serve exited during start-up"
            try:
                async with session.get(url) as response:
                    await response.read()
                    return response
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)  # the server is not listening yet: poll again


async def test_serve_starts_answers_health_and_stops_on_sigterm(tmp_path: Path) -> None:
    """serve migrates the database, answers /healthz and /metrics, and exits 0 on SIGTERM."""
    port = free_port()
    async with FakeSlackAPI() as slack, FakeGeminiAPI() as gemini:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "serve",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            cwd=tmp_path,
            env=clean_env(
                SLACK_BOT_TOKEN=slack.token,
                SLACK_SIGNING_SECRET="process-secret",
                GEMINI_API_KEY=gemini.api_key,
                IMAGEBOT_GEMINI_BASE_URL=gemini.base_url,
                IMAGEBOT_SLACK_API_URL=slack.base_url,
                PYTHONPATH=ROOT,
            ),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            health = await wait_healthy(f"http://127.0.0.1:{port}/healthz", process)
            assert health.status == 200
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}/metrics") as metrics,
            ):
                assert "imagebot_requests" in await metrics.text()
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 0, stderr.decode()
        assert (tmp_path / "imagebot.db").exists()
        assert "models.list ok" in stderr.decode()
        assert gemini.api_key not in stderr.decode()
        assert slack.token not in stderr.decode()


async def test_missing_token_stops_with_one_line(tmp_path: Path) -> None:
    """Without tokens serve exits 2 with one line naming the missing variable."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        cwd=tmp_path,
        env=clean_env(PYTHONPATH=ROOT),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    assert stderr.decode().strip() == (
        "imagebot: SLACK_BOT_TOKEN: missing; set it in the environment or in .env"
    )


async def test_malformed_setting_stops_with_one_line(tmp_path: Path) -> None:
    """A malformed setting names the variable in one line and nothing starts."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        cwd=tmp_path,
        env=clean_env(
            PYTHONPATH=ROOT,
            IMAGEBOT_TIMEZONE="Mars/Olympus",
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    assert stderr.decode().strip().startswith("imagebot: IMAGEBOT_TIMEZONE:")
    assert not (tmp_path / "imagebot.db").exists()


async def test_bad_rate_card_stops_with_one_line(tmp_path: Path) -> None:
    """A rate card that cannot be read stops serve with one line naming the file."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        cwd=tmp_path,
        env=clean_env(
            PYTHONPATH=ROOT,
            SLACK_BOT_TOKEN="xoxb-any",
            SLACK_SIGNING_SECRET="any",
            GEMINI_API_KEY="any",
            IMAGEBOT_RATE_CARD=str(tmp_path / "missing.toml"),
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    [line] = stderr.decode().strip().splitlines()
    assert line.startswith("imagebot: rate card ")
    assert "missing.toml" in line
