"""Judge one athlete-week and, if it was risky, write its digest to the outbox.

`evaluate_week(runtime, athlete_id, week_start)` is the job behind the `evaluate_week` actor:

1. claim the `evaluations` row (attempts + 1, a lease in `started_at`); a claim that fails means
   another worker holds it or it is finished, and the message is simply dropped;
2. skip (status `skipped`, reason in `last_error`) when the activity source says the athlete
   is gone (runtime.source: Strava, revoked or never connected) or the channel says nothing
   may reach them this week (runtime.channel: paused, unsubscribed, no address);
3. refresh the lookback window through the source port (defer, not fail, when the source
   says so, e.g. Strava's rate budget is spent); see worker/ports.py;
4. run the rules over the window's activities as the source returned them (not over rows the
   retention purge may be deleting meanwhile), with the athlete's overrides, gear and
   back-pain check-ins (their own answers, passed in as plain data); a rule that cannot be
   evaluated is recorded in `rule_errors` and the week judged on the others;
5. drop muted rules, and everything while paused or when mail cannot be delivered;
6. in ONE transaction: insert the fired alerts (unique per athlete, week and rule), the outbox
   row if there are new alerts and no digest exists for the week yet, and mark the row done.

A redelivered message therefore never writes a second alert or a second digest: the claim
refuses finished rows and the unique keys refuse duplicates. An activity that arrives after
the week was judged re-opens the evaluation (`reopen_for_late_activity`); any rule that fires
only then becomes a *late* alert with no digest of its own, and rides along with the athlete's
next digest, where it is labelled late.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from strideguard import leases, rules
from strideguard.checkins import answers_by_week
from strideguard.db import transaction
from strideguard.leases import EVALUATION_LEASE, GaveUp, error_text, gave_up_text, rowcount
from strideguard.models import Alert, Athlete, DeliveryRecord, Evaluation
from strideguard.status import DeliveryKind, EmailStatus, EvaluationStatus
from strideguard.upsert import insert_ignoring_duplicates
from strideguard.worker.channel_messages import queue_digest_notices, send_due_for
from strideguard.worker.deliveries import add_delivery, kind_message_id
from strideguard.worker.host import PipelineHost
from strideguard.worker.ports import (
    Priority,
    SourceDeferred,
    SourceDisconnected,
    SourceError,
    Window,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claim:
    """A claimed evaluation: which attempt this is, and whether the week was judged before."""

    evaluation_id: int
    attempts: int
    reevaluation: bool


def claim(
    session: Session, athlete_id: int, week_start: dt.date, now: dt.datetime, lease: dt.timedelta
) -> Claim | None:
    """Take the pending row unless a live attempt holds it; None means "not yours, drop it"."""
    claimed = leases.claim(
        session,
        EVALUATION_LEASE,
        Evaluation.athlete_id == athlete_id,
        Evaluation.week_start == week_start,
        Evaluation.status == EvaluationStatus.PENDING,
        now=now,
        duration=lease,
    )
    if not claimed:
        return None
    row = session.execute(
        select(Evaluation.id, Evaluation.attempts, Evaluation.finished_at).where(
            Evaluation.athlete_id == athlete_id, Evaluation.week_start == week_start
        )
    ).one()
    return Claim(row.id, row.attempts, reevaluation=row.finished_at is not None)


def release(
    session: Session,
    evaluation_id: int,
    *,
    status: EvaluationStatus = EvaluationStatus.PENDING,
    last_error: str | None = None,
    due_at: dt.datetime | None = None,
    uncount: bool = False,
    finished_at: dt.datetime | None = None,
) -> None:
    """End an attempt: record the outcome and free the lease so a retry can claim the row."""
    values: dict[str, Any] = {"status": status, "last_error": last_error}
    if due_at is not None:
        values["due_at"] = due_at
    if finished_at is not None:
        values["finished_at"] = finished_at
    leases.release(
        session, EVALUATION_LEASE, Evaluation.id == evaluation_id, uncount=uncount, **values
    )


def digest_message_id(athlete_id: int, week_start: dt.date, public_base_url: str) -> str:
    """Stable across retries, so a duplicate delivery threads as the same message."""
    return kind_message_id(DeliveryKind.DIGEST, athlete_id, week_start, public_base_url)


def failed_rules(findings: Sequence[rules.Finding]) -> list[dict[str, str]]:
    """The rules that could not be evaluated, once each, with the first reason."""
    failed: dict[str, str] = {}
    for finding in findings:
        if finding.status == "error":
            failed.setdefault(finding.rule, finding.error or "unknown error")
    return [{"rule": rule, "error": error} for rule, error in failed.items()]


@dataclass(frozen=True)
class Fired:
    """A fired finding the runner hears about, and how many more runs fired the same
    per-run rule that week (the digest mentions them). JSON only at the storage edge."""

    finding: rules.Finding
    other_runs: int = 0

    def to_json(self) -> dict[str, Any]:
        """The `alerts.finding` JSON: the finding's dict, with `other_runs` when any."""
        stored = self.finding.to_dict()
        return {**stored, "other_runs": self.other_runs} if self.other_runs else stored


