"""`strideguard web`: the web app alone, as the `web` service of a split deployment."""

from __future__ import annotations

import typer

from strideguard.cli.errors import cli_errors
from strideguard.cli.rules_gate import require_valid_rules
from strideguard.cli.startup import when_reachable
from strideguard.cli.worker_cmd import attach_worker_or_exit
from strideguard.heap import freeze_startup_objects
from strideguard.logs import configure_logging


@cli_errors
def web(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port."),
) -> None:
    """Run the web app (connect page, Strava callback and webhook, email links).

    Without REDIS_URL it also runs the background jobs and the scheduler in this process.
    An unreachable database or Redis is waited for (STARTUP_WAIT_SECONDS) before it gives up.
    """
    from strideguard.db import check_migrated, make_engine
    from strideguard.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level)
    require_valid_rules(settings)
    engine = make_engine(settings.database_url)
    when_reachable(lambda: check_migrated(engine), settings)
    engine.dispose()
    from strideguard.web import serving
    from strideguard.web.app import create_app  # the web stack is heavy: load on use

    app = create_app(settings)
    attach_worker_or_exit(app, settings)
    freeze_startup_objects()
    serving.run(app, settings, host, port)
