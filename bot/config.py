"""Settings: the only module that reads the environment (and the ``.env`` file).

Construct :class:`Settings` once, in the composition root or a CLI handler, never at import time.
A missing or malformed setting raises :class:`ConfigError` whose message is one line naming the
variable, so ``imagebot serve`` can stop with exactly that line.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from router.money import MoneyError, usd_to_micros

__all__ = ["DEFAULT_SLACK_FILE_HOSTS", "ConfigError", "Settings", "load_settings"]

#: Where Slack serves private files (commercial and GovSlack).
DEFAULT_SLACK_FILE_HOSTS: tuple[str, ...] = ("files.slack.com", "files.slack-gov.com")


class ConfigError(Exception):
    """Raised when a setting is missing or malformed; ``str()`` is one line naming it."""


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    """Every setting of the bot, with the environment variable that sets it."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        env_ignore_empty=True,  # VAR= means unset, not an empty secret
    )

    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=_env("SLACK_BOT_TOKEN")
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(
        default=None, validation_alias=_env("SLACK_APP_TOKEN")
    )
    gemini_api_key: SecretStr | None = Field(
        default=None, validation_alias=_env("GEMINI_API_KEY", "GOOGLE_API_KEY")
    )
    gemini_base_url: str | None = Field(
        default=None, validation_alias=_env("IMAGEBOT_GEMINI_BASE_URL")
    )
    gemini_api_version: str | None = Field(
        default=None, validation_alias=_env("IMAGEBOT_GEMINI_API_VERSION")
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/", validation_alias=_env("IMAGEBOT_SLACK_API_URL")
    )
    database_url: str = Field(
        default="sqlite:///imagebot.db", validation_alias=_env("IMAGEBOT_DATABASE_URL")
    )
    rate_card: str = Field(default="current-2026-11", validation_alias=_env("IMAGEBOT_RATE_CARD"))
    image_dir: Path = Field(default=Path("images"), validation_alias=_env("IMAGEBOT_IMAGE_DIR"))
    timezone: str = Field(default="UTC", validation_alias=_env("IMAGEBOT_TIMEZONE"))
    default_user_budget_usd: Decimal | None = Field(
        default=Decimal("50"), validation_alias=_env("IMAGEBOT_DEFAULT_USER_BUDGET_USD")
    )
    workspace_budget_usd: Decimal | None = Field(
        default=Decimal("2000"), validation_alias=_env("IMAGEBOT_WORKSPACE_BUDGET_USD")
    )
    confirm_above_usd: Decimal = Field(
        default=Decimal("1"), validation_alias=_env("IMAGEBOT_CONFIRM_ABOVE_USD")
    )
    admins: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(), validation_alias=_env("IMAGEBOT_ADMINS")
    )
    slack_file_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        default=DEFAULT_SLACK_FILE_HOSTS, validation_alias=_env("IMAGEBOT_SLACK_FILE_HOSTS")
    )
    max_download_mb: int = Field(
        default=20, ge=1, validation_alias=_env("IMAGEBOT_MAX_DOWNLOAD_MB")
    )
    gemini_concurrency: int = Field(
        default=8, ge=1, le=64, validation_alias=_env("IMAGEBOT_GEMINI_CONCURRENCY")
    )
    gemini_timeout_s: float = Field(
        default=120.0, gt=0, validation_alias=_env("IMAGEBOT_GEMINI_TIMEOUT_S")
    )
    log_level: str = Field(default="INFO", validation_alias=_env("IMAGEBOT_LOG_LEVEL"))

    @field_validator("admins", mode="before")
    @classmethod
    def _admins(cls, value: Any) -> Any:
        parsed = _split_csv(value)
        return frozenset(parsed) if isinstance(parsed, list) else parsed

    @field_validator("slack_file_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: Any) -> Any:
        parsed = _split_csv(value)
        if isinstance(parsed, list):
            hosts = tuple(item.lower() for item in parsed)
            for host in hosts:
                if "/" in host or " " in host:
                    raise ValueError(f"{host!r} is not a host or host:port")
            return hosts
        return parsed

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        scheme = value.partition("://")[0].split("+")[0].lower()
        if scheme not in ("sqlite", "postgres", "postgresql"):
            raise ValueError(
                f"{scheme or value!r} is not a database imagebot supports; use "
                "sqlite:///imagebot.db or postgresql://user@host/db"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"{value!r} is not a time zone name such as UTC or Europe/Paris"
            ) from exc
        return value

    @field_validator("default_user_budget_usd", "workspace_budget_usd", mode="before")
    @classmethod
    def _optional_budget(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("", "none", "unlimited"):
            return None
        return value

    @field_validator("default_user_budget_usd", "workspace_budget_usd", "confirm_above_usd")
    @classmethod
    def _money(cls, value: Decimal | None) -> Decimal | None:
        if value is None:
            return None
        if value < 0:
            raise ValueError("must not be negative")
        try:
            usd_to_micros(value)
        except MoneyError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        """The time zone whose calendar months key the budgets."""
        return ZoneInfo(self.timezone)

    @property
    def default_user_budget_micros(self) -> int | None:
        """The monthly budget of a user who has none of their own, in micro-USD."""
        if self.default_user_budget_usd is None:
            return None
        return usd_to_micros(self.default_user_budget_usd)

    @property
    def workspace_budget_micros(self) -> int | None:
        """The workspace's monthly budget, in micro-USD (None: no workspace cap)."""
        if self.workspace_budget_usd is None:
            return None
        return usd_to_micros(self.workspace_budget_usd)

    @property
    def confirm_above_micros(self) -> int:
        """Requests estimated above this amount ask for confirmation first."""
        return usd_to_micros(self.confirm_above_usd)

    def require(self, *names: str) -> None:
        """Raise :class:`ConfigError` naming the first of ``names`` that is not set."""
        for name in names:
            if getattr(self, name) is None:
                env = _ENV_NAMES.get(name, name.upper())
                raise ConfigError(f"{env}: missing; set it in the environment or in .env")


def _env_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for field_name, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices) and alias.choices:
            names[field_name] = str(alias.choices[0])
    return names


_ENV_NAMES = _env_names()


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning a validation error into one :class:`ConfigError` line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "settings"
        env = _ENV_NAMES.get(field, field)
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{env}: {message}") from None
