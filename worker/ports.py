"""The pipeline's two ports: where activities come from, and how advice reaches a runner.

Evaluation speaks only to these. A plug-in under `integrations/` implements one, its errors
derive from the ones here so the pipeline can decide from the class alone what to do next,
and `worker/registry.py` names its class. Nothing in the pipeline imports a plug-in.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from strideguard.models import Athlete, Gear
from strideguard.rules.findings import Finding
from strideguard.settings import Settings

if TYPE_CHECKING:
    from strideguard.rules import ConfigHolder


class Priority(enum.Enum):
    """Who is waiting for a refresh; a source with a shared rate budget serves them in order."""

    BACKFILL = "backfill"
    EVALUATION = "evaluation"
    # A new run's activity, fetched as its webhook arrives (STRAVA_WEBHOOK_SYNC auto/immediate).
    RUN = "run"
    BACKGROUND = "background"


@dataclass(frozen=True)
class Window:
    """An athlete's recent activities as the source just returned them, and how far back
    they are complete (earlier days are unknown, not empty)."""

    # The fields of `rules.ActivityRecord` for each activity, without `athlete_id`.
    activities: Sequence[Mapping[str, Any]]
    gear: Mapping[str, Gear]
    complete_from: dt.date


class SourceError(Exception):
    """An activity source failed. By default a later attempt may succeed (retry with backoff);
    `retryable = False` means give up on this job."""

    retryable = True


class SourceDeferred(SourceError):
    """The source cannot be asked now (e.g. its rate budget is spent): hand the job back for
    `retry_after_ms` without counting an attempt. Not a failure."""

    retry_after_ms: int


class SourceDisconnected(SourceError):
    """The athlete's source is gone (never connected, disconnected, revoked): skip the job."""

    retryable = False


@dataclass(frozen=True)
class Followed:
    """An athlete whose activities the source follows, and since when they are news: the
    last (re)connect or backfill (aware UTC; None if unknown). Weeks already due before then
    are history."""

    athlete_id: int
    since: dt.datetime | None


@dataclass(frozen=True)
class UnfinishedSync:
    """A refresh the source was asked for and has not finished: the reconciler re-sends it
    (the backfill when `backfilled` is False, else the window refresh).

    A source whose unfinished work is a job of its own (the files source: an import whose
    queue message was lost) sets `resend`, called with the runtime's `Jobs` to send it, and
    `job`, which names it apart from the athlete's refresh.
    """

    athlete_id: int
    backfilled: bool
    resend: Callable[[Any], None] | None = None
    job: Hashable = None

    @property
    def key(self) -> Hashable:
        """What the reconciler remembers sending, so it sends each at most once a lease."""
        return ("sync", self.athlete_id, self.job)


class DrainRequests(Protocol):
    """At most one waiting drain of webhook events (worker/drain_requests.py)."""

    def request(self) -> bool:
        """True when no drain is waiting: the caller must send one."""

    def started(self) -> None:
        """The drain is starting: events recorded from now on need a new one."""


class JobSender(Protocol):
    """The queue's typed senders that a plug-in's own jobs use (`Jobs` in worker/jobs.py);
    `delay` is in milliseconds, as dramatiq takes it."""

    def backfill(self, athlete_id: int, *, delay: int | None = None) -> None: ...
    def refresh_window(self, athlete_id: int, *, delay: int | None = None) -> None: ...
    def read_gear(self, athlete_id: int, *, delay: int | None = None) -> None: ...
    def process_webhook_event(self, event_id: int, *, delay: int | None = None) -> None: ...
    def drain_webhook_events(self) -> None: ...
    def evaluate_week(
        self, athlete_id: int, week_start: dt.date, *, delay: int | None = None
    ) -> None: ...
    def judge_run(
        self,
        athlete_id: int,
        activity_id: int,
        *,
        announced: dt.datetime | None = None,
        delay: int | None = None,
    ) -> None: ...
    def send_digest(self, outbox_id: int, *, delay: int | None = None) -> None: ...
    def welcome(self, athlete_id: int, *, delay: int | None = None) -> None: ...
    def purge_expired(self, *, delay: int | None = None) -> None: ...


class Host(Protocol):
    """What every job gets from the runtime (strideguard/runtime.py), which satisfies each
    host below: settings, sessions, clock, the queue and the lease every job row keeps. A
    plug-in never imports the runtime."""

    @property
    def settings(self) -> Settings: ...
    @property
    def sessions(self) -> sessionmaker[Session]: ...
    @property
    def clock(self) -> Callable[[], dt.datetime]: ...
    @property
    def jobs(self) -> JobSender: ...
    @property
    def lease(self) -> dt.timedelta: ...


