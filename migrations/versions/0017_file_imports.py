"""imports queued from the runner page and the watched folder, and the files seen there

Revision ID: 0017_file_imports
Revises: 0016_file_source
Create Date: 2026-12-03 22:20:00

`file_imports` keeps each queued import's outcome (names and reasons only) so the runner page
can show the last one; `watched_files` remembers each file version seen in
IMPORT_WATCH_DIR/<athlete id>/ so it is read once. Both are new: no existing row changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_file_imports"
down_revision: str | None = "0016_file_source"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "file_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("file_count", sa.Integer(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            ["athletes.id"],
            name="fk_file_imports_athlete_id_athletes",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_file_imports"),
    )
    op.create_index("ix_file_imports_athlete_id", "file_imports", ["athlete_id"])
    op.create_table(
        "watched_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            ["athletes.id"],
            name="fk_watched_files_athlete_id_athletes",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_watched_files"),
        sa.UniqueConstraint("athlete_id", "name", name="uq_watched_files_athlete_id_name"),
    )


def downgrade() -> None:
    op.drop_table("watched_files")
    op.drop_index("ix_file_imports_athlete_id", table_name="file_imports")
    op.drop_table("file_imports")
