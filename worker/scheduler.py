"""The one process that decides *when*: due weeks, lost jobs, and the daily purge.

Each tick asks the database what is due and enqueues it; it holds no state that matters
across restarts. A week's `evaluations` row is created once (unique athlete and week), so
a double tick or a restart after downtime enqueues each closed week exactly once, and the
catch-up reaches back over every week that closed meanwhile, up to the lookback.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import select

from strideguard.db import transaction
from strideguard.models import Athlete, Evaluation
from strideguard.status import EmailStatus, EvaluationStatus
from strideguard.times import aware, zone_or_utc
from strideguard.upsert import insert_ignoring_duplicates
from strideguard.worker.host import PipelineHost
from strideguard.worker.reconciler import Reconciler, ReconcileReport
from strideguard.worker.single_instance import SchedulerLock
from strideguard.worker.weeks import due_at, due_weeks
from strideguard.worker.welcome import due_welcomes

log = logging.getLogger(__name__)

# Between ticks, how often the scheduler checks whether Redis lost the queue (one SET NX).
QUEUE_PROBE_S = 2.0


@dataclass
class TickReport:
    scheduled: list[tuple[int, dt.date]]
    reconciled: ReconcileReport
    purge_sent: bool


class Scheduler:
    """One tick at a time; `run_forever` adds the loop, the single-instance lock and the stop."""

    def __init__(self, runtime: PipelineHost) -> None:
        self.runtime = runtime
        self.reconciler = Reconciler(runtime)
        self._last_purge: dt.date | None = None

    def schedule_due_weeks(self, now: dt.datetime) -> list[tuple[int, dt.date]]:
        """Create the evaluations that became due and enqueue them; the new (athlete, week)s."""
        runtime = self.runtime
        rows: list[dict[str, object]] = []
        with runtime.sessions() as session:
            followed = {f.athlete_id: f.since for f in runtime.source.followed(session)}
            athletes = session.execute(
                select(Athlete.id, Athlete.timezone, Athlete.created_at).where(
                    Athlete.email_status == EmailStatus.OK
                )
            ).all()
        for athlete_id, timezone, created_at in athletes:
            if athlete_id not in followed:
                continue
            zone = zone_or_utc(timezone)
            # Weeks already due when the runner (re)connected or first imported files are
            # history, not news.
            since = max(
                moment for moment in (aware(created_at), followed[athlete_id]) if moment is not None
            )
            weeks = due_weeks(
                now, zone, self.grace, since=since, lookback_weeks=runtime.settings.lookback_weeks
            )
            rows.extend(self._evaluation_rows(athlete_id, weeks, zone))
        return self._create(rows, now)

    def schedule_weeks(
        self, athlete_id: int, weeks: Sequence[dt.date]
    ) -> list[tuple[int, dt.date]]:
        """Evaluate these weeks of one athlete (each once), whether or not they are news.

        The demo and operators replaying history use this; the regular path is
        `schedule_due_weeks`, which never reaches back before the athlete connected.
        """
        with self.runtime.sessions() as session:
            timezone = session.scalar(select(Athlete.timezone).where(Athlete.id == athlete_id))
        rows = self._evaluation_rows(athlete_id, weeks, zone_or_utc(timezone))
        return self._create(rows, self.runtime.clock())

    @property
    def grace(self) -> dt.timedelta:
        return dt.timedelta(hours=self.runtime.settings.evaluation_grace_hours)

    def _evaluation_rows(
        self, athlete_id: int, weeks: Sequence[dt.date], zone: ZoneInfo
    ) -> list[dict[str, object]]:
        return [
            {
                "athlete_id": athlete_id,
                "week_start": week,
                "status": EvaluationStatus.PENDING,
                "due_at": due_at(week, zone, self.grace),
                "attempts": 0,
            }
            for week in weeks
        ]

    def _create(self, rows: list[dict[str, object]], now: dt.datetime) -> list[tuple[int, dt.date]]:
        """Insert the evaluations that do not exist yet and enqueue exactly those."""
        if not rows:
            return []
        with transaction(self.runtime.sessions) as session:
            inserted = session.execute(
                insert_ignoring_duplicates(session, Evaluation).returning(
                    Evaluation.athlete_id, Evaluation.week_start
                ),
                rows,
            )
            created = [(row.athlete_id, row.week_start) for row in inserted]
        # Enqueued after the commit, so a worker never looks for a row that is not there yet;
        # through the reconciler, which notes each send and a Redis failure between them.
        for athlete_id, week in created:
            self.reconciler.resend_once(
                ("evaluation", athlete_id, week),
                now,
                partial(self.runtime.jobs.evaluate_week, athlete_id, week),
            )
        if created:
            log.info("scheduled %d athlete-weeks for evaluation", len(created))
        return created

    def send_welcomes(self, now: dt.datetime) -> list[int]:
        """A welcome job for each runner backfilled but not welcomed (worker/welcome.py), at
        most once per lease period each: the job decides, the sweep only re-asks."""
        with self.runtime.sessions() as session:
            due = due_welcomes(session, now)
        sent = [
            athlete_id
            for athlete_id in due
            if self.reconciler.resend_once(
                ("welcome", athlete_id), now, partial(self.runtime.jobs.welcome, athlete_id)
            )
        ]
        if sent:
            log.info("sent %d welcome jobs", len(sent))
        return sent

    def tick(self, now: dt.datetime | None = None) -> TickReport:
        now = now or self.runtime.clock()
        scheduled = self.schedule_due_weeks(now)
        self.send_welcomes(now)
        self.runtime.source.reserve_reads(now, self.grace)
        reconciled = self.reconciler.run(now)
        if self.runtime.settings.import_watch_dir is not None:
            # One look a tick at IMPORT_WATCH_DIR (no busy loop, no inotify to keep alive):
            # the job imports what has settled there since.
            self.runtime.jobs.scan_watch_dir()
        purge_sent = False
        if self._last_purge != now.date():
            self.runtime.jobs.purge_expired()
            self._last_purge = now.date()
            purge_sent = True
        return TickReport(scheduled, reconciled, purge_sent)

    def run_forever(self, stop: threading.Event) -> None:
        """Hold the single-instance lock and tick until `stop` is set."""
        with SchedulerLock(self.runtime.engine):
            self.loop(stop)

    def loop(self, stop: threading.Event) -> None:
        """Tick until `stop` is set (the caller holds the lock). A failing tick is retried."""
        log.info(
            "scheduler started: tick every %ss, grace %sh, lookback %d weeks",
            self.runtime.settings.scheduler_tick_seconds,
            self.runtime.settings.evaluation_grace_hours,
            self.runtime.settings.lookback_weeks,
        )
        while not stop.is_set():
            try:
                self.tick()
            except Exception:
                # The database or Redis may be briefly away; the next tick tries again.
                log.exception("scheduler tick failed")
            self._until_next_tick(stop)
        log.info("scheduler stopped")

    def _until_next_tick(self, stop: threading.Event) -> None:
        """Wait one tick period, but tick early once Redis is back after losing the queue.

        A lost queue holds up every job until the reconciler re-sends it; waiting out a whole
        tick (60 s by default) after Redis returns would be most of the delay.
        """
        deadline = time.monotonic() + self.runtime.settings.scheduler_tick_seconds
        while not stop.wait(min(QUEUE_PROBE_S, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline or self.reconciler.queue_lost():
                return
