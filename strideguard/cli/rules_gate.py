"""The rules check every service runs before it starts (`serve`, `web`, `worker`, `scheduler`).

A broken RULES_PATH used to start the service anyway and fail its first admin page; now it
stops the command with the same `path:line:col:` lines as `strideguard rules check` and exit
code 2, before the database is migrated or a queue is touched. Once running, the hot reload
keeps the last good version whenever a later edit is broken.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from strideguard.settings import Settings


def require_valid_rules(settings: Settings) -> None:
    """Load and fully check RULES_PATH (else the shipped file); exit 2 if it is broken."""
    from strideguard.rules import ConfigError, load_config  # numpy: loaded to start, not for --help

    try:
        load_config(settings.rules_path)
    except ConfigError as exc:
        typer.echo(
            "error: the rules file is invalid, so the service does not start; fix it "
            "(`strideguard rules check` shows the same):",
            err=True,
        )
        for line in exc.errors:
            typer.echo(line, err=True)
        raise typer.Exit(2) from None
