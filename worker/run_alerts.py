"""Judge a new run as soon as it lands, and gather the risky ones into per-run alerts.

`judge_run(runtime, athlete_id, activity_id, announced)` is the job behind the `judge_run`
actor, queued when a webhook announced a new run (STRAVA_WEBHOOK_SYNC auto or immediate):

0. if the run's week (or, for a run not stored yet, the week it was announced in) is judged
   already, stop: its digest covers the run, and a judgement that waited that long behind a
   spent budget spends no read on an alert that would only be superseded;
1. refresh the athlete's window through the source port (the rules need the 30 days before
   the run, and activity rows are kept only RETENTION_DAYS); when the source's budget is
   spent the job waits for the next rate window and runs then, so the alert is late, never
   dropped;
2. run the per-run rules (`per: run` in rules.yaml) on that run, with the athlete's
   overrides; keep what fired and is not muted;
3. in ONE transaction, per channel the athlete has (`alert_channels`) and that may reach
   them (pause, unsubscribe): write the run (unique per athlete, channel, run and rule, so a
   repeated webhook writes it once) and open an alert for it unless one is open already.

An open alert waits RUN_ALERT_GATHER_SECONDS for the rest of an upload (a watch syncing a
week at once) and at least an hour after the athlete's previous alert on that channel: one
message names every run that gathered meanwhile. worker/run_alert_send.py sends it.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import replace
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from strideguard import rules
from strideguard.db import transaction
from strideguard.models import Activity, Athlete, Evaluation, RiskyRun, RunAlert
from strideguard.status import RunAlertStatus
from strideguard.times import aware, week_start_of, zone_or_utc
from strideguard.upsert import insert_ignoring_duplicates
from strideguard.worker.channel_messages import target_kinds
from strideguard.worker.host import PipelineHost
from strideguard.worker.ports import (
    Channel,
    Priority,
    RiskyRunFinding,
    SourceDeferred,
    SourceDisconnected,
)
from strideguard.worker.registry import CHANNELS, plugin_class

log = logging.getLogger(__name__)

# At most one alert per athlete and channel in this time.
ALERT_SPACING = dt.timedelta(hours=1)


def alert_channels(session: Session, athlete: Athlete) -> list[str]:
    """The channel kinds (worker/registry.py) a per-run alert goes to for this athlete.

    The one place that decides it: every runner has email; the runner's own push or chat
    targets (`athlete_channels`) add their kinds, and each kind's alert is gathered and
    spaced on its own.
    """
    return ["email", *target_kinds(session, athlete.id)]


def channel_of(runtime: PipelineHost, kind: str) -> Channel:
    """The runtime's channel of `kind`, built from the registry for kinds other than its own."""
    if kind == "email":
        return runtime.channel
    channel: Channel = plugin_class(CHANNELS, kind)(runtime.settings)
    return channel


def per_run_rules(config: rules.RulesConfig) -> rules.RulesConfig:
    """Only the rules judged per run: the week's rules wait for the Monday digest."""
    return replace(config, rules={k: r for k, r in config.rules.items() if r.per == "run"})


def judge_run(
    runtime: PipelineHost, athlete_id: int, activity_id: int, announced: str | None = None
) -> None:
    """The `judge_run` job (see the module docstring for the steps); `announced` is when the
    source told us of the run (ISO 8601), or None from a sender that did not say."""
    context = {"athlete_id": athlete_id, "activity_id": activity_id}
    config = runtime.rules.current()
    told = dt.datetime.fromisoformat(announced) if announced else None
    with runtime.sessions() as session:
        athlete = session.get(Athlete, athlete_id)
        if athlete is None or runtime.source.unavailable_reason(session, athlete_id) is not None:
            return
        run = session.get(Activity, activity_id)
        # A stored run answers the cheap questions before any request is spent on it.
        if run is not None and (
            run.athlete_id != athlete_id
            or run.sport_type not in config.activity_types.running
            or not _open_channels(
                runtime, session, athlete, week_start_of(run.start_date_local.date())
            )
        ):
            return
        covered = _judged_week(session, athlete, run, told)
        if covered is not None:
            log.info(
                "run alert: not judged, the digest of week %s covers it",
                covered,
                extra=context,
            )
            return
    try:
        window = runtime.source.refresh_window(athlete_id, Priority.RUN)
    except SourceDeferred as exc:
        log.info("run alert: source budget spent, judged in the next window", extra=context)
        runtime.jobs.judge_run(athlete_id, activity_id, announced=told, delay=exc.retry_after_ms)
        return
    except SourceDisconnected:
        return
    activities = [
        rules.ActivityRecord(athlete_id=athlete_id, **fields) for fields in window.activities
    ]
    record = next((a for a in activities if a.activity_id == activity_id), None)
    if record is None or record.sport_type not in config.activity_types.running:
        log.info("run alert: no such run on the source (deleted, or not a run)", extra=context)
        return
    week_start = week_start_of(record.start_date_local.date())
    with runtime.sessions() as session:
        athlete = session.get(Athlete, athlete_id)
        if athlete is None:
            return
        kinds = _open_channels(runtime, session, athlete, week_start)
        if not kinds:
            return
        muted = set(athlete.muted_rules or [])
        findings = rules.evaluate_week(
            activities,
            week_start,
            per_run_rules(config),
            overrides=athlete.rule_overrides or None,
            history_start=window.complete_from,
        )
        fired = [
            f for f in findings if f.fired and f.activity_id == activity_id and f.rule not in muted
        ]
        if not fired:
            return
        # The next-run ceiling after the run's week, as the digest will give it.
        limits = rules.evaluate_limits(
            activities,
            week_start,
            config,
            athlete.rule_overrides or None,
            history_start=window.complete_from,
        )
    after = tuple(limit.to_dict() for limit in limits)
    now = runtime.clock()
    with transaction(runtime.sessions) as session:
        opened = record_risky_run(
            session,
            athlete_id,
            [RiskyRunFinding(finding, after) for finding in fired],
            kinds,
            now=now,
            gather=dt.timedelta(seconds=runtime.settings.run_alert_gather_seconds),
            host=urlsplit(runtime.settings.public_base_url).hostname or "localhost",
        )
    for alert_id, due in opened:
        runtime.jobs.send_run_alert(alert_id, delay=_ms_until(due, now))
    log.info("risky run recorded for alerting", extra={**context, "alerts_opened": len(opened)})


