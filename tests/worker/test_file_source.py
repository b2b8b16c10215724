"""The runner's own files as a source, end to end: the import actor on the real Redis broker,
the scheduler, evaluation through the source registry, the outbox and real SMTP.

The parity check: a runner with 52 weeks of imported files gets the same findings, week by
week, as a runner whose same runs come from the Strava simulator over HTTP.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from strideguard.integrations.files.import_runs import UPLOAD, open_import
from strideguard.integrations.strava.simulator import SimClock, Simulator, generate_history
from strideguard.models import Activity, Alert, Athlete, Evaluation, FileImport
from strideguard.runtime import WorkerRuntime, start_runtime
from strideguard.settings import Settings
from strideguard.status import ImportStatus
from strideguard.worker.embedded import InProcessWorker
from strideguard.worker.reconciler import Reconciler
from strideguard.worker.scheduler import Scheduler
from tests.files.exports import write_export
from tests.files.writers import RunSpec, fit_bytes, write
from tests.worker.conftest import SmtpServer
from tests.worker.strava_history import CLIENT_ID, CLIENT_SECRET, connect, simulated_services
from tests.worker.test_pipeline import describe, settled
from tests.worker.waiting import wait_for

END = dt.date(2026, 11, 29)  # a Sunday
NOW = dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.UTC)
STRAVA_ID = 7
WEEKS = [END - dt.timedelta(days=6) - dt.timedelta(weeks=i) for i in range(8)]
# A shoe's count differs by design: Strava reports the shoe's lifetime distance, a file
# runner's shoe counts only the runs in their files.
NOT_COMPARED = {"shoe_mileage"}


@pytest.fixture
def history() -> dict[str, object]:
    return generate_history(STRAVA_ID, 52, tz="Europe/Oslo", seed=11, end=END, profile="marathon")


@pytest.fixture
def clock() -> SimClock:
    return SimClock(NOW, ticking=True)


@pytest.fixture
def sim(clock: SimClock, history: dict[str, object]) -> Iterator[Simulator]:
    with Simulator(
        [history], client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock
    ) as simulator:
        yield simulator


@pytest.fixture
def running(
    worker_env: Callable[..., Settings],
    redis_url: str,
    redis_namespace: str,
    smtp: SmtpServer,
    sim: Simulator,
    clock: SimClock,
) -> Iterator[WorkerRuntime]:
    settings = worker_env(
        REDIS_URL=redis_url,
        QUEUE_NAMESPACE=redis_namespace,
        LOOKBACK_WEEKS="52",
        RETENTION_DAYS="365",
        JOB_LEASE_SECONDS="60",
        **simulated_services(sim, smtp),
    )
    runtime = start_runtime(settings, clock=clock.now)
    pool = InProcessWorker(runtime, threads=2).start()
    yield runtime
    pool.stop()
    runtime.close()


def _alerts(runtime: WorkerRuntime, athlete_id: int) -> dict[tuple[dt.date, str], object]:
    with runtime.sessions() as session:
        return {
            (alert.week_start, alert.rule_id): round(float(alert.finding.get("value") or 0), 1)
            for alert in session.scalars(select(Alert).where(Alert.athlete_id == athlete_id))
            if alert.rule_id not in NOT_COMPARED
        }


def test_52_weeks_of_imported_files_judge_like_the_same_runs_from_strava(
    running: WorkerRuntime,
    sim: Simulator,
    smtp: SmtpServer,
    history: dict[str, object],
    tmp_path: Path,
) -> None:
    strava_runner = connect(
        running.sessions,
        running.strava,
        sim,
        STRAVA_ID,
        email="strava@example.com",
        connected_at=NOW - dt.timedelta(days=1),
    )
    with running.sessions.begin() as session:
        file_runner = Athlete(firstname="Fi", email="files@example.com", timezone="Europe/Oslo")
        nothing = Athlete(firstname="No", email="none@example.com", timezone="Europe/Oslo")
        session.add_all([file_runner, nothing])
        session.flush()
        file_id, nothing_id = file_runner.id, nothing.id
    export = write_export(history, tmp_path / "export.zip")

    running.jobs.import_files(file_id, [str(export)])  # the actor the upload form queues

    def imported() -> bool:
        with running.sessions() as session:
            count = session.scalar(
                select(func.count()).select_from(Activity).where(Activity.athlete_id == file_id)
            )
        return bool(count)

    wait_for(imported, what="the import actor stored the files")
    scheduler = Scheduler(running)
    for athlete_id in (strava_runner, file_id, nothing_id):
        scheduler.schedule_weeks(athlete_id, WEEKS)
    wait_for(lambda: settled(running), what="evaluations done", timeout_s=300)

    from_strava = _alerts(running, strava_runner)
    from_files = _alerts(running, file_id)
    assert len(from_strava) >= 3, describe(running, smtp)  # the comparison covers real alerts
    assert from_files == from_strava
    received = sorted(str(m["To"]) for m in smtp.inbox.messages)
    assert received.count("files@example.com") == received.count("strava@example.com") >= 1
    with running.sessions() as session:
        skipped = session.scalars(
            select(Evaluation.last_error).where(Evaluation.athlete_id == nothing_id)
        ).all()
    assert skipped
    assert set(skipped) == {"no Strava connection; no imported files"}


def test_the_scheduler_follows_a_runner_with_files_only(runtime: WorkerRuntime) -> None:
    added = dt.datetime(2025, 9, 1, 14, tzinfo=dt.UTC)  # a Monday
    with runtime.sessions.begin() as session:
        with_files = Athlete(email="fi@example.com", timezone="UTC", created_at=added)
        without = Athlete(email="no@example.com", timezone="UTC", created_at=added)
        session.add_all([with_files, without])
        session.flush()
        start = dt.datetime(2025, 9, 2, 7, tzinfo=dt.UTC)
        session.add(
            Activity(
                strava_id=-1,
                athlete_id=with_files.id,
                source="file",
                sport_type="Run",
                start_date=start,
                start_date_local=start.replace(tzinfo=None),
                distance_m=5000,
            )
        )
        ids = with_files.id, without.id
    scheduled = Scheduler(runtime).tick(dt.datetime(2025, 9, 16, 12, tzinfo=dt.UTC)).scheduled
    assert sorted(scheduled) == [(ids[0], dt.date(2025, 9, 1)), (ids[0], dt.date(2025, 9, 8))]


@pytest.fixture
def importing(redis_settings: Settings) -> Iterator[WorkerRuntime]:
    """A runtime on the real Redis with one worker thread taking jobs."""
    built = start_runtime(redis_settings)
    pool = InProcessWorker(built, threads=1).start()
    yield built
    pool.stop()
    built.close()


def _lost_upload(runtime: WorkerRuntime, tmp_path: Path) -> tuple[int, Path]:
    """A runner's upload whose row was written and whose queue message never went out."""
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    folder = tmp_path / "upload"
    path = write(folder / "run.fit", fit_bytes(RunSpec(start, distance_m=8000, moving_s=2600)))
    with runtime.sessions.begin() as session:
        runner = Athlete(firstname="Fi", email="fi@example.com", timezone="UTC")
        session.add(runner)
        session.flush()
        athlete_id = runner.id
    open_import(runtime.sessions, athlete_id, UPLOAD, [str(path)], remove_after=str(folder))
    return athlete_id, folder


