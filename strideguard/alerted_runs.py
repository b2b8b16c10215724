"""Which runs a per-run alert already told the runner about, for the week's digest.

The digest covers the whole week but does not repeat an alert: a finding whose run went out
in a per-run alert is named briefly instead (partials/section.*).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from strideguard.models import RiskyRun, RunAlert
from strideguard.status import RunAlertStatus
from strideguard.times import aware


def alerted_runs(
    session: Session, athlete_id: int, week_start: dt.date
) -> dict[tuple[str, int], str]:
    """(rule, run) -> the ISO day a per-run alert about it was sent, for the week's digest."""
    rows = session.execute(
        select(RiskyRun.rule_id, RiskyRun.activity_id, RunAlert.sent_at)
        .join(RunAlert, RunAlert.id == RiskyRun.run_alert_id)
        .where(
            RiskyRun.athlete_id == athlete_id,
            RiskyRun.week_start == week_start,
            RunAlert.status == RunAlertStatus.SENT,
        )
    ).all()
    return {
        (rule, activity): aware(sent_at).date().isoformat()
        for rule, activity, sent_at in rows
        if sent_at is not None
    }


def alerted_note(finding: dict[str, Any], alerted: dict[tuple[str, int], str]) -> dict[str, str]:
    """`{"alerted_on": day}` when the finding's run was in a sent alert, else nothing."""
    activity = finding.get("activity_id")
    if activity is None:
        return {}
    day = alerted.get((str(finding.get("rule")), int(activity)))
    return {"alerted_on": day} if day else {}
