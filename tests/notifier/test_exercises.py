"""The exercise library and its weekly rotation."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strideguard.integrations.email.exercises import (
    TAGS,
    ExerciseLibraryError,
    load_library,
    pick_exercises,
)
from strideguard.integrations.email.render import (
    BUILT_IN_RULES,
    RED_FLAGS_FIRST,
    exercise_library,
    render_digest,
    render_sections,
)
from tests.notifier.worked import BUILT_IN, WEEK, digest

STRETCHES = {"hip_flexor_stretch", "hamstring_stretch", "childs_pose", "cat_cow", "knee_hug"}
TRUNK_ENDURANCE = {"bird_dog", "front_plank", "side_plank", "dead_bug"}
STRENGTH = {"glute_bridge", "hip_thrust", "goblet_squat", "romanian_deadlift"}


def _picks(rule: str, week: dt.date, athlete_id: int = 7) -> list[str]:
    (section,) = render_sections(digest([BUILT_IN[rule]], athlete_id=athlete_id, week=week))
    return [e.id for e in section.exercises]


def test_claims_match_the_evidence_per_exercise() -> None:
    by_id = {e.id: e for e in exercise_library().exercises}
    assert {i for i, e in by_id.items() if e.claim_kind == "mobility"} == STRETCHES
    assert all(by_id[i].claim_kind == "trunk_endurance" for i in TRUNK_ENDURANCE)
    assert all(by_id[i].claim_kind == "strength" for i in STRENGTH)
    for exercise in by_id.values():
        assert exercise.dose, exercise.id
        assert any(ch.isdigit() for ch in exercise.dose), f"{exercise.id} has no dosage"
        assert exercise.often.endswith(("a week", "if it feels good")), exercise.id
    assert all(by_id[i].often == "2-3 times a week" for i in TRUNK_ENDURANCE | STRENGTH)


def test_same_athlete_and_week_gives_the_same_email() -> None:
    context = digest([BUILT_IN["weekly_distance_spike"]])
    assert render_digest(context).html == render_digest(context).html
    assert _picks("weekly_distance_spike", WEEK) == _picks("weekly_distance_spike", WEEK)


@pytest.mark.parametrize("rule", [r for r in BUILT_IN_RULES if r not in RED_FLAGS_FIRST])
def test_consecutive_weeks_get_different_picks(rule: str) -> None:
    weeks = [WEEK + dt.timedelta(weeks=n) for n in range(12)]
    picks = [_picks(rule, week) for week in weeks]
    for earlier, later in itertools.pairwise(picks):
        assert set(earlier) != set(later)


def test_different_athletes_start_at_different_places() -> None:
    lists = {tuple(_picks("weekly_distance_spike", WEEK, athlete)) for athlete in range(1, 6)}
    assert len(lists) > 1


@settings(max_examples=200, deadline=None)
@given(
    focus=st.lists(st.sampled_from([*sorted(TAGS), "unknown"]), max_size=4),
    athlete_id=st.integers(min_value=1, max_value=10**9),
    week_offset=st.integers(min_value=-2000, max_value=2000),
)
def test_always_two_to_four_distinct_picks(
    focus: list[str], athlete_id: int, week_offset: int
) -> None:
    week = WEEK + dt.timedelta(weeks=week_offset)
    picks = pick_exercises(exercise_library(), focus, athlete_id, week)
    assert 2 <= len(picks) <= 4
    assert len({e.id for e in picks}) == len(picks)
    wanted = set(focus) & TAGS
    if len([e for e in exercise_library().exercises if set(e.tags) & wanted]) > 2:
        assert all(set(e.tags) & wanted for e in picks)


def test_stretches_only_where_a_rule_asks_for_mobility() -> None:
    for week_offset in range(8):
        week = WEEK + dt.timedelta(weeks=week_offset)
        picks = pick_exercises(exercise_library(), ["trunk", "hips"], 7, week)
        assert not {e.id for e in picks} & STRETCHES


def test_one_digest_avoids_repeating_an_exercise_across_rules() -> None:
    sections = render_sections(
        digest([BUILT_IN["weekly_distance_spike"], BUILT_IN["hill_heavy_week"]])
    )
    first, second = ({e.id for e in s.exercises} for s in sections)
    assert not first & second


def test_library_errors_name_the_exercise_and_field(tmp_path: Path) -> None:
    path = tmp_path / "exercises.yaml"
    path.write_text(
        "claims: {strength: Stronger.}\n"
        "exercises:\n"
        "  squat: {name: Squat, tags: [legs, wings], how: Sit down., dose: 3 x 8,"
        " often: twice a week, claim: strength}\n"
    )
    with pytest.raises(ExerciseLibraryError, match=r"exercises\.squat\.tags: unknown \['wings'\]"):
        load_library(path)
    path.write_text(
        "claims: {strength: Stronger.}\n"
        "exercises:\n"
        "  squat: {name: Squat, tags: [legs], how: Sit down., dose: 3 x 8, often: twice a week,"
        " claim: magic}\n"
    )
    with pytest.raises(ExerciseLibraryError, match=r"exercises\.squat\.claim: 'magic'"):
        load_library(path)
    path.write_text(
        "claims: {strength: Stronger.}\n"
        "exercises:\n"
        "  squat: {name: Squat, tags: [legs, load], how: Sit down., dose: 3 x 8,"
        " often: twice a week, claim: strength}\n"
    )
    with pytest.raises(ExerciseLibraryError, match=r"exercises\.squat\.easier: a loaded"):
        load_library(path)


def test_every_loaded_exercise_has_a_bodyweight_version_and_the_plank_an_easier_one() -> None:
    by_id = {e.id: e for e in exercise_library().exercises}
    loaded = [e for e in by_id.values() if "load" in e.tags]
    assert loaded
    for exercise in loaded:
        assert "weight" in (exercise.easier or ""), exercise.id
    assert by_id["front_plank"].easier
    assert "knees" in by_id["front_plank"].easier


def test_rest_day_and_shoe_advice_stay_within_their_focus() -> None:
    """No loaded lifts next to "take a day off running"; feet work, not trunk, for shoes."""
    for week_offset in range(12):
        week = WEEK + dt.timedelta(weeks=week_offset)
        rest = render_sections(digest([BUILT_IN["no_rest_day"]], week=week))[0]
        assert rest.exercises
        assert all(e.tags == ("mobility",) for e in rest.exercises)
        shoes = render_sections(digest([BUILT_IN["shoe_mileage"]], week=week))[0]
        assert shoes.exercises
        assert all("feet" in e.tags for e in shoes.exercises)
        surface = render_sections(digest([BUILT_IN["hard_surface_streak"]], week=week))[0]
        assert any("feet" in e.tags for e in surface.exercises)
