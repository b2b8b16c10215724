"""The whole pipeline: scheduler -> evaluate_week (Strava simulator over HTTP) -> outbox -> SMTP.

Real Redis broker with worker threads, real SMTP server, real stravalib against the simulator,
on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from strideguard.checkins import record_checkin
from strideguard.integrations.strava.simulator import SimClock, Simulator
from strideguard.links import read_link_token
from strideguard.models import Activity, Alert, DeliveryRecord, Evaluation, StravaConnection
from strideguard.passwords import hash_password
from strideguard.rules.config import SHIPPED_RULES
from strideguard.runtime import WorkerRuntime, start_runtime
from strideguard.settings import Settings
from strideguard.web.app import create_app
from strideguard.worker.embedded import InProcessWorker
from strideguard.worker.scheduler import Scheduler
from tests.spine.test_admin import PASSWORD as ADMIN_PASSWORD
from tests.spine.test_admin import _login as admin_login
from tests.worker.conftest import SmtpServer
from tests.worker.strava_history import (
    CLIENT_ID,
    CLIENT_SECRET,
    connect,
    history,
    sim_athlete,
    simulated_services,
)
from tests.worker.waiting import wait_for

NOW = dt.datetime(2025, 10, 20, 7, 0, tzinfo=dt.UTC)  # Monday 09:00 in Oslo
WEEK = dt.date(2025, 10, 13)
# Steady 20 km weeks over the whole six-week lookback.
PRIOR = {dt.date(2025, 9, 8) + dt.timedelta(weeks=i): (5.0, 5.0, 10.0) for i in range(5)}
RISKY_ID, QUIET_ID = 501, 502
# Two runs past the 10 km of the month before: Thursday 11.67 km (+16.7 %), then Saturday
# 14.646 km, +25.5 % on Thursday's run, the new longest.
TWICE_ID = 503
TWICE_WEEK = (5.0, 11.67, 14.646)
CONNECTED = dt.datetime(2025, 10, 8, tzinfo=dt.UTC)  # a Wednesday


@pytest.fixture
def clock() -> SimClock:
    return SimClock(NOW, ticking=True)


@pytest.fixture
def sim(clock: SimClock) -> Iterator[Simulator]:
    athletes = [
        sim_athlete(RISKY_ID, "Risa", history(1000, {**PRIOR, WEEK: (10.0, 10.0, 20.0)})),
        sim_athlete(QUIET_ID, "Quinn", history(2000, {**PRIOR, WEEK: (5.0, 5.0, 10.0)})),
        sim_athlete(TWICE_ID, "Tove", history(3000, {**PRIOR, WEEK: TWICE_WEEK})),
    ]
    with Simulator(athletes, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock) as s:
        yield s


@pytest.fixture
def pipeline_settings(
    worker_env: Callable[..., Settings],
    redis_url: str,
    redis_namespace: str,
    smtp: SmtpServer,
    sim: Simulator,
) -> Settings:
    return worker_env(
        REDIS_URL=redis_url, QUEUE_NAMESPACE=redis_namespace, **simulated_services(sim, smtp)
    )


@pytest.fixture
def running(pipeline_settings: Settings, clock: SimClock) -> Iterator[WorkerRuntime]:
    runtime = start_runtime(pipeline_settings, clock=clock.now)
    pool = InProcessWorker(runtime, threads=2).start()
    yield runtime
    pool.stop()
    runtime.close()


def connect_risky(runtime: WorkerRuntime, sim: Simulator) -> int:
    return connect(
        runtime.sessions,
        runtime.strava,
        sim,
        RISKY_ID,
        email="risa@example.com",
        connected_at=CONNECTED,
    )


def connect_quiet(runtime: WorkerRuntime, sim: Simulator) -> int:
    return connect(
        runtime.sessions,
        runtime.strava,
        sim,
        QUIET_ID,
        email="quinn@example.com",
        connected_at=CONNECTED,
    )


def settled(runtime: WorkerRuntime) -> bool:
    with runtime.sessions() as session:
        pending = session.scalar(
            select(Evaluation.id).where(Evaluation.status == "pending").limit(1)
        )
        unsent = session.scalar(
            select(DeliveryRecord.id).where(DeliveryRecord.status != "sent").limit(1)
        )
        any_evaluation = session.scalar(select(Evaluation.id).limit(1))
    return any_evaluation is not None and pending is None and unsent is None


def describe(runtime: WorkerRuntime, smtp: SmtpServer) -> str:
    """The jobs' rows and the mail received, for a failure message."""
    with runtime.sessions() as session:
        evaluations = [
            (e.athlete_id, e.week_start, e.status, e.attempts, e.last_error)
            for e in session.scalars(select(Evaluation))
        ]
        outbox = [
            (o.athlete_id, o.week_start, o.status, o.attempts, o.last_error)
            for o in session.scalars(select(DeliveryRecord))
        ]
        alerts = [
            (a.athlete_id, a.week_start, a.rule_id, a.finding.get("figures"))
            for a in session.scalars(select(Alert))
        ]
    received = [(str(m["To"]), str(m["Message-ID"]), str(m["Date"])) for m in smtp.inbox.messages]
    return f"evaluations={evaluations} outbox={outbox} alerts={alerts} received={received}"


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def test_risky_week_gets_exactly_one_correct_digest_and_quiet_week_none(
    running: WorkerRuntime, sim: Simulator, smtp: SmtpServer, pipeline_settings: Settings
) -> None:
    risky = connect_risky(running, sim)
    quiet = connect_quiet(running, sim)
    scheduler = Scheduler(running)
    report = scheduler.tick()
    # Connected on 8 October: the weeks of 6 and 13 October closed since.
    assert sorted(report.scheduled) == [
        (risky, dt.date(2025, 10, 6)),
        (risky, WEEK),
        (quiet, dt.date(2025, 10, 6)),
        (quiet, WEEK),
    ]
    wait_for(lambda: settled(running), what="evaluations done and digests sent")
    # More ticks (and the reconciler in them) change nothing.
    scheduler.tick()
    scheduler.tick()
    time.sleep(0.5)

    assert len(smtp.inbox.messages) == 1, describe(running, smtp)
    message = smtp.inbox.messages[0]
    assert message["To"] == "risa@example.com"
    assert message["From"] == "strideguard <alerts@strideguard.example.org>"
    assert message["Message-ID"] == f"<digest-{risky}-2025-10-13@strideguard.example.org>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The strongest signal leads the subject: the single-run spike, with the week named.
    assert str(message["Subject"]).startswith("Your week of 13 Oct: one run 100% longer")

    text = text_part(message).replace("\r\n", "\n")
    prose = " ".join(text.split())  # the text part is wrapped at 72 columns
    # The runner's own figures, in km: 40 km against a 4-week average of 20 km.
    assert "You ran 40.0 km this week, 100% more than your 4-week average of 20.0 km" in prose
    # The longest run (20 km) against the longest of the previous 30 days (10 km).
    assert "20.0 km" in prose
    assert "10.0 km" in prose
    # Exercises with dosage, 2-4 per rule.
    exercises = re.findall(r"^  \* .+\(.+\)$", text, flags=re.MULTILINE)
    assert len(exercises) >= 2
    assert "not medical advice" in prose.lower()
    # How far to go next, from the rules' limits after the week: the 30-day longest (20 km)
    # + 10%, and the four weeks up to this one (20, 20, 20, 40 km: 25 km) up to + 30%.
    assert "Your next run: up to 22.0 km stays within the range linked to fewer" in prose
    assert "Next week in total: from 25.0 km, your recent weekly average, up to 32.5 km" in prose

    # Links: signed for this runner, pointing at our public URL.
    [unsubscribe] = re.findall(r"<(https://[^>]+)>", str(message["List-Unsubscribe"]))
    parts = urlsplit(unsubscribe)
    assert f"{parts.scheme}://{parts.netloc}" == "https://strideguard.example.org"
    token = parse_qs(parts.query)["token"][0]
    assert read_link_token(token, "unsubscribe", pipeline_settings)["athlete_id"] == risky
    html = html_part(message)
    assert unsubscribe.replace("&", "&amp;") in html or unsubscribe in html
    assert "/email/mute?" in html

    with running.sessions() as session:
        alerts = session.scalars(select(Alert).where(Alert.athlete_id == risky)).all()
        outbox = session.scalars(select(DeliveryRecord)).all()
        statuses = dict(
            session.execute(
                select(Evaluation.athlete_id, Evaluation.status).where(
                    Evaluation.week_start == WEEK
                )
            ).all()
        )
    fired = {alert.rule_id: alert for alert in alerts}
    assert {"weekly_distance_spike", "single_run_spike"} <= set(fired)
    spike = fired["weekly_distance_spike"].finding
    assert spike["figures"]["week_m"] == 40000
    assert spike["figures"]["baseline_m"] == 20000
    assert {alert.week_start for alert in alerts} == {WEEK}
    assert len(outbox) == 1
    assert outbox[0].athlete_id == risky
    assert all(alert.outbox_id == outbox[0].id for alert in alerts)
    assert statuses == {risky: "done", quiet: "done"}
    stored = evaluation_rows(running)[(risky, WEEK)].limits
    assert stored is not None
    assert {(x["kind"], x["low_m"], x["high_m"]) for x in stored} == {
        ("next_run", None, 22_000),
        ("next_week", 25_000, 32_500),
    }


