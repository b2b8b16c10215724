"""the runner's weekly back-pain check-in (0-10 and an optional note), one per local week

Revision ID: 0007_back_pain_checkins
Revises: 0006_strava_sync_lease
Create Date: 2026-12-03 17:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_back_pain_checkins"
down_revision: str | None = "0006_strava_sync_lease"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "back_pain_checkins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            ["athletes.id"],
            name=op.f("fk_back_pain_checkins_athlete_id_athletes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_back_pain_checkins")),
        sa.UniqueConstraint(
            "athlete_id", "week_start", name=op.f("uq_back_pain_checkins_athlete_id_week_start")
        ),
    )


def downgrade() -> None:
    op.drop_table("back_pain_checkins")
