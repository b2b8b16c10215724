"""a running Strava sync holds a lease, so a duplicate message for it costs no request

Revision ID: 0006_strava_sync_lease
Revises: 0005_admin_sessions
Create Date: 2026-11-22 04:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_strava_sync_lease"
down_revision: str | None = "0005_admin_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "strava_connections",
        sa.Column("sync_started_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("strava_connections") as batch:
        batch.drop_column("sync_started_at")
