"""`strideguard demo`: see the whole product work on one generated runner, offline."""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from strideguard.cli.errors import cli_errors
from strideguard.logs import configure_logging

if TYPE_CHECKING:
    from rich.table import Table

    from strideguard.demo import WeekResult


@cli_errors
def demo(
    outbox: Annotated[Path, typer.Option(help="Folder for the delivered emails.")] = Path(
        "var/outbox"
    ),
    workdir: Annotated[Path, typer.Option(help="Folder for the demo's SQLite file.")] = Path(
        "var/demo"
    ),
    scenario: Annotated[
        str,
        typer.Option(
            help='"demo": the usual risky weeks; "all-rules": a runner whose weeks together '
            "fire every enabled rule, four or more in one week, back-pain check-ins included."
        ),
    ] = "demo",
    keep_running: Annotated[
        bool,
        typer.Option("--keep-running", help="Leave the web app up afterwards (Ctrl-C stops it)."),
    ] = False,
) -> None:
    """Connect a simulated runner, replay 16 weeks, and deliver each risky week's digest.

    Needs no server and no network: the Strava simulator, the database (SQLite), the queue
    (in-process) and the mail server (a local sink writing .eml and .html files) all run here.
    """
    # Imported here: the demo pulls in the simulator, the worker and the web app, and
    # `strideguard --help` should not wait for them.
    from rich.console import Console

    from strideguard.demo import DEMO_EMAIL, DEMO_WEEKS, DEMO_ZONE, Demo, DemoError

    configure_logging("WARNING")
    logging.getLogger("strideguard.settings").setLevel(logging.ERROR)
    console = Console()
    admin_password = secrets.token_urlsafe(12) if keep_running else None
    try:
        with Demo(workdir, outbox, admin_password=admin_password, scenario=scenario) as run:
            console.print(
                f"Strava simulator at {run.simulator.base_url}; strideguard at {run.base_url}"
            )
            console.print(
                f"Connecting a runner in {DEMO_ZONE} with {DEMO_WEEKS} weeks of training "
                f"(/connect -> Strava consent -> /strava/callback, email {DEMO_EMAIL})..."
            )
            run.connect()
            console.print("Backfill done. Evaluating each closed week as its Monday comes...")
            results = run.evaluate(run.weeks)
            console.print(_table(results))
            sent = sum(1 for r in results if r.email)
            console.print(f"{sent} digests delivered over SMTP into {outbox}/ (.eml and .html).")
            if keep_running:
                console.print(
                    f"The web app stays up at {run.base_url}: open the .html files and follow "
                    f"their links to the preferences page, or sign in at {run.base_url}/admin "
                    f"with the password {admin_password} (this run only). Ctrl-C to stop."
                )
                _wait_for_interrupt()
    except DemoError as exc:
        typer.echo(f"error: demo failed: {exc}", err=True)
        raise typer.Exit(1) from None


def _table(results: list[WeekResult]) -> Table:
    from rich.table import Table

    table = Table(title="The runner's weeks")
    table.add_column("week of")
    table.add_column("rules fired")
    table.add_column("email")
    for result in results:
        table.add_row(
            result.week_start.isoformat(),
            ", ".join(result.rules) or "-",
            str(result.email) if result.email else "-",
        )
    return table


def _wait_for_interrupt() -> None:
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
