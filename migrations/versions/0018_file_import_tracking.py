"""what a queued file import needs to be re-sent, and the content hash of each imported file

Revision ID: 0018_file_import_tracking
Revises: 0017_file_imports
Create Date: 2026-12-04 05:00:00

A `file_imports` row now keeps the job it stands for (`paths`, `remove_after`) and the job-row
lease (`attempts`, `started_at`, see strideguard/leases.py), so the reconciler can send an
import again whose message was lost, and give up on one whose worker keeps dying. Rows queued
before this revision have no paths: they cannot be re-sent and stay as they were.

`activities.content_hash` is the SHA-256 of the file a file-sourced row was read from, so a
re-import skips a file stored before without parsing it again. Rows stored before this
revision have none: their files are parsed once more and found as duplicates, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_file_import_tracking"
down_revision: str | None = "0017_file_imports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("file_imports") as batch:
        batch.add_column(sa.Column("paths", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("remove_after", sa.String(1024), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("activities", sa.Column("content_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("activities") as batch:
        batch.drop_column("content_hash")
    with op.batch_alter_table("file_imports") as batch:
        batch.drop_column("started_at")
        batch.drop_column("attempts")
        batch.drop_column("remove_after")
        batch.drop_column("paths")
