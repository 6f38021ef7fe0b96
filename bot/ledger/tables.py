"""The ledger's tables (SQLModel), the one source the migrations are checked against.

The schema is created only by the Alembic migrations in ``migrations/versions``; a test checks that
autogenerate finds no difference between these models and the migrated database. Money columns
are ``BIGINT`` micro-USD; every timestamp is stored in UTC (:class:`UTCDateTime` hands back
UTC-aware datetimes on SQLite too). Budgets are keyed by calendar month (``'YYYY-MM'`` in the
configured time zone): nothing is ever reset.

A *scope* is a Slack user id, or :data:`WORKSPACE_SCOPE` for the workspace as a whole.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

__all__ = [
    "WORKSPACE_SCOPE",
    "BatchJob",
    "Budget",
    "BudgetAlert",
    "BudgetIncreaseRequest",
    "GenerationRequest",
    "LedgerEntry",
    "LedgerModel",
    "PendingUpload",
    "ProcessedDelivery",
    "Reservation",
    "SlackThread",
    "SlackUser",
    "SpendCounter",
    "ThreadImage",
    "UTCDateTime",
    "Workspace",
    "metadata",
]

#: The scope string that stands for "the workspace as a whole" (Slack user ids never contain '*').
WORKSPACE_SCOPE = "*workspace*"

# Named constraints keep migrations (and SQLite batch rebuilds) deterministic.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC that refuses naive datetimes and always reads back UTC-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the ledger stores UTC-aware times only")
        value = value.astimezone(UTC)
        # SQLite keeps no offset: store naive UTC there, aware UTC everywhere else.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class LedgerModel(SQLModel, registry=registry(metadata=metadata)):
    """Base of every ledger table: binds them to :data:`metadata`, not SQLModel's global one."""


def _id(**kwargs: Any) -> Any:
    """A Slack id (team, user, channel) column."""
    return Field(sa_type=String(64), **kwargs)


