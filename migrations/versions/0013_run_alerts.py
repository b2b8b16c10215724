"""per-run alerts: the risky runs, and the alert messages that carry them

Revision ID: 0013_run_alerts
Revises: 0012_evaluation_limits
Create Date: 2026-12-03 22:00:00

Two new tables; no existing row changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_run_alerts"
down_revision: str | None = "0012_evaluation_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("open_key", sa.String(40), nullable=True),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("crashes", sa.Integer(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            ["athletes.id"],
            name="fk_run_alerts_athlete_id_athletes",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_run_alerts"),
        sa.UniqueConstraint("open_key", name="uq_run_alerts_open_key"),
        sa.UniqueConstraint("message_id", name="uq_run_alerts_message_id"),
    )
    op.create_index("ix_run_alerts_athlete_id", "run_alerts", ["athlete_id"])
    op.create_index("ix_run_alerts_status", "run_alerts", ["status"])
    op.create_table(
        "risky_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("activity_id", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("finding", sa.JSON(), nullable=False),
        sa.Column("run_alert_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            ["athletes.id"],
            name="fk_risky_runs_athlete_id_athletes",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_alert_id"],
            ["run_alerts.id"],
            name="fk_risky_runs_run_alert_id_run_alerts",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_risky_runs"),
        sa.UniqueConstraint(
            "athlete_id",
            "channel",
            "activity_id",
            "rule_id",
            name="uq_risky_runs_athlete_id_channel_activity_id_rule_id",
        ),
    )
    op.create_index("ix_risky_runs_run_alert_id", "risky_runs", ["run_alert_id"])


def downgrade() -> None:
    op.drop_index("ix_risky_runs_run_alert_id", table_name="risky_runs")
    op.drop_table("risky_runs")
    op.drop_index("ix_run_alerts_status", table_name="run_alerts")
    op.drop_index("ix_run_alerts_athlete_id", table_name="run_alerts")
    op.drop_table("run_alerts")