def test_two_spiking_runs_in_a_week_the_digest_names_the_larger_and_counts_the_other(
    running: WorkerRuntime, sim: Simulator, smtp: SmtpServer
) -> None:
    """The week's one single_run_spike alert is the +25.5 % run, not the earlier +16.7 % one,
    and the digest says one other run also went over."""
    twice = connect(
        running.sessions,
        running.strava,
        sim,
        TWICE_ID,
        email="tove@example.com",
        connected_at=CONNECTED,
    )
    Scheduler(running).tick()
    wait_for(lambda: settled(running), what="evaluations done and digests sent")
    with running.sessions() as session:
        [alert] = session.scalars(
            select(Alert).where(
                Alert.athlete_id == twice,
                Alert.week_start == WEEK,
                Alert.rule_id == "single_run_spike",
            )
        ).all()
    assert round(alert.finding["value"], 1) == 25.5  # stored at full precision
    assert alert.finding["figures"]["run_m"] == 14646
    assert alert.finding["other_runs"] == 1
    [message] = [m for m in smtp.inbox.messages if str(m["Subject"]).find("13 Oct") >= 0]
    prose = " ".join(text_part(message).split())
    assert "you ran 14.6 km, 26% further than your longest run of the 30 days before it" in prose
    assert "17% further" not in prose
    assert (
        "It was the biggest of 2 such jumps this week: 1 other run also went more than 10% "
        "past the longest run of the 30 days before." in prose
    )
    assert "1 other run also went more than 10%" in " ".join(html_part(message).split())


