"""Strava's rate limits: headers on every API response, aligned windows, 429 that still counts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import requests
from stravalib import exc

from strideguard.integrations.strava.http import make_client
from strideguard.integrations.strava.simulator import SimClock, Simulator
from tests.simulator.conftest import CLIENT_ID, SECRET, connect, seed

HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Usage",
    "X-ReadRateLimit-Limit",
    "X-ReadRateLimit-Usage",
)


@pytest.fixture
def tight() -> Simulator:
    """Small limits so windows fill quickly: 3 reads / 15 min, 10 / day."""
    clock = SimClock(datetime(2025, 10, 21, 23, 44, 0, tzinfo=UTC), ticking=False)
    return Simulator(
        seed(),
        client_id=CLIENT_ID,
        client_secret=SECRET,
        clock=clock,
        read_limits=(3, 10),
        overall_limits=(6, 20),
    )


def test_every_api_response_carries_the_headers_and_oauth_is_not_counted(sim: Simulator) -> None:
    seen: list[requests.Response] = []
    token = connect(sim)["access_token"]  # /oauth calls: not counted
    client = make_client(sim.base_url, token, on_response=seen.append)
    client.get_athlete()
    with pytest.raises(exc.ObjectNotFound):
        client.get_activity(1)
    with pytest.raises(exc.AccessUnauthorized):
        make_client(sim.base_url, "not-a-token", on_response=seen.append).get_athlete()
    assert [r.status_code for r in seen] == [200, 404, 401]
    for response in seen:
        assert all(name in response.headers for name in HEADERS)
    assert seen[0].headers["X-RateLimit-Limit"] == "200,2000"
    assert seen[0].headers["X-ReadRateLimit-Limit"] == "100,1000"
    assert [r.headers["X-ReadRateLimit-Usage"] for r in seen] == ["1,1", "2,2", "3,3"]
    assert sim.rate_usage()["read_15min"] == 3


def test_over_the_limit_gets_429_with_strava_body_and_still_counts(tight: Simulator) -> None:
    with tight:
        token = tight.issue_tokens(26462176)["access_token"]
        for _ in range(3):
            make_client(tight.base_url, token).get_athlete()
        answer = requests.get(
            f"{tight.base_url}/api/v3/athlete",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        assert answer.status_code == 429
        assert answer.json() == {
            "message": "Rate Limit Exceeded",
            "errors": [{"resource": "Application", "field": "read rate limit", "code": "exceeded"}],
        }
        assert answer.headers["X-ReadRateLimit-Usage"] == "4,4"  # the refused request counted
        with pytest.raises(exc.Fault) as raised:
            make_client(tight.base_url, token).get_athlete()
        assert raised.value.response is not None
        assert raised.value.response.status_code == 429


def test_fifteen_minute_window_resets_at_the_quarter_hour(tight: Simulator) -> None:
    with tight:
        token = tight.issue_tokens(26462176)["access_token"]
        client = make_client(tight.base_url, token)
        tight.clock.set(datetime(2025, 10, 21, 23, 44, 59, tzinfo=UTC))
        for _ in range(3):
            client.get_athlete()
        with pytest.raises(exc.Fault):
            client.get_athlete()  # 23:44:59, still the :30 window
        tight.clock.set(datetime(2025, 10, 21, 23, 45, 0, tzinfo=UTC))
        assert client.get_athlete().id == 26462176  # a fresh :45 window
        assert tight.rate_usage() == {
            "read_15min": 1, "read_daily": 5, "overall_15min": 1, "overall_daily": 5
        }  # fmt: skip


def test_daily_window_resets_at_utc_midnight(tight: Simulator) -> None:
    with tight:
        token = tight.issue_tokens(26462176)["access_token"]
        client = make_client(tight.base_url, token)
        for quarter in range(4):  # 3 requests in each of 4 windows: the day fills at 10
            tight.clock.set(datetime(2025, 10, 21, 22, 15 * quarter, 1, tzinfo=UTC))
            for _ in range(3):
                try:
                    client.get_athlete()
                except exc.Fault:
                    assert quarter == 3
        assert tight.rate_usage()["read_daily"] == 12
        tight.clock.set(datetime(2025, 10, 21, 23, 59, 59, tzinfo=UTC))
        with pytest.raises(exc.Fault):
            client.get_athlete()  # fresh 15-minute window, but the day is spent
        tight.clock.set(datetime(2025, 10, 22, 0, 0, 0, tzinfo=UTC))
        client.get_athlete()
        assert tight.rate_usage()["read_daily"] == 1


def test_overall_limit_has_its_own_429_field(clock: SimClock) -> None:
    # The conftest's frozen clock: on real time, a 15-minute window that turned between the
    # second and third request reset the count, and the 429 never came.
    sim = Simulator(seed(), read_limits=(100, 1000), overall_limits=(2, 2000), clock=clock)
    with sim:
        token = sim.issue_tokens(26462176)["access_token"]
        statuses = []
        for _ in range(3):
            answer = requests.get(
                f"{sim.base_url}/api/v3/athlete",
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
            )
            statuses.append(answer.status_code)
        assert statuses == [200, 200, 429]
        assert answer.json()["errors"][0]["field"] == "overall rate limit"


def test_concurrent_clients_are_all_counted(sim: Simulator) -> None:
    token = sim.issue_tokens(26462176)["access_token"]

    def five_calls(_: int) -> list[int]:
        client = make_client(sim.base_url, token)
        return [len(list(client.get_activities(limit=3))) for _ in range(5)]

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(five_calls, range(12)))
    assert results == [[3] * 5] * 12
    assert sim.rate_usage()["read_15min"] == 60
    assert sim.count_requests(26462176, "/api/v3/athlete/activities") == 60
