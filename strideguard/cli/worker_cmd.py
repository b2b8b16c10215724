"""`strideguard worker` and `strideguard scheduler`: the background processes.

`worker` runs dramatiq worker threads against the configured broker; `--processes N` starts N
such processes and restarts any that dies (dramatiq's own master does not). `scheduler` runs
the one scheduler; a second one against the same database exits with code 2 and says so.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, TypeVar

import typer

from strideguard.cli.errors import cli_errors
from strideguard.cli.rules_gate import require_valid_rules
from strideguard.heap import freeze_startup_objects
from strideguard.logs import configure_logging

if TYPE_CHECKING:
    from fastapi import FastAPI

    from strideguard.settings import Settings

log = logging.getLogger(__name__)

# A child that dies sooner than this after starting is failing at boot: back off.
RESTART_BACKOFF_S = 5.0


def _prepare() -> Settings:
    from strideguard.db import check_migrated, make_engine
    from strideguard.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level)
    require_valid_rules(settings)
    engine = make_engine(settings.database_url)
    check_migrated(engine)
    engine.dispose()
    return settings


def attach_worker_or_exit(
    app: FastAPI, settings: Settings, *, run_jobs: bool | None = None
) -> None:
    """Wire the web app's background work to the worker (see worker/web_seam.py).

    An unreachable Redis becomes one line and exit code 2, like a bad DATABASE_URL.
    """
    from worker.web_seam import attach_worker

    _or_exit(lambda: attach_worker(app, settings, run_jobs=run_jobs))


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
    from worker.broker import make_broker
    from worker.embedded import InProcessWorker
    from worker.runtime import start_runtime

    if processes > 1:
        # Fail here, once, rather than in every child the supervisor would restart.
        _or_exit(lambda: make_broker(settings).close())
        raise typer.Exit(_supervise(threads, processes))
    runtime = _or_exit(lambda: start_runtime(settings))
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


T = TypeVar("T")


def _or_exit(start: Callable[[], T]) -> T:
    """Run a start-up step; an unreachable Redis becomes one line and exit code 2."""
    from worker.broker import BrokerError

    try:
        return start()
    except BrokerError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _supervise(threads: int, processes: int) -> int:
    """Keep `processes` single-process workers running; forward SIGTERM/SIGINT to them.

    A child that dies is replaced (dramatiq's own master does not do that). A child that exits
    with code 2 cannot start at all (bad settings), so the supervisor stops with code 2 too.
    """
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
    children = [(_spawn(command), time.monotonic()) for _ in range(processes)]
    exit_code = 0
    while not stop.wait(1.0):
        for index, (child, started) in enumerate(children):
            code = child.poll()
            if code is None:
                continue
            if code == 2:
                log.error("worker process %d could not start; stopping", child.pid)
                exit_code = 2
                stop.set()
                break
            if time.monotonic() - started < RESTART_BACKOFF_S:
                stop.wait(RESTART_BACKOFF_S)  # dying at boot: do not spin
            log.warning("worker process %d exited with %d; starting a new one", child.pid, code)
            children[index] = (_spawn(command), time.monotonic())
    for child, _started in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child, _started in children:
        child.wait()
    return exit_code


def _spawn(command: list[str]) -> subprocess.Popen[bytes]:
    # Our own interpreter and module, no shell, no user input in the command line.
    return subprocess.Popen(command)  # noqa: S603


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
    from worker.embedded import InProcessWorker
    from worker.runtime import start_runtime
    from worker.scheduler import Scheduler
    from worker.single_instance import AlreadyRunning, SchedulerLock

    runtime = _or_exit(lambda: start_runtime(settings))
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
