"""A progress bar on stderr for commands that can run longer than a second.

Drawn only on a terminal, so pipes, files and tests see clean output; it disappears when the
work is done, leaving stdout as the command's result.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

Tick = Callable[[int], None]


@contextmanager
def progress_bars() -> Iterator[Callable[[str, int], Tick]]:
    """Yield `start(description, total)`, which adds a bar and returns its `tick(done)`."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not sys.stderr.isatty(),
        transient=True,
    ) as bar:

        def start(description: str, total: int) -> Tick:
            task = bar.add_task(description, total=total)
            return lambda done: bar.update(task, completed=done)

        yield start
