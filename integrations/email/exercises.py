"""The exercise library (email_templates/exercises.yaml) and the weekly rotation.

The library is content a coach edits, so a mistake in it must name the exercise and field.
Picks are deterministic from athlete id, week and rule: re-rendering a digest gives the same
email, the next week gives a different list, and two runners in the same week see different
starting points. Within one email an exercise is shown once: a later rule whose pool is used
up shows fewer cards rather than a repeat, and never cards outside its focus (a rest-day nudge
must not grow loaded lifts, nor a shoe reminder trunk work).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TAGS = frozenset({"trunk", "hips", "legs", "mobility", "load", "feet"})
# Used when a rule names no focus (or only tags nobody wrote exercises for).
DEFAULT_FOCUS = ("trunk", "hips")
MIN_PICKS = 2
MAX_PICKS = 3  # the email shows 2-4; three keeps it short and still leaves room to rotate


class ExerciseLibraryError(Exception):
    """exercises.yaml is unusable; the message names the file, the exercise and the field."""


@dataclass(frozen=True)
class Exercise:
    id: str
    name: str
    tags: tuple[str, ...]
    how: str
    dose: str
    often: str  # how many times a week, printed next to the dose
    easier: str | None  # a gentler version; for loaded moves, the one without weights
    claim: str  # the claim text itself, already resolved from `claims`
    claim_kind: str


@dataclass(frozen=True)
class ExerciseLibrary:
    exercises: tuple[Exercise, ...]

    def pool(self, focus: Iterable[str]) -> list[Exercise]:
        """Exercises for `focus`, interleaved by tag so a window of picks mixes the tags."""
        wanted = [tag for tag in dict.fromkeys(focus) if tag in TAGS]
        return self._interleaved(wanted) or self._interleaved(DEFAULT_FOCUS)

    def _interleaved(self, tags: Sequence[str]) -> list[Exercise]:
        by_tag = [[e for e in self.exercises if tag in e.tags] for tag in tags]
        ordered: list[Exercise] = []
        for rank in range(max((len(group) for group in by_tag), default=0)):
            for group in by_tag:
                if rank < len(group) and group[rank] not in ordered:
                    ordered.append(group[rank])
        return ordered


def load_library(path: Path) -> ExerciseLibrary:
    """Read and check the library; every problem is reported as `file: exercise.field: what`."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ExerciseLibraryError(f"{path}: cannot read the exercise library: {exc}") from None
    if not isinstance(raw, dict):
        raise ExerciseLibraryError(f"{path}: expected keys 'claims' and 'exercises'")
    claims = raw.get("claims")
    entries = raw.get("exercises")
    if not isinstance(claims, dict) or not all(isinstance(v, str) for v in claims.values()):
        raise ExerciseLibraryError(f"{path}: 'claims' must map a name to a sentence")
    if not isinstance(entries, dict) or not entries:
        raise ExerciseLibraryError(f"{path}: 'exercises' must map an id to an exercise")
    return ExerciseLibrary(
        tuple(_exercise(path, str(key), value, claims) for key, value in entries.items())
    )


def _exercise(path: Path, key: str, entry: Any, claims: dict[str, str]) -> Exercise:
    where = f"{path}: exercises.{key}"
    if not isinstance(entry, dict):
        raise ExerciseLibraryError(f"{where}: expected name, tags, how, dose, often and claim")
    for field in ("name", "how", "dose", "often", "claim"):
        if not isinstance(entry.get(field), str) or not entry[field].strip():
            raise ExerciseLibraryError(f"{where}.{field}: missing or empty text")
    tags = entry.get("tags")
    if not isinstance(tags, list) or not tags:
        raise ExerciseLibraryError(f"{where}.tags: give at least one of {sorted(TAGS)}")
    unknown = [tag for tag in tags if tag not in TAGS]
    if unknown:
        raise ExerciseLibraryError(f"{where}.tags: unknown {unknown}; use {sorted(TAGS)}")
    easier = entry.get("easier")
    if easier is not None and (not isinstance(easier, str) or not easier.strip()):
        raise ExerciseLibraryError(f"{where}.easier: give the gentler version as text")
    if "load" in tags and easier is None:
        raise ExerciseLibraryError(
            f"{where}.easier: a loaded exercise needs a version without weights"
        )
    if entry["claim"] not in claims:
        raise ExerciseLibraryError(f"{where}.claim: {entry['claim']!r} is not under 'claims'")
    return Exercise(
        id=key,
        name=entry["name"].strip(),
        tags=tuple(tags),
        how=" ".join(entry["how"].split()),
        dose=entry["dose"].strip(),
        often=entry["often"].strip(),
        easier=" ".join(easier.split()) if easier else None,
        claim=" ".join(claims[entry["claim"]].split()),
        claim_kind=entry["claim"],
    )


def pick_exercises(
    library: ExerciseLibrary,
    focus: Sequence[str],
    athlete_id: int,
    week_start: dt.date,
    already_shown: Iterable[str] = (),
) -> list[Exercise]:
    """Up to 3 exercises for one rule, rotating weekly, none already shown in this email.

    The pool is walked as a ring: each week starts `size` places further on, and each athlete
    starts at a different place. Consecutive weeks therefore differ whenever the pool is larger
    than the pick. Exercises another rule of the same email already shows are skipped, so a
    rule late in a long email may get fewer cards, or none.
    """
    pool = library.pool(focus)
    size = max(MIN_PICKS, min(MAX_PICKS, len(pool) - 1))
    week_index = week_start.toordinal() // 7
    start = (athlete_id + week_index * size) % len(pool)
    ring = [pool[(start + step) % len(pool)] for step in range(len(pool))]
    shown = set(already_shown)
    return [e for e in ring if e.id not in shown][:size]
