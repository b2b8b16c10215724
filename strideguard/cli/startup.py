"""Start-up steps that wait for PostgreSQL and Redis instead of exiting the moment one is away.

Services start in any order (a host reboot, a compose restart, a Redis failover), and a
process that exits at once leaves the tier down wherever nothing restarts it. Each step is
retried with a growing pause for up to STARTUP_WAIT_SECONDS, logging what it waits for; only
then does the process give up, with exit code 75 so its supervisor knows a retry may help.
A wrong setting is not waited for: it stops start-up at once with exit code 2.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import typer

from strideguard.cli.errors import EXIT_UNAVAILABLE

if TYPE_CHECKING:
    from strideguard.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_PAUSE_S = 1.0
MAX_PAUSE_S = 10.0


def when_reachable(step: Callable[[], T], settings: Settings) -> T:
    """Run `step`, retrying while the database or Redis does not answer.

    Gives up after `settings.startup_wait_seconds` with one line on stderr and exit code 75.
    Errors that a retry cannot fix (a wrong schema revision, bad settings) pass straight up.
    """
    from strideguard.db import DatabaseUnreachable
    from strideguard.worker.broker import BrokerError

    deadline = time.monotonic() + settings.startup_wait_seconds
    pause = FIRST_PAUSE_S
    while True:
        try:
            return step()
        except (DatabaseUnreachable, BrokerError) as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(EXIT_UNAVAILABLE) from None
            pause = min(pause, left)
            # The messages carry masked URLs only (db.mask_url, broker._mask).
            log.warning(
                "waiting for a dependency: %s Retrying in %.0f s (giving up in %.0f s).",
                exc,
                pause,
                left,
            )
            time.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE_S)
