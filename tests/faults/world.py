"""The world every fault case runs in: runners on the Strava simulator, our worker, real SMTP.

Three runners connected just after the previous week fell due, so exactly one week (the one
that has just closed) is news for each: two of them ran a risky week, one a quiet one. A case
breaks something, lets the system recover, and ends with `checks.assert_nothing_lost`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from strideguard.integrations.strava.simulator import SimClock, Simulator
from strideguard.models import DeliveryRecord, Evaluation, StravaConnection
from strideguard.runtime import WorkerRuntime
from strideguard.worker.embedded import InProcessWorker
from strideguard.worker.weeks import WEEK, due_at, latest_due_week
from strideguard.worker.welcome import due_welcomes
from tests.faults.checks import StravaView, assert_nothing_lost
from tests.worker.conftest import SmtpServer
from tests.worker.strava_history import (
    CLIENT_ID,
    CLIENT_SECRET,
    connect,
    history,
    sim_athlete,
    simulated_services,
)
from tests.worker.waiting import reconcile_until

OSLO = ZoneInfo("Europe/Oslo")
GRACE = dt.timedelta(hours=6)
STEADY = (5.0, 5.0, 10.0)  # 20 km a week
RISKY = (10.0, 10.0, 20.0)  # 40 km, with one run twice the longest before it
# Strava id -> (first name, the closing week's runs); ids of activities start at id * 100.
RUNNERS: Runners = {
    811: ("Risa", RISKY),
    812: ("Quinn", STEADY),
    813: ("Remy", RISKY),
}
Runners = dict[int, tuple[str, tuple[float, float, float]]]
# Another application's user on the same Strava: its requests spend the shared rate limit.
FOREIGN = 899
# Keep every synced row: the activity check compares the whole lookback window.
RETENTION_DAYS = "365"


def closing_week(now: dt.datetime) -> dt.date:
    """The newest week due at `now` for a runner in Oslo."""
    return latest_due_week(now, OSLO, GRACE)


def training(
    first_id: int, week: dt.date, closing: tuple[float, float, float], weeks: int = 5
) -> list[dict[str, Any]]:
    """`weeks` steady weeks, then `closing` in `week`."""
    plan = {week - WEEK * i: STEADY for i in range(1, weeks + 1)}
    plan[week] = closing
    return history(first_id, plan)


@dataclass
class FaultWorld:
    """One deployment under test: its runtime (settings, DB, queue) and what surrounds it."""

    runtime: WorkerRuntime
    sim: Simulator
    smtp: SmtpServer
    week: dt.date
    # Strava id -> athletes.id
    athletes: dict[int, int] = field(default_factory=dict)
    # Strava id -> the activities the simulator was seeded with
    seeds: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    read_limits: tuple[int, int] = (100, 1000)

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.runtime.sessions

    def connect_all(self) -> None:
        connected = due_at(self.week - WEEK, OSLO, GRACE) + dt.timedelta(minutes=1)
        for strava_id in self.seeds:
            self.athletes[strava_id] = connect(
                self.sessions,
                self.runtime.strava,
                self.sim,
                strava_id,
                email=f"runner{strava_id}@example.com",
                connected_at=connected,
            )

    def add_activities(self, strava_id: int, activities: list[dict[str, Any]]) -> None:
        """More history on Strava for a runner (the checks expect it too)."""
        for activity in activities:
            self.sim.add_activity(strava_id, activity)
        self.seeds[strava_id].extend(activities)

    def needs_backfill(self, strava_id: int) -> int:
        """Forget the runner's first sync, as if they had just connected; their athletes.id."""
        athlete = self.athletes[strava_id]
        with self.sessions.begin() as session:
            session.execute(
                update(StravaConnection)
                .where(StravaConnection.athlete_id == athlete)
                .values(backfilled_at=None)
            )
        return athlete

    @contextmanager
    def threads(self, count: int = 2) -> Iterator[InProcessWorker]:
        pool = InProcessWorker(self.runtime, threads=count).start()
        try:
            yield pool
        finally:
            pool.stop()

    def assert_nothing_lost(
        self, *, foreign_athletes: Collection[int] = (), **options: Any
    ) -> None:
        """The shared end-of-case check, with this world's Strava and mailbox."""
        view = StravaView(self.sim, self.seeds, self.read_limits, foreign_athletes)
        assert_nothing_lost(
            self.sessions,
            self.runtime.settings,
            inbox=self.smtp.inbox,
            clock=self.runtime.clock,
            strava=view,
            **options,
        )

    def settled(self) -> bool:
        """No work left: weeks judged, digests out, requested syncs done, new runners welcomed."""
        with self.sessions() as session:
            evaluations = session.scalars(select(Evaluation.status)).all()
            unsent = session.scalar(
                select(DeliveryRecord.id)
                .where(DeliveryRecord.status.in_(("pending", "sending")))
                .limit(1)
            )
            syncing = session.scalar(
                select(StravaConnection.id)
                .where(
                    StravaConnection.status == "active",
                    StravaConnection.sync_requested_at.is_not(None),
                )
                .limit(1)
            )
            # A runner backfilled but not welcomed yet has a first result on its way.
            welcomes = due_welcomes(session, self.runtime.clock())
        return (
            bool(evaluations)
            and "pending" not in evaluations
            and unsent is None
            and not syncing
            and not welcomes
        )

    def evaluations_finished(self) -> bool:
        with self.sessions() as session:
            statuses = session.scalars(select(Evaluation.status)).all()
        return bool(statuses) and "pending" not in statuses

    def settle_evaluations(self) -> None:
        """Tick the scheduler until every due week is judged (mail may still be on its way)."""
        reconcile_until(self.runtime, self.evaluations_finished, what="every due week judged")

    def mail_settled(self) -> bool:
        with self.sessions() as session:
            unsent = session.scalars(
                select(DeliveryRecord.id).where(DeliveryRecord.status.in_(("pending", "sending")))
            ).all()
        return not unsent

    def settle_mail(self) -> None:
        """Tick the scheduler until every digest written so far is out."""
        reconcile_until(self.runtime, self.mail_settled, what="every digest delivered")

    def settle(self, what: str = "every job done") -> None:
        """Tick the scheduler (due weeks and the reconciler) until no work is left."""
        reconcile_until(self.runtime, self.settled, what=what)


def seeded_simulator(
    week: dt.date,
    clock: SimClock,
    runners: Runners,
    sim_class: type[Simulator] = Simulator,
    **options: Any,
) -> tuple[Simulator, dict[int, list[dict[str, Any]]]]:
    seeds = {
        strava_id: training(strava_id * 100, week, closing)
        for strava_id, (_name, closing) in runners.items()
    }
    sim = sim_class(
        [sim_athlete(strava_id, runners[strava_id][0], seeds[strava_id]) for strava_id in seeds]
        + [sim_athlete(FOREIGN, "Other", [])],
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        clock=clock,
        **options,
    )
    return sim, seeds


WorldFactory = Callable[..., FaultWorld]


# Short, so recovery after a kill is quick, yet above one job's run time on a busy machine:
# a lease that runs out under a live sender makes a second sender repeat its work.
LEASE_SECONDS = "5"


def world_env(sim: Simulator, smtp: SmtpServer) -> dict[str, str]:
    return {
        **simulated_services(sim, smtp),
        "RETENTION_DAYS": RETENTION_DAYS,
        "JOB_LEASE_SECONDS": LEASE_SECONDS,
    }
