"""The first result on connect: after the first backfill, one welcome with the runner's weeks
and ceilings; a risky last week judged and sent at once, and not again when it falls due.

Real Redis broker with worker threads, the Strava simulator over HTTP, the real SMTP sink, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select, update

from strideguard.integrations.files.importer import import_paths
from strideguard.integrations.strava.jobs import StravaJob
from strideguard.integrations.strava.simulator import SimClock, Simulator
from strideguard.integrations.strava.webhook_jobs import strava_enqueue
from strideguard.models import DeliveryRecord, Evaluation, StravaConnection
from strideguard.runtime import WorkerRuntime
from strideguard.worker.scheduler import Scheduler
from tests.files.writers import RunSpec, fit_bytes, write
from tests.worker.conftest import SmtpServer
from tests.worker.strava_history import (
    CLIENT_ID,
    CLIENT_SECRET,
    connect,
    history,
    sim_athlete,
)
from tests.worker.test_pipeline import PRIOR, WEEK, describe, html_part, text_part
from tests.worker.waiting import wait_for

# Monday 20 October, 04:00 in Oslo: the week of 13 October has closed but is not due until
# 06:00, so the scheduler would judge it later this morning.
BEFORE_DUE = dt.datetime(2025, 10, 20, 2, 0, tzinfo=dt.UTC)
RISKY_ID, QUIET_ID = 601, 602


@pytest.fixture
def clock() -> SimClock:
    return SimClock(BEFORE_DUE, ticking=True)


@pytest.fixture
def sim(clock: SimClock) -> Iterator[Simulator]:
    athletes = [
        sim_athlete(RISKY_ID, "Risa", history(1000, {**PRIOR, WEEK: (10.0, 10.0, 20.0)})),
        sim_athlete(QUIET_ID, "Quinn", history(2000, {**PRIOR, WEEK: (5.0, 5.0, 10.0)})),
    ]
    with Simulator(athletes, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock) as s:
        yield s


def connect_and_backfill(runtime: WorkerRuntime, sim: Simulator, strava_id: int) -> int:
    """A runner back from Strava's consent page; the backfill goes through the web seam."""
    athlete = connect(
        runtime.sessions,
        runtime.strava,
        sim,
        strava_id,
        email=f"{strava_id}@example.com",
        connected_at=runtime.clock(),
    )
    backfill_again(runtime, athlete)
    return athlete


def backfill_again(runtime: WorkerRuntime, athlete: int) -> None:
    """What a (re)connect does: the connection is not backfilled, and a backfill is sent."""
    with runtime.sessions.begin() as session:
        session.execute(
            update(StravaConnection)
            .where(StravaConnection.athlete_id == athlete)
            .values(backfilled_at=None)
        )
    strava_enqueue(runtime)(StravaJob("backfill", athlete))


def kinds_sent(runtime: WorkerRuntime, athlete: int) -> list[str]:
    with runtime.sessions() as session:
        return sorted(
            str(kind)
            for kind in session.scalars(
                select(DeliveryRecord.kind).where(
                    DeliveryRecord.athlete_id == athlete, DeliveryRecord.status == "sent"
                )
            )
        )


def backfilled(runtime: WorkerRuntime, athlete: int) -> bool:
    with runtime.sessions() as session:
        return (
            session.scalar(
                select(StravaConnection.backfilled_at).where(StravaConnection.athlete_id == athlete)
            )
            is not None
        )


def prose(message: EmailMessage) -> str:
    return " ".join(text_part(message).split())


