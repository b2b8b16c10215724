"""the outbox becomes a deliveries table with a channel, unique per athlete, week and channel

Revision ID: 0011_deliveries_channel
Revises: 0010_runner_signin
Create Date: 2026-12-03 19:00:00

Every existing row is kept, as an "email" delivery, with its id, so alerts keep pointing at
the digest that carried them. On SQLite the batch mode rebuilds the table, and with foreign
keys on, dropping the old copy would null every `alerts.outbox_id` (ON DELETE SET NULL): the
links are saved before and written back after.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_deliveries_channel"
down_revision: str | None = "0010_runner_signin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _move(old="outbox_emails", new="deliveries", with_channel=True)


def downgrade() -> None:
    _move(old="deliveries", new="outbox_emails", with_channel=False)


def _move(*, old: str, new: str, with_channel: bool) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute(
            "CREATE TEMP TABLE alert_links AS "
            "SELECT id, outbox_id FROM alerts WHERE outbox_id IS NOT NULL"
        )
    op.rename_table(old, new)
    if not sqlite:
        op.execute(f"ALTER TABLE {new} RENAME CONSTRAINT pk_{old} TO pk_{new}")
        op.execute(f"ALTER SEQUENCE {old}_id_seq RENAME TO {new}_id_seq")
    key_before = ["athlete_id", "week_start"] + ([] if with_channel else ["channel"])
    key_after = ["athlete_id", "week_start"] + (["channel"] if with_channel else [])
    with op.batch_alter_table(new) as batch:
        if with_channel:
            batch.add_column(
                sa.Column("channel", sa.String(16), nullable=False, server_default="email")
            )
        batch.drop_constraint(f"uq_{old}_{'_'.join(key_before)}", type_="unique")
        batch.drop_constraint(f"uq_{old}_message_id", type_="unique")
        batch.drop_constraint(f"fk_{old}_athlete_id_athletes", type_="foreignkey")
        batch.drop_index(f"ix_{old}_status")
        if not with_channel:
            # Going back to one row per athlete and week: only email rows existed before.
            batch.drop_column("channel")
        batch.create_unique_constraint(f"uq_{new}_{'_'.join(key_after)}", key_after)
        batch.create_unique_constraint(f"uq_{new}_message_id", ["message_id"])
        batch.create_foreign_key(
            f"fk_{new}_athlete_id_athletes", "athletes", ["athlete_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index(f"ix_{new}_status", ["status"])
    with op.batch_alter_table("alerts") as batch:
        batch.drop_constraint(f"fk_alerts_outbox_id_{old}", type_="foreignkey")
        batch.create_foreign_key(
            f"fk_alerts_outbox_id_{new}", new, ["outbox_id"], ["id"], ondelete="SET NULL"
        )
    if sqlite:
        op.execute(
            "UPDATE alerts SET outbox_id = "
            "(SELECT outbox_id FROM alert_links WHERE alert_links.id = alerts.id) "
            "WHERE id IN (SELECT id FROM alert_links)"
        )
        op.execute("DROP TABLE alert_links")
