"""what a queued file import needs to be re-sent when its queue message is lost

Revision ID: 0018_file_import_retry
Revises: 0017_file_imports
Create Date: 2026-12-04 05:00:00

A `file_imports` row now keeps the job it stands for (`paths`, `remove_after`) and the job-row
lease (`attempts`, `started_at`, see strideguard/leases.py), so the reconciler can send an
import again whose message was lost, and give up on one whose worker keeps dying. Rows queued
before this revision have no paths: they cannot be re-sent and stay as they were.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_file_import_retry"
down_revision: str | None = "0017_file_imports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("file_imports") as batch:
        batch.add_column(sa.Column("paths", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("remove_after", sa.String(1024), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("file_imports") as batch:
        batch.drop_column("started_at")
        batch.drop_column("attempts")
        batch.drop_column("remove_after")
        batch.drop_column("paths")
