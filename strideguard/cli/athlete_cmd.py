"""`strideguard athlete ...`: what a coach needs for one runner, from the command line.

Only the arguments and help live here; each command imports athlete_io.py (database,
rules and email rendering) when it runs. Exit codes: 0 success; 1 the request was refused
(unknown athlete, an invalid override: nothing changed); 2 the command could not run.
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
    help="List runners, show one, set their rule overrides and channels, preview a digest."
)
channel_app = command_group(
    help="A runner's push and chat channels (Apprise URLs), besides their email."
)
app.add_typer(channel_app, name="channel")

AthleteId = Annotated[
    int, typer.Argument(help="The athlete's id (see `strideguard athlete list`).")
]


@app.command("list")
@cli_errors
def list_command(output: FormatOption = OutputFormat.table) -> None:
    """Every athlete: name, email, sources, channels and the last week judged."""
    from strideguard.cli.athlete_io import list_athletes

    list_athletes(output)


@app.command()
@cli_errors
def show(athlete_id: AthleteId, output: FormatOption = OutputFormat.table) -> None:
    """One athlete: settings, overrides, sources, channels, recent weeks and deliveries."""
    from strideguard.cli.athlete_io import show_athlete

    show_athlete(athlete_id, output)


@app.command()
@cli_errors
def override(
    athlete_id: AthleteId,
    assignments: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="RULE.PARAM=VALUE",
            help="e.g. weekly_distance_spike.threshold=40 (or RULE.enabled=false).",
            show_default=False,
        ),
    ] = None,
    clear: Annotated[
        list[str] | None,
        typer.Option(
            "--clear",
            metavar="RULE.PARAM",
            help="Drop this override, so the rules file's value applies (repeatable).",
        ),
    ] = None,
    list_only: Annotated[
        bool, typer.Option("--list", help="Show the athlete's overrides next to the defaults.")
    ] = False,
) -> None:
    """Set or clear an athlete's rule overrides, checked as `rules check` checks a file.

    An unknown rule or parameter, or a bad value, is refused with a "did you mean" hint and
    exit code 1, and nothing is saved.
    """
    from strideguard.cli.athlete_io import change_overrides

    change_overrides(athlete_id, assignments or [], clear or [], list_only=list_only)


@app.command()
@cli_errors
def preview(
    athlete_id: AthleteId,
    week: Annotated[
        dt.datetime | None,
        typer.Option(
            "--week",
            formats=["%Y-%m-%d"],
            help="The week's Monday (default: the athlete's last closed week).",
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the .eml and .html files.")] = Path(
        "var/preview"
    ),
) -> None:
    """Write the digest the rules in force would send for a week, without sending it."""
    from strideguard.cli.athlete_io import preview_week

    preview_week(athlete_id, week.date() if week else None, out)


@app.command()
@cli_errors
def add(
    email: Annotated[str, typer.Option("--email", help="Where the weekly digest goes.")],
    name: Annotated[str, typer.Option("--name", help="The runner's first name, as emails greet.")],
    timezone: Annotated[
        str, typer.Option("--timezone", help="IANA zone their weeks are counted in.")
    ] = "UTC",
    units: Annotated[
        str, typer.Option("--units", help="km or mi, for the digest and the runner page.")
    ] = "km",
    output: FormatOption = OutputFormat.table,
) -> None:
    """Add a runner who is not on Strava; their activities come from `strideguard import`.

    The address, zone and units are checked first; a bad one is refused with exit code 1 and
    nothing is saved. An address another runner already uses is refused too.
    """
    from strideguard.cli.athlete_io import add_athlete

    add_athlete(email, name, timezone, units, output)


ChannelUrl = Annotated[
    str,
    typer.Argument(
        metavar="URL",
        help="An Apprise URL, e.g. ntfy://topic or tgram://bottoken/chatid; "
        "- reads it from stdin (keeps the token out of shell history).",
    ),
]


@channel_app.command("add")
@cli_errors
def channel_add(athlete_id: AthleteId, url: ChannelUrl) -> None:
    """Add a channel; a URL Apprise cannot use is refused with the reason (exit code 1).

    The runner then gets a short notice of each digest there, and per-run alerts.
    """
    from strideguard.cli.channel_io import add_channel

    add_channel(athlete_id, url)


@channel_app.command("remove")
@cli_errors
def channel_remove(athlete_id: AthleteId, url: ChannelUrl) -> None:
    """Remove the channel with this URL, with its unsent messages."""
    from strideguard.cli.channel_io import remove_channel

    remove_channel(athlete_id, url)


@channel_app.command("list")
@cli_errors
def channel_list(athlete_id: AthleteId, output: FormatOption = OutputFormat.table) -> None:
    """The runner's channels by label (never the URL), status and why one is off."""
    from strideguard.cli.channel_io import list_channels

    list_channels(athlete_id, output)
