"""`strideguard worker` and `strideguard scheduler`: the background processes.

`worker` runs dramatiq worker threads against the configured broker; `--processes N` starts N
such processes and restarts any that dies (strideguard/cli/supervisor.py). `scheduler` runs
the one scheduler; a second one against the same database exits with code 2 and says so.
All three wait at start-up for an unreachable PostgreSQL or Redis (strideguard/cli/startup.py).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

import typer

from strideguard.cli.errors import cli_errors
from strideguard.cli.rules_gate import require_valid_rules
from strideguard.cli.startup import when_reachable
from strideguard.heap import freeze_startup_objects
from strideguard.logs import configure_logging

if TYPE_CHECKING:
    from fastapi import FastAPI

    from strideguard.settings import Settings

log = logging.getLogger(__name__)


def _prepare() -> Settings:
    """Settings, logging and a schema check, waiting for the database if it is away."""
    from strideguard.db import check_migrated, make_engine
    from strideguard.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level)
    require_valid_rules(settings)
    engine = make_engine(settings.database_url)
    try:
        when_reachable(lambda: check_migrated(engine), settings)
    finally:
        engine.dispose()
    return settings


def attach_worker_or_exit(
    app: FastAPI, settings: Settings, *, run_jobs: bool | None = None
) -> None:
    """Wire the web app's background work to the worker (see strideguard/web/worker_seam.py).

    An unreachable Redis is waited for (STARTUP_WAIT_SECONDS), then exit code 75.
    """
    from strideguard.web.worker_seam import attach_worker

    when_reachable(lambda: attach_worker(app, settings, run_jobs=run_jobs), settings)


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping after in-flight jobs", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@cli_errors
def worker(
    threads: int = typer.Option(8, min=1, help="Worker threads per process."),
    processes: int = typer.Option(1, min=1, help="Worker processes (restarted if they die)."),
) -> None:
    """Run background jobs (sync, evaluation, email) from the configured queue."""
    settings = _prepare()
    if not settings.redis_url:
        typer.echo(
            "error: setting REDIS_URL: worker processes need a shared queue. Without Redis the "
            "jobs run in-process: `strideguard web` or `strideguard scheduler` runs them on its "
            "own worker threads.",
            err=True,
        )
        raise typer.Exit(2)
    from strideguard.runtime import start_runtime
    from strideguard.worker.broker import make_broker
    from strideguard.worker.embedded import InProcessWorker

    if processes > 1:
        # Wait here, once, rather than in every child the supervisor would restart.
        when_reachable(lambda: make_broker(settings).close(), settings)
        raise typer.Exit(_supervise(threads, processes))
    runtime = when_reachable(lambda: start_runtime(settings), settings)
    stop = threading.Event()
    _stop_on_signals(stop)
    freeze_startup_objects()
    pool = InProcessWorker(runtime, threads=threads).start()
    log.info("worker ready (pid %d)", os.getpid())
    # Never a bare stop.wait(): a signal that lands just before this thread blocks has its
    # Python handler run only when the thread next runs code, so a SIGTERM sent as the worker
    # became ready was ignored for good (2 starts in 40 on a loaded machine). Waking every
    # second runs such a handler.
    while not stop.wait(1.0):
        pass
    pool.stop()
    runtime.close()


def _supervise(threads: int, processes: int) -> int:
    """Run `processes` single-process workers under strideguard/cli/supervisor.py."""
    from strideguard.cli.supervisor import supervise

    command = [
        sys.executable,
        "-m",
        "strideguard.cli.main",
        "worker",
        "--threads",
        str(threads),
        "--processes",
        "1",
    ]
    stop = threading.Event()
    _stop_on_signals(stop)
    return supervise(command, processes, stop)


@cli_errors
def scheduler(
    threads: int = typer.Option(
        4, min=1, help="Worker threads run in this process when REDIS_URL is not set."
    ),
) -> None:
    """Run the scheduler: due weeks, lost-job recovery, daily purge. Run exactly one.

    Without REDIS_URL the queue is in-process, so the scheduler also runs the jobs itself.
    """
    settings = _prepare()
    from strideguard.runtime import start_runtime
    from strideguard.worker.embedded import InProcessWorker
    from strideguard.worker.scheduler import Scheduler
    from strideguard.worker.single_instance import AlreadyRunning, SchedulerLock

    runtime = when_reachable(lambda: start_runtime(settings), settings)
    stop = threading.Event()
    _stop_on_signals(stop)
    try:
        with SchedulerLock(runtime.engine):
            pool = None
            if not settings.redis_url:
                pool = InProcessWorker(runtime, threads=threads).start()
            Scheduler(runtime).loop(stop)
            if pool is not None:
                pool.stop()
    except AlreadyRunning as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        runtime.close()
