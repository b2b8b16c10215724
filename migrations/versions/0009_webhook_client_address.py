"""webhook events remember the address that sent them, for the warning when Strava contradicts one

Revision ID: 0009_webhook_client_address
Revises: 0008_evaluation_rule_errors
Create Date: 2026-12-03 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_webhook_client_address"
down_revision: str | None = "0008_evaluation_rule_errors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("webhook_events", sa.Column("client_address", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_events") as batch:
        batch.drop_column("client_address")
