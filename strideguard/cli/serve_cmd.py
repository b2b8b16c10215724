"""`strideguard serve`: the whole service in one process, for one runner or a small club."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from strideguard.cli.errors import cli_errors
from strideguard.cli.rules_gate import require_valid_rules
from strideguard.cli.worker_cmd import attach_worker_or_exit
from strideguard.heap import freeze_startup_objects
from strideguard.logs import configure_logging

log = logging.getLogger(__name__)

OUTBOX = Path("var/outbox")


@cli_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
) -> None:
    """Run web, worker threads and the scheduler together.

    On the embedded default (SQLite, no Redis) the database is migrated on start, and without
    SMTP_URL every digest still goes through SMTP, to a local sink that files it under
    var/outbox/. With DATABASE_URL and REDIS_URL set the same code runs split instead:
    `strideguard web`, `strideguard worker` and `strideguard scheduler`.
    """
    from alembic import command

    from strideguard.db import alembic_config, check_migrated, check_reachable, make_engine
    from strideguard.mailsink import OutboxSink
    from strideguard.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level)
    require_valid_rules(settings)
    engine = make_engine(settings.database_url)
    if settings.embedded:
        check_reachable(engine)
        command.upgrade(alembic_config(settings.database_url), "head")
    check_migrated(engine)
    engine.dispose()
    sink: OutboxSink | None = None
    if not settings.smtp_url:
        sink = OutboxSink(OUTBOX).start()
        settings = settings.model_copy(update={"smtp_url": sink.smtp_url})
        log.warning("SMTP_URL is not set: digests are filed under %s/ as .eml and .html", OUTBOX)
    from strideguard.web import serving
    from strideguard.web.app import create_app  # the web stack is heavy: load on use

    app = create_app(settings)
    attach_worker_or_exit(app, settings, run_jobs=True)
    try:
        freeze_startup_objects()
        serving.run(app, settings, host, port)
    finally:
        if sink is not None:
            sink.stop()
