"""The ledger schema: workspaces, budgets, reservations, ledger entries and Slack-side state.

Indexes on ledger_entry serve the spend reports over a million rows: per workspace by time,
per user, per model and per channel within a workspace, and per month and user.

Revision ID: 0001_ledger
Revises:
Create Date: 2026-11-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_ledger"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "budget_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_alert")),
        sa.UniqueConstraint(
            "workspace_id",
            "scope",
            "month",
            "threshold",
            name=op.f("uq_budget_alert_workspace_id_scope_month_threshold"),
        ),
    )
    op.create_table(
        "pending_upload",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_upload")),
    )
    op.create_index(
        op.f("ix_pending_upload_created_at"), "pending_upload", ["created_at"], unique=False
    )

    op.create_table(
        "processed_delivery",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_processed_delivery")),
    )
    op.create_index(
        op.f("ix_processed_delivery_created_at"), "processed_delivery", ["created_at"], unique=False
    )

    op.create_table(
        "slack_thread",
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("thread_ts", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("owner_user_id", sa.String(length=64), nullable=False),
        sa.Column("settings_json", sa.JSON(), nullable=False),
        sa.Column("last_image_path", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel_id", "thread_ts", name=op.f("pk_slack_thread")),
    )
    op.create_table(
        "thread_image",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=False),
        sa.Column("thread_ts", sa.String(length=32), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("model_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_thread_image")),
    )
    op.create_index(
        op.f("ix_thread_image_channel_id_thread_ts_created_at"),
        "thread_image",
        ["channel_id", "thread_ts", "created_at"],
        unique=False,
    )

    op.create_table(
        "workspace",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspace")),
    )
    op.create_table(
        "budget",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=True),
        sa.Column("amount_micros", sa.BigInteger(), nullable=True),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspace.id"], name=op.f("fk_budget_workspace_id_workspace")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget")),
    )
    op.create_index(
        op.f("ix_budget_workspace_id_scope_month_id"),
        "budget",
        ["workspace_id", "scope", "month", "id"],
        unique=False,
    )

    op.create_table(
        "budget_increase_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("amount_micros", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_budget_increase_request_workspace_id_workspace"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_increase_request")),
    )
    op.create_index(
        op.f("ix_budget_increase_request_workspace_id_state_created_at"),
        "budget_increase_request",
        ["workspace_id", "state", "created_at"],
        unique=False,
    )

    op.create_table(
        "generation_request",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=True),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("constraints_json", sa.JSON(), nullable=False),
        sa.Column("plan_json", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_generation_request_workspace_id_workspace"),
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_generation_request")),
    )
    op.create_index(
        op.f("ix_generation_request_state_updated_at"),
        "generation_request",
        ["state", "updated_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_generation_request_workspace_id_created_at"),
        "generation_request",
        ["workspace_id", "created_at"],
        unique=False,
    )

    op.create_table(
        "reservation",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=True),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("model_id", sa.String(length=100), nullable=True),
        sa.Column("tier", sa.String(length=32), nullable=True),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("estimate_micros", sa.BigInteger(), nullable=False),
        sa.Column("settled_micros", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspace.id"], name=op.f("fk_reservation_workspace_id_workspace")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_reservation")),
    )
    op.create_index(
        op.f("ix_reservation_state_created_at"),
        "reservation",
        ["state", "created_at"],
        unique=False,
    )

    op.create_table(
        "slack_user",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspace.id"], name=op.f("fk_slack_user_workspace_id_workspace")
        ),
        sa.PrimaryKeyConstraint("workspace_id", "user_id", name=op.f("pk_slack_user")),
    )
    op.create_table(
        "spend_counter",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("settled_micros", sa.BigInteger(), nullable=False),
        sa.Column("reserved_micros", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspace.id"], name=op.f("fk_spend_counter_workspace_id_workspace")
        ),
        sa.PrimaryKeyConstraint("workspace_id", "scope", "month", name=op.f("pk_spend_counter")),
    )
    op.create_table(
        "ledger_entry",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("request_key", sa.String(length=200), nullable=True),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=True),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.Column("model_id", sa.String(length=100), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=True),
        sa.Column("images", sa.Integer(), nullable=False),
        sa.Column("image_size", sa.String(length=8), nullable=True),
        sa.Column("batch", sa.Boolean(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("input_image_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_image_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_text_tokens", sa.BigInteger(), nullable=False),
        sa.Column("thinking_tokens", sa.BigInteger(), nullable=False),
        sa.Column("usage_reported", sa.Boolean(), nullable=False),
        sa.Column("reference_inputs", sa.Integer(), nullable=False),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
        sa.Column("possibly_billed", sa.Boolean(), nullable=False),
        sa.Column("interrupted", sa.Boolean(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_key"],
            ["reservation.key"],
            name=op.f("fk_ledger_entry_request_key_reservation"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspace.id"], name=op.f("fk_ledger_entry_workspace_id_workspace")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entry")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_ledger_entry_idempotency_key")),
    )
    op.create_index(
        op.f("ix_ledger_entry_channel_id_thread_ts"),
        "ledger_entry",
        ["channel_id", "thread_ts"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ledger_entry_request_key"), "ledger_entry", ["request_key"], unique=False
    )
    op.create_index(
        op.f("ix_ledger_entry_workspace_id_channel_id_created_at"),
        "ledger_entry",
        ["workspace_id", "channel_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ledger_entry_workspace_id_created_at"),
        "ledger_entry",
        ["workspace_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ledger_entry_workspace_id_model_id_created_at"),
        "ledger_entry",
        ["workspace_id", "model_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_ledger_entry_month_report",
        "ledger_entry",
        [
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
        ],
        unique=False,
    )
    op.create_index(
        op.f("ix_ledger_entry_workspace_id_user_id_created_at"),
        "ledger_entry",
        ["workspace_id", "user_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_ledger_entry_workspace_id_user_id_created_at"), table_name="ledger_entry"
    )
    op.drop_index("ix_ledger_entry_month_report", table_name="ledger_entry")
    op.drop_index(
        op.f("ix_ledger_entry_workspace_id_model_id_created_at"), table_name="ledger_entry"
    )
    op.drop_index(op.f("ix_ledger_entry_workspace_id_created_at"), table_name="ledger_entry")
    op.drop_index(
        op.f("ix_ledger_entry_workspace_id_channel_id_created_at"), table_name="ledger_entry"
    )
    op.drop_index(op.f("ix_ledger_entry_request_key"), table_name="ledger_entry")
    op.drop_index(op.f("ix_ledger_entry_channel_id_thread_ts"), table_name="ledger_entry")

    op.drop_table("ledger_entry")
    op.drop_table("spend_counter")
    op.drop_table("slack_user")
    op.drop_index(op.f("ix_reservation_state_created_at"), table_name="reservation")

    op.drop_table("reservation")
    op.drop_index(
        op.f("ix_generation_request_workspace_id_created_at"), table_name="generation_request"
    )
    op.drop_index(op.f("ix_generation_request_state_updated_at"), table_name="generation_request")

    op.drop_table("generation_request")
    op.drop_index(
        op.f("ix_budget_increase_request_workspace_id_state_created_at"),
        table_name="budget_increase_request",
    )

    op.drop_table("budget_increase_request")
    op.drop_index(op.f("ix_budget_workspace_id_scope_month_id"), table_name="budget")

    op.drop_table("budget")
    op.drop_table("workspace")
    op.drop_index(
        op.f("ix_thread_image_channel_id_thread_ts_created_at"), table_name="thread_image"
    )

    op.drop_table("thread_image")
    op.drop_table("slack_thread")
    op.drop_index(op.f("ix_processed_delivery_created_at"), table_name="processed_delivery")

    op.drop_table("processed_delivery")
    op.drop_index(op.f("ix_pending_upload_created_at"), table_name="pending_upload")

    op.drop_table("pending_upload")
    op.drop_table("budget_alert")
