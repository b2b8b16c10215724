"""Turn the known start-up failures into one line on stderr and a meaningful exit code.

Two codes, because a supervisor (ours, systemd, compose) must tell them apart: 2 means the
configuration is wrong and restarting cannot help; 75 (EX_TEMPFAIL) means PostgreSQL or Redis
did not answer, which a restart a little later may well fix.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import typer

P = ParamSpec("P")
R = TypeVar("R")

EXIT_SETTINGS = 2
EXIT_UNAVAILABLE = 75


def cli_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command so settings and database problems end as one line and an exit code."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        # Imported on call: every command module is loaded for `strideguard --help`, which
        # needs neither the database layer nor the settings.
        from strideguard.db import DatabaseError, DatabaseUnreachable
        from strideguard.settings import SettingsError

        try:
            return func(*args, **kwargs)
        except (SettingsError, DatabaseError) as exc:
            typer.echo(f"error: {exc}", err=True)
            unreachable = isinstance(exc, DatabaseUnreachable)
            raise typer.Exit(EXIT_UNAVAILABLE if unreachable else EXIT_SETTINGS) from None

    return wrapper
