"""Turn the known start-up failures into one line on stderr and exit code 2."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

import typer

from strideguard.db import DatabaseError
from strideguard.settings import SettingsError

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def one_line_errors() -> Iterator[None]:
    try:
        yield
    except (SettingsError, DatabaseError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def cli_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Decorator form of `one_line_errors` for command functions."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with one_line_errors():
            return func(*args, **kwargs)

    return wrapper
