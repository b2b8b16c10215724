"""Per-run alerts: what is sent, what is not, and the digest that follows.

The webhook tests drive the route, the simulator over HTTP and the real SMTP sink on worker
threads; the others set rows up and run the send job itself. SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from sqlalchemy import select, update

from strideguard.integrations.email.outbox import load_digest, render_loaded
from strideguard.integrations.strava.simulator import SimClock
from strideguard.models import (
    Alert,
    Athlete,
    DeliveryRecord,
    Evaluation,
    RiskyRun,
    RunAlert,
    WebhookEvent,
)
from strideguard.status import EmailStatus, EvaluationStatus, RunAlertStatus
from strideguard.worker.run_alert_send import send_run_alert
from tests.notifier.worked import BUILT_IN
from tests.worker import run_alert_world
from tests.worker.run_alert_world import THIS_WEEK, World
from tests.worker.waiting import wait_for

clock = run_alert_world.clock
sim = run_alert_world.sim
world = run_alert_world.world
quiet_world = run_alert_world.quiet_world


def events_done(world: World) -> bool:
    with world.runtime.sessions() as session:
        statuses = session.scalars(select(WebhookEvent.status)).all()
    return bool(statuses) and all(s != "received" for s in statuses)


def risky_runs(world: World) -> list[RiskyRun]:
    with world.runtime.sessions() as session:
        return list(session.scalars(select(RiskyRun).order_by(RiskyRun.id)))


def test_a_run_strava_no_longer_has_sends_nothing(world: World) -> None:
    world.new_run(9100, day=3, km=20.0, on_strava=False)  # deleted before we fetched it
    wait_for(lambda: events_done(world), what="the webhook event handled")
    assert world.sim.count_requests(path_prefix="/api/v3/activities/9100") >= 1
    assert risky_runs(world) == []
    assert world.alerts() == []
    assert world.smtp.inbox.messages == []


def test_a_week_synced_at_once_gives_one_alert_naming_each_risky_run_then_an_hour_apart(
    world: World,
) -> None:
    world.new_run(9201, day=0, km=12.0)  # +20% on 10 km
    world.new_run(9202, day=1, km=5.0)  # short: not risky
    world.new_run(9203, day=2, km=15.0)  # +25% on 12 km
    wait_for(lambda: len(world.smtp.inbox.messages) == 1, what="one alert")
    wait_for(lambda: [a.status for a in world.alerts()] == ["sent"], what="marked sent")
    text = str(world.smtp.inbox.messages[0].get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    assert "2 runs stood out" in text
    assert "Mon 13 Oct" in text
    assert "Wed 15 Oct" in text
    assert {r.activity_id for r in risky_runs(world)} == {9201, 9203}
    # A fourth risky run minutes later waits for the hour to pass.
    world.new_run(9204, day=3, km=18.0)
    wait_for(lambda: len(world.alerts()) == 2, what="the next alert opened")
    first, second = world.alerts()
    assert second.status == "pending"
    assert first.sent_at is not None
    gap = second.next_attempt_at.replace(tzinfo=dt.UTC) - first.sent_at.replace(tzinfo=dt.UTC)
    assert gap >= dt.timedelta(hours=1)
    assert len(world.smtp.inbox.messages) == 1


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"muted_rules": ["single_run_spike"]}, "muted"),
        ({"paused_until": THIS_WEEK + dt.timedelta(days=10)}, "paused"),
        ({"email_status": EmailStatus.UNSUBSCRIBED}, "unsubscribed"),
    ],
)
def test_muting_pausing_and_unsubscribing_stop_alerts(
    world: World, change: dict[str, object], why: str
) -> None:
    with world.runtime.sessions.begin() as session:
        session.execute(update(Athlete).where(Athlete.id == world.athlete_id).values(**change))
    world.new_run(9301, day=3, km=16.0)
    wait_for(lambda: events_done(world), what="the webhook event handled")
    wait_for(
        lambda: world.sim.count_requests(path_prefix="/api/v3/activities/9301") >= 1,
        what="the run fetched",
    )
    import time

    time.sleep(3)  # longer than the gather: an alert would have gone by now
    assert world.smtp.inbox.messages == [], why
    assert world.alerts() == [], why


# ---------------------------------------------------------------- the send job on its own


FINDING = {
    "rule": "single_run_spike",
    "title": "Single-run spike",
    "severity": "high",
    "week_start": THIS_WEEK.isoformat(),
    "status": "fired",
    "value": 40.0,
    "threshold": 10,
    "band": "moderate",
    "activity_id": 9401,
    "date": "2025-10-16",
    "figures": {"run_m": 14000, "longest_prior_m": 10000, "pct": 40.0},
    "advice": {"why": None, "do": None},
    "exercise_focus": [],
    "error": None,
    "limits": [],
}


def pending_alert(world: World, *, judged: bool) -> int:
    """A risky run and its due alert; `judged`: the week's evaluation has finished."""
    from strideguard.models import Activity

    now = world.runtime.clock()
    with world.runtime.sessions.begin() as session:
        start = dt.datetime(2025, 10, 16, 7, 0)
        session.add(
            Activity(
                strava_id=9401,
                athlete_id=world.athlete_id,
                sport_type="Run",
                start_date=start.replace(tzinfo=dt.UTC),
                start_date_local=start,
                distance_m=14000,
            )
        )
        alert = RunAlert(
            athlete_id=world.athlete_id,
            channel="email",
            open_key=f"{world.athlete_id}:email",
            message_id="<run-alert-test@strideguard.example.org>",
            status=RunAlertStatus.PENDING,
            attempts=0,
            crashes=0,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(alert)
        session.flush()
        session.add(
            RiskyRun(
                athlete_id=world.athlete_id,
                channel="email",
                activity_id=9401,
                rule_id="single_run_spike",
                week_start=THIS_WEEK,
                finding=FINDING,
                created_at=now,
            )
        )
        if judged:
            session.add(judged_week(world))
        return alert.id


def judged_week(world: World) -> Evaluation:
    """This week's evaluation, finished: its digest covers the week's runs."""
    now = world.runtime.clock()
    return Evaluation(
        athlete_id=world.athlete_id,
        week_start=THIS_WEEK,
        status=EvaluationStatus.DONE,
        due_at=now,
        finished_at=now,
    )


def test_an_alert_still_waiting_when_its_week_is_judged_is_superseded_not_sent(
    quiet_world: World,
) -> None:
    alert_id = pending_alert(quiet_world, judged=True)
    send_run_alert(quiet_world.runtime, alert_id)
    (alert,) = quiet_world.alerts()
    assert alert.status == "superseded"
    assert "digest of week 2025-10-13 covers it" in (alert.last_error or "")
    assert quiet_world.smtp.inbox.messages == []


def test_a_transient_send_failure_is_retried_and_then_delivered_once(
    quiet_world: World,
) -> None:
    alert_id = pending_alert(quiet_world, judged=False)
    quiet_world.smtp.stop()
    send_run_alert(quiet_world.runtime, alert_id)
    (alert,) = quiet_world.alerts()
    assert alert.status == "pending"
    assert alert.attempts == 1
    assert alert.last_error
    quiet_world.smtp.start()
    with quiet_world.runtime.sessions.begin() as session:
        session.execute(update(RunAlert).values(next_attempt_at=quiet_world.runtime.clock()))
    send_run_alert(quiet_world.runtime, alert_id)
    send_run_alert(quiet_world.runtime, alert_id)  # a redelivered message sends nothing more
    (alert,) = quiet_world.alerts()
    assert alert.status == "sent"
    assert alert.attempts == 2
    assert len(quiet_world.smtp.inbox.messages) == 1


def test_the_monday_digest_names_an_alerted_run_briefly_instead_of_repeating_its_advice(
    quiet_world: World,
) -> None:
    alert_id = pending_alert(quiet_world, judged=False)
    send_run_alert(quiet_world.runtime, alert_id)
    assert len(quiet_world.smtp.inbox.messages) == 1
    now = quiet_world.runtime.clock()
    with quiet_world.runtime.sessions.begin() as session:
        outbox = DeliveryRecord(
            athlete_id=quiet_world.athlete_id,
            week_start=THIS_WEEK,
            message_id="<digest-test@strideguard.example.org>",
            created_at=now,
        )
        session.add(outbox)
        session.flush()
        for rule, finding in (
            ("single_run_spike", FINDING),
            ("no_rest_day", replace(BUILT_IN["no_rest_day"], week_start=THIS_WEEK).to_dict()),
        ):
            session.add(
                Alert(
                    athlete_id=quiet_world.athlete_id,
                    week_start=THIS_WEEK,
                    rule_id=rule,
                    finding=finding,
                    outbox_id=outbox.id,
                    created_at=now,
                )
            )
        outbox_id = outbox.id
    with quiet_world.runtime.sessions() as session:
        digest = load_digest(session, outbox_id, frozenset({"Run"}))
    rendered, _ = render_loaded(digest, quiet_world.runtime.settings)
    text = " ".join(rendered.text.split())
    assert "We wrote to you about this run on Fri 17 Oct" in text
    assert "14.0 km" in text  # the week still shows the run
    # The other finding keeps its full advice; the alerted one does not repeat it.
    assert text.count("Why it matters") == 1
    assert "Let your body absorb this run" not in text


def test_a_spent_rate_budget_defers_the_alert_to_the_next_window_and_still_sends_it(
    world: World, clock: SimClock
) -> None:
    from strideguard.integrations.strava.errors import BudgetExceeded
    from strideguard.worker.ports import Priority
    from strideguard.worker.reconciler import Reconciler

    for _ in range(1000):  # other runners' new runs used this window's share
        try:
            world.runtime.strava.budget.reserve(Priority.RUN, world.runtime.clock())
        except BudgetExceeded:
            break
    world.new_run(9501, day=3, km=16.0)
    with world.runtime.sessions() as session:
        wait_for(
            lambda: session.scalar(select(WebhookEvent.attempts)) is not None,
            what="the event recorded",
        )
    import time

    time.sleep(3)
    assert world.smtp.inbox.messages == []
    assert world.sim.count_requests(path_prefix="/api/v3/activities/9501") == 0
    clock.advance(16 * 60)  # the next 15-minute window
    Reconciler(world.runtime).run(world.runtime.clock())  # re-sends the waiting event
    wait_for(lambda: len(world.smtp.inbox.messages) == 1, what="the alert, one window late")
    body = world.smtp.inbox.messages[0].get_body(preferencelist=("plain",))
    assert body is not None
    assert "16.0 km" in str(body.get_content())
    wait_for(lambda: [a.status for a in world.alerts()] == ["sent"], what="marked sent")


def test_a_sender_killed_mid_send_loses_nothing_the_reconciler_sends_it_once(
    quiet_world: World, clock: SimClock
) -> None:
    from strideguard.db import transaction
    from strideguard.worker.reconciler import Reconciler
    from strideguard.worker.run_alert_send import claim

    runtime = quiet_world.runtime
    alert_id = pending_alert(quiet_world, judged=False)
    with transaction(runtime.sessions) as session:  # a worker claims it, then is killed
        assert claim(session, alert_id, runtime.clock(), runtime.lease) is not None
    send_run_alert(runtime, alert_id)  # the lease is live: nobody else may send it yet
    assert quiet_world.smtp.inbox.messages == []
    clock.advance(runtime.lease.total_seconds() + 1)
    assert Reconciler(runtime).run(runtime.clock()).emails == 1
    send_run_alert(runtime, alert_id)  # what the reconciler's message runs
    (alert,) = quiet_world.alerts()
    assert alert.status == "sent"
    assert alert.crashes == 1
    assert len(quiet_world.smtp.inbox.messages) == 1


def test_a_judgement_that_waited_past_its_weeks_digest_spends_no_read(
    quiet_world: World,
) -> None:
    """A backlog of judgements behind a spent budget: once the week is judged, the digest
    covers those runs, and their judgements stop without a request."""
    from strideguard.worker.run_alerts import judge_run

    announced = dt.datetime.combine(THIS_WEEK + dt.timedelta(days=3), dt.time(9), dt.UTC)
    before = quiet_world.sim.count_requests(path_prefix="/api/v3/")
    judge_run(quiet_world.runtime, quiet_world.athlete_id, 9701, announced.isoformat())
    assert quiet_world.sim.count_requests(path_prefix="/api/v3/") > before  # not judged: read
    with quiet_world.runtime.sessions.begin() as session:
        session.add(judged_week(quiet_world))
    before = quiet_world.sim.count_requests(path_prefix="/api/v3/")
    judge_run(quiet_world.runtime, quiet_world.athlete_id, 9702, announced.isoformat())
    assert quiet_world.sim.count_requests(path_prefix="/api/v3/") == before
    assert risky_runs(quiet_world) == []
