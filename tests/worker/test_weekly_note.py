"""The optional weekly note: off by default; once a runner turns it on, a week where nothing
fired brings three lines of figures against the ceilings, a risky week the digest alone, and
a pause silences it like any other message.

Real Redis broker with worker threads, the Strava simulator over HTTP, the real SMTP sink, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from strideguard.integrations.strava.simulator import SimClock, Simulator
from strideguard.models import Athlete, Evaluation
from strideguard.runtime import WorkerRuntime
from strideguard.worker.scheduler import Scheduler
from tests.worker.conftest import SmtpServer
from tests.worker.strava_history import (
    CLIENT_ID,
    CLIENT_SECRET,
    connect,
    history,
    sim_athlete,
)
from tests.worker.test_pipeline import PRIOR, WEEK, describe, text_part
from tests.worker.waiting import wait_for

NOW = dt.datetime(2025, 10, 20, 7, 0, tzinfo=dt.UTC)  # Monday 09:00 in Oslo
CONNECTED = dt.datetime(2025, 10, 15, tzinfo=dt.UTC)  # only the week of 13 October is news
QUIET_ID, RISKY_ID, PAUSED_ID, DEFAULT_ID = 701, 702, 703, 704
QUIET_WEEK = (5.0, 5.0, 10.0)


@pytest.fixture
def clock() -> SimClock:
    return SimClock(NOW, ticking=True)


@pytest.fixture
def sim(clock: SimClock) -> Iterator[Simulator]:
    quiet = {**PRIOR, WEEK: QUIET_WEEK}
    athletes = [
        sim_athlete(QUIET_ID, "Quinn", history(1000, quiet)),
        sim_athlete(RISKY_ID, "Risa", history(2000, {**PRIOR, WEEK: (10.0, 10.0, 20.0)})),
        sim_athlete(PAUSED_ID, "Paula", history(3000, quiet)),
        sim_athlete(DEFAULT_ID, "Dana", history(4000, quiet)),
    ]
    with Simulator(athletes, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock) as s:
        yield s


def runner(runtime: WorkerRuntime, sim: Simulator, strava_id: int, **preferences: object) -> int:
    athlete = connect(
        runtime.sessions,
        runtime.strava,
        sim,
        strava_id,
        email=f"{strava_id}@example.com",
        connected_at=CONNECTED,
    )
    if preferences:
        with runtime.sessions.begin() as session:
            session.execute(update(Athlete).where(Athlete.id == athlete).values(**preferences))
    return athlete


def judged(runtime: WorkerRuntime, count: int) -> bool:
    with runtime.sessions() as session:
        statuses = session.scalars(select(Evaluation.status)).all()
    return len(statuses) == count and all(s in ("done", "skipped") for s in statuses)


def test_a_quiet_week_brings_the_note_only_to_runners_who_asked_for_it(
    running: WorkerRuntime, sim: Simulator, smtp: SmtpServer
) -> None:
    quiet = runner(running, sim, QUIET_ID, weekly_note=True)
    runner(running, sim, RISKY_ID, weekly_note=True)
    runner(running, sim, PAUSED_ID, weekly_note=True, paused_until=dt.date(2025, 10, 26))
    runner(running, sim, DEFAULT_ID)  # never asked: the note is off by default

    assert len(Scheduler(running).tick().scheduled) == 4
    wait_for(lambda: judged(running, 4) and len(smtp.inbox.messages) == 2, what="two emails")
    # The reconciler in later ticks sends nothing more.
    Scheduler(running).tick()
    wait_for(lambda: judged(running, 4), what="evaluations settled")

    by_to = {str(m["To"]): m for m in smtp.inbox.messages}
    assert sorted(by_to) == [f"{QUIET_ID}@example.com", f"{RISKY_ID}@example.com"], describe(
        running, smtp
    )
    risky = by_to[f"{RISKY_ID}@example.com"]
    assert str(risky["Message-ID"]).startswith("<digest-")  # a risky week: the digest alone

    note = by_to[f"{QUIET_ID}@example.com"]
    assert note["Message-ID"] == f"<note-{quiet}-2025-10-13@strideguard.example.org>"
    assert note["Subject"] == "Your week of 13 Oct: 20.0 km, nothing tripped our checks"
    assert note["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = text_part(note)
    lines = [line for line in text.splitlines() if line.startswith("  - ")]
    assert len(lines) >= 3
    words = " ".join(text.split())
    assert (
        "Week of 13 Oct: 20.0 km over 3 runs, the longest 10.0 km. Nothing tripped our checks."
        in words
    )
    assert "Your next run: up to 11.0 km stays within the range linked to fewer" in words
    assert "Next week in total: from 20.0 km, your recent weekly average, up to 26.0 km" in words
    assert "not medical advice" in words
    assert "/email/unsubscribe?token=" in text
