"""The one check every fault case ends with: nothing was lost, nothing was doubled.

- Every due digest reached the SMTP server exactly once (at most one duplicate, and only when
  the case documents the accept-then-kill window); a digest not sent is a problem unless the
  SMTP server refused its recipient for good, and then it must not have been sent at all.
- Every week that fell due was judged; the alerts of each judged week are exactly the rules the
  engine fires on the activities the simulator holds (so none is missing and none doubled), and
  a digest exists exactly for the weeks with alerts.
- Every activity the simulator has in a runner's synced window is in the database with the same
  figures, and the database holds no activity the simulator does not.
- The simulator's request log never shows more of our requests in a 15-minute window or a UTC
  day than Strava's limits, and after a 429 we send nothing more in that window.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from strideguard import rules
from strideguard.gear import load_gear
from strideguard.integrations.email.channel import mail_blocked_reason
from strideguard.integrations.strava.budget import day_index, window_index
from strideguard.integrations.strava.mapping import activity_fields, record_fields
from strideguard.integrations.strava.simulator import Simulator
from strideguard.integrations.strava.source import history_start
from strideguard.integrations.strava.sync import window_start
from strideguard.models import (
    Activity,
    Alert,
    Athlete,
    DeliveryRecord,
    Evaluation,
    StravaConnection,
    utcnow,
)
from strideguard.settings import Settings
from strideguard.times import aware, zone_or_utc
from strideguard.worker.evaluation import alertable
from strideguard.worker.weeks import due_weeks
from tests.worker.conftest import Inbox


@dataclass(frozen=True)
class StravaView:
    """What Strava holds and how it was asked, for the activity and rate checks."""

    sim: Simulator
    # Strava athlete id -> the activities the simulator serves for them
    seeds: Mapping[int, Sequence[Mapping[str, Any]]]
    read_limits: tuple[int, int] = (100, 1000)
    # Athletes whose requests another application made (the test, spending the budget)
    foreign_athletes: Collection[int] = ()


def assert_nothing_lost(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    inbox: Inbox | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
    strava: StravaView | None = None,
    accept_then_kill: int = 0,
    refused: Collection[str] = (),
    deferred_ok: bool = False,
    mail_only: bool = False,
) -> None:
    """Fail with every problem found (not just the first), so a report shows the whole damage.

    `accept_then_kill`: how many senders the case killed between the SMTP accept and the
    commit that marks the row sent (each may cause the documented duplicate,
    integrations/email/outbox.py, with the same Message-ID). `refused`: addresses
    the SMTP server refused with a 5xx. `deferred_ok`: weeks deferred to the next rate window
    are still owed, not lost, as long as their row says so. `mail_only`: the case is about
    delivery alone (digests written by the test, no Strava), so weeks are not looked at.
    """
    problems: list[str] = []
    now = clock()
    with sessions() as session:
        athletes = {a.id: a for a in session.scalars(select(Athlete))}
        connections = {c.athlete_id: c for c in session.scalars(select(StravaConnection))}
        evaluations = list(session.scalars(select(Evaluation)))
        alerts = list(session.scalars(select(Alert)))
        outbox = list(session.scalars(select(DeliveryRecord)))
        activities = list(session.scalars(select(Activity)))
        gear = {athlete_id: load_gear(session, athlete_id) for athlete_id in athletes}
    if inbox is not None:
        problems += _email_problems(inbox, outbox, athletes, accept_then_kill, refused)
    elif outbox:
        problems.append(f"{len(outbox)} digests written but no SMTP server to check them against")
    per_rule = Counter((a.athlete_id, a.week_start, a.rule_id) for a in alerts)
    problems += [f"alert {key} written {n} times" for key, n in per_rule.items() if n > 1]
    if not mail_only:
        problems += _scheduling_problems(settings, now, athletes, connections, evaluations)
        problems += _evaluation_problems(
            athletes, connections, evaluations, alerts, outbox, deferred_ok
        )
    if strava is not None:
        problems += _oracle_problems(settings, strava, athletes, evaluations, alerts, gear)
        problems += _activity_problems(settings, now, strava, athletes, connections, activities)
        problems += _rate_problems(strava)
    assert not problems, "lost or doubled:\n  " + "\n  ".join(problems)


def _email_problems(
    inbox: Inbox,
    outbox: Sequence[DeliveryRecord],
    athletes: Mapping[int, Athlete],
    accept_then_kill: int,
    refused: Collection[str],
) -> list[str]:
    problems: list[str] = []
    received = Counter(inbox.ids())
    with inbox.lock:
        recipients = {str(m["Message-ID"]): str(m["To"]) for m in inbox.messages}
    known = {row.message_id: row for row in outbox}
    for message_id in set(received) - set(known):
        problems.append(f"mail {message_id} matches no digest in the outbox")
    for row in outbox:
        athlete = athletes[row.athlete_id]
        copies = received[row.message_id]
        what = f"digest {row.athlete_id}/{row.week_start} ({row.status}, {row.last_error})"
        if row.status == "sent":
            if copies == 0:
                problems.append(f"{what} is marked sent but never reached the SMTP server")
            elif copies > (2 if accept_then_kill else 1):
                problems.append(f"{what} reached the SMTP server {copies} times")
            elif recipients[row.message_id] != athlete.email:
                problems.append(f"{what} went to {recipients[row.message_id]}")
        elif row.status in ("failed", "cancelled") and athlete.email in refused:
            if copies:
                problems.append(f"{what} was refused for good yet delivered {copies} times")
        else:
            problems.append(f"{what} was due and never delivered ({copies} copies)")
    duplicates = sum(copies - 1 for copies in received.values())
    if duplicates > accept_then_kill:
        problems.append(f"{duplicates} duplicate deliveries: {dict(received)}")
    return problems


def _scheduling_problems(
    settings: Settings,
    now: dt.datetime,
    athletes: Mapping[int, Athlete],
    connections: Mapping[int, StravaConnection],
    evaluations: Sequence[Evaluation],
) -> list[str]:
    problems: list[str] = []
    judged = {(e.athlete_id, e.week_start) for e in evaluations}
    for athlete_id, connection in connections.items():
        athlete = athletes[athlete_id]
        if connection.status != "active" or athlete.email_status != "ok":
            continue
        since = max(aware(athlete.created_at) or now, aware(connection.created_at) or now)
        for week in due_weeks(
            now,
            zone_or_utc(athlete.timezone),
            dt.timedelta(hours=settings.evaluation_grace_hours),
            since=since,
            lookback_weeks=settings.lookback_weeks,
        ):
            if (athlete_id, week) not in judged:
                problems.append(f"week {athlete_id}/{week} fell due and was never scheduled")
    return problems


def _evaluation_problems(
    athletes: Mapping[int, Athlete],
    connections: Mapping[int, StravaConnection],
    evaluations: Sequence[Evaluation],
    alerts: Sequence[Alert],
    outbox: Sequence[DeliveryRecord],
    deferred_ok: bool,
) -> list[str]:
    problems: list[str] = []
    judged = {(e.athlete_id, e.week_start): e for e in evaluations}
    # A week's welcome or weekly note shares its key with no alert: only digests carry them.
    digests = {(row.athlete_id, row.week_start): row for row in outbox if row.kind == "digest"}
    for key, evaluation in judged.items():
        what = f"week {key[0]}/{key[1]} ({evaluation.status}, {evaluation.last_error})"
        own_alerts = [a for a in alerts if (a.athlete_id, a.week_start) == key and not a.late]
        if evaluation.status == "done":
            digest = digests.get(key)
            if own_alerts and digest is None:
                problems.append(f"{what} has alerts but no digest")
            if digest is not None and any(a.outbox_id != digest.id for a in own_alerts):
                problems.append(f"{what}: an alert is not in the week's digest")
            if digest is not None and not own_alerts:
                problems.append(f"{what} has a digest without alerts")
        elif evaluation.status == "skipped":
            link = connections.get(key[0])
            blocked = mail_blocked_reason(athletes[key[0]], key[1])
            if (link is None or link.status == "active") and blocked is None:
                problems.append(f"{what} was skipped though the runner can be reached")
        elif (
            evaluation.status == "pending"
            and deferred_ok
            and (evaluation.last_error or "").startswith("deferred:")
        ):
            if own_alerts or key in digests:
                problems.append(f"{what} is deferred but already has alerts")
        else:
            problems.append(f"{what} was due and is not judged")
    return problems


def _oracle_problems(
    settings: Settings,
    strava: StravaView,
    athletes: Mapping[int, Athlete],
    evaluations: Sequence[Evaluation],
    alerts: Sequence[Alert],
    gear: Mapping[int, Any],
) -> list[str]:
    """The rules engine, run here on the simulator's activities, must agree with the alerts."""
    problems: list[str] = []
    config = rules.load_config(settings.rules_path)
    lookback = settings.lookback_weeks
    for evaluation in evaluations:
        if evaluation.status != "done" or evaluation.finished_at is None:
            continue
        athlete = athletes[evaluation.athlete_id]
        refreshed = aware(evaluation.finished_at)
        assert refreshed is not None
        after = window_start(refreshed, lookback)
        window = [
            fields
            for fields in map(activity_fields, strava.seeds.get(athlete.strava_athlete_id or 0, ()))
            if after < fields["start_date"] <= refreshed
        ]
        findings = rules.evaluate_week(
            [rules.ActivityRecord(athlete_id=athlete.id, **record_fields(f)) for f in window],
            evaluation.week_start,
            config,
            overrides=athlete.rule_overrides or None,
            gear=gear[athlete.id],
            history_start=history_start(refreshed, lookback),
        )
        fired = alertable(findings, athlete.muted_rules or [])
        expected = sorted(f.finding.rule for f in fired)
        actual = sorted(
            a.rule_id
            for a in alerts
            if a.athlete_id == athlete.id and a.week_start == evaluation.week_start
        )
        if actual != expected:
            problems.append(
                f"week {athlete.id}/{evaluation.week_start}: alerts {actual}, "
                f"the rules engine fires {expected}"
            )
    return problems


