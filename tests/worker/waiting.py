"""Waiting for background work, driving the reconciler, and worker processes, for the tests.

Tests wait for an outcome in the database (never for a fixed time) and fail with what the
rows looked like when the outcome did not come. The deadline is generous because passing
costs only the time the outcome takes: on a machine whose cores are busy with other work a
backed-off retry chain that takes 20 s when quiet can take over a minute.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

from strideguard.runtime import WorkerRuntime
from strideguard.worker.scheduler import Scheduler

TIMEOUT_S = 150.0


def wait_for(
    check: Callable[[], bool],
    *,
    what: str = "condition",
    timeout_s: float = TIMEOUT_S,
    tick: Callable[[], object] | None = None,
) -> None:
    """Poll `check` until it holds; `tick` runs before each poll (e.g. a scheduler tick)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if tick is not None:
            tick()
        if check():
            return
        time.sleep(0.1 if tick is None else 0.3)
    raise AssertionError(f"timed out waiting for {what}")


def reconcile_until(runtime: WorkerRuntime, check: Callable[[], bool], what: str) -> None:
    """Tick the scheduler (and so its reconciler) until `check` holds, as the scheduler would."""
    wait_for(check, what=what, tick=Scheduler(runtime).tick)


def worker_process() -> subprocess.Popen[bytes]:
    """`strideguard worker` as operators run it, with this test's settings in its environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "strideguard.cli.main", "worker", "--threads", "2"],
        env=dict(os.environ),
    )


def children_of(pid: int) -> set[int]:
    """The live child processes of `pid` (Linux)."""
    with open(f"/proc/{pid}/task/{pid}/children") as listing:
        return {int(child) for child in listing.read().split()}
