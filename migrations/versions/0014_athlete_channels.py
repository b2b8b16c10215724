"""a runner's push and chat channels (Apprise URLs, encrypted) and their message job rows

Revision ID: 0014_athlete_channels
Revises: 0013_run_alerts
Create Date: 2026-12-03 22:00:00

Two new tables; no existing row changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_athlete_channels"
down_revision: str | None = "0013_run_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "athlete_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("url_enc", sa.LargeBinary(), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("off_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            ["athletes.id"],
            name="fk_athlete_channels_athlete_id_athletes",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_athlete_channels"),
    )
    op.create_index("ix_athlete_channels_athlete_id", "athlete_channels", ["athlete_id"])
    op.create_table(
        "channel_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["athlete_channels.id"],
            name="fk_channel_messages_channel_id_athlete_channels",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            ["athletes.id"],
            name="fk_channel_messages_athlete_id_athletes",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_channel_messages"),
        sa.UniqueConstraint("channel_id", "key", name="uq_channel_messages_channel_id_key"),
    )
    op.create_index("ix_channel_messages_channel_id", "channel_messages", ["channel_id"])
    op.create_index("ix_channel_messages_athlete_id", "channel_messages", ["athlete_id"])
    op.create_index("ix_channel_messages_status", "channel_messages", ["status"])


def downgrade() -> None:
    op.drop_table("channel_messages")
    op.drop_table("athlete_channels")
