"""Delivery into Slack: upload retries, refused uploads kept and reposted, who gets ignored."""

from __future__ import annotations

from datetime import timedelta

from tests.bot.e2e.conftest import Bot


async def test_upload_rate_limit_is_retried(bot: Bot) -> None:
    """Slack's 429 on the upload is retried after Retry-After and the image arrives."""
    bot.slack.rate_limit("files.getUploadURLExternal", retry_after=1)
    await bot.command("a sailing boat")
    await bot.settle()
    assert len(bot.slack.calls_to("files.getUploadURLExternal")) == 2
    assert len(bot.slack.uploaded_files()) == 1


async def test_refused_upload_is_kept_and_reposted_by_maintenance(bot: Bot) -> None:
    """A refused upload leaves the paid image on disk, says so, and maintenance posts it later."""
    bot.slack.error("files.completeUploadExternal", "not_in_channel")
    await bot.command("a paper crane")
    await bot.settle()
    assert not bot.slack.uploaded_files()
    texts = [call.params.get("text", "") for call in bot.slack.calls_to("chat.postMessage")]
    assert any("saved and paid for" in text for text in texts)
    assert len(list(bot.image_dir.rglob("*.png"))) == 1
    bot.clock.advance(timedelta(minutes=5))
    assert await bot.runtime.flow.repost_pending() == 1
    assert len(bot.slack.uploaded_files()) == 1
    assert await bot.runtime.flow.repost_pending() == 0


async def test_bots_and_foreign_threads_are_ignored(bot: Bot) -> None:
    """Messages from bots, top-level chatter and threads the bot did not start change nothing."""
    await bot.event(
        {"type": "message", "channel": "C111", "user": "U111", "text": "hello", "ts": "1.1"}
    )
    await bot.event(
        {
            "type": "message",
            "channel": "C111",
            "user": "U111",
            "text": "in someone else's thread",
            "ts": "2.2",
            "thread_ts": "1.1",
        }
    )
    await bot.event(
        {
            "type": "message",
            "subtype": "bot_message",
            "bot_id": "B999",
            "channel": "C111",
            "text": "I am a bot",
            "ts": "3.3",
            "thread_ts": "1.1",
        }
    )
    await bot.settle()
    assert bot.gemini.generate_requests() == []
    assert bot.slack.calls_to("chat.postMessage") == []


async def test_top_level_mention_starts_a_thread_under_it(bot: Bot) -> None:
    """@imagebot with a prompt outside a thread answers in a thread under the mention."""
    await bot.event(
        {
            "type": "app_mention",
            "channel": "C111",
            "user": "U111",
            "text": f"<@{bot.slack.bot_user_id}> a red kite at dawn",
            "ts": "1700000300.000100",
        }
    )
    await bot.settle()
    [request] = bot.gemini.generate_requests()
    assert request.prompt.startswith("a red kite at dawn")
    [upload] = bot.slack.calls_to("files.completeUploadExternal")
    assert upload.params["thread_ts"] == "1700000300.000100"


async def test_health_and_metrics_in_process(bot: Bot) -> None:
    """/healthz checks the database; /metrics counts finished requests."""
    await bot.command("a cup of tea")
    await bot.settle()
    health = await bot.http.get("/healthz")
    assert health.status == 200
    metrics = await (await bot.http.get("/metrics")).text()
    assert 'imagebot_requests_total{outcome="done"} 1.0' in metrics