def _the_import(runtime: WorkerRuntime) -> FileImport:
    with runtime.sessions() as session:
        row = session.scalars(select(FileImport)).one()
        session.expunge(row)
        return row


def _finished(runtime: WorkerRuntime) -> bool:
    return _the_import(runtime).status != ImportStatus.QUEUED


def _after_a_lease(runtime: WorkerRuntime) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + runtime.lease + dt.timedelta(seconds=1)


def test_an_import_whose_message_was_lost_is_sent_again_and_completes(
    importing: WorkerRuntime, tmp_path: Path
) -> None:
    athlete_id, folder = _lost_upload(importing, tmp_path)
    reconciler = Reconciler(importing)

    assert reconciler.run(dt.datetime.now(dt.UTC)).syncs == 0  # not lost yet: within a lease
    assert reconciler.run(_after_a_lease(importing)).syncs == 1

    wait_for(lambda: _finished(importing), what="the import", timeout_s=30)
    row = _the_import(importing)
    assert row.status == ImportStatus.DONE
    assert row.result is not None
    assert row.result["imported"] == ["run.fit"]
    assert row.attempts == 1
    assert row.paths is None  # the server's folders are not kept once the import is over
    with importing.sessions() as session:
        stored = session.scalars(select(Activity).where(Activity.athlete_id == athlete_id)).all()
    assert [activity.distance_m for activity in stored] == [8000]
    assert not folder.exists()  # the upload's folder is removed as after any import
    assert reconciler.run(_after_a_lease(importing)).syncs == 0  # done: nothing more to send


def test_an_import_whose_worker_died_at_every_attempt_ends_failed_with_a_reason(
    importing: WorkerRuntime, tmp_path: Path
) -> None:
    athlete_id, folder = _lost_upload(importing, tmp_path)
    spent = importing.settings.job_max_attempts
    with importing.sessions.begin() as session:  # the last attempt's worker was killed
        row = session.scalars(select(FileImport)).one()
        row.attempts = spent
        row.started_at = dt.datetime.now(dt.UTC) - importing.lease - dt.timedelta(seconds=1)

    assert Reconciler(importing).run(dt.datetime.now(dt.UTC)).syncs == 1

    wait_for(lambda: _finished(importing), what="the give-up", timeout_s=30)
    row = _the_import(importing)
    assert row.status == ImportStatus.FAILED
    assert row.paths is None
    assert row.result == {
        "error": f"the import did not finish in {spent} attempts (the worker stopped each "
        "time); upload the files again to retry"
    }
    with importing.sessions() as session:
        stored = session.scalar(
            select(func.count()).select_from(Activity).where(Activity.athlete_id == athlete_id)
        )
    assert stored == 0
    assert not folder.exists()
    assert Reconciler(importing).run(_after_a_lease(importing)).syncs == 0
