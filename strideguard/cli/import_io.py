"""What `strideguard import` does: run the import service with a progress bar, then print."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import typer

from strideguard.cli.athlete_io import _database
from strideguard.cli.formats import OutputFormat
from strideguard.cli.progress import Tick, progress_bars
from strideguard.cli.rules_io import fail, stdout_console
from strideguard.integrations.files.importer import (
    ImportOutcome,
    Progress,
    UnknownAthlete,
    import_paths,
)


def run_import(athlete_id: int, paths: Sequence[Path], workers: int, output: OutputFormat) -> None:
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise fail("no such file or folder: " + ", ".join(missing), 1)
    with _database() as (settings, sessions), _bars() as progress:
        try:
            outcome = import_paths(
                sessions, athlete_id, paths, settings=settings, workers=workers, progress=progress
            )
        except UnknownAthlete as exc:
            raise fail(f"{exc} (see `strideguard athlete list`)", 1) from exc
    _print(outcome, output)
    if not outcome.imported and not outcome.duplicates:
        raise typer.Exit(1)


@contextmanager
def _bars() -> Iterator[Progress]:
    """One bar per phase (reading the inputs, storing the runs), drawn on a terminal only."""
    with progress_bars() as start:
        ticks: dict[str, Tick] = {}

        def progress(what: str, done: int, total: int) -> None:
            if what not in ticks:
                ticks[what] = start(what, total)
            ticks[what](done)

        yield progress


def _print(outcome: ImportOutcome, output: OutputFormat) -> None:
    if output is OutputFormat.json:
        typer.echo(json.dumps(outcome.to_dict(), indent=2))
        return
    out = stdout_console()
    out.print(
        f"imported {len(outcome.imported)}, duplicates {len(outcome.duplicates)}, "
        f"failed {len(outcome.failed)}"
        + (f"; {len(outcome.matches)} matched with Strava" if outcome.matches else ""),
        highlight=False,
    )
    for title, lines in (
        ("imported", outcome.imported),
        ("duplicate", [str(d) for d in outcome.duplicates]),
        ("failed", [str(p) for p in outcome.failed]),
    ):
        for line in lines:
            out.print(f"{title}: {line}", highlight=False, markup=False)
