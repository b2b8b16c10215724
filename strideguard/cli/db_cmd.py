"""`strideguard db ...`: schema migrations.

Alembic's commands and the database layer are imported inside each command, so that loading
this module to list the commands costs nothing.
"""

from __future__ import annotations

import typer

from strideguard.cli.apps import command_group
from strideguard.cli.errors import cli_errors

app = command_group(help="Create and migrate the database schema.", no_args_is_help=True)


@app.command()
@cli_errors
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply every migration up to REVISION (default: the newest). Safe to run twice."""
    from alembic import command

    from strideguard.db import alembic_config, check_reachable, make_engine, mask_url
    from strideguard.settings import get_settings

    url = get_settings().database_url
    engine = make_engine(url)
    check_reachable(engine)
    engine.dispose()
    command.upgrade(alembic_config(url), revision)
    typer.echo(f"database {mask_url(url)} is at {revision}")


@app.command()
@cli_errors
def downgrade(
    revision: str = typer.Argument(..., help="Target revision, e.g. -1 or base."),
) -> None:
    """Revert migrations down to REVISION."""
    from alembic import command

    from strideguard.db import alembic_config, mask_url
    from strideguard.settings import get_settings

    url = get_settings().database_url
    command.downgrade(alembic_config(url), revision)
    typer.echo(f"database {mask_url(url)} downgraded to {revision}")


@app.command()
@cli_errors
def current() -> None:
    """Show the schema revision the database is at."""
    from alembic import command

    from strideguard.db import alembic_config, check_reachable, make_engine
    from strideguard.settings import get_settings

    url = get_settings().database_url
    check_reachable(make_engine(url))
    command.current(alembic_config(url))