def alertable(findings: Sequence[rules.Finding], muted: Sequence[str]) -> list[Fired]:
    """The fired findings the athlete still wants to hear about, one per rule.

    A week has one alert per rule, but a per-run rule fires once per run: the runner hears
    about the largest (the first one would hide a bigger jump later in the week), and
    `other_runs` says how many more runs fired, so the digest can mention them.
    """
    muted_set = set(muted)
    per_rule: dict[str, list[rules.Finding]] = {}
    for finding in findings:
        if finding.fired and finding.rule not in muted_set:
            per_rule.setdefault(finding.rule, []).append(finding)
    return [Fired(max(fired, key=_size), len(fired) - 1) for fired in per_rule.values()]


def _size(finding: rules.Finding) -> float:
    """The finding's value (a per-run rule's jump in %); one without a value ranks last."""
    value = finding.value
    return float(value) if isinstance(value, int | float) else float("-inf")


def record_outcome(
    session: Session,
    *,
    claim_: Claim,
    athlete: Athlete,
    week_start: dt.date,
    fired: Sequence[Fired],
    public_base_url: str,
    rules_version: str | None,
    now: dt.datetime,
    rule_errors: Sequence[dict[str, str]] = (),
    limits: Sequence[dict[str, Any]] = (),
) -> int | None:
    """Alerts, digest row and "done" in the caller's single transaction; the new outbox id.

    Alerts found when the week was already judged (or its digest already written) are late:
    they get no digest of their own and wait for the next one.
    """
    new_alerts: list[int] = []
    if fired:
        existing_digest = session.scalar(
            select(DeliveryRecord.id).where(
                DeliveryRecord.athlete_id == athlete.id,
                DeliveryRecord.week_start == week_start,
                DeliveryRecord.kind == DeliveryKind.DIGEST,
            )
        )
        late = claim_.reevaluation or existing_digest is not None
        rows = [
            {
                "athlete_id": athlete.id,
                "week_start": week_start,
                "rule_id": alert.finding.rule,
                "severity": alert.finding.severity or "warning",
                "finding": alert.to_json(),
                "late": late,
                "created_at": now,
            }
            for alert in fired
        ]
        inserted = session.execute(
            insert_ignoring_duplicates(session, Alert).returning(Alert.id), rows
        )
        new_alerts = [row.id for row in inserted]
    outbox_id: int | None = None
    if new_alerts and not claim_.reevaluation:
        outbox_id = add_delivery(
            session, DeliveryKind.DIGEST, athlete.id, week_start, public_base_url, now
        )
        if outbox_id is not None:
            session.execute(
                update(Alert)
                .where(Alert.id.in_(new_alerts), Alert.late.is_(False))
                .values(outbox_id=outbox_id)
            )
            # The same digest as a short notice on each push/chat channel, in this transaction.
            queue_digest_notices(
                session,
                athlete.id,
                week_start,
                outbox_id,
                now,
                by_email=bool(athlete.email) and athlete.email_status == EmailStatus.OK,
            )
    session.execute(
        update(Evaluation)
        .where(Evaluation.id == claim_.evaluation_id)
        .values(
            status=EvaluationStatus.DONE,
            started_at=None,
            finished_at=now,
            last_error=None,
            rules_version=rules_version,
            rule_errors=list(rule_errors) or None,
            limits=list(limits) or None,
        )
    )
    return outbox_id


