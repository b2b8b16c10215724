"""`strideguard strava-sim`: run the Strava simulator, or write a seed file for it.

strideguard strava-sim --port 8001 --athletes seed.json     # serve until Ctrl-C
strideguard strava-sim generate --athletes 50 --weeks 16 --out seed.json
"""

from __future__ import annotations

import json
import signal
from datetime import date
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from strideguard.cli.apps import command_group
from strideguard.cli.formats import FormatOption, OutputFormat

app = command_group(
    help="The Strava simulator: a Strava look-alike on loopback for the demo, tests and "
    "benchmarks.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _limits(raw: str, option: str) -> tuple[int, int]:
    try:
        short, daily = (int(part) for part in raw.split(","))
    except ValueError:
        raise typer.BadParameter(f'{option} takes "15MIN,DAILY", e.g. "100,1000"') from None
    return short, daily


def _stop_on_term(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@app.callback()
def serve(
    ctx: typer.Context,
    port: int = typer.Option(8001, help="TCP port on the interface (0 = any free port)."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    athletes: Annotated[
        Path | None,
        typer.Option(
            help="Seed file (JSON list of athlete, activities, gear). "
            "Default: one demo athlete whose history trips every rule."
        ),
    ] = None,
    client_id: int = typer.Option(1234, help="The simulated application's client id."),
    client_secret: str = typer.Option("sim-secret", help="Its client secret."),
    auto_approve: bool = typer.Option(
        False, help="Approve /oauth/authorize at once instead of showing the consent page."
    ),
    read_limits: str = typer.Option("100,1000", help="Read limit per 15 min and per day."),
    overall_limits: str = typer.Option("200,2000", help="Overall limit per 15 min and per day."),
) -> None:
    """Serve the simulated Strava until Ctrl-C (unless a sub-command is given)."""
    if ctx.invoked_subcommand is not None:
        return
    from strideguard.integrations.strava.simulator import Simulator
    from strideguard.integrations.strava.simulator.generator import generate_history
    from strideguard.integrations.strava.simulator.seedfile import SeedError, load_seed

    try:
        seed = load_seed(athletes) if athletes else [generate_history(1, scenario="demo")]
    except SeedError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    sim = Simulator(
        seed,
        client_id=client_id,
        client_secret=client_secret,
        read_limits=_limits(read_limits, "--read-limits"),
        overall_limits=_limits(overall_limits, "--overall-limits"),
        auto_approve=auto_approve,
    )
    try:
        base_url = sim.start(host, port)
    except OSError as exc:
        typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"Strava simulator serving {len(seed)} athlete(s) at {base_url}")
    typer.echo(f"STRAVA_BASE_URL={base_url}")
    typer.echo(f"STRAVA_CLIENT_ID={client_id}")
    typer.echo(f"STRAVA_CLIENT_SECRET={client_secret}")
    typer.echo("Press Ctrl-C to stop.")
    signal.signal(signal.SIGTERM, _stop_on_term)  # containers stop with SIGTERM
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        typer.echo("stopped")


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Where to write the seed file (JSON).")],
    athletes: int = typer.Option(10, min=1, help="How many athletes."),
    weeks: int = typer.Option(16, min=1, help="Weeks of history per athlete."),
    end: str | None = typer.Option(
        None, help="Last day of history, YYYY-MM-DD (default: last Sunday)."
    ),
    seed: int = typer.Option(0, help="Random seed; the same seed gives the same file."),
    scenario: str | None = typer.Option(
        None,
        help='"demo": plant the demo patterns; "all-rules": a last week that fires every '
        "enabled training rule (both need --weeks >= 16).",
    ),
    output_format: FormatOption = OutputFormat.table,
) -> None:
    """Write realistic Strava histories for N athletes in mixed time zones."""
    from strideguard.cli.progress import progress_bars
    from strideguard.integrations.strava.simulator.generator import generate_seed
    from strideguard.integrations.strava.simulator.seedfile import write_seed

    try:
        last_day = date.fromisoformat(end) if end else None
    except ValueError:
        raise typer.BadParameter(f"--end {end!r} is not a date like 2025-10-19") from None
    try:
        with progress_bars() as start:
            entries = generate_seed(
                athletes,
                weeks,
                seed=seed,
                end=last_day,
                scenario=scenario,
                progress=start("generating athletes", athletes),
            )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    write_seed(entries, out)
    activities = sum(len(e["activities"]) for e in entries)
    if output_format is OutputFormat.json:
        typer.echo(json.dumps({"out": str(out), "athletes": athletes, "activities": activities}))
    else:
        typer.echo(f"wrote {athletes} athletes, {activities} activities to {out}")
