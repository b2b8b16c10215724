"""An SMTP server that keeps a message and then holds back its 250: the sender can be killed
after the server has the digest and before the sender hears it was accepted (the one
documented duplicate, integrations/email/outbox.py)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.worker.conftest import Inbox


@dataclass
class AcceptThenHold(Inbox):
    """Holds every DATA reply until `hold` is set. `peers` are the held senders' (host, port):
    a test that kills one sender process knows how many open transactions the kill cut."""

    hold: threading.Event = field(default_factory=threading.Event)
    holding: threading.Event = field(default_factory=threading.Event)
    peers: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        self.peers.append(session.peer)
        self.holding.set()
        while not self.hold.is_set():
            await asyncio.sleep(0.05)
        return reply
