"""`strideguard rules ...`: check a rules file, evaluate it on a Strava export, backtest it.

Only the commands' arguments and help live here; each command imports what it reads and
prints (rules_io.py, backtest_io.py) when it runs, since that needs numpy, rich and the
database layer. Exit codes: 0 success; 1 the rules file is invalid (one `path:line:col:
message` per line on stderr) or, for the backtest, an athlete's overrides are; 2 the command
could not run (unreadable activities or export file, bad settings, database).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from strideguard.cli.apps import command_group
from strideguard.cli.errors import cli_errors
from strideguard.cli.formats import FormatOption, OutputFormat

app = command_group(
    help="Check, evaluate and backtest the injury-risk rules (rules.yaml).",
    no_args_is_help=True,
)


@app.command()
@cli_errors
def check(
    path: Annotated[
        Path | None,
        typer.Argument(
            help="Rules file to check (default: RULES_PATH, else the shipped rules.yaml)."
        ),
    ] = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Validate a rules file: exit 0 with a summary, or 1 with one `path:line:col:` error a line.

    Every rule is also run once on a built-in sample history, so a rule that cannot be
    computed fails here too.
    """
    from strideguard.cli.rules_io import check_file

    check_file(path, output)


@app.command()
def metrics() -> None:
    """List the metrics and functions a rule's expressions may use."""
    from strideguard.cli.rules_io import print_metrics

    print_metrics()


@app.command()
@cli_errors
def evaluate(
    activities: Annotated[
        Path,
        typer.Option(
            "--activities",
            help="JSON array of Strava SummaryActivity objects, as GET /athlete/activities "
            "returns; or FIT/GPX/TCX files (plain or .gz), a folder of them, or a Strava "
            "export ZIP or folder.",
        ),
    ],
    rules_path: Annotated[
        Path | None,
        typer.Option(
            "--rules", help="Rules file (default: RULES_PATH, else the shipped rules.yaml)."
        ),
    ] = None,
    athlete_tz: str | None = typer.Option(
        None,
        "--athlete-tz",
        help=(
            "The runner's IANA zone. Used (1) to place activities that lack start_date_local "
            "and their own timezone, and (2) to decide which week is still open today; that "
            "week is marked 'open' (its days are not all over yet). Default: the zone of the "
            "latest activity, else UTC."
        ),
    ),
    today: Annotated[
        dt.datetime | None,
        typer.Option(
            "--today", formats=["%Y-%m-%d"], help="Judge the open week as of this local date."
        ),
    ] = None,
    fired_only: Annotated[
        bool, typer.Option("--fired-only", help="Show only the findings that fired.")
    ] = False,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Evaluate the rules on one runner's activities (Strava JSON, FIT/GPX/TCX files or an
    export): every finding, every week, first to last."""
    from strideguard.cli.rules_io import evaluate_export

    evaluate_export(activities, rules_path, athlete_tz, today, output, fired_only=fired_only)


@app.command("backtest")
@cli_errors
def backtest_command(
    weeks: int = typer.Option(12, "--weeks", min=1, max=520, help="How many past weeks."),
    rules_path: Annotated[
        Path | None,
        typer.Option("--rules", help="Candidate rules file, shown next to the config in force."),
    ] = None,
    until: Annotated[
        dt.datetime | None,
        typer.Option(
            "--until",
            formats=["%Y-%m-%d"],
            help="Last week to count (default: the newest closed week with activities).",
        ),
    ] = None,
    athlete: Annotated[
        int | None,
        typer.Option("--athlete", help="Only this athlete (see `athlete list`), with overrides."),
    ] = None,
    population: Annotated[
        int | None,
        typer.Option(
            "--population",
            min=1,
            max=100_000,
            help="Replay N runners made by the Strava simulator's generator instead of the "
            "stored history, for tuning before anyone has connected.",
        ),
    ] = None,
    seed: Annotated[
        int,
        typer.Option("--seed", help="Generator seed for --population (same seed, same runners)."),
    ] = 0,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export",
            help="Replay a runner's Strava bulk export (the ZIP from 'Download your data', or "
            "its folder) or a folder of FIT/GPX/TCX files instead of the stored history.",
        ),
    ] = None,
    athlete_tz: Annotated[
        str | None,
        typer.Option(
            "--athlete-tz",
            help="The runner's IANA zone for --export activities that carry no zone or "
            "position of their own (default: UTC).",
        ),
    ] = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Count the alerts a config would have sent over past weeks, next to the config in force.

    Reads every athlete's stored activities from DATABASE_URL (or a generated population, or
    a bulk export) and applies each athlete's rule overrides and muted rules. Only complete,
    observed weeks count, as the live service judges them; a warning says when the history
    is shorter than the weeks asked for. The config in force is RULES_PATH (else the shipped
    file). Exit 1 when an athlete's overrides are invalid.
    """
    from strideguard.cli.backtest_io import BacktestRequest, backtest_history

    backtest_history(
        BacktestRequest(
            weeks=weeks,
            rules_path=rules_path,
            until=until.date() if until else None,
            output=output,
            athlete_id=athlete,
            population=population,
            seed=seed,
            export=export,
            athlete_tz=athlete_tz,
        )
    )
