"""When two activity records are one run, for the file reader and the stored rows alike.

They are when they start within 60 s of each other and their distances differ by at most 2 %
of the longer one; two activities without distance (strength sessions) match on the start
alone. Plain Python, so the file reader can use it without loading the database layer.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

SAME_START = dt.timedelta(seconds=60)
SAME_DISTANCE = 0.02


class Timed(Protocol):
    @property
    def start_date(self) -> dt.datetime: ...
    @property
    def distance_m(self) -> int: ...


def same_activity(a: Timed, b: Timed) -> bool:
    """True when `a` and `b` are one run recorded or listed twice (see the module docstring)."""
    if abs(a.start_date - b.start_date) > SAME_START:
        return False
    longer = max(a.distance_m, b.distance_m)
    return abs(a.distance_m - b.distance_m) <= SAME_DISTANCE * longer
