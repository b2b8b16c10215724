"""When an athlete's training week is ready to be judged: pure calendar maths, no I/O.

A week is named by its Monday and runs Monday 00:00 to Sunday 24:00 in the athlete's own
time zone (the zone their activities carry). It becomes *due* a grace period after it closes,
so activities uploaded late on Sunday evening or synced overnight are in before the rules run.

The grace is wall-clock time: with the default 6 hours a week is due at Monday 06:00 local,
whatever a daylight-saving change did in the night. A due time that falls in a DST gap (a wall
time that never happens) moves forward by the gap, as PEP 495 defines for `fold=0`; a due time
that happens twice is the first of the two.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from strideguard.times import WEEK, due_at, week_start_of

__all__ = ["WEEK", "due_at", "due_weeks", "latest_due_week"]


def latest_due_week(now: dt.datetime, zone: ZoneInfo, grace: dt.timedelta) -> dt.date:
    """The newest week whose due instant is at or before `now` (an aware datetime)."""
    local_today = now.astimezone(zone).date()
    week = week_start_of(local_today)
    # The current week is never due; step back until the due instant has passed. A grace of
    # up to a few weeks needs only a few steps.
    while due_at(week, zone, grace) > now:
        week -= WEEK
    return week


def due_weeks(
    now: dt.datetime,
    zone: ZoneInfo,
    grace: dt.timedelta,
    *,
    since: dt.datetime,
    lookback_weeks: int,
) -> list[dt.date]:
    """Weeks due at `now` and not before `since`, oldest first, at most `lookback_weeks` of them.

    `since` is when the athlete connected: weeks that were already due then are history, not
    news, and must not each send a digest. `lookback_weeks` bounds the catch-up after downtime
    to the weeks whose data the evaluation can still fetch.
    """
    weeks: list[dt.date] = []
    week = latest_due_week(now, zone, grace)
    while len(weeks) < lookback_weeks and due_at(week, zone, grace) > since:
        weeks.append(week)
        week -= WEEK
    weeks.reverse()
    return weeks
