"""`strideguard admin ...`: set up access to the admin view."""

from __future__ import annotations

import typer

from strideguard.passwords import hash_password

app = typer.Typer(help="Admin view access.", no_args_is_help=True)


@app.command("hash-password")
def hash_password_command(
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True, help="The admin password."
    ),
) -> None:
    """Print an ADMIN_PASSWORD_HASH line for .env; the password itself is never stored."""
    if len(password) < 10:
        typer.echo("error: use at least 10 characters", err=True)
        raise typer.Exit(1)
    typer.echo(f"ADMIN_PASSWORD_HASH={hash_password(password)}")
