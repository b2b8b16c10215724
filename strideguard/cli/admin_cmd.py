"""`strideguard admin ...`: set up access to the admin view."""

from __future__ import annotations

import typer

from strideguard.cli.apps import command_group
from strideguard.cli.errors import cli_errors
from strideguard.passwords import hash_password

app = command_group(help="Admin view access and operator actions.", no_args_is_help=True)


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


@app.command()
@cli_errors
def unsubscribe(email: str = typer.Argument(..., help="The address that asked to stop.")) -> None:
    """Stop all mail to EMAIL, as a request sent to the List-Unsubscribe mailbox asks."""
    from sqlalchemy import CursorResult, func, update

    from strideguard.db import check_migrated, make_engine, make_sessionmaker, transaction
    from strideguard.email_address import EmailAddressError, check_email_address
    from strideguard.models import Athlete
    from strideguard.settings import get_settings
    from strideguard.status import EmailStatus

    try:
        # The forms' rule, so a mistyped request gets its reason, not "no athlete has it".
        address = check_email_address(email)
    except EmailAddressError as problem:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2) from None
    settings = get_settings()
    engine = make_engine(settings.database_url)
    check_migrated(engine)
    with transaction(make_sessionmaker(engine)) as session:
        result = session.execute(
            update(Athlete)
            .where(func.lower(Athlete.email) == address.lower())
            .values(email_status=EmailStatus.UNSUBSCRIBED, email_status_reason="asked by email")
        )
        count = result.rowcount if isinstance(result, CursorResult) else 0
    engine.dispose()
    if not count:
        typer.echo(f"no athlete has the address {address}", err=True)
        raise typer.Exit(1)
    typer.echo(f"unsubscribed {count} athlete(s) with the address {address}")
