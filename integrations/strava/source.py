"""Strava as the pipeline's `ActivitySource` (worker/ports.py), registered as "strava"."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.strava import sync
from integrations.strava.context import StravaContext
from strideguard.gear import load_gear
from strideguard.models import StravaConnection
from strideguard.status import ConnectionStatus
from worker.ports import Priority, SourceHost, Window

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
        ctx = host.plugin_context("strava")
        assert isinstance(ctx, StravaContext)
        return cls(ctx)

    def unavailable_reason(self, session: Session, athlete_id: int) -> str | None:
        status = session.scalar(
            select(StravaConnection.status).where(StravaConnection.athlete_id == athlete_id)
        )
        if status is None:
            return "no Strava connection"
        return None if status == ConnectionStatus.ACTIVE else "Strava connection revoked"

    def refresh_window(self, athlete_id: int, priority: Priority) -> Window:
        report = sync.refresh_window(self.ctx, athlete_id, priority=priority)
        refreshed_at = self.ctx.clock()
        with self.ctx.sessions() as session:
            gear = load_gear(session, athlete_id)
        return Window(
            # Judged on what Strava just returned, not on rows re-read from the database:
            # the daily retention purge may delete older rows at any moment.
            activities=report.activities,
            gear=gear,
            complete_from=history_start(refreshed_at, self.ctx.settings.lookback_weeks),
        )