def reopen_for_late_activity(
    session: Session, athlete_id: int, week_start: dt.date, now: dt.datetime
) -> bool:
    """Send a finished week back for judging because an activity in it changed.

    True when a finished evaluation was re-opened (the caller enqueues it). Weeks never judged
    are left to the scheduler; skipped and failed weeks stay as they are.
    """
    result = session.execute(
        update(Evaluation)
        .where(
            Evaluation.athlete_id == athlete_id,
            Evaluation.week_start == week_start,
            Evaluation.status == EvaluationStatus.DONE,
        )
        .values(status=EvaluationStatus.PENDING, due_at=now, attempts=0, started_at=None)
    )
    return rowcount(result) == 1


def give_up_if_exhausted(runtime: PipelineHost, claim_: Claim, last_error: str | None) -> None:
    """Stop a job that keeps failing or killing its worker, recording why on the row."""
    if not leases.exhausted(claim_.attempts - 1, runtime.settings.job_max_attempts):
        return
    reason = gave_up_text(claim_.attempts - 1, last_error)
    with transaction(runtime.sessions) as session:
        release(session, claim_.evaluation_id, status=EvaluationStatus.FAILED, last_error=reason)
    raise GaveUp(reason)


def record_failure(runtime: PipelineHost, claim_: Claim, exc: Exception) -> None:
    """Write the error on the row; on the last allowed attempt, fail the row for good."""
    text = error_text(exc)
    final = leases.exhausted(claim_.attempts, runtime.settings.job_max_attempts)
    with transaction(runtime.sessions) as session:
        release(
            session,
            claim_.evaluation_id,
            status=EvaluationStatus.FAILED if final else EvaluationStatus.PENDING,
            last_error=gave_up_text(claim_.attempts, text) if final else text,
            due_at=runtime.clock() + runtime.retry_delay(claim_.attempts),
        )
    if final:
        raise GaveUp(text) from exc


def _skip(runtime: PipelineHost, claim_: Claim, reason: str, athlete_id: int) -> None:
    with transaction(runtime.sessions) as session:
        release(
            session,
            claim_.evaluation_id,
            status=EvaluationStatus.SKIPPED,
            last_error=reason,
            finished_at=runtime.clock(),
        )
    log.info("evaluation skipped: %s", reason, extra={"athlete_id": athlete_id})


def run_evaluate_week(runtime: PipelineHost, athlete_id: int, week_start_iso: str) -> None:
    """The `evaluate_week` job (see the module docstring for the steps)."""
    week_start = dt.date.fromisoformat(week_start_iso)
    context = {"athlete_id": athlete_id, "week_start": week_start_iso}
    with transaction(runtime.sessions) as session:
        claim_ = claim(session, athlete_id, week_start, runtime.clock(), runtime.lease)
        last_error = session.scalar(
            select(Evaluation.last_error).where(
                Evaluation.athlete_id == athlete_id, Evaluation.week_start == week_start
            )
        )
    if claim_ is None:
        log.info("evaluation not claimable (finished or held by a live attempt)", extra=context)
        return
    give_up_if_exhausted(runtime, claim_, last_error)
    try:
        outbox_id = _evaluate_claimed(runtime, claim_, athlete_id, week_start)
    except Deferred:
        return
    except GaveUp:
        raise  # the reason is on the row already
    except Exception as exc:
        record_failure(runtime, claim_, exc)
        raise
    if outbox_id is not None:
        runtime.jobs.send_digest(outbox_id)
        send_due_for(runtime, athlete_id)
        log.info("digest queued", extra={**context, "outbox_id": outbox_id})


class Deferred(Exception):
    """The evaluation was handed back for later (rate budget); not a failure."""


