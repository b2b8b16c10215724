"""runner sign-in by email link: one-time links, sessions and the request throttle

Revision ID: 0010_runner_signin
Revises: 0009_webhook_client_address
Create Date: 2026-12-03 18:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_runner_signin"
down_revision: str | None = "0009_webhook_client_address"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "runner_signin_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            ["athletes.id"],
            name=op.f("fk_runner_signin_links_athlete_id_athletes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runner_signin_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_runner_signin_links_token_hash")),
    )
    op.create_index(
        op.f("ix_runner_signin_links_athlete_id"), "runner_signin_links", ["athlete_id"]
    )
    op.create_table(
        "runner_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            ["athletes.id"],
            name=op.f("fk_runner_sessions_athlete_id_athletes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runner_sessions")),
        sa.UniqueConstraint("id_hash", name=op.f("uq_runner_sessions_id_hash")),
    )
    op.create_index(op.f("ix_runner_sessions_athlete_id"), "runner_sessions", ["athlete_id"])
    op.create_table(
        "runner_signin_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runner_signin_requests")),
    )
    op.create_index("ix_runner_signin_requests_key_at", "runner_signin_requests", ["key", "at"])


def downgrade() -> None:
    op.drop_index("ix_runner_signin_requests_key_at", table_name="runner_signin_requests")
    op.drop_table("runner_signin_requests")
    op.drop_index(op.f("ix_runner_sessions_athlete_id"), table_name="runner_sessions")
    op.drop_table("runner_sessions")
    op.drop_index(op.f("ix_runner_signin_links_athlete_id"), table_name="runner_signin_links")
    op.drop_table("runner_signin_links")
