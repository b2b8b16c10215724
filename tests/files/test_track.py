"""The figures computed from a track: stated methods, worked examples, properties."""

from __future__ import annotations

import itertools
import math

from hypothesis import given
from hypothesis import strategies as st

from strideguard.integrations.files.track import (
    EARTH_RADIUS_M,
    Point,
    distance_and_moving_time,
    elevation_gain_m,
    haversine_m,
)


def test_haversine_one_degree_of_latitude() -> None:
    assert math.isclose(haversine_m(0, 0, 1, 0), EARTH_RADIUS_M * math.pi / 180)


def test_distance_from_positions_when_there_is_no_stream() -> None:
    points = [Point(float(t), 60 + t * 1e-4, 10.0) for t in range(11)]
    distance, _ = distance_and_moving_time(points)
    assert math.isclose(distance, haversine_m(60, 10, 60.001, 10), rel_tol=1e-9)


def test_moving_time_drops_a_stop() -> None:
    # 100 s at 3 m/s, 60 s standing (GPS jitter of 0.2 m/s), 50 s at 3 m/s
    metres = [0.0]
    for second in range(1, 211):
        metres.append(metres[-1] + (0.2 if 100 < second <= 160 else 3.0))
    points = [Point(float(t), distance_m=m) for t, m in enumerate(metres)]
    distance, moving = distance_and_moving_time(points)
    assert moving == 150
    assert math.isclose(distance, 150 * 3.0 + 60 * 0.2)  # the stream's own distance, jitter too


def test_gain_counts_whole_climbs_and_drops_noise() -> None:
    noisy_flat = [100, 101.5, 99.8, 101.9, 100.2, 101.0]
    climb = [100, 110, 120, 118, 130, 125, 100, 102, 100]
    assert elevation_gain_m(noisy_flat) == 0
    assert elevation_gain_m(climb) == 30  # 100 -> 130, the 2 m dip inside it ignored


@given(st.lists(st.floats(-100, 3000), min_size=1, max_size=200))
def test_gain_is_between_zero_and_the_sum_of_rises(elevations: list[float]) -> None:
    rises = sum(max(0.0, b - a) for a, b in itertools.pairwise(elevations))
    assert 0 <= elevation_gain_m(elevations) <= rises + 1e-6
