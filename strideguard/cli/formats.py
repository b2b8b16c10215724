"""One `--format` vocabulary for every command: `table` for people, `json` for scripts.

Each command declares its option as `output: FormatOption = OutputFormat.table`, so the
choices, the flag name and the help read the same everywhere.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


FormatOption = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        case_sensitive=False,
        help="table (for people) or json (for scripts, full precision).",
    ),
]
