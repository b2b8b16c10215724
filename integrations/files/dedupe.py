"""The same run from two sources counts once.

Two activities are the same run by `strideguard.same_run` (start within 60 s, distance
within 2 %), the test the stored rows of two sources are matched by too. Of a matching group
the one with the better data is kept: the higher `Detail` (a FIT file's device totals, over
a timed GPX/TCX track, over totals only, over a hand-typed entry), then the one that names
its device and gear;
a tie keeps the one seen first, so re-reading the same sources never flips the choice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from strideguard.integrations.files.record import FileActivity
from strideguard.same_run import SAME_START, Timed, same_activity

T = TypeVar("T", bound=Timed)


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
