"""`strideguard import ID PATH...`: store a runner's own activity files.

Only the arguments and help live here; `import_io.py` runs it. Exit codes: 0 the import ran
(even if some files failed: they are listed); 1 nothing could be imported at all or the
athlete is unknown; 2 the command could not run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from strideguard.cli.errors import cli_errors
from strideguard.cli.formats import FormatOption, OutputFormat


@cli_errors
def import_files(
    athlete_id: Annotated[
        int, typer.Argument(help="The athlete's id (`strideguard athlete list`).")
    ],
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="FIT, GPX or TCX files (each optionally .gz), folders of them, or Strava "
            "export ZIPs or unpacked export folders.",
            show_default=False,
        ),
    ],
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=16, help="Processes reading an export.")
    ] = 1,
    output: FormatOption = OutputFormat.table,
) -> None:
    """Import a runner's files: what was imported, skipped as a duplicate, and what failed.

    Re-importing is a no-op; the same run from a file and from Strava counts once. Runs older
    than FILE_RETENTION_DAYS are not stored.
    """
    from strideguard.cli.import_io import run_import

    run_import(athlete_id, paths, workers, output)