def _ts(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


def _money(**kwargs: Any) -> Any:
    return Field(sa_type=BigInteger, **kwargs)


class Workspace(LedgerModel, table=True):
    """A Slack workspace (team). Single-workspace installs use the id ``"default"``."""

    __tablename__ = "workspace"

    id: str = _id(primary_key=True)
    name: str | None = Field(default=None, sa_type=String(200))
    created_at: datetime = _ts()


class SlackUser(LedgerModel, table=True):
    """A person in a workspace, by Slack user id."""

    __tablename__ = "slack_user"
    __table_args__ = (ForeignKeyConstraint(["workspace_id"], ["workspace.id"]),)

    workspace_id: str = _id(primary_key=True)
    user_id: str = _id(primary_key=True)
    display_name: str | None = Field(default=None, sa_type=String(200))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Budget(LedgerModel, table=True):
    """One budget decision: kept as history; the newest row per (workspace, scope, month) rules.

    ``month`` None is the standing monthly budget; ``'YYYY-MM'`` overrides it for that month only
    (an approved raise). ``amount_micros`` None means explicitly unlimited.
    """

    __tablename__ = "budget"
    __table_args__ = (
        ForeignKeyConstraint(["workspace_id"], ["workspace.id"]),
        Index(None, "workspace_id", "scope", "month", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = _id()
    scope: str = _id()
    month: str | None = Field(default=None, sa_type=String(7))
    amount_micros: int | None = _money(default=None)
    set_by: str = _id()
    set_at: datetime = _ts()
    reason: str | None = Field(default=None, sa_type=Text)


class SpendCounter(LedgerModel, table=True):
    """Running totals per (workspace, scope, month), updated in the reservation's transaction.

    ``settled_micros`` equals the sum of that month's ledger entries of the scope, and
    ``reserved_micros`` the estimates of its open reservations. The row is also the lock that
    serialises budget checks (``SELECT ... FOR UPDATE`` on PostgreSQL).
    """

    __tablename__ = "spend_counter"
    __table_args__ = (ForeignKeyConstraint(["workspace_id"], ["workspace.id"]),)

    workspace_id: str = _id(primary_key=True)
    scope: str = _id(primary_key=True)
    month: str = Field(sa_type=String(7), primary_key=True)
    settled_micros: int = _money(default=0)
    reserved_micros: int = _money(default=0)
    updated_at: datetime = _ts()


class GenerationRequest(LedgerModel, table=True):
    """One ``/image`` request: who asked, where, what, the plan chosen, and how far it got."""

    __tablename__ = "generation_request"
    __table_args__ = (
        ForeignKeyConstraint(["workspace_id"], ["workspace.id"]),
        Index(None, "workspace_id", "created_at"),
        Index(None, "state", "updated_at"),
    )

    key: str = Field(sa_type=String(200), primary_key=True)
    workspace_id: str = _id()
    user_id: str = _id()
    channel_id: str | None = _id(default=None)
    thread_ts: str | None = Field(default=None, sa_type=String(32))
    prompt: str = Field(sa_type=Text)
    constraints_json: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    plan_json: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    state: str = Field(sa_type=String(16))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class Reservation(LedgerModel, table=True):
    """Money held for a request between the budget check and the settlement.

    ``state``: ``open`` (counted in ``reserved_micros`` of ``month``), ``settled``, ``released``
    or ``interrupted`` (settled at its estimate after a crash).
    """

    __tablename__ = "reservation"
    __table_args__ = (
        ForeignKeyConstraint(["workspace_id"], ["workspace.id"]),
        Index(None, "state", "created_at"),
    )

    key: str = Field(sa_type=String(200), primary_key=True)
    workspace_id: str = _id()
    user_id: str = _id()
    channel_id: str | None = _id(default=None)
    thread_ts: str | None = Field(default=None, sa_type=String(32))
    description: str = Field(default="", sa_type=Text)
    model_id: str | None = Field(default=None, sa_type=String(100))
    tier: str | None = Field(default=None, sa_type=String(32))
    month: str = Field(sa_type=String(7))
    estimate_micros: int = _money()
    settled_micros: int | None = _money(default=None)
    state: str = Field(sa_type=String(16))
    created_at: datetime = _ts()
    closed_at: datetime | None = _ts(default=None)


class LedgerEntry(LedgerModel, table=True):
    """One billed (or possibly billed) provider call. Append-only; the truth behind every report.

    ``month`` is the calendar month (configured tz) the cost counts against; ``interrupted`` rows
    were written by crash recovery at the reservation's estimate (and a negative ``interrupted``
    row reverses one if the real settlement arrives later).
    """

    __tablename__ = "ledger_entry"
    __table_args__ = (
        ForeignKeyConstraint(["workspace_id"], ["workspace.id"]),
        ForeignKeyConstraint(["request_key"], ["reservation.key"]),
        UniqueConstraint("idempotency_key"),
        Index(None, "workspace_id", "created_at"),
        Index(None, "workspace_id", "user_id", "created_at"),
        Index(None, "workspace_id", "model_id", "created_at"),
        Index(None, "workspace_id", "channel_id", "created_at"),
        # Covering index of the month's reports: one index-only pass answers /spend team.
        Index(
            "ix_ledger_entry_month_report",
            "workspace_id",
            "month",
            "user_id",
            "model_id",
            "tier",
            "channel_id",
            "image_size",
            "batch",
            "images",
            "cost_micros",
            "created_at",
        ),
        Index(None, "channel_id", "thread_ts"),
        Index(None, "request_key"),
    )

    # SQLite auto-increments only an INTEGER PRIMARY KEY (which is 64-bit there anyway).
    id: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer(), "sqlite")
    )
    idempotency_key: str = Field(sa_type=String(200))
    request_key: str | None = Field(default=None, sa_type=String(200))
    workspace_id: str = _id()
    user_id: str = _id()
    channel_id: str | None = _id(default=None)
    thread_ts: str | None = Field(default=None, sa_type=String(32))
    model_id: str = Field(sa_type=String(100))
    tier: str | None = Field(default=None, sa_type=String(32))
    images: int = Field(default=0, sa_type=Integer)
    image_size: str | None = Field(default=None, sa_type=String(8))
    batch: bool = Field(default=False, sa_type=Boolean)
    input_tokens: int = Field(default=0, sa_type=BigInteger)
    input_image_tokens: int = Field(default=0, sa_type=BigInteger)
    output_image_tokens: int = Field(default=0, sa_type=BigInteger)
    output_text_tokens: int = Field(default=0, sa_type=BigInteger)
    thinking_tokens: int = Field(default=0, sa_type=BigInteger)
    usage_reported: bool = Field(default=True, sa_type=Boolean)
    reference_inputs: int = Field(default=0, sa_type=Integer)
    cost_micros: int = _money()
    possibly_billed: bool = Field(default=False, sa_type=Boolean)
    interrupted: bool = Field(default=False, sa_type=Boolean)
    month: str = Field(sa_type=String(7))
    created_at: datetime = _ts()


class ProcessedDelivery(LedgerModel, table=True):
    """A Slack delivery (event id, action id) already handled by some replica."""

    __tablename__ = "processed_delivery"
    __table_args__ = (Index(None, "created_at"),)

    key: str = Field(sa_type=String(200), primary_key=True)
    created_at: datetime = _ts()


class SlackThread(LedgerModel, table=True):
    """A thread the bot started: its owner and the flags its replies carry over."""

    __tablename__ = "slack_thread"

    channel_id: str = _id(primary_key=True)
    thread_ts: str = Field(sa_type=String(32), primary_key=True)
    workspace_id: str = _id()
    owner_user_id: str = _id()
    settings_json: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    last_image_path: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class ThreadImage(LedgerModel, table=True):
    """An image that belongs to a thread: ``kind`` is ``generated`` or ``uploaded``."""

    __tablename__ = "thread_image"
    __table_args__ = (Index(None, "channel_id", "thread_ts", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    channel_id: str = _id()
    thread_ts: str = Field(sa_type=String(32))
    path: str = Field(sa_type=Text)
    kind: str = Field(sa_type=String(16))
    model_id: str | None = Field(default=None, sa_type=String(100))
    created_at: datetime = _ts()


class PendingUpload(LedgerModel, table=True):
    """An image saved to disk (and paid for) but not yet posted to Slack."""

    __tablename__ = "pending_upload"
    __table_args__ = (Index(None, "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    channel_id: str = _id()
    thread_ts: str | None = Field(default=None, sa_type=String(32))
    path: str = Field(sa_type=Text)
    comment: str = Field(default="", sa_type=Text)
    attempts: int = Field(default=0, sa_type=Integer)
    last_error: str | None = Field(default=None, sa_type=Text)
    last_attempt_at: datetime | None = _ts(default=None)
    created_at: datetime = _ts()


class BudgetAlert(LedgerModel, table=True):
    """A budget threshold alert that fired; the unique key makes it fire once across replicas."""

    __tablename__ = "budget_alert"
    __table_args__ = (UniqueConstraint("workspace_id", "scope", "month", "threshold"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = _id()
    scope: str = _id()
    month: str = Field(sa_type=String(7))
    threshold: int = Field(sa_type=Integer)
    created_at: datetime = _ts()


class BudgetIncreaseRequest(LedgerModel, table=True):
    """A person asking for more budget this month; ``state`` pending, approved or declined."""

    __tablename__ = "budget_increase_request"
    __table_args__ = (
        ForeignKeyConstraint(["workspace_id"], ["workspace.id"]),
        Index(None, "workspace_id", "state", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: str = _id()
    user_id: str = _id()
    amount_micros: int = _money()
    reason: str = Field(default="", sa_type=Text)
    month: str = Field(sa_type=String(7))
    state: str = Field(sa_type=String(16))
    created_at: datetime = _ts()
    decided_by: str | None = _id(default=None)
    decided_at: datetime | None = _ts(default=None)


class BatchJob(LedgerModel, table=True):
    """A Batch API job: many prompts on one model at batch prices, results up to 48 h later.

    ``key`` is the caller's idempotency key (the job id people see); ``name`` is Google's
    (``batches/…``), None until Google accepted the job. The whole estimate is held by the
    reservation ``reservation_key`` until the job finishes; while ``state`` is open
    (``submitting``, ``pending``, ``running``) the batch poller owns that reservation and crash
    recovery leaves it alone. ``output_dir`` is the folder, relative to the image directory, the
    images are written to. ``rate_card`` is the card the job was quoted on (a builtin card's name
    or a card file's absolute path), so it is priced on that card when it is collected.
    """

    __tablename__ = "batch_job"
    __table_args__ = (
        UniqueConstraint("name"),
        Index(None, "state", "created_at"),
        Index(None, "workspace_id", "created_at"),
        Index(None, "reservation_key"),
    )

    key: str = Field(sa_type=String(200), primary_key=True)
    name: str | None = Field(default=None, sa_type=String(200))
    workspace_id: str = _id()
    user_id: str = _id()
    model_id: str = Field(sa_type=String(100))
    tier: str = Field(sa_type=String(32))
    rate_card: str = Field(sa_type=Text)
    image_size: str | None = Field(default=None, sa_type=String(8))
    aspect_ratio: str | None = Field(default=None, sa_type=String(16))
    thinking_level: str | None = Field(default=None, sa_type=String(16))
    request_count: int = Field(sa_type=Integer)
    prompts_json: list[str] = Field(default_factory=list, sa_type=JSON)
    reservation_key: str = Field(sa_type=String(200))
    estimate_micros: int = _money()
    actual_micros: int | None = _money(default=None)
    succeeded_count: int = Field(default=0, sa_type=Integer)
    failed_count: int = Field(default=0, sa_type=Integer)
    state: str = Field(sa_type=String(16))
    output_dir: str | None = Field(default=None, sa_type=Text)
    error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    submitted_at: datetime | None = _ts(default=None)
    finished_at: datetime | None = _ts(default=None)
