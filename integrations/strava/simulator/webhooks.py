"""Push subscriptions: the callback check when one is created, and event delivery with retries.

Strava's webhook docs: creating a subscription sends GET callback?hub.mode=subscribe&
hub.challenge=..&hub.verify_token=.. and needs {"hub.challenge": ..} back within two seconds;
each event POST must get a 200 within two seconds and is tried up to a total of three times.
One subscription per application.
"""

from __future__ import annotations

import json
import logging
import queue
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

ANSWER_WITHIN_S = 2.0
ATTEMPTS = 3


@dataclass
class Subscription:
    id: int
    application_id: int
    callback_url: str
    verify_token: str
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        stamp = self.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "id": self.id,
            "resource_state": 2,
            "application_id": self.application_id,
            "callback_url": self.callback_url,
            "created_at": stamp,
            "updated_at": stamp,
        }


@dataclass
class Delivery:
    """One event and what happened to it: the status of every attempt (0 = no answer)."""

    callback_url: str
    event: dict[str, Any]
    statuses: list[int] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        return bool(self.statuses) and self.statuses[-1] == 200


def callback_answers(callback_url: str, verify_token: str) -> bool:
    """Strava's validation GET: True when the callback echoes the challenge in time."""
    challenge = secrets.token_hex(16)
    query = urllib.parse.urlencode(
        {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": verify_token}
    )
    separator = "&" if "?" in callback_url else "?"
    try:
        with urllib.request.urlopen(  # noqa: S310 - the callback is http(s) by validation
            f"{callback_url}{separator}{query}", timeout=ANSWER_WITHIN_S
        ) as answer:
            if answer.status != 200:
                return False
            echoed = json.loads(answer.read() or b"null")
    except (OSError, ValueError):
        return False
    return isinstance(echoed, dict) and echoed.get("hub.challenge") == challenge


def post_once(callback_url: str, event: dict[str, Any]) -> int:
    request = urllib.request.Request(  # noqa: S310 - see callback_answers
        callback_url,
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "strava-simulator"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=ANSWER_WITHIN_S) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as failed:
        return int(failed.code)
    except OSError:
        return 0


class WebhookSender:
    """Delivers events in a background thread (like Strava) or at once when asked to wait."""

    def __init__(self, retry_delay_s: float = 0.05, attempts: int = ATTEMPTS) -> None:
        self.retry_delay_s = retry_delay_s
        self.attempts = attempts
        self.deliveries: list[Delivery] = []
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def send(self, callback_url: str, event: dict[str, Any], *, wait: bool) -> Delivery:
        delivery = Delivery(callback_url, event)
        with self._lock:
            self.deliveries.append(delivery)
        if wait:
            self._deliver(delivery)
            return delivery
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sim-webhooks", daemon=True)
                self._thread.start()
        self._queue.put(delivery)
        return delivery

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until every queued event has had all its attempts; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            try:
                if delivery is None:
                    return
                self._deliver(delivery)
            finally:
                self._queue.task_done()

    def _deliver(self, delivery: Delivery) -> None:
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.retry_delay_s)
            status = post_once(delivery.callback_url, delivery.event)
            delivery.statuses.append(status)
            if status == 200:
                return
        log.info(
            "webhook not delivered object_id=%s aspect=%s statuses=%s",
            delivery.event.get("object_id"),
            delivery.event.get("aspect_type"),
            delivery.statuses,
        )
