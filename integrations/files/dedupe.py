"""The same run from two sources counts once.

Two activities are the same run when they start within 60 s of each other and their
distances differ by at most 2 % of the longer one (two activities without distance, such as
strength sessions, match on the start alone). Of a matching group the one with the better
data is kept: the higher `Detail` (a FIT file's device totals, over a timed GPX/TCX track,
over totals only, over a hand-typed entry), then the one that names its device and gear;
a tie keeps the one seen first, so re-reading the same sources never flips the choice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from integrations.files.record import FileActivity

SAME_START = dt.timedelta(seconds=60)
SAME_DISTANCE = 0.02


class Timed(Protocol):
    @property
    def start_date(self) -> dt.datetime: ...
    @property
    def distance_m(self) -> int: ...


T = TypeVar("T", bound=Timed)


def same_activity(a: Timed, b: Timed) -> bool:
    """True when `a` and `b` are one run recorded or listed twice (see the module docstring)."""
    if abs(a.start_date - b.start_date) > SAME_START:
        return False
    longer = max(a.distance_m, b.distance_m)
    return abs(a.distance_m - b.distance_m) <= SAME_DISTANCE * longer


def data_rank(activity: FileActivity) -> tuple[int, int, int]:
    """Higher is better: the detail level, then whether the device and the gear are named."""
    return (int(activity.detail), activity.device is not None, activity.gear_name is not None)


@dataclass(frozen=True)
class Duplicate(Generic[T]):
    dropped: T
    kept: T


@dataclass(frozen=True)
class Deduplicated(Generic[T]):
    kept: list[T]
    duplicates: list[Duplicate[T]]


def deduplicate(items: Sequence[T], rank: Callable[[T], tuple[int, ...]]) -> Deduplicated[T]:
    """Each run once, the best-ranked of its copies; `duplicates` says what replaced what.

    Pure and order-stable: `kept` is in the order of `items`' first copies. Sorting by start
    bounds each comparison to the neighbours within 60 s.
    """
    order = sorted(range(len(items)), key=lambda i: items[i].start_date)
    winner: dict[int, int] = {}  # item index -> index of the group's current best
    groups: dict[int, list[int]] = {}
    for position, index in enumerate(order):
        head = index
        for other in reversed(order[:position]):
            if items[index].start_date - items[other].start_date > SAME_START:
                break
            if same_activity(items[index], items[other]):
                head = winner[other]
                break
        winner[index] = head
        groups.setdefault(head, []).append(index)
    kept: list[T] = []
    duplicates: list[Duplicate[T]] = []
    for members in sorted((sorted(group) for group in groups.values()), key=lambda g: g[0]):
        best = max(members, key=lambda i: (rank(items[i]), -i))
        kept.append(items[best])
        duplicates.extend(Duplicate(items[i], items[best]) for i in members if i != best)
    return Deduplicated(kept, duplicates)
