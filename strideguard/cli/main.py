"""The `strideguard` command. Each box adds its own sub-command module here.

Every sub-command module is loaded to list the commands, so each imports its box inside the
command function, never at the top: `strideguard --help` and a worker process would otherwise
load numpy, alembic's commands, the web stack and the Strava simulator on every start
(tests/spine/test_startup_imports.py keeps it so).

Exit codes follow the usual habit: 0 success, 1 the command ran and found a problem (for example
an invalid rules file), 2 the command could not run (bad settings, unreachable database).
"""

from __future__ import annotations

from typing import Annotated

import typer

from strideguard.cli import (
    admin_cmd,
    athlete_cmd,
    db_cmd,
    demo_cmd,
    import_cmd,
    keys_cmd,
    rules_cmd,
    serve_cmd,
    sim_cmd,
    strava_cmd,
    web_cmd,
    worker_cmd,
)
from strideguard.cli.apps import command_group

app = command_group(
    name="strideguard",
    help="Injury-risk warnings for runners, from their Strava training.",
    no_args_is_help=True,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"strideguard {version('strideguard')}")
        raise typer.Exit()


@app.callback()
def _main(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the installed version and exit.",
        ),
    ] = False,
) -> None:
    """Injury-risk warnings for runners, from their Strava training."""


app.add_typer(db_cmd.app, name="db")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(rules_cmd.app, name="rules")
app.add_typer(admin_cmd.app, name="admin")
app.add_typer(athlete_cmd.app, name="athlete")
app.add_typer(sim_cmd.app, name="strava-sim")
app.add_typer(strava_cmd.app, name="strava")
app.command("web")(web_cmd.web)
app.command("demo")(demo_cmd.demo)
app.command("import")(import_cmd.import_files)
app.command("serve")(serve_cmd.serve)
app.command("worker")(worker_cmd.worker)
app.command("scheduler")(worker_cmd.scheduler)


if __name__ == "__main__":  # pragma: no cover
    app()
