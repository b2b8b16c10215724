"""`strideguard strava ...`: Strava housekeeping an operator runs by hand."""

from __future__ import annotations

import json

import typer

from strideguard.cli.apps import command_group
from strideguard.cli.errors import cli_errors
from strideguard.cli.formats import FormatOption, OutputFormat

app = command_group(
    help="Strava connection housekeeping.",
    no_args_is_help=True,
)


@app.command()
@cli_errors
def subscribe(
    output: FormatOption = OutputFormat.table,
) -> None:
    """Create or repair the webhook subscription at PUBLIC_BASE_URL/strava/webhook/<secret>.

    The secret is derived from SECRET_KEY, so only Strava knows where to post events. Lists the
    application's subscriptions, deletes one pointing elsewhere (including the old callback
    without a secret), creates ours if needed (Strava then calls our webhook to check the verify
    token, so the web app must be reachable), and records its id so forged events are refused.
    """
    from stravalib import exc as strava_exc

    from strideguard.db import check_migrated, make_engine, make_sessionmaker
    from strideguard.integrations.strava.context import make_context
    from strideguard.integrations.strava.errors import StravaError
    from strideguard.integrations.strava.subscription import ensure_subscription
    from strideguard.settings import get_settings

    settings = get_settings()
    engine = make_engine(settings.database_url)
    check_migrated(engine)
    ctx = make_context(settings, make_sessionmaker(engine))
    try:
        done = ensure_subscription(ctx)
    except (StravaError, strava_exc.Fault) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    if output is OutputFormat.json:
        typer.echo(json.dumps({"actions": done}))
    else:
        for line in done:
            typer.echo(line)