def evaluation_rows(runtime: WorkerRuntime) -> dict[tuple[int, dt.date], Evaluation]:
    with runtime.sessions() as session:
        return {(e.athlete_id, e.week_start): e for e in session.scalars(select(Evaluation))}


def evaluations_finished(runtime: WorkerRuntime) -> bool:
    rows = evaluation_rows(runtime).values()
    return bool(rows) and all(row.status != "pending" for row in rows)


def test_revoked_connection_skips_the_week_with_the_reason(
    running: WorkerRuntime, sim: Simulator, smtp: SmtpServer
) -> None:
    risky = connect_risky(running, sim)
    sim.revoke(RISKY_ID)  # revoked on strava.com; no webhook told us
    Scheduler(running).tick()
    wait_for(lambda: evaluations_finished(running), what="evaluations finished")
    rows = evaluation_rows(running)
    assert {row.status for row in rows.values()} == {"skipped"}
    assert all("revoked" in (row.last_error or "") for row in rows.values())
    assert all(row.attempts == 1 for row in rows.values())  # never retried
    assert smtp.inbox.messages == []
    with running.sessions() as session:
        assert session.scalars(select(Alert).where(Alert.athlete_id == risky)).all() == []


def test_strava_outage_gives_up_after_the_attempt_limit_with_the_reason(
    running: WorkerRuntime, sim: Simulator, smtp: SmtpServer
) -> None:
    connect_quiet(running, sim)
    sim.fail_next("/api/v3/athlete/activities", 503, count=10_000)
    Scheduler(running).tick()
    wait_for(lambda: evaluations_finished(running), what="evaluations to give up")
    for row in evaluation_rows(running).values():
        assert row.status == "failed"
        assert row.attempts == running.settings.job_max_attempts
        assert (row.last_error or "").startswith("gave up after 3 attempts; last error: Strava")
    assert smtp.inbox.messages == []


