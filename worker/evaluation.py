"""Judge one athlete-week and, if it was risky, write its digest to the outbox.

`evaluate_week(runtime, athlete_id, week_start)` is the job behind the `evaluate_week` actor:

1. claim the `evaluations` row (attempts + 1, a lease in `started_at`); a claim that fails means
   another worker holds it or it is finished, and the message is simply dropped;
2. skip (status `skipped`, reason in `last_error`) when the Strava connection is revoked;
3. refresh the lookback window from Strava (defer, not fail, when the rate budget is spent);
4. run the rules over the window's activities as Strava returned them (not over rows the
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
from urllib.parse import urlsplit

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

import rules
from integrations.strava import sync as strava_sync
from integrations.strava.budget import Priority
from integrations.strava.errors import (
    BudgetExceeded,
    ConnectionRevoked,
    NotConnected,
    StravaError,
)
from strideguard.checkins import answers_by_week
from strideguard.db import transaction
from strideguard.models import Alert, Athlete, Evaluation, Gear, OutboxEmail
from strideguard.upsert import insert_ignoring_duplicates
from worker.claims import (
    GaveUp,
    error_text,
    gave_up_text,
    rowcount,
)
from worker.runtime import WorkerRuntime
from worker.weeks import WEEK

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
    result = session.execute(
        update(Evaluation)
        .where(
            Evaluation.athlete_id == athlete_id,
            Evaluation.week_start == week_start,
            Evaluation.status == "pending",
            or_(Evaluation.started_at.is_(None), Evaluation.started_at < now - lease),
        )
        .values(attempts=Evaluation.attempts + 1, started_at=now)
    )
    if rowcount(result) != 1:
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
    status: str = "pending",
    last_error: str | None = None,
    due_at: dt.datetime | None = None,
    uncount: bool = False,
    finished_at: dt.datetime | None = None,
) -> None:
    """End an attempt: record the outcome and free the lease so a retry can claim the row."""
    values: dict[str, Any] = {"status": status, "last_error": last_error, "started_at": None}
    if due_at is not None:
        values["due_at"] = due_at
    if uncount:
        values["attempts"] = Evaluation.attempts - 1
    if finished_at is not None:
        values["finished_at"] = finished_at
    session.execute(update(Evaluation).where(Evaluation.id == evaluation_id).values(**values))


def digest_message_id(athlete_id: int, week_start: dt.date, public_base_url: str) -> str:
    """Stable across retries, so a duplicate delivery threads as the same message."""
    host = urlsplit(public_base_url).hostname or "localhost"
    return f"<digest-{athlete_id}-{week_start.isoformat()}@{host}>"


def mail_blocked_reason(athlete: Athlete, week_start: dt.date) -> str | None:
    """Why no alert of this week may reach the athlete, or None.

    A pause covers a week when any day of it falls on or before `paused_until`: the runner
    asked not to hear about that period.
    """
    if athlete.email_status != "ok":
        return f"email status is {athlete.email_status}"
    if not athlete.email:
        return "no email address"
    if athlete.paused_until is not None and week_start <= athlete.paused_until:
        return f"paused until {athlete.paused_until.isoformat()}"
    return None


def failed_rules(findings: Sequence[rules.Finding]) -> list[dict[str, str]]:
    """The rules that could not be evaluated, once each, with the first reason."""
    failed: dict[str, str] = {}
    for finding in findings:
        if finding.status == "error":
            failed.setdefault(finding.rule, finding.error or "unknown error")
    return [{"rule": rule, "error": error} for rule, error in failed.items()]


def alertable(findings: Sequence[dict[str, Any]], muted: Sequence[str]) -> list[dict[str, Any]]:
    """The fired findings the athlete still wants to hear about."""
    muted_set = set(muted)
    return [f for f in findings if f.get("status") == "fired" and f.get("rule") not in muted_set]


def record_outcome(
    session: Session,
    *,
    claim_: Claim,
    athlete: Athlete,
    week_start: dt.date,
    fired: Sequence[dict[str, Any]],
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
            select(OutboxEmail.id).where(
                OutboxEmail.athlete_id == athlete.id, OutboxEmail.week_start == week_start
            )
        )
        late = claim_.reevaluation or existing_digest is not None
        rows = [
            {
                "athlete_id": athlete.id,
                "week_start": week_start,
                "rule_id": str(finding["rule"]),
                "severity": str(finding.get("severity") or "warning"),
                "finding": finding,
                "late": late,
                "created_at": now,
            }
            for finding in fired
        ]
        inserted = session.execute(
            insert_ignoring_duplicates(session, Alert).returning(Alert.id), rows
        )
        new_alerts = [row.id for row in inserted]
    outbox_id: int | None = None
    if new_alerts and not claim_.reevaluation:
        outbox_id = session.scalar(
            insert_ignoring_duplicates(session, OutboxEmail)
            .values(
                athlete_id=athlete.id,
                week_start=week_start,
                message_id=digest_message_id(athlete.id, week_start, public_base_url),
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            .returning(OutboxEmail.id)
        )
        if outbox_id is not None:
            session.execute(
                update(Alert)
                .where(Alert.id.in_(new_alerts), Alert.late.is_(False))
                .values(outbox_id=outbox_id)
            )
    session.execute(
        update(Evaluation)
        .where(Evaluation.id == claim_.evaluation_id)
        .values(
            status="done",
            started_at=None,
            finished_at=now,
            last_error=None,
            rules_version=rules_version,
            rule_errors=list(rule_errors) or None,
            limits=list(limits) or None,
        )
    )
    return outbox_id


def history_start(refreshed_at: dt.datetime, lookback_weeks: int) -> dt.date:
    """The first local day a window refresh at `refreshed_at` is sure to have fetched.

    The Strava box fetches from a day before `lookback_weeks` ago; a local date differs from
    the UTC one by less than that day, so this date is complete in every zone.
    """
    return (refreshed_at - lookback_weeks * WEEK).date()


def load_gear(session: Session, athlete_id: int) -> dict[str, Gear]:
    return {
        gear.strava_gear_id: gear
        for gear in session.scalars(select(Gear).where(Gear.athlete_id == athlete_id))
    }


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
            Evaluation.status == "done",
        )
        .values(status="pending", due_at=now, attempts=0, started_at=None)
    )
    return rowcount(result) == 1


def give_up_if_exhausted(runtime: WorkerRuntime, claim_: Claim, last_error: str | None) -> None:
    """Stop a job that keeps failing or killing its worker, recording why on the row."""
    if claim_.attempts <= runtime.settings.job_max_attempts:
        return
    reason = gave_up_text(claim_.attempts - 1, last_error)
    with transaction(runtime.sessions) as session:
        release(session, claim_.evaluation_id, status="failed", last_error=reason)
    raise GaveUp(reason)


def record_failure(runtime: WorkerRuntime, claim_: Claim, exc: Exception) -> None:
    """Write the error on the row; on the last allowed attempt, fail the row for good."""
    text = error_text(exc)
    final = claim_.attempts >= runtime.settings.job_max_attempts
    with transaction(runtime.sessions) as session:
        release(
            session,
            claim_.evaluation_id,
            status="failed" if final else "pending",
            last_error=gave_up_text(claim_.attempts, text) if final else text,
            due_at=runtime.clock() + runtime.retry_delay(claim_.attempts),
        )
    if final:
        raise GaveUp(text) from exc


def _skip(runtime: WorkerRuntime, claim_: Claim, reason: str, athlete_id: int) -> None:
    with transaction(runtime.sessions) as session:
        release(
            session,
            claim_.evaluation_id,
            status="skipped",
            last_error=reason,
            finished_at=runtime.clock(),
        )
    log.info("evaluation skipped: %s", reason, extra={"athlete_id": athlete_id})


def run_evaluate_week(runtime: WorkerRuntime, athlete_id: int, week_start_iso: str) -> None:
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
        log.info("digest queued", extra={**context, "outbox_id": outbox_id})


class Deferred(Exception):
    """The evaluation was handed back for later (rate budget); not a failure."""


def _evaluate_claimed(
    runtime: WorkerRuntime, claim_: Claim, athlete_id: int, week_start: dt.date
) -> int | None:
    with runtime.sessions() as session:
        athlete = session.get(Athlete, athlete_id)
        connection = athlete.connection if athlete is not None else None
        if athlete is None or connection is None or connection.status != "active":
            status = "no Strava connection" if connection is None else "Strava connection revoked"
            _skip(runtime, claim_, status, athlete_id)
            return None
        blocked = mail_blocked_reason(athlete, week_start)
    if blocked is not None:
        # Checked before refreshing: a week nobody can be told about is not worth Strava requests.
        _skip(runtime, claim_, blocked, athlete_id)
        return None
    try:
        window = strava_sync.refresh_window(
            runtime.strava, athlete_id, priority=Priority.EVALUATION
        )
    except BudgetExceeded as exc:
        _defer(runtime, claim_, athlete_id, week_start, exc)
        raise Deferred from exc
    except (ConnectionRevoked, NotConnected) as exc:
        _skip(runtime, claim_, error_text(exc), athlete_id)
        return None
    except StravaError as exc:
        if exc.retryable:
            raise
        # Strava refused the request itself (e.g. our app credentials): retrying cannot help.
        reason = error_text(exc)
        with transaction(runtime.sessions) as session:
            release(session, claim_.evaluation_id, status="failed", last_error=reason)
        raise GaveUp(reason) from exc
    config = runtime.rules.current()
    refreshed_at = runtime.clock()
    with runtime.sessions() as session:
        athlete = session.get(Athlete, athlete_id)
        assert athlete is not None  # the claim holds the row and athletes cascade to it
        # Judged on what Strava just returned, not on rows re-read from the database: the
        # daily retention purge may delete older rows at any moment.
        activities = [
            rules.ActivityRecord(athlete_id=athlete_id, **fields) for fields in window.activities
        ]
        gear = load_gear(session, athlete_id)
        back_pain = answers_by_week(session, athlete_id)
        # The refresh made our rows complete from here on; earlier weeks are unknown.
        complete_from = history_start(refreshed_at, runtime.settings.lookback_weeks)
        overrides = athlete.rule_overrides or None
        try:
            findings = rules.evaluate_week(
                activities,
                week_start,
                config,
                overrides=overrides,
                gear=gear,
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
                release(session, claim_.evaluation_id, status="failed", last_error=reason)
            raise GaveUp(reason) from exc
    fired = alertable([finding.to_dict() for finding in findings], athlete.muted_rules or [])
    rule_errors = failed_rules(findings)
    if rule_errors:
        log.error(
            "rules not evaluated, the week is judged on the others: %s",
            "; ".join(f"{e['rule']}: {e['error']}" for e in rule_errors),
            extra={"athlete_id": athlete_id, "week_start": week_start.isoformat()},
        )
    with transaction(runtime.sessions) as session:
        return record_outcome(
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


def _defer(
    runtime: WorkerRuntime,
    claim_: Claim,
    athlete_id: int,
    week_start: dt.date,
    exc: BudgetExceeded,
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
