"""SMTP away for 60 seconds, and SMTP answering 4xx and then 5xx.

Digests wait out an outage on their own backed-off retries and go out once each; a 4xx is
retried, a 5xx is final (a refused recipient also stops all mail to that runner), and nothing
refused for good is ever sent by a later attempt.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select

from strideguard.models import Athlete, DeliveryRecord
from tests.faults.world import FaultWorld, WorldFactory
from tests.worker.conftest import Inbox, SmtpServer
from tests.worker.waiting import wait_for

pytestmark = pytest.mark.faults

OUTAGE_S = 60  # the figure


def digests(world: FaultWorld) -> dict[int, DeliveryRecord]:
    with world.sessions() as session:
        return {row.athlete_id: row for row in session.scalars(select(DeliveryRecord))}


def test_smtp_down_for_60_seconds_delays_the_digests_and_loses_none(
    make_world: WorldFactory, smtp: SmtpServer
) -> None:
    # Retries back off 1, 2, 4 ... seconds, so one lands soon after the outage ends.
    world = make_world(JOB_RETRY_SECONDS="1")
    smtp.stop()
    with world.threads():

        def waiting_out_the_outage() -> bool:
            rows = digests(world).values()
            return len(rows) == 2 and all(
                row.status == "pending" and row.attempts >= 2 for row in rows
            )

        world.settle_evaluations()
        # The outage is timed from the digests' first try, not from before the evaluations:
        # on a busy machine those took most of the minute, leaving too few failed tries.
        down_at = time.monotonic()
        wait_for(waiting_out_the_outage, what="digests retrying while SMTP is down")
        for row in digests(world).values():
            assert "TransientSendError: cannot reach" in (row.last_error or "")
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        assert smtp.inbox.messages == []
        smtp.start()
        world.settle()
    for row in digests(world).values():
        assert row.status == "sent"
        assert row.attempts >= 5  # every failed try is on the row
        assert row.last_error is None
    world.assert_nothing_lost()


@dataclass
class ScriptedInbox(Inbox):
    """Answers RCPT or DATA for an address from a script, then as usual once it runs out."""

    rcpt_replies: dict[str, list[str]] = field(default_factory=dict)
    data_replies: dict[str, list[str]] = field(default_factory=dict)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        script = self.rcpt_replies.get(address)
        if script:
            return script.pop(0)
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        for address in envelope.rcpt_tos:
            script = self.data_replies.get(address)
            if script:
                return script.pop(0)
        return await super().handle_DATA(server, session, envelope)


def test_smtp_4xx_is_retried_and_5xx_is_final(make_world: WorldFactory, smtp: SmtpServer) -> None:
    world = make_world()
    refused, delayed = "runner811@example.com", "runner813@example.com"
    inbox = ScriptedInbox(
        rcpt_replies={refused: ["450 4.2.1 mailbox busy", "550 5.1.1 no such mailbox"]},
        data_replies={delayed: ["451 4.3.0 try again later"]},
    )
    smtp.stop()
    smtp.inbox = inbox
    smtp.start()
    with world.threads():
        world.settle()
        time.sleep(1)  # a wrong retry of the refused digest would be accepted now
    rows = digests(world)
    bounced = rows[world.athletes[811]]
    assert (bounced.status, bounced.attempts) == ("failed", 2)
    assert "550" in (bounced.last_error or "")
    with world.sessions() as session:
        runner = session.get_one(Athlete, world.athletes[811])
    assert runner.email_status == "bounced"
    later = rows[world.athletes[813]]
    assert (later.status, later.attempts) == ("sent", 2)
    assert [str(m["To"]) for m in inbox.messages] == [delayed]
    world.assert_nothing_lost(refused={refused})
