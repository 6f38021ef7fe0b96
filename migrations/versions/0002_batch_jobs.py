"""Batch API jobs: one row per job, owning its budget reservation until the job finishes.

Revision ID: 0002_batch_jobs
Revises: 0001_ledger
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_batch_jobs"
down_revision: str | Sequence[str] | None = "0001_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "batch_job",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("model_id", sa.String(length=100), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("rate_card", sa.Text(), nullable=False),
        sa.Column("image_size", sa.String(length=8), nullable=True),
        sa.Column("aspect_ratio", sa.String(length=16), nullable=True),
        sa.Column("thinking_level", sa.String(length=16), nullable=True),
        sa.Column("request_count", sa.Integer(), nullable=False),
        sa.Column("prompts_json", sa.JSON(), nullable=False),
        sa.Column("reservation_key", sa.String(length=200), nullable=False),
        sa.Column("estimate_micros", sa.BigInteger(), nullable=False),
        sa.Column("actual_micros", sa.BigInteger(), nullable=True),
        sa.Column("succeeded_count", sa.Integer(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("output_dir", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_batch_job")),
        sa.UniqueConstraint("name", name=op.f("uq_batch_job_name")),
    )
    op.create_index(
        op.f("ix_batch_job_state_created_at"), "batch_job", ["state", "created_at"], unique=False
    )
    op.create_index(
        op.f("ix_batch_job_workspace_id_created_at"),
        "batch_job",
        ["workspace_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_batch_job_reservation_key"), "batch_job", ["reservation_key"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_batch_job_reservation_key"), table_name="batch_job")
    op.drop_index(op.f("ix_batch_job_workspace_id_created_at"), table_name="batch_job")
    op.drop_index(op.f("ix_batch_job_state_created_at"), table_name="batch_job")
    op.drop_table("batch_job")
