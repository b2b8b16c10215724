"""the runner's own files as a second source: athletes without Strava, activity sources

Revision ID: 0016_file_source
Revises: 0015_delivery_kinds
Create Date: 2026-12-03 21:45:00

An athlete may have no Strava id (created by `strideguard athlete add`). Each activity says
where it came from (`source`: "strava" or "file"); a file row keeps how good its figures are
(`detail`) and its file's name, and the row that the same run from the other source replaced
points at the one kept (`matched_id`, cleared when that row is deleted). Existing rows are
all Strava's, so `source` defaults to "strava".
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_file_source"
down_revision: str | None = "0015_delivery_kinds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("athletes") as batch:
        batch.alter_column("strava_athlete_id", existing_type=sa.BigInteger(), nullable=True)
    with op.batch_alter_table("activities") as batch:
        batch.add_column(sa.Column("source", sa.String(8), nullable=False, server_default="strava"))
        batch.add_column(sa.Column("detail", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("file_name", sa.String(255), nullable=True))
        batch.add_column(sa.Column("matched_id", sa.BigInteger(), nullable=True))
        batch.create_foreign_key(
            "fk_activities_matched_id_activities",
            "activities",
            ["matched_id"],
            ["strava_id"],
            ondelete="SET NULL",
        )
        batch.create_index("ix_activities_athlete_source", ["athlete_id", "source"])


def downgrade() -> None:
    # Rows of athletes without Strava cannot stay once the id is required again: they go,
    # with their file activities (cascade), as the downgrade's only loss.
    op.execute("DELETE FROM activities WHERE source = 'file'")
    op.execute("DELETE FROM athletes WHERE strava_athlete_id IS NULL")
    with op.batch_alter_table("activities") as batch:
        batch.drop_index("ix_activities_athlete_source")
        batch.drop_constraint("fk_activities_matched_id_activities", type_="foreignkey")
        batch.drop_column("matched_id")
        batch.drop_column("file_name")
        batch.drop_column("detail")
        batch.drop_column("source")
    with op.batch_alter_table("athletes") as batch:
        batch.alter_column("strava_athlete_id", existing_type=sa.BigInteger(), nullable=False)
