"""Reading the shoes a first sync left unread: after every waiting runner's activities.

A backfill stores the activities alone (see integrations/strava/sync.py), so a burst of new
runners spends the budget on what every rule needs. This job reads their shoes later, at
background priority: it waits while any runner's first sync is still to come, and then uses
at most the background share of a window, so it never takes what backfills and evaluations
keep for themselves. A spent budget re-enqueues it for the window `BudgetExceeded` names.

Nothing here has to be reconciled: a lost message costs time, not data, because the next window
refresh (each evaluation makes one) reads any shoe it has no count for.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from strideguard.integrations.strava import sync
from strideguard.integrations.strava.budget import ms_to_next_window
from strideguard.integrations.strava.context import strava_of
from strideguard.integrations.strava.errors import BudgetExceeded
from strideguard.models import StravaConnection
from strideguard.status import ConnectionStatus
from strideguard.times import aware
from strideguard.worker.ports import JobHost

log = logging.getLogger(__name__)


def first_syncs_due(session: Session, max_attempts: int) -> dt.datetime | None:
    """When the earliest first sync still to come is due; None when no runner waits for one.

    Deferred backfills carry their next window in `sync_requested_at`, so shoes can wait
    until then instead of looking again every window.
    """
    due = session.scalar(
        select(func.min(StravaConnection.sync_requested_at)).where(
            StravaConnection.status == ConnectionStatus.ACTIVE,
            StravaConnection.backfilled_at.is_(None),
            StravaConnection.sync_requested_at.is_not(None),
            StravaConnection.sync_attempts < max_attempts,
        )
    )
    return aware(due)


def read_gear(host: JobHost, athlete_id: int) -> None:
    """The `read_gear` job: the athlete's unread shoes, once no first sync waits."""
    now = host.clock()
    with host.sessions() as session:
        waiting = first_syncs_due(session, host.settings.job_max_attempts)
    if waiting is not None:
        delay = max(ms_to_next_window(now), int((waiting - now).total_seconds() * 1000))
        log.info(
            "shoes wait %d ms: a runner's first sync comes first",
            delay,
            extra={"athlete_id": athlete_id},
        )
        host.jobs.read_gear(athlete_id, delay=delay)
        return
    try:
        sync.read_unknown_gear(strava_of(host), athlete_id)
    except BudgetExceeded as exc:
        log.info(
            "Strava budget spent; shoes deferred by %d ms",
            exc.retry_after_ms,
            extra={"athlete_id": athlete_id},
        )
        host.jobs.read_gear(athlete_id, delay=exc.retry_after_ms)
