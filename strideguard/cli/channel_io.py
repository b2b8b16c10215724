"""What `strideguard athlete channel ...` reads, changes and prints.

The URL is checked by Apprise exactly as the preferences page checks it
(integrations/apprise/store.py), and printed back only as its label: it holds a secret.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

import typer

from strideguard import athlete_detail
from strideguard.cli.athlete_io import _athlete, _database, _table
from strideguard.cli.formats import OutputFormat
from strideguard.cli.rules_io import stdout_console
from strideguard.db import transaction
from strideguard.integrations.apprise import store
from strideguard.integrations.apprise.urls import RefusedUrl
from strideguard.web.admin_queries import channel_rows


def read_url(url: str) -> str:
    """`-` reads the URL from stdin, which keeps a bot token out of shell history."""
    return sys.stdin.readline().strip() if url == "-" else url.strip()


def add_channel(athlete_id: int, url: str) -> None:
    with _database() as (settings, sessions):
        try:
            with transaction(sessions) as session:
                _athlete(session, athlete_id)
                channel = store.add(session, settings, athlete_id, read_url(url))
                label, channel_id = channel.label, channel.id
        except RefusedUrl as exc:
            typer.echo(f"error: {exc}", err=True)
            typer.echo("nothing was changed", err=True)
            raise typer.Exit(1) from None
    typer.echo(f"athlete {athlete_id}: channel {channel_id} added, {label}")


def remove_channel(athlete_id: int, url: str) -> None:
    with _database() as (settings, sessions), transaction(sessions) as session:
        _athlete(session, athlete_id)
        label = store.remove(session, settings, athlete_id, read_url(url))
    if label is None:
        typer.echo(
            f"error: athlete {athlete_id} has no channel with this URL "
            f"(see `strideguard athlete channel list {athlete_id}`)",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"athlete {athlete_id}: channel removed, {label}")


def list_channels(athlete_id: int, output: OutputFormat) -> None:
    with _database() as (_, sessions), sessions() as session:
        _athlete(session, athlete_id)
        rows = channel_rows(session, [athlete_id]).get(athlete_id, [])
    if output is OutputFormat.json:
        typer.echo(json.dumps([athlete_detail.jsonable(asdict(row)) for row in rows], indent=2))
        return
    table = _table(
        f"Channels of athlete {athlete_id} ({len(rows)}, besides email)",
        *("id", "kind", "channel", "status", "why off", "added"),
    )
    for row in rows:
        table.add_row(
            str(row.id),
            row.kind,
            row.label,
            row.status,
            row.off_reason or "",
            f"{row.created_at:%Y-%m-%d}",
        )
    stdout_console().print(table)
