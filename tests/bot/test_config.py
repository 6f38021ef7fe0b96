"""Settings: one clear line per missing or malformed setting; lists and money parsed."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, Settings, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory) -> None:
    """Runs each test in an empty directory with none of the bot's variables set."""
    monkeypatch.chdir(str(tmp_path))
    for name in list(__import__("os").environ):
        if name.startswith(("IMAGEBOT_", "SLACK_", "GEMINI_", "GOOGLE_")):
            monkeypatch.delenv(name)


def test_defaults_are_sqlite_and_the_current_card() -> None:
    """Without any variable the bot uses SQLite, the current card and UTC months."""
    settings = load_settings()
    assert settings.database_url == "sqlite:///imagebot.db"
    assert settings.rate_card == "current-2026-11"
    assert str(settings.tz) == "UTC"
    assert settings.default_user_budget_micros == 50_000_000


def test_lists_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    """Admins and file hosts are comma-separated lists; hosts are lower-cased."""
    monkeypatch.setenv("IMAGEBOT_ADMINS", "U1, U2,,")
    monkeypatch.setenv("IMAGEBOT_SLACK_FILE_HOSTS", "Files.Slack.com,127.0.0.1:8080")
    settings = load_settings()
    assert settings.admins == frozenset({"U1", "U2"})
    assert settings.slack_file_hosts == ("files.slack.com", "127.0.0.1:8080")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "IMAGEBOT_TIMEZONE",
            "Mars/Olympus",
            "IMAGEBOT_TIMEZONE: 'Mars/Olympus' is not a time zone",
        ),
        ("IMAGEBOT_WORKSPACE_BUDGET_USD", "lots", "IMAGEBOT_WORKSPACE_BUDGET_USD:"),
        ("IMAGEBOT_DEFAULT_USER_BUDGET_USD", "-5", "IMAGEBOT_DEFAULT_USER_BUDGET_USD: must not be"),
        ("IMAGEBOT_SLACK_FILE_HOSTS", "https://files.slack.com/x", "IMAGEBOT_SLACK_FILE_HOSTS:"),
        ("IMAGEBOT_GEMINI_CONCURRENCY", "0", "IMAGEBOT_GEMINI_CONCURRENCY:"),
        ("IMAGEBOT_DATABASE_URL", "mysql://u@h/db", "IMAGEBOT_DATABASE_URL: 'mysql' is not a"),
    ],
)
def test_malformed_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    """A malformed setting fails with one line that starts with the variable's name."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value).startswith(expected)
    assert "\n" not in str(info.value)


def test_missing_secret_names_the_variable() -> None:
    """require() names the environment variable of the first missing setting."""
    with pytest.raises(ConfigError, match=r"^SLACK_BOT_TOKEN: missing"):
        load_settings().require("slack_bot_token")


def test_unlimited_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    """'none' turns a budget off."""
    monkeypatch.setenv("IMAGEBOT_WORKSPACE_BUDGET_USD", "none")
    assert load_settings().workspace_budget_micros is None


def test_dotenv_file_is_read(tmp_path: pytest.TempPathFactory) -> None:
    """Secrets may come from a .env file in the working directory, and are never printed."""
    with open(".env", "w", encoding="utf-8") as handle:
        handle.write("SLACK_BOT_TOKEN=xoxb-secret-value\n")
    settings = Settings()
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-secret-value"
    assert "xoxb-secret-value" not in repr(settings)


def test_an_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """VAR= is treated as missing, so an empty app token does not switch on Socket Mode."""
    monkeypatch.setenv("SLACK_APP_TOKEN", "")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "")
    settings = load_settings()
    assert settings.slack_app_token is None
    with pytest.raises(ConfigError, match=r"^SLACK_BOT_TOKEN: missing"):
        settings.require("slack_bot_token")