class SourceHost(Host, Protocol):
    """What every source is built from, by its class's `from_host`."""

    def plugin_context(self, kind: str) -> Any:
        """What the runtime built for that plug-in (Strava: its context with the shared rate
        budget), or None."""
        ...


class JobHost(SourceHost, Protocol):
    """What a source's own jobs (Strava's syncs, shoes and webhook events) get besides: the
    drain of webhook events, and re-opening a judged week for a changed activity."""

    @property
    def webhook_drains(self) -> DrainRequests: ...

    def reopen_week(
        self, session: Session, athlete_id: int, week_start: dt.date, now: dt.datetime
    ) -> bool:
        """Send a finished week back for judging because an activity in it changed; True
        when it was re-opened (the caller then queues its evaluation)."""
        ...


class ActivitySource(Protocol):
    """One place activities come from. An athlete may have several (Strava and their own
    files); the pipeline asks each through `worker/sources.py`, never one by name."""

    def followed(self, session: Session) -> Sequence[Followed]:
        """The athletes this source reads activities for now (connected, not revoked)."""
        ...

    def unfinished_syncs(
        self, session: Session, stale: dt.datetime, max_attempts: int, limit: int
    ) -> Sequence[UnfinishedSync]:
        """Refreshes asked for before `stale`, not done since, not held by a live attempt
        (one started after `stale`) and not given up (`max_attempts`); at most `limit`."""
        ...

    def unavailable_reason(self, session: Session, athlete_id: int) -> str | None:
        """Why the athlete's activities cannot be read at all, or None."""
        ...

    def refresh_window(self, athlete_id: int, priority: Priority) -> Window:
        """Bring the athlete's lookback window up to date and return it; raises SourceError."""
        ...

    def reserve_reads(self, now: dt.datetime, grace: dt.timedelta) -> None:
        """Hold back, from a rate budget the source shares, the reads the schedule needs
        this window and day (weeks close `grace` after their end); the scheduler calls it
        each tick. A source without such a budget does nothing."""
        ...


@dataclass(frozen=True)
class Delivery:
    """One rendered message for one runner, in the channel's own form (email: a MIME message)."""

    recipient: str
    message: Any


@dataclass(frozen=True)
class ShortMessage:
    """A message for a push or chat channel: a title and a plain-text body, links written out.

    Rendered by the pipeline (worker/short_messages.py) from the same facts as the email, so
    every channel kind that takes short text gets the same words.
    """

    title: str
    body: str


@dataclass(frozen=True)
class RiskyRunFinding:
    """A risky run's finding and the limits after its week, which its per-run alert gives
    as the next-run ceiling. JSON only at the storage edge (`risky_runs.finding`)."""

    finding: Finding
    # `rules.Limit.to_dict` dicts.
    limits: Sequence[Mapping[str, Any]] = ()

    def to_json(self) -> dict[str, Any]:
        return {**self.finding.to_dict(), "limits": list(self.limits)}

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> RiskyRunFinding:
        return cls(Finding.from_dict(stored), stored.get("limits") or ())


class DeliveryError(Exception):
    """A channel could not deliver; `permanent` says that retrying will not help."""

    permanent = False


class Channel(Protocol):
    def due_deliveries(self, session: Session, now: dt.datetime, limit: int) -> Sequence[int]:
        """Ids of the `deliveries` rows a sender may take at `now` (due and pending, or held
        under a dead lease), oldest first; the reconciler re-sends their jobs."""
        ...

    def blocked_reason(self, athlete: Athlete, week_start: dt.date) -> str | None:
        """Why nothing about this week may reach the athlete on this channel, or None."""
        ...

    def deliver(self, delivery: Delivery) -> None:
        """Hand the message over for delivery; raises DeliveryError."""
        ...


class DeliveryHost(Host, Protocol):
    """What a channel's own send job (email's digest sender) gets besides: the channel the
    runtime built, and the backoff between attempts."""

    @property
    def channel(self) -> Channel: ...
    @property
    def rules(self) -> ConfigHolder:
        """The rules in force (the digest is rendered with them)."""
        ...

    def retry_delay(self, attempts: int) -> dt.timedelta:
        """Backoff before attempt `attempts + 1`."""
        ...
