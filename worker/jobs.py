"""The queue's one way in: every actor's name, and typed senders for them.

`WorkerRuntime.jobs` (strideguard/runtime.py) is a `Jobs` bound to the broker that runtime
installed; the web routes, the scheduler and the reconciler enqueue through it. The names are
shared with the actor declarations (worker/actors.py), and a message in Redis carries its
actor's name, so a name here never changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import dramatiq

# Actor names, shared by the declarations (worker/actors.py) and the senders below.
BACKFILL = "backfill_athlete"
REFRESH_WINDOW = "refresh_window"
READ_GEAR = "read_gear"
PROCESS_WEBHOOK_EVENT = "process_webhook_event"
DRAIN_WEBHOOK_EVENTS = "drain_webhook_events"
EVALUATE_WEEK = "evaluate_week"
SEND_DIGEST = "send_digest"
SEND_CHANNEL_MESSAGE = "send_channel_message"
PURGE_EXPIRED = "purge_expired"
JUDGE_RUN = "judge_run"
SEND_RUN_ALERT = "send_run_alert"
WELCOME = "welcome_athlete"
IMPORT_FILES = "import_files"
SCAN_WATCH_DIR = "scan_watch_dir"


class Jobs:
    """Typed senders for every actor; `delay` is in milliseconds, as dramatiq takes it."""

    def __init__(self, broker: dramatiq.Broker) -> None:
        self._broker = broker

    def _send(self, actor_name: str, *args: Any, delay: int | None = None) -> None:
        self._broker.get_actor(actor_name).send_with_options(args=args, delay=delay)

    def backfill(self, athlete_id: int, *, delay: int | None = None) -> None:
        self._send(BACKFILL, athlete_id, delay=delay)

    def refresh_window(self, athlete_id: int, *, delay: int | None = None) -> None:
        self._send(REFRESH_WINDOW, athlete_id, delay=delay)

    def read_gear(self, athlete_id: int, *, delay: int | None = None) -> None:
        self._send(READ_GEAR, athlete_id, delay=delay)

    def process_webhook_event(self, event_id: int, *, delay: int | None = None) -> None:
        self._send(PROCESS_WEBHOOK_EVENT, event_id, delay=delay)

    def drain_webhook_events(self) -> None:
        self._send(DRAIN_WEBHOOK_EVENTS)

    def evaluate_week(
        self, athlete_id: int, week_start: dt.date, *, delay: int | None = None
    ) -> None:
        self._send(EVALUATE_WEEK, athlete_id, week_start.isoformat(), delay=delay)

    def send_digest(self, outbox_id: int, *, delay: int | None = None) -> None:
        self._send(SEND_DIGEST, outbox_id, delay=delay)

    def send_channel_message(self, message_id: int, *, delay: int | None = None) -> None:
        self._send(SEND_CHANNEL_MESSAGE, message_id, delay=delay)

    def welcome(self, athlete_id: int, *, delay: int | None = None) -> None:
        self._send(WELCOME, athlete_id, delay=delay)

    def purge_expired(self, *, delay: int | None = None) -> None:
        self._send(PURGE_EXPIRED, delay=delay)

    def judge_run(
        self,
        athlete_id: int,
        activity_id: int,
        *,
        announced: dt.datetime | None = None,
        delay: int | None = None,
    ) -> None:
        """`announced`: when the source told us of the run (worker/run_alerts.py)."""
        stamp = announced.isoformat() if announced else None
        self._send(JUDGE_RUN, athlete_id, activity_id, stamp, delay=delay)

    def send_run_alert(self, run_alert_id: int, *, delay: int | None = None) -> None:
        self._send(SEND_RUN_ALERT, run_alert_id, delay=delay)

    def import_files(
        self,
        athlete_id: int,
        paths: Sequence[str],
        *,
        remove_after: str | None = None,
        import_id: int | None = None,
    ) -> None:
        """Queue an import of the runner's files; `remove_after` is a folder to delete after
        (an upload's temporary folder), `import_id` the `file_imports` row that records the
        outcome for the runner page. See integrations/files/jobs.py."""
        self._send(IMPORT_FILES, athlete_id, list(paths), remove_after, import_id)

    def scan_watch_dir(self) -> None:
        """Look for new files in IMPORT_WATCH_DIR/<athlete id>/ (integrations/files/watch.py)."""
        self._send(SCAN_WATCH_DIR)
