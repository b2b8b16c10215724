"""Turn the known start-up failures into one line on stderr and exit code 2."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import typer

P = ParamSpec("P")
R = TypeVar("R")


def cli_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command so settings and database problems end as one line and exit code 2."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        # Imported on call: every command module is loaded for `strideguard --help`, which
        # needs neither the database layer nor the settings.
        from strideguard.db import DatabaseError
        from strideguard.settings import SettingsError

        try:
            return func(*args, **kwargs)
        except (SettingsError, DatabaseError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None

    return wrapper
