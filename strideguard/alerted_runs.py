"""Which runs a per-run alert already told the runner about, for the week's digest.

The digest covers the whole week but does not repeat an alert: a finding whose run went out
in a per-run alert is named briefly instead (partials/section.*).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from strideguard.models import RiskyRun, RunAlert
from strideguard.rules import Finding
from strideguard.status import RunAlertStatus
from strideguard.times import aware


def alerted_runs(
    session: Session, athlete_id: int, week_start: dt.date
) -> dict[tuple[str, int], dt.date]:
    """(rule, run) -> the day a per-run alert about it was sent, for the week's digest."""
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
        (rule, activity): aware(sent_at).date()
        for rule, activity, sent_at in rows
        if sent_at is not None
    }


def alerted_on(finding: Finding, alerted: dict[tuple[str, int], dt.date]) -> dt.date | None:
    """The day the finding's run was in a sent alert, if it was."""
    if finding.activity_id is None:
        return None
    return alerted.get((finding.rule, finding.activity_id))
