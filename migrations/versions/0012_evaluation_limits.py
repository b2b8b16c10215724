"""an evaluation stores the limits after its week (next-run ceiling, next week's range)

Revision ID: 0012_evaluation_limits
Revises: 0011_deliveries_channel
Create Date: 2026-12-03 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_evaluation_limits"
down_revision: str | None = "0011_deliveries_channel"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("evaluations", sa.Column("limits", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evaluations") as batch:
        batch.drop_column("limits")
