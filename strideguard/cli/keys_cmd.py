"""`strideguard keys ...`: make the secrets a deployment needs."""

from __future__ import annotations

import secrets

import typer

from strideguard.cli.apps import command_group

app = command_group(help="Generate secrets for .env.", no_args_is_help=True)


@app.command()
def generate() -> None:
    """Print fresh TOKEN_ENCRYPTION_KEY and SECRET_KEY lines to paste into .env."""
    from cryptography.fernet import Fernet

    typer.echo(f"TOKEN_ENCRYPTION_KEY={Fernet.generate_key().decode()}")
    typer.echo(f"SECRET_KEY={secrets.token_urlsafe(48)}")