def test_an_evaluation_that_keeps_killing_its_worker_gives_up(
    running: WorkerRuntime, sim: Simulator
) -> None:
    from strideguard.leases import GaveUp
    from strideguard.worker.evaluation import run_evaluate_week

    athlete = connect_quiet(running, sim)
    with running.sessions.begin() as session:
        session.add(
            Evaluation(
                athlete_id=athlete,
                week_start=WEEK,
                status="pending",
                due_at=NOW,
                attempts=running.settings.job_max_attempts,
                started_at=NOW - dt.timedelta(hours=1),  # the last holder died long ago
            )
        )
    with pytest.raises(GaveUp):
        run_evaluate_week(running, athlete, WEEK.isoformat())
    row = evaluation_rows(running)[(athlete, WEEK)]
    assert row.status == "failed"
    assert "gave up after 3 attempts" in (row.last_error or "")
    assert "killed or out of memory" in (row.last_error or "")


@pytest.fixture
def immediate_webhooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Activity webhooks fetch the activity at once (so a late run reaches the week)."""
    monkeypatch.setenv("STRAVA_WEBHOOK_SYNC", "immediate")


def test_late_activity_adds_a_late_alert_but_never_a_second_email(
    immediate_webhooks: None, running: WorkerRuntime, sim: Simulator, smtp: SmtpServer
) -> None:
    from strideguard.integrations.strava.jobs import StravaJob
    from strideguard.integrations.strava.webhook_jobs import strava_enqueue
    from strideguard.models import WebhookEvent
    from tests.worker.strava_history import activity

    risky = connect_risky(running, sim)
    quiet = connect_quiet(running, sim)
    Scheduler(running).tick()
    wait_for(lambda: settled(running), what="the first round")
    assert len(smtp.inbox.messages) == 1, describe(running, smtp)  # the risky runner's digest

    first_round = {who: evaluation_rows(running)[(who, WEEK)].finished_at for who in (risky, quiet)}
    # Both runners upload a long Sunday run after their week was judged.
    enqueue = strava_enqueue(running)
    for strava_id, activity_id in ((RISKY_ID, 9001), (QUIET_ID, 9002)):
        late_run = activity(activity_id, dt.datetime(2025, 10, 19, 16, 0), distance_m=25000)
        sim.add_activity(strava_id, late_run)
        with running.sessions.begin() as session:
            event = WebhookEvent(
                subscription_id=1,
                object_type="activity",
                object_id=activity_id,
                aspect_type="create",
                owner_id=strava_id,
                event_time=int(NOW.timestamp()),
                updates={},
            )
            session.add(event)
            session.flush()
            event_id = event.id
        enqueue(StravaJob("webhook_event", event_id))

    def rejudged() -> bool:
        with running.sessions() as session:
            events = session.scalars(select(WebhookEvent.status)).all()
        rows = evaluation_rows(running)
        return set(events) == {"processed"} and all(
            rows[(who, WEEK)].status == "done" and rows[(who, WEEK)].finished_at != first_round[who]
            for who in (risky, quiet)
        )

    wait_for(rejudged, what="the week re-judged for both runners")
    time.sleep(0.5)
    with running.sessions() as session:
        alerts = session.scalars(select(Alert).order_by(Alert.id)).all()
        outbox = session.scalars(select(DeliveryRecord)).all()
    # Still one email in total, one digest row.
    assert len(smtp.inbox.messages) == 1
    assert len(outbox) == 1
    # The risky runner's rules had already fired: nothing new. The quiet runner's week now
    # trips rules: late alerts, waiting for their next digest.
    risky_alerts = [a for a in alerts if a.athlete_id == risky]
    assert all(not a.late for a in risky_alerts)
    late = [a for a in alerts if a.athlete_id == quiet]
    assert {a.rule_id for a in late} >= {"single_run_spike"}
    assert all(a.late and a.outbox_id is None and a.week_start == WEEK for a in late)


def spend_evaluation_budget(runtime: WorkerRuntime) -> None:
    from strideguard.integrations.strava.errors import BudgetExceeded
    from strideguard.worker.ports import Priority

    for _ in range(1000):
        try:
            runtime.strava.budget.reserve(Priority.EVALUATION, runtime.clock())
        except BudgetExceeded:
            return
    raise AssertionError("the evaluation share never ran out")


def test_spent_rate_budget_defers_the_evaluation_without_counting_an_attempt(
    running: WorkerRuntime, sim: Simulator, smtp: SmtpServer
) -> None:

    athlete = connect_risky(running, sim)
    spend_evaluation_budget(running)  # other evaluations used this window's share
    scheduler = Scheduler(running)
    scheduler.tick()

    def deferred() -> bool:
        rows = evaluation_rows(running).values()
        return bool(rows) and all((row.last_error or "").startswith("deferred:") for row in rows)

    wait_for(deferred, what="both weeks deferred")
    scheduler.tick()  # the reconciler must not re-send a deferred week before its window
    time.sleep(0.5)
    for row in evaluation_rows(running).values():
        assert row.status == "pending"
        assert row.attempts == 0
        due = row.due_at if row.due_at.tzinfo else row.due_at.replace(tzinfo=dt.UTC)
        assert due > running.clock()  # the next rate window
    assert [r for r in sim.requests if r.path.startswith("/api/v3/athlete/activities")] == []
    assert smtp.inbox.messages == []
    assert athlete in {key[0] for key in evaluation_rows(running)}


def backfill_state(runtime: WorkerRuntime, athlete: int) -> StravaConnection:
    with runtime.sessions() as session:
        row = session.scalar(select(StravaConnection).where(StravaConnection.athlete_id == athlete))
        assert row is not None
        return row


def not_backfilled(runtime: WorkerRuntime, sim: Simulator) -> int:
    athlete = connect_quiet(runtime, sim)
    with runtime.sessions.begin() as session:
        session.execute(
            update(StravaConnection)
            .where(StravaConnection.athlete_id == athlete)
            .values(backfilled_at=None)
        )
    return athlete


def start_backfill(runtime: WorkerRuntime, sim: Simulator, *, failures: int) -> int:
    """A fresh connection handed to the worker through the web seam, with Strava failing
    the first `failures` requests for activities."""
    from strideguard.integrations.strava.jobs import StravaJob
    from strideguard.integrations.strava.webhook_jobs import strava_enqueue

    athlete = not_backfilled(runtime, sim)
    sim.fail_next("/api/v3/athlete/activities", 503, count=failures)
    strava_enqueue(runtime)(StravaJob("backfill", athlete))
    return athlete


def test_backfill_through_the_seam_records_a_failure_then_recovers(
    running: WorkerRuntime, sim: Simulator
) -> None:
    athlete = start_backfill(running, sim, failures=1)

    def done() -> bool:
        state = backfill_state(running, athlete)
        return state.backfilled_at is not None and state.sync_attempts == 0

    wait_for(done, what="backfill")
    # The first request failed, the dramatiq retry succeeded and cleared the row's error.
    pages = [r.status for r in sim.requests if r.path.startswith("/api/v3/athlete/activities")]
    assert pages == [503, 200]
    state = backfill_state(running, athlete)
    assert state.sync_requested_at is None
    assert state.last_error is None
    with running.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Activity)) == 30


def test_backfill_that_keeps_failing_gives_up_with_the_reason(
    running: WorkerRuntime, sim: Simulator
) -> None:
    athlete = start_backfill(running, sim, failures=10_000)
    wait_for(
        lambda: (backfill_state(running, athlete).last_error or "").startswith("gave up"),
        what="the backfill to give up",
    )
    state = backfill_state(running, athlete)
    assert state.sync_attempts == running.settings.job_max_attempts
    assert "last error: StravaUnavailable" in (state.last_error or "")
    assert state.backfilled_at is None
    # The reconciler leaves it alone now: no endless re-sends.
    assert Scheduler(running).reconciler.run(running.clock() + dt.timedelta(hours=1)).syncs == 0


def test_lost_backfill_message_is_re_sent_by_the_reconciler(
    pipeline_settings: Settings, clock: SimClock, sim: Simulator, redis_namespace: str
) -> None:
    import redis

    from strideguard.integrations.strava.jobs import StravaJob
    from strideguard.integrations.strava.webhook_jobs import strava_enqueue

    runtime = start_runtime(pipeline_settings, clock=clock.now)
    try:
        athlete = not_backfilled(runtime, sim)
        strava_enqueue(runtime)(StravaJob("backfill", athlete))
        client = redis.Redis.from_url(pipeline_settings.redis_url or "")
        for key in client.scan_iter(f"{redis_namespace}*"):
            client.delete(key)  # Redis lost the queue before any worker ran
        pool = InProcessWorker(runtime, threads=2).start()
        try:
            scheduler = Scheduler(runtime)
            clock.advance(runtime.settings.job_lease_seconds + 1)  # the request is now stale
            scheduler.tick()
            wait_for(lambda: backfill_state(runtime, athlete).backfilled_at is not None)
        finally:
            pool.stop()
    finally:
        runtime.close()


def test_strava_refusing_the_request_fails_the_week_at_once(
    running: WorkerRuntime, sim: Simulator, smtp: SmtpServer
) -> None:
    connect_quiet(running, sim)
    sim.fail_next("/api/v3/athlete/activities", 400, count=10_000)
    Scheduler(running).tick()
    wait_for(lambda: evaluations_finished(running), what="evaluations to fail")
    time.sleep(0.5)  # a retry, if any, would show as a second attempt
    for row in evaluation_rows(running).values():
        assert row.status == "failed"
        assert row.attempts == 1
        assert (row.last_error or "").startswith("StravaRejected")
    assert smtp.inbox.messages == []


def test_retention_purge_between_refresh_and_judgement_changes_nothing(
    running: WorkerRuntime, sim: Simulator, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daily purge keeps 7 days of rows; the rules need 6 weeks. A purge that lands while
    a week is being judged must not leave the rules looking at a half-empty history."""
    from strideguard.integrations.strava import sync

    real_refresh = sync.refresh_window

    def refresh_then_purge(*args: Any, **kwargs: Any) -> sync.SyncReport:
        report = real_refresh(*args, **kwargs)
        sync.purge_expired(running.sessions, running.settings.retention_days, running.clock())
        return report

    monkeypatch.setattr(sync, "refresh_window", refresh_then_purge)
    risky = connect_risky(running, sim)
    connect_quiet(running, sim)
    Scheduler(running).tick()
    wait_for(lambda: settled(running), what="evaluations done and digests sent")
    assert [str(m["To"]) for m in smtp.inbox.messages] == ["risa@example.com"], describe(
        running, smtp
    )
    with running.sessions() as session:
        spike = session.scalar(
            select(Alert.finding).where(
                Alert.athlete_id == risky, Alert.rule_id == "weekly_distance_spike"
            )
        )
    assert spike is not None
    assert spike["figures"]["baseline_m"] == 20000


