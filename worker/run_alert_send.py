"""Deliver one per-run alert: claim it with its runs, check each run still warrants it, send.

`send_run_alert(runtime, run_alert_id)` is the job behind the `send_run_alert` actor. The
claim (strideguard/leases.py, the outbox's protocol: attempt counted and lease taken in one
conditional UPDATE) closes the alert to new runs and takes every run waiting for it. Then
each run is dropped, with the reason kept on the row, when:

- its week has been judged: the Monday digest covers it, so the alert is `superseded`
  rather than sent after it;
- its rule was muted meanwhile, the runner paused or unsubscribed (the channel's
  `blocked_reason`), or the run was deleted from Strava.

With no run left the alert ends `superseded` or `cancelled`. A transient failure of the
channel goes back to `pending` with a backoff and the same lease and attempts as a digest;
a worker killed mid-send leaves the row under a lease that the reconciler re-sends once it
expires. A permanent refusal fails it (and a bounced address stops all mail).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from strideguard import leases
from strideguard.db import transaction
from strideguard.leases import RUN_ALERT_LEASE, GaveUp, error_text, gave_up_text
from strideguard.models import Activity, Athlete, RiskyRun, RunAlert
from strideguard.status import EmailStatus, RunAlertStatus
from strideguard.worker.channel_messages import (
    hands_over,
    queue_run_alert,
    run_alert_facts,
    send_now,
)
from strideguard.worker.host import PipelineHost
from strideguard.worker.ports import DeliveryError, RiskyRunFinding
from strideguard.worker.registry import ALERT_MESSAGES, plugin_class
from strideguard.worker.run_alerts import channel_of, judged_weeks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertClaim(leases.Sending):
    run_alert_id: int
    channel: str
    athlete_id: int
    message_id: str


def run_alert_due(now: dt.datetime) -> ColumnElement[bool]:
    """Alerts a sender may take at `now`: due and pending, or sending under a dead lease."""
    return or_(
        and_(RunAlert.status == RunAlertStatus.PENDING, RunAlert.next_attempt_at <= now),
        and_(RunAlert.status == RunAlertStatus.SENDING, RunAlert.lease_until < now),
    )


def claim(
    session: Session, run_alert_id: int, now: dt.datetime, lease: dt.timedelta
) -> AlertClaim | None:
    """Take the alert for one attempt, with every run waiting for it; None when not due or
    held by a live sender."""
    taken = leases.claim_sending(
        session,
        RUN_ALERT_LEASE,
        RunAlert.id == run_alert_id,
        run_alert_due(now),
        now=now,
        duration=lease,
        also={"open_key": None},
    )
    if taken is None:
        return None
    row = session.get_one(RunAlert, run_alert_id)
    session.execute(
        update(RiskyRun)
        .where(
            RiskyRun.athlete_id == row.athlete_id,
            RiskyRun.channel == row.channel,
            RiskyRun.run_alert_id.is_(None),
        )
        .values(run_alert_id=run_alert_id)
    )
    return AlertClaim(
        run_alert_id=run_alert_id,
        channel=row.channel,
        athlete_id=row.athlete_id,
        message_id=row.message_id,
        **asdict(taken),
    )


def _release(
    runtime: PipelineHost, claim_: AlertClaim, status: RunAlertStatus, **values: Any
) -> bool:
    with transaction(runtime.sessions) as session:
        return leases.release(
            session,
            RUN_ALERT_LEASE,
            RunAlert.id == claim_.run_alert_id,
            RunAlert.status == RunAlertStatus.SENDING,
            RunAlert.lease_until == claim_.lease_until,
            status=status,
            **values,
        )


@dataclass(frozen=True)
class Sorted:
    """The claimed runs: those to send, and why each of the others is not sent."""

    send: list[RiskyRunFinding]
    superseded: list[str]
    dropped: list[str]


def sort_runs(
    runtime: PipelineHost, session: Session, athlete: Athlete, claim_: AlertClaim
) -> Sorted:
    runs = session.scalars(
        select(RiskyRun).where(RiskyRun.run_alert_id == claim_.run_alert_id).order_by(RiskyRun.id)
    ).all()
    channel = channel_of(runtime, claim_.channel)
    muted = set(athlete.muted_rules or [])
    judged = judged_weeks(session, athlete.id, {run.week_start for run in runs})
    stored = set(
        session.scalars(
            select(Activity.strava_id).where(
                Activity.strava_id.in_({run.activity_id for run in runs})
            )
        )
    )
    result = Sorted([], [], [])
    for run in runs:
        name = f"run {run.activity_id} ({run.rule_id})"
        blocked = channel.blocked_reason(athlete, run.week_start)
        if run.week_start in judged:
            result.superseded.append(f"{name}: the digest of week {run.week_start} covers it")
        elif run.rule_id in muted:
            result.dropped.append(f"{name}: rule muted")
        elif blocked is not None:
            result.dropped.append(f"{name}: {blocked}")
        elif run.activity_id not in stored:
            result.dropped.append(f"{name}: deleted from the source")
        else:
            result.send.append(RiskyRunFinding.from_json(run.finding))
    return result


def send_run_alert(runtime: PipelineHost, run_alert_id: int) -> None:
    """The `send_run_alert` job (see the module docstring for every outcome)."""
    context = {"run_alert_id": run_alert_id}
    with transaction(runtime.sessions) as session:
        claim_ = claim(session, run_alert_id, runtime.clock(), runtime.lease)
    if claim_ is None:
        log.info("run alert not claimable (sent, not due, or held)", extra=context)
        return
    context["athlete_id"] = claim_.athlete_id
    if claim_.after_crash and leases.exhausted(claim_.crashes, runtime.settings.job_max_attempts):
        reason = gave_up_text(claim_.attempts - 1, f"{claim_.crashes} attempts crashed")
        _release(runtime, claim_, RunAlertStatus.FAILED, last_error=reason)
        raise GaveUp(f"run alert {run_alert_id}: attempts exhausted")
    with runtime.sessions() as session:
        athlete = session.get_one(Athlete, claim_.athlete_id)
        runs = sort_runs(runtime, session, athlete, claim_)
    if not runs.send:
        status = RunAlertStatus.SUPERSEDED if runs.superseded else RunAlertStatus.CANCELLED
        reason = "; ".join(runs.superseded + runs.dropped) or "its runs went with an earlier alert"
        _release(runtime, claim_, status, last_error=f"not sent: {reason}"[:2000])
        log.info("run alert %s: %s", status, reason, extra=context)
        return
    if hands_over(claim_.channel):
        _hand_over(runtime, claim_, athlete, runs)
        return
    messages = plugin_class(ALERT_MESSAGES, claim_.channel)(runtime.settings)
    try:
        delivery = messages.delivery(athlete, claim_.message_id, runs.send)
        channel_of(runtime, claim_.channel).deliver(delivery)
    except DeliveryError as exc:
        if not exc.permanent:
            _retry_later(runtime, claim_, error_text(exc))
            return
        with transaction(runtime.sessions) as session:
            if messages.recipient_refused(exc):
                session.execute(
                    update(Athlete)
                    .where(Athlete.id == athlete.id)
                    .values(email_status=EmailStatus.BOUNCED, email_status_reason=error_text(exc))
                )
        _release(runtime, claim_, RunAlertStatus.FAILED, last_error=error_text(exc))
        log.warning("run alert failed for good: %s", error_text(exc), extra=context)
        return
    left_out = "; ".join(runs.superseded + runs.dropped) or None
    if not _release(
        runtime, claim_, RunAlertStatus.SENT, sent_at=runtime.clock(), last_error=left_out
    ):
        log.warning("run alert sent after its lease expired", extra=context)
    else:
        log.info("run alert sent", extra={**context, "runs": len(runs.send)})


def _hand_over(runtime: PipelineHost, claim_: AlertClaim, athlete: Athlete, runs: Sorted) -> None:
    """A push/chat alert: one short message per target of that kind, each with its own job
    and timeout (worker/channel_messages.py), so a slow service holds up nothing else. The
    alert is done when they are queued; each target's outcome is on its own row."""
    now = runtime.clock()
    left_out = "; ".join(runs.superseded + runs.dropped) or None
    with transaction(runtime.sessions) as session:
        queued = queue_run_alert(
            session,
            athlete.id,
            f"run:{claim_.run_alert_id}",
            run_alert_facts(athlete, runs.send),
            now,
        )
    _release(runtime, claim_, RunAlertStatus.SENT, sent_at=now, last_error=left_out)
    send_now(runtime, queued)
    log.info(
        "run alert handed to %d %s target(s)",
        len(queued),
        claim_.channel,
        extra={"run_alert_id": claim_.run_alert_id, "athlete_id": athlete.id},
    )


def _retry_later(
    runtime: PipelineHost, claim_: AlertClaim, reason: str, *, uncount: bool = False
) -> None:
    """Back to pending with a backoff; the week's digest supersedes it if it waits too long."""
    delay = runtime.retry_delay(claim_.attempts)
    with transaction(runtime.sessions) as session:
        leases.release(
            session,
            RUN_ALERT_LEASE,
            RunAlert.id == claim_.run_alert_id,
            RunAlert.lease_until == claim_.lease_until,
            uncount=uncount,
            status=RunAlertStatus.PENDING,
            last_error=reason,
            next_attempt_at=runtime.clock() + delay,
        )
    runtime.jobs.send_run_alert(claim_.run_alert_id, delay=int(delay.total_seconds() * 1000))
    log.info("run alert not sent (%s); next try in %s", reason, delay)
