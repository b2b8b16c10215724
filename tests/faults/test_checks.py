"""The shared end-of-case check must fail on each kind of damage it exists to catch.

A check that cannot fail proves nothing, so a settled world is damaged here one way at a time
and the check has to name each damage.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage

import pytest
from sqlalchemy import delete, select

from strideguard.integrations.email.smtp import send_message
from strideguard.integrations.strava.simulator.app import RequestRecord
from strideguard.models import Activity, Alert, Athlete, DeliveryRecord
from tests.faults.world import FaultWorld, WorldFactory

pytestmark = pytest.mark.faults


def damage_found(world: FaultWorld, **options: object) -> str:
    with pytest.raises(AssertionError) as failed:
        world.assert_nothing_lost(**options)  # type: ignore[arg-type]
    return str(failed.value)


def resend(world: FaultWorld, row: DeliveryRecord, to: str) -> None:
    """The same digest (same Message-ID) once more, as a double send would."""
    message = EmailMessage()
    message["From"] = "alerts@strideguard.example.org"
    message["To"] = to
    message["Subject"] = "Your week"
    message["Message-ID"] = row.message_id
    message.set_content("again")
    send_message(message, world.smtp.url)


def test_the_check_names_every_kind_of_loss_and_doubling(make_world: WorldFactory) -> None:
    world = make_world()
    with world.threads():
        world.settle()
    world.assert_nothing_lost()  # the undamaged world passes

    with world.sessions() as session:
        digest = session.scalars(select(DeliveryRecord)).first()
        assert digest is not None
        address = session.get_one(Athlete, digest.athlete_id).email
    assert address is not None
    resend(world, digest, address)
    assert "reached the SMTP server 2 times" in damage_found(world)
    # The documented accept-then-kill window allows exactly that one duplicate.
    world.assert_nothing_lost(accept_then_kill=True)

    with world.sessions.begin() as session:
        alert = session.scalars(select(Alert)).first()
        assert alert is not None
        session.delete(alert)
    assert "the rules engine fires" in damage_found(world, accept_then_kill=True)

    with world.sessions.begin() as session:
        session.execute(delete(Activity).where(Activity.strava_id == 81152))
    assert "activity 81152 is missing" in damage_found(world, accept_then_kill=True)

    now = world.sim.clock.now()
    world.sim.requests.extend(
        RequestRecord("GET", "/api/v3/athlete", 811, 200, now + dt.timedelta(microseconds=i))
        for i in range(101)
    )
    assert "over Strava's 100" in damage_found(world, accept_then_kill=True)