def test_a_back_pain_check_in_reaches_the_rules_and_changes_the_email(
    running: WorkerRuntime, sim: Simulator, smtp: SmtpServer, pipeline_settings: Settings
) -> None:
    """A quiet week stays quiet, unless the runner told us their back hurt that week."""
    quiet = connect_quiet(running, sim)
    with running.sessions.begin() as session:
        record_checkin(session, quiet, WEEK, 5, "sore after sitting all day")
    Scheduler(running).tick()
    wait_for(lambda: settled(running), what="evaluations done and digests sent")
    assert len(smtp.inbox.messages) == 1, describe(running, smtp)
    [message] = smtp.inbox.messages
    assert str(message["Subject"]) == "Your week of 13 Oct: back pain at 5 out of 10"
    text = " ".join(text_part(message).split())
    assert "You rated your back pain 5 out of 10 this week." in text
    # The note stays on the page it was written on: it never travels in an email.
    assert "sore after sitting" not in text
    links = re.findall(r"https?://\S+/email/back-pain\?\S+", text)
    assert len(links) == 11
    token = parse_qs(urlsplit(links[7]).query)["token"][0]
    assert read_link_token(token, "checkin", pipeline_settings)["athlete_id"] == quiet


# A rule the start-up check would refuse (its literal overflows int64). The test lets it in,
# as a failure the sample history cannot expose would get in, to show the defence behind the
# check: the week is judged on the other rules and the digest still goes out.
BROKEN_RULE = """
  broken:
    title: Broken
    enabled: true
    severity: high
    per: week
    params:
      factor: 10
    fires_when: run_m * 10000000000000000000 > factor
    shown_threshold: factor
"""