def _evaluate_claimed(
    runtime: PipelineHost, claim_: Claim, athlete_id: int, week_start: dt.date
) -> int | None:
    with runtime.sessions() as session:
        unavailable = runtime.source.unavailable_reason(session, athlete_id)
        athlete = session.get(Athlete, athlete_id)
        if unavailable is not None or athlete is None:
            _skip(runtime, claim_, unavailable or "no such athlete", athlete_id)
            return None
        blocked = runtime.channel.blocked_reason(athlete, week_start)
    if blocked is not None:
        # Checked before refreshing: a week nobody can be told about is not worth requests.
        _skip(runtime, claim_, blocked, athlete_id)
        return None
    try:
        window = runtime.source.refresh_window(athlete_id, Priority.EVALUATION)
    except SourceDeferred as exc:
        _defer(runtime, claim_, athlete_id, week_start, exc)
        raise Deferred from exc
    except SourceDisconnected as exc:
        _skip(runtime, claim_, error_text(exc), athlete_id)
        return None
    except SourceError as exc:
        if exc.retryable:
            raise
        # The source refused the request itself (e.g. our app credentials): retrying cannot help.
        reason = error_text(exc)
        with transaction(runtime.sessions) as session:
            release(
                session, claim_.evaluation_id, status=EvaluationStatus.FAILED, last_error=reason
            )
        raise GaveUp(reason) from exc
    return judge_window(runtime, claim_, athlete_id, week_start, window)


def judge_window(
    runtime: PipelineHost, claim_: Claim, athlete_id: int, week_start: dt.date, window: Window
) -> int | None:
    """Steps 4 to 6 on a window the source returned: the rules, then alerts, the digest (or
    the weekly note, when nothing fired and the runner asked for it) and "done" in one
    transaction; the new outbox id. The welcome (worker/welcome.py) judges the last closed
    week this way on the backfill it just stored, without asking the source again."""
    config = runtime.rules.current()
    with runtime.sessions() as session:
        athlete = session.get(Athlete, athlete_id)
        assert athlete is not None  # the claim holds the row and athletes cascade to it
        activities = [
            rules.ActivityRecord(athlete_id=athlete_id, **fields) for fields in window.activities
        ]
        back_pain = answers_by_week(session, athlete_id)
        # The refresh made our rows complete from here on; earlier weeks are unknown.
        complete_from = window.complete_from
        overrides = athlete.rule_overrides or None
        try:
            findings = rules.evaluate_week(
                activities,
                week_start,
                config,
                overrides=overrides,
                gear=window.gear,
                history_start=complete_from,
                back_pain=back_pain,
            )
            limits = rules.evaluate_limits(
                activities, week_start, config, overrides, history_start=complete_from
            )
        except rules.ConfigError as exc:
            # The athlete's overrides are invalid: no retry can fix that, a coach must.
            reason = "invalid rule overrides: " + "; ".join(exc.errors)
            with transaction(runtime.sessions) as session:
                release(
                    session, claim_.evaluation_id, status=EvaluationStatus.FAILED, last_error=reason
                )
            raise GaveUp(reason) from exc
    fired = alertable(findings, athlete.muted_rules or [])
    rule_errors = failed_rules(findings)
    if rule_errors:
        log.error(
            "rules not evaluated, the week is judged on the others: %s",
            "; ".join(f"{e['rule']}: {e['error']}" for e in rule_errors),
            extra={"athlete_id": athlete_id, "week_start": week_start.isoformat()},
        )
    with transaction(runtime.sessions) as session:
        outbox_id = record_outcome(
            session,
            claim_=claim_,
            athlete=athlete,
            week_start=week_start,
            fired=fired,
            public_base_url=runtime.settings.public_base_url,
            rules_version=config.version,
            now=runtime.clock(),
            rule_errors=rule_errors,
            limits=[limit.to_dict() for limit in limits],
        )
        if not fired and not claim_.reevaluation and athlete.weekly_note:
            outbox_id = add_delivery(
                session,
                DeliveryKind.NOTE,
                athlete.id,
                week_start,
                runtime.settings.public_base_url,
                runtime.clock(),
            )
        return outbox_id


def _defer(
    runtime: PipelineHost,
    claim_: Claim,
    athlete_id: int,
    week_start: dt.date,
    exc: SourceDeferred,
) -> None:
    """Hand the week back for the next rate window: no attempt counted, nothing slept."""
    delay = dt.timedelta(milliseconds=exc.retry_after_ms)
    with transaction(runtime.sessions) as session:
        release(
            session,
            claim_.evaluation_id,
            last_error=f"deferred: {exc}",
            due_at=runtime.clock() + delay,
            uncount=True,
        )
    runtime.jobs.evaluate_week(athlete_id, week_start, delay=exc.retry_after_ms)
    log.info(
        "Strava budget spent; evaluation deferred by %d ms",
        exc.retry_after_ms,
        extra={"athlete_id": athlete_id, "week_start": week_start.isoformat()},
    )
