"""the Strava push subscription id, so forged webhook POSTs can be refused

Revision ID: 0003_strava_subscription
Revises: 0002_admin_login
Create Date: 2026-11-22 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_strava_subscription"
down_revision: str | None = "0002_admin_login"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "strava_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.BigInteger(), nullable=False),
        sa.Column("callback_url", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_strava_subscriptions")),
        sa.UniqueConstraint(
            "subscription_id", name=op.f("uq_strava_subscriptions_subscription_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("strava_subscriptions")
