"""Strava as the pipeline's `ActivitySource` (worker/ports.py), registered as "strava"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from strideguard.gear import load_gear
from strideguard.integrations.strava import sync
from strideguard.integrations.strava.context import StravaContext, strava_of
from strideguard.integrations.strava.due_reads import due_reservations
from strideguard.integrations.strava.mapping import record_fields
from strideguard.models import StravaConnection
from strideguard.status import ConnectionStatus
from strideguard.times import aware
from strideguard.worker.ports import Followed, Priority, SourceHost, UnfinishedSync, Window

WEEK = dt.timedelta(days=7)


def history_start(refreshed_at: dt.datetime, lookback_weeks: int) -> dt.date:
    """The first local day a window refresh at `refreshed_at` is sure to have fetched.

    The refresh fetches from a day before `lookback_weeks` ago (`sync.window_start`); a local
    date differs from the UTC one by less than that day, so this date is complete in every zone.
    """
    return (refreshed_at - lookback_weeks * WEEK).date()


class StravaSource:
    def __init__(self, ctx: StravaContext) -> None:
        self.ctx = ctx

    @classmethod
    def from_host(cls, host: SourceHost) -> StravaSource:
        return cls(strava_of(host))

    def followed(self, session: Session) -> Sequence[Followed]:
        rows = session.execute(
            select(
                StravaConnection.athlete_id,
                StravaConnection.created_at,
                StravaConnection.backfilled_at,
            ).where(StravaConnection.status == ConnectionStatus.ACTIVE)
        ).all()
        # The backfill that follows every (re)connect stamps backfilled_at.
        return [
            Followed(
                athlete_id,
                max((m for m in (aware(connected), aware(backfilled)) if m), default=None),
            )
            for athlete_id, connected, backfilled in rows
        ]

    def unfinished_syncs(
        self, session: Session, stale: dt.datetime, max_attempts: int, limit: int
    ) -> Sequence[UnfinishedSync]:
        """Syncs asked for (`sync_requested_at`, moved to the next window when a sync is
        deferred) before `stale`, not done since (a first sync: not backfilled)."""
        rows = session.execute(
            select(StravaConnection.athlete_id, StravaConnection.backfilled_at)
            .where(
                StravaConnection.status == ConnectionStatus.ACTIVE,
                StravaConnection.sync_requested_at < stale,
                # A first sync is done only when backfilled: an evaluation's window
                # refresh in the meantime does not make the backfill lost for good.
                or_(
                    StravaConnection.backfilled_at.is_(None),
                    StravaConnection.last_synced_at.is_(None),
                    StravaConnection.last_synced_at < StravaConnection.sync_requested_at,
                ),
                StravaConnection.sync_attempts < max_attempts,
                or_(
                    StravaConnection.sync_started_at.is_(None),
                    StravaConnection.sync_started_at < stale,
                ),
            )
            .limit(limit)
        ).all()
        return [
            UnfinishedSync(athlete_id, backfilled is not None) for athlete_id, backfilled in rows
        ]

    def unavailable_reason(self, session: Session, athlete_id: int) -> str | None:
        status = session.scalar(
            select(StravaConnection.status).where(StravaConnection.athlete_id == athlete_id)
        )
        if status is None:
            return "no Strava connection"
        return None if status == ConnectionStatus.ACTIVE else "Strava connection revoked"

    def reserve_reads(self, now: dt.datetime, grace: dt.timedelta) -> None:
        """Tell the shared budget what the schedule needs this window and day (due_reads.py)."""
        with self.ctx.sessions() as session:
            held = due_reservations(
                session,
                now,
                grace,
                per_run_fetches=self.ctx.settings.strava_webhook_sync != "deferred",
            )
        for moment, reservation in held:
            self.ctx.budget.hold(moment, reservation)

    def refresh_window(self, athlete_id: int, priority: Priority) -> Window:
        report = sync.refresh_window(self.ctx, athlete_id, priority=priority)
        refreshed_at = self.ctx.clock()
        with self.ctx.sessions() as session:
            gear = load_gear(session, athlete_id)
        return Window(
            # Judged on what Strava just returned, not on rows re-read from the database:
            # the daily retention purge may delete older rows at any moment.
            activities=[record_fields(columns) for columns in report.activities],
            gear=gear,
            complete_from=history_start(refreshed_at, self.ctx.settings.lookback_weeks),
        )