def test_a_new_runner_is_welcomed_once_with_their_weeks_and_ceilings(
    running: WorkerRuntime, sim: Simulator, smtp: SmtpServer
) -> None:
    quiet = connect_and_backfill(running, sim, QUIET_ID)
    wait_for(lambda: kinds_sent(running, quiet) == ["welcome"], what="the welcome sent")

    [message] = smtp.inbox.messages
    assert message["To"] == f"{QUIET_ID}@example.com"
    assert message["Message-ID"] == f"<welcome-{quiet}-2025-10-13@strideguard.example.org>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert str(message["Subject"]).startswith("Welcome to strideguard: your last 6 weeks")
    text = text_part(message)
    words = prose(message)
    # Six weeks of 20 km, the last one highlighted as last week.
    assert "Your running over the last 8 weeks (km)" in text
    assert "20  <- last week" in text
    assert "In your last 6 weeks we found 18 runs, 120.0 km in all." in words
    # The ceilings after the last closed week: 10 km longest + 10 %, 20 km weeks + 30 %.
    assert "Your next run: up to 11.0 km stays within the range linked to fewer" in words
    assert "Next week in total: from 20.0 km, your recent weekly average, up to 26.0 km" in words
    assert "Nothing in last week (from 13 Oct) tripped our checks." in words
    assert "One run much longer than your longest run of the previous weeks" in words
    # The week of 20 October is judged next, on Monday 27 October at 06:00 in Oslo.
    assert "We next look at your training on Mon 27 Oct at 06:00 (Europe/Oslo)" in words
    assert "/email/preferences?token=" in text
    assert "WHEN TO GET MEDICAL HELP" in text
    assert "not medical advice" in words
    assert "HOW IS YOUR BACK THIS WEEK?" in text
    html = html_part(message)
    assert "Your running over the last 8 weeks" in html
    assert "<br>last week</td>" in html
    assert "background-color: #c4590c" in html  # the highlighted bar, its CSS inlined

    # A reconnect keeps the athlete: its backfill runs again, but no second welcome, and the
    # scheduler's sweep asks for none either.
    backfill_again(running, quiet)
    wait_for(lambda: backfilled(running, quiet), what="the second backfill")
    Scheduler(running).send_welcomes(running.clock())
    wait_for(lambda: not any(_pending(running)), what="nothing left to send")
    assert kinds_sent(running, quiet) == ["welcome"], describe(running, smtp)
    assert len(smtp.inbox.messages) == 1


def _pending(runtime: WorkerRuntime) -> list[int]:
    with runtime.sessions() as session:
        return list(
            session.scalars(select(DeliveryRecord.id).where(DeliveryRecord.status != "sent"))
        )


def test_a_risky_last_week_is_judged_at_once_and_not_again_when_it_falls_due(
    running: WorkerRuntime, sim: Simulator, smtp: SmtpServer, clock: SimClock
) -> None:
    risky = connect_and_backfill(running, sim, RISKY_ID)
    wait_for(
        lambda: kinds_sent(running, risky) == ["digest", "welcome"],
        what="the welcome and last week's digest sent",
    )
    by_kind = {str(m["Message-ID"]).split("-")[0].lstrip("<"): m for m in smtp.inbox.messages}
    assert sorted(by_kind) == ["digest", "welcome"]
    assert "Last week (from 13 Oct) tripped 2 checks." in prose(by_kind["welcome"])
    assert str(by_kind["digest"]["Subject"]).startswith("Your week of 13 Oct:")

    # 06:00 in Oslo has passed: the week falls due, and the scheduler finds it judged.
    clock.advance(3 * 3600)
    report = Scheduler(running).tick()
    assert report.scheduled == []
    with running.sessions() as session:
        statuses = session.scalars(
            select(Evaluation.status).where(Evaluation.athlete_id == risky)
        ).all()
    assert [str(s) for s in statuses] == ["done"]
    wait_for(lambda: not any(_pending(running)), what="nothing left to send")
    assert len(smtp.inbox.messages) == 2, describe(running, smtp)


def test_a_run_on_strava_and_in_the_runners_files_counts_once_in_the_welcome(
    running: WorkerRuntime, sim: Simulator, smtp: SmtpServer, tmp_path: Path
) -> None:
    quiet = connect(
        running.sessions,
        running.strava,
        sim,
        QUIET_ID,
        email=f"{QUIET_ID}@example.com",
        connected_at=running.clock(),
    )
    # Before the backfill, the runner uploaded their watch's file of last week's long run,
    # which Strava holds too (Saturday 07:00 in Oslo, 10 km).
    long_run = dt.datetime(2025, 10, 18, 5, 0, tzinfo=dt.UTC)
    watch_file = write(tmp_path / "long.fit", fit_bytes(RunSpec(long_run, 10_000, 3000)))
    outcome = import_paths(
        running.sessions, quiet, [watch_file], settings=running.settings, now=running.clock()
    )
    assert outcome.imported == ["long.fit"]
    backfill_again(running, quiet)
    wait_for(lambda: "welcome" in kinds_sent(running, quiet), what="the welcome sent")

    [welcome] = [m for m in smtp.inbox.messages if str(m["Message-ID"]).startswith("<welcome-")]
    words = prose(welcome)
    assert "In your last 6 weeks we found 18 runs, 120.0 km in all." in words
    assert "Nothing in last week (from 13 Oct) tripped our checks." in words
    wait_for(lambda: not any(_pending(running)), what="nothing left to send")
    assert kinds_sent(running, quiet) == ["welcome"]  # no digest: last week was not risky
