"""Athlete, activities and gear endpoints through stravalib: paging, filters, privacy, 404s."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from stravalib import exc

from strideguard.integrations.strava.http import make_client
from strideguard.integrations.strava.simulator import Simulator
from tests.simulator.conftest import ATHLETE_ID, OTHER_ATHLETE_ID, START, connect


def test_athlete_and_activity_and_gear_come_back_as_stravalib_models(sim: Simulator) -> None:
    client = make_client(sim.base_url, connect(sim)["access_token"])
    athlete = client.get_athlete()
    assert athlete.id == ATHLETE_ID
    assert athlete.measurement_preference == "meters"
    assert [shoe.id for shoe in athlete.shoes or []] == ["g3423618"]
    newest = next(iter(client.get_activities(limit=1)))
    assert newest.id == 16195505756  # 2025-10-19, the newest recorded activity
    detail = client.get_activity(newest.id)
    assert detail.device_name == "Simulated Watch"
    assert detail.distance == pytest.approx(6764.8)
    assert len(detail.splits_metric or []) == 7
    assert client.get_gear("g3423618").distance == pytest.approx(966309)


def test_pages_of_200_newest_first_until_a_short_page(sim: Simulator) -> None:
    client = make_client(sim.base_url, connect(sim, OTHER_ATHLETE_ID)["access_token"])
    activities = list(client.get_activities())
    assert len(activities) == 450
    starts = [a.start_date for a in activities if a.start_date is not None]
    assert starts == sorted(starts, reverse=True)
    pages = [r for r in sim.requests if r.path == "/api/v3/athlete/activities" and r.status == 200]
    assert len(pages) == 3  # 200 + 200 + 50


def test_per_page_above_200_is_clamped_to_200(sim: Simulator) -> None:
    token = connect(sim, OTHER_ATHLETE_ID)["access_token"]
    answer = requests.get(
        f"{sim.base_url}/api/v3/athlete/activities",
        params={"per_page": 500},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert answer.status_code == 200
    assert len(answer.json()) == 200
    default = requests.get(
        f"{sim.base_url}/api/v3/athlete/activities",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert len(default.json()) == 30


def test_before_and_after_are_exclusive_bounds_on_start_date(sim: Simulator) -> None:
    client = make_client(sim.base_url, connect(sim, OTHER_ATHLETE_ID)["access_token"])
    # synthetic runs start daily at START's time of day, from START - 1 day backwards
    after = START - timedelta(days=11)
    before = START - timedelta(days=1)
    window = list(client.get_activities(after=after, before=before))
    assert len(window) == 9  # days 2..10: both bounds excluded
    assert all(a.start_date and after < a.start_date < before for a in window)


def test_activity_read_hides_private_activities_and_read_all_shows_them(sim: Simulator) -> None:
    private_id = 1698919651  # the WeightTraining with visibility only_me
    limited = make_client(
        sim.base_url, connect(sim, scopes=["read", "activity:read"])["access_token"]
    )
    assert private_id not in {a.id for a in limited.get_activities()}
    with pytest.raises(exc.ObjectNotFound):
        limited.get_activity(private_id)
    full = make_client(sim.base_url, connect(sim, scopes=["activity:read_all"])["access_token"])
    assert private_id in {a.id for a in full.get_activities()}
    assert full.get_activity(private_id).visibility == "only_me"


def test_missing_activity_scope_gets_the_missing_permission_401(sim: Simulator) -> None:
    client = make_client(sim.base_url, connect(sim, scopes=["read"])["access_token"])
    assert client.get_athlete().id == ATHLETE_ID
    with pytest.raises(exc.AccessUnauthorized) as raised:
        list(client.get_activities(limit=1))
    assert raised.value.response is not None
    assert raised.value.response.json()["errors"] == [
        {"resource": "AccessToken", "field": "activity:read_permission", "code": "missing"}
    ]


def test_someone_elses_or_a_missing_activity_is_404_like_strava(sim: Simulator) -> None:
    client = make_client(sim.base_url, connect(sim)["access_token"])
    for activity_id in (9_000_000, 1):
        with pytest.raises(exc.ObjectNotFound) as raised:
            client.get_activity(activity_id)
        assert raised.value.response is not None
        assert raised.value.response.json() == {
            "message": "Record Not Found",
            "errors": [{"resource": "Activity", "field": "id", "code": "invalid"}],
        }


def test_requests_are_recorded_per_athlete(sim: Simulator) -> None:
    one = make_client(sim.base_url, connect(sim)["access_token"])
    other = make_client(sim.base_url, connect(sim, OTHER_ATHLETE_ID)["access_token"])
    one.get_athlete()
    list(other.get_activities(limit=5))
    list(other.get_activities(limit=5))
    assert sim.count_requests(ATHLETE_ID, "/api/v3/") == 1
    assert sim.count_requests(OTHER_ATHLETE_ID, "/api/v3/athlete/activities") == 2
    last = sim.requests[-1]
    assert (last.method, last.status, last.athlete_id) == ("GET", 200, OTHER_ATHLETE_ID)
    assert last.at == START
