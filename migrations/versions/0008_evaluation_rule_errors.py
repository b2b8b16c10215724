"""an evaluation records the rules that could not be evaluated, for the admin view

Revision ID: 0008_evaluation_rule_errors
Revises: 0007_back_pain_checkins
Create Date: 2026-12-03 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_evaluation_rule_errors"
down_revision: str | None = "0007_back_pain_checkins"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "evaluations",
        sa.Column("rule_errors", sa.JSON(none_as_null=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("evaluations") as batch:
        batch.drop_column("rule_errors")
