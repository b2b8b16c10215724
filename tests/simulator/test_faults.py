"""Injected Strava failures: 5xx answers and requests that never get an answer."""

from __future__ import annotations

import pytest
import requests
from stravalib import exc

from strideguard.integrations.strava.http import make_client
from strideguard.integrations.strava.simulator import Simulator
from tests.simulator.conftest import ATHLETE_ID


def test_fail_next_answers_5xx_for_the_given_count_then_recovers(sim: Simulator) -> None:
    client = make_client(sim.base_url, sim.issue_tokens(ATHLETE_ID)["access_token"])
    sim.fail_next("/api/v3/athlete/activities", status=502, count=2)
    client.get_athlete()  # other paths are untouched
    for _ in range(2):
        with pytest.raises(exc.Fault) as raised:
            list(client.get_activities(limit=1))
        assert raised.value.response is not None
        assert raised.value.response.status_code == 502
    assert len(list(client.get_activities(limit=1))) == 1
    assert [r.status for r in sim.requests[-4:]] == [200, 502, 502, 200]


def test_timeout_next_holds_the_request_past_the_client_timeout(sim: Simulator) -> None:
    # The second, answered request uses the same client timeout, so it must be long enough for
    # a busy machine; the held request outlasts it (the hold ends when the simulator stops).
    client = make_client(sim.base_url, sim.issue_tokens(ATHLETE_ID)["access_token"], timeout=3)
    sim.timeout_next("/api/v3/athlete", hold_s=60)
    with pytest.raises(requests.exceptions.Timeout):
        client.get_athlete()
    assert client.get_athlete().id == ATHLETE_ID
    assert sim.requests[-2].status == 0  # dropped without an answer
