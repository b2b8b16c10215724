"""Push subscriptions: the challenge echo, one per app, and event delivery with retries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from stravalib import exc

from strideguard.integrations.strava.http import make_client
from strideguard.integrations.strava.simulator import Simulator
from tests.simulator.conftest import ATHLETE_ID, CLIENT_ID, SECRET, recorded_activities
from tests.webhook_receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def _subscribe(sim: Simulator, receiver: Receiver) -> int:
    subscription = make_client(sim.base_url).create_subscription(
        CLIENT_ID, SECRET, receiver.url, verify_token="STRAVA"
    )
    assert subscription.id is not None
    return subscription.id


def test_subscription_is_validated_by_the_challenge_echo(
    sim: Simulator, receiver: Receiver
) -> None:
    subscription_id = _subscribe(sim, receiver)
    (validation,) = receiver.validations
    assert validation["hub.mode"] == ["subscribe"]
    assert validation["hub.verify_token"] == ["STRAVA"]
    listed = list(make_client(sim.base_url).list_subscriptions(CLIENT_ID, SECRET))
    assert [(s.id, s.callback_url) for s in listed] == [(subscription_id, receiver.url)]


def test_only_one_subscription_per_application(sim: Simulator, receiver: Receiver) -> None:
    _subscribe(sim, receiver)
    with pytest.raises(exc.Fault) as raised:
        _subscribe(sim, receiver)
    assert raised.value.response is not None
    assert raised.value.response.json()["errors"][0]["code"] == "already exists"


@pytest.mark.parametrize("failure", ["wrong echo", "too slow"])
def test_callback_that_does_not_answer_properly_is_refused(
    sim: Simulator, receiver: Receiver, failure: str
) -> None:
    if failure == "wrong echo":
        receiver.echo = False
    else:
        receiver.check_delays = [2.3]
    with pytest.raises(exc.Fault) as raised:
        _subscribe(sim, receiver)
    assert raised.value.response is not None
    assert raised.value.response.json() == {
        "message": "Bad Request",
        "errors": [
            {"resource": "PushSubscription", "field": "callback url", "code": "not verifiable"}
        ],
    }
    assert sim.subscriptions == []


def test_deleting_the_subscription_stops_events(sim: Simulator, receiver: Receiver) -> None:
    sim.issue_tokens(ATHLETE_ID)
    subscription_id = _subscribe(sim, receiver)
    make_client(sim.base_url).delete_subscription(subscription_id, CLIENT_ID, SECRET)
    assert sim.add_activity(ATHLETE_ID, {**recorded_activities()[0], "id": 77}, wait=True) is None
    assert receiver.events == []


def test_activity_and_athlete_events_arrive_in_strava_shape(
    sim: Simulator, receiver: Receiver
) -> None:
    sim.issue_tokens(ATHLETE_ID, scopes=["activity:read_all"])
    subscription_id = _subscribe(sim, receiver)
    new_run = {**recorded_activities()[0], "id": 4242}
    sim.add_activity(ATHLETE_ID, new_run)
    sim.update_activity(ATHLETE_ID, 4242, name="Messy")
    sim.update_activity(ATHLETE_ID, 4242, distance=1.0)  # not an event on Strava
    sim.update_activity(ATHLETE_ID, 4242, sport_type="TrailRun", private=True)
    sim.delete_activity(ATHLETE_ID, 4242)
    sim.deauthorize_athlete(ATHLETE_ID)
    assert sim.flush_webhooks(timeout_s=10)
    now = int(sim.clock.time())
    common = {"event_time": now, "owner_id": ATHLETE_ID, "subscription_id": subscription_id}
    assert receiver.events == [
        {"aspect_type": "create", "object_id": 4242, "object_type": "activity", "updates": {},
         **common},
        {"aspect_type": "update", "object_id": 4242, "object_type": "activity",
         "updates": {"title": "Messy"}, **common},
        {"aspect_type": "update", "object_id": 4242, "object_type": "activity",
         "updates": {"type": "TrailRun", "private": "true"}, **common},
        {"aspect_type": "delete", "object_id": 4242, "object_type": "activity", "updates": {},
         **common},
        {"aspect_type": "update", "object_id": ATHLETE_ID, "object_type": "athlete",
         "updates": {"authorized": "false"}, **common},
    ]  # fmt: skip
    assert all(d.delivered for d in sim.deliveries)


def test_failed_delivery_is_tried_three_times_in_all(sim: Simulator, receiver: Receiver) -> None:
    sim.issue_tokens(ATHLETE_ID)
    _subscribe(sim, receiver)
    receiver.fail_posts = 2
    delivery = sim.add_activity(ATHLETE_ID, {**recorded_activities()[0], "id": 1}, wait=True)
    assert delivery is not None
    assert delivery.statuses == [500, 500, 200]
    assert delivery.delivered
    receiver.fail_posts = 5
    sim.delete_activity(ATHLETE_ID, 1)
    assert sim.flush_webhooks(timeout_s=10)
    assert sim.deliveries[-1].statuses == [500, 500, 500]
    assert not sim.deliveries[-1].delivered
    assert len(receiver.events) == 6


def test_no_events_for_athletes_who_never_authorized_or_private_without_read_all(
    sim: Simulator, receiver: Receiver
) -> None:
    _subscribe(sim, receiver)
    run = recorded_activities()[0]
    assert sim.add_activity(ATHLETE_ID, {**run, "id": 5}, wait=True) is None
    sim.issue_tokens(ATHLETE_ID, scopes=["activity:read"])
    private = {**run, "id": 6, "private": True, "visibility": "only_me"}
    assert sim.add_activity(ATHLETE_ID, private, wait=True) is None
    assert sim.add_activity(ATHLETE_ID, {**run, "id": 7}, wait=True) is not None
    assert [e["object_id"] for e in receiver.events] == [7]