def _activity_problems(
    settings: Settings,
    now: dt.datetime,
    strava: StravaView,
    athletes: Mapping[int, Athlete],
    connections: Mapping[int, StravaConnection],
    activities: Sequence[Activity],
) -> list[str]:
    problems: list[str] = []
    retention_cutoff = now - dt.timedelta(days=settings.retention_days)
    for athlete_id, athlete in athletes.items():
        seeds = {
            int(a["id"]): activity_fields(a)
            for a in strava.seeds.get(athlete.strava_athlete_id or 0, ())
        }
        stored = {a.strava_id: a for a in activities if a.athlete_id == athlete_id}
        extra = sorted(set(stored) - set(seeds))
        if extra:
            problems.append(f"runner {athlete_id}: activities Strava does not have: {extra}")
        connection = connections.get(athlete_id)
        synced = aware(connection.last_synced_at) if connection is not None else None
        if connection is None or connection.status != "active" or synced is None:
            continue
        after = max(window_start(synced, settings.lookback_weeks), retention_cutoff)
        for strava_id, fields in seeds.items():
            if not after < fields["start_date"] <= synced:
                continue
            row = stored.get(strava_id)
            if row is None:
                problems.append(f"runner {athlete_id}: activity {strava_id} is missing")
                continue
            differs = {
                name: (getattr(row, name), value)
                for name, value in fields.items()
                if name != "start_date" and getattr(row, name) != value
            }
            if differs or aware(row.start_date) != fields["start_date"]:
                problems.append(f"runner {athlete_id}: activity {strava_id} differs: {differs}")
    return problems


def _rate_problems(strava: StravaView) -> list[str]:
    problems: list[str] = []
    api = [r for r in strava.sim.requests if r.path.startswith("/api/v3/")]
    ours = [r for r in api if r.athlete_id not in strava.foreign_athletes]
    for index, limit, name in (
        (window_index, strava.read_limits[0], "15-minute window"),
        (day_index, strava.read_limits[1], "UTC day"),
    ):
        counts = Counter(index(r.at) for r in ours)
        problems += [
            f"{count} requests in one {name}, over Strava's {limit}"
            for count in counts.values()
            if count > limit
        ]
    refused_at: dict[int, dt.datetime] = {}
    for record in api:
        window = window_index(record.at)
        if record.status == 429:
            refused_at.setdefault(window, record.at)
    for record in ours:
        first_429 = refused_at.get(window_index(record.at))
        if first_429 is not None and record.at > first_429:
            problems.append(f"{record.method} {record.path} sent after a 429 in the same window")
    return problems
