"""outbox rows count sender crashes apart from delivery attempts

Revision ID: 0004_outbox_crashes
Revises: 0003_strava_subscription
Create Date: 2026-11-22 02:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_outbox_crashes"
down_revision: str | None = "0003_strava_subscription"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "outbox_emails",
        sa.Column("crashes", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    with op.batch_alter_table("outbox_emails") as batch:
        batch.drop_column("crashes")