def _judged_week(
    session: Session, athlete: Athlete, run: Activity | None, announced: dt.datetime | None
) -> dt.date | None:
    """The run's week, if its digest is judged already: a judgement that waited that long
    for the budget would only be superseded at send time, so it spends no read.

    A run not stored yet is placed by when the source announced it: it started before that,
    so in that week or an earlier one, which is judged first."""
    if run is not None:
        week = week_start_of(run.start_date_local.date())
    elif announced is not None:
        week = week_start_of(announced.astimezone(zone_or_utc(athlete.timezone)).date())
    else:
        return None
    return week if judged_weeks(session, athlete.id, {week}) else None


def judged_weeks(session: Session, athlete_id: int, weeks: Iterable[dt.date]) -> set[dt.date]:
    """Those of `weeks` whose evaluation has finished: their digests cover their runs."""
    return set(
        session.scalars(
            select(Evaluation.week_start).where(
                Evaluation.athlete_id == athlete_id,
                Evaluation.week_start.in_(set(weeks)),
                Evaluation.finished_at.is_not(None),
            )
        )
    )


def _open_channels(
    runtime: PipelineHost, session: Session, athlete: Athlete, week_start: dt.date
) -> list[str]:
    """The athlete's channels that may reach them about this week (pause, unsubscribe)."""
    return [
        kind
        for kind in alert_channels(session, athlete)
        if channel_of(runtime, kind).blocked_reason(athlete, week_start) is None
    ]


def record_risky_run(
    session: Session,
    athlete_id: int,
    fired: Sequence[RiskyRunFinding],
    kinds: Sequence[str],
    *,
    now: dt.datetime,
    gather: dt.timedelta,
    host: str,
) -> list[tuple[int, dt.datetime]]:
    """Write the run's findings per channel and open an alert where none is open; the
    alerts opened, with when each is due. In the caller's transaction."""
    opened: list[tuple[int, dt.datetime]] = []
    for kind in kinds:
        rows = [
            {
                "athlete_id": athlete_id,
                "channel": kind,
                "activity_id": run.finding.activity_id,
                "rule_id": run.finding.rule,
                "week_start": run.finding.week_start,
                "finding": run.to_json(),
                "created_at": now,
            }
            for run in fired
        ]
        new = session.execute(
            insert_ignoring_duplicates(session, RiskyRun).returning(RiskyRun.id), rows
        ).all()
        if not new:
            continue  # the run was recorded before: its alert exists already
        opening = _open_alert(session, athlete_id, kind, now=now, gather=gather, host=host)
        if opening is not None:
            opened.append(opening)
    return opened


def _open_alert(
    session: Session,
    athlete_id: int,
    kind: str,
    *,
    now: dt.datetime,
    gather: dt.timedelta,
    host: str,
) -> tuple[int, dt.datetime] | None:
    """Open an alert for the waiting runs, or make sure the open one will take them.

    The open alert's row is locked until the caller commits (on PostgreSQL; SQLite has one
    writer at a time), so a sender cannot claim it between this transaction's insert of the
    run and its commit and leave the run behind. An alert claimed just before the lock frees
    its key, and the second pass opens a new one.
    """
    open_key = f"{athlete_id}:{kind}"
    for _ in range(2):
        due = max(now + gather, _next_allowed(session, athlete_id, kind))
        alert_id = session.scalar(
            insert_ignoring_duplicates(session, RunAlert)
            .values(
                athlete_id=athlete_id,
                channel=kind,
                open_key=open_key,
                message_id=f"<run-alert-{athlete_id}-{kind}-{uuid.uuid4().hex[:16]}@{host}>",
                status=RunAlertStatus.PENDING,
                attempts=0,
                crashes=0,
                next_attempt_at=due,
                created_at=now,
            )
            .returning(RunAlert.id)
        )
        if alert_id is not None:
            return alert_id, due
        held = session.scalar(
            select(RunAlert.id).where(RunAlert.open_key == open_key).with_for_update()
        )
        if held is not None:
            return None  # the open alert takes the run when it is claimed
    raise RuntimeError(f"no alert could be opened for athlete {athlete_id} on {kind}")


def _next_allowed(session: Session, athlete_id: int, kind: str) -> dt.datetime:
    """An hour after the athlete's last alert on this channel (sent, or on its way)."""
    last = session.scalar(
        select(func.max(func.coalesce(RunAlert.sent_at, RunAlert.next_attempt_at))).where(
            RunAlert.athlete_id == athlete_id,
            RunAlert.channel == kind,
            or_(
                RunAlert.status == RunAlertStatus.SENT,
                RunAlert.status == RunAlertStatus.SENDING,
                RunAlert.status == RunAlertStatus.PENDING,
            ),
        )
    )
    if last is None:
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return aware(last) + ALERT_SPACING


def _ms_until(due: dt.datetime, now: dt.datetime) -> int:
    return max(0, int((due - now).total_seconds() * 1000))
