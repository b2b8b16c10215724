"""deliveries get a kind (digest, welcome, note), unique per athlete, week, channel and kind;
athletes get the weekly-note preference

Revision ID: 0015_delivery_kinds
Revises: 0014_athlete_channels
Create Date: 2026-12-03 21:45:00

Every existing delivery is kept as a "digest" (the only kind there was), with its id, so
alerts keep pointing at the digest that carried them. As in 0011, SQLite's batch mode rebuilds
the table and, with foreign keys on, dropping the old copy would null every
`alerts.outbox_id`: the links are saved before and written back after. Downgrading drops the
welcome and note rows, since the old key allows one row per athlete, week and channel.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision: str = "0015_delivery_kinds"
down_revision: str | None = "0014_athlete_channels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KEY = ["athlete_id", "week_start", "channel"]
NEW_KEY = [*OLD_KEY, "kind"]


def upgrade() -> None:
    # Not batch mode: rebuilding `athletes` on SQLite would cascade-delete every row that
    # points at it. Both databases add (and drop) a column in place.
    op.add_column(
        "athletes",
        sa.Column("weekly_note", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    with _alert_links_kept(), op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="digest"))
        batch.drop_constraint(f"uq_deliveries_{'_'.join(OLD_KEY)}", type_="unique")
        batch.create_unique_constraint(f"uq_deliveries_{'_'.join(NEW_KEY)}", NEW_KEY)


def downgrade() -> None:
    op.execute("DELETE FROM deliveries WHERE kind <> 'digest'")
    with _alert_links_kept(), op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint(f"uq_deliveries_{'_'.join(NEW_KEY)}", type_="unique")
        batch.create_unique_constraint(f"uq_deliveries_{'_'.join(OLD_KEY)}", OLD_KEY)
        batch.drop_column("kind")
    op.drop_column("athletes", "weekly_note")


@contextmanager
def _alert_links_kept() -> Iterator[None]:
    """On SQLite, keep `alerts.outbox_id` across the rebuild of `deliveries`."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute(
            "CREATE TEMP TABLE alert_links AS "
            "SELECT id, outbox_id FROM alerts WHERE outbox_id IS NOT NULL"
        )
    yield
    if sqlite:
        op.execute(
            "UPDATE alerts SET outbox_id = "
            "(SELECT outbox_id FROM alert_links WHERE alert_links.id = alerts.id) "
            "WHERE id IN (SELECT id FROM alert_links)"
        )
        op.execute("DROP TABLE alert_links")