def test_a_rule_that_fails_at_evaluation_leaves_the_digest_and_shows_on_the_admin_page(
    pipeline_settings: Settings,
    clock: SimClock,
    sim: Simulator,
    smtp: SmtpServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(SHIPPED_RULES.read_text() + BROKEN_RULE)
    monkeypatch.setattr("strideguard.rules.rules_file.trial_errors", lambda _config: [])
    settings = pipeline_settings.model_copy(
        update={"rules_path": rules_file, "admin_password_hash": hash_password(ADMIN_PASSWORD)}
    )
    runtime = start_runtime(settings, clock=clock.now)
    pool = InProcessWorker(runtime, threads=2).start()
    try:
        risky = connect_risky(runtime, sim)
        Scheduler(runtime).tick()
        wait_for(lambda: settled(runtime), what="evaluations done and digests sent")
        assert len(smtp.inbox.messages) == 1, describe(runtime, smtp)
        with runtime.sessions() as session:
            rows = {e.week_start: e for e in session.scalars(select(Evaluation))}
            fired = set(session.scalars(select(Alert.rule_id).where(Alert.week_start == WEEK)))
    finally:
        pool.stop()
        runtime.close()

    message = smtp.inbox.messages[0]
    assert message["To"] == "risa@example.com"
    assert str(message["Subject"]).startswith("Your week of 13 Oct: one run 100% longer")
    assert "Broken" not in text_part(message)
    assert {"weekly_distance_spike", "single_run_spike"} <= fired
    assert "broken" not in fired
    overflow = "fires_when: OverflowError: Python int too large to convert to C long"
    for row in rows.values():
        assert row.status == "done"
        assert row.rule_errors == [{"rule": "broken", "error": overflow}]

    app = create_app(settings)
    try:
        # PUBLIC_BASE_URL is https, so the admin cookies are Secure: browse over https.
        client = TestClient(app, base_url="https://testserver")
        assert admin_login(client)[0] == 303
        page = client.get("/admin")
    finally:
        app.state.engine.dispose()
    assert page.status_code == 200
    section = page.text.split("Rules that could not be evaluated")[1].split("</section>")[0]
    assert "<td>broken</td>" in section
    # Both weeks judged since the connection missed the rule; the latest is named.
    assert re.search(
        rf'<td class="num">2</td><td>athlete {risky}, week 2025-10-(06|13)</td>', section
    )
    assert overflow in section
