"""Short messages to a runner's push and chat channels: one job row per channel and message.

`queue_digest_notices` writes the rows in the evaluation's transaction, beside the digest's
email row; `queue_run_alert` does the same for a per-run alert. `send_channel_message` is the
job behind the `send_channel_message` actor. Each row is claimed under the same lease and
attempts as the email outbox (strideguard/leases.py), so a worker killed mid-send loses
nothing, and one channel's slow or broken service holds up only its own row.

Outcomes, each recorded on the row:

- sent: `sent`;
- the service refused for good (`DeliveryError.permanent`, e.g. HTTP 4xx, a URL Apprise no
  longer parses): the row `failed` and the channel switched off with the reason, which the
  runner and the admin see;
- the service failed this time (5xx, timeout, no connection): back to `pending` with a
  backoff, given up after JOB_MAX_ATTEMPTS with the reason; the channel stays on;
- the channel was switched off meanwhile, or a pause covers the week: `cancelled`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.orm import Session

from strideguard import leases
from strideguard.crypto import TokenKeyError, channel_url_cipher
from strideguard.db import transaction
from strideguard.leases import CHANNEL_MESSAGE_LEASE, GaveUp, error_text, gave_up_text
from strideguard.limits import tightest_limits
from strideguard.models import Athlete, AthleteChannel, ChannelMessage
from strideguard.rules import Finding
from strideguard.status import ChannelStatus, DeliveryStatus
from strideguard.upsert import insert_ignoring_duplicates
from strideguard.worker.host import PipelineHost
from strideguard.worker.ports import Delivery, DeliveryError, RiskyRunFinding
from strideguard.worker.registry import ALERT_MESSAGES, CHANNELS, plugin_class
from strideguard.worker.short_messages import distance_down, render

log = logging.getLogger(__name__)


def claimable(now: dt.datetime) -> ColumnElement[bool]:
    """Rows a sender may take at `now`: due and pending, or sending under a dead lease."""
    return leases.due_or_abandoned(
        ChannelMessage.status, ChannelMessage.next_attempt_at, ChannelMessage.lease_until, now
    )


def _queue(
    session: Session,
    athlete_id: int,
    kind: str,
    key: str,
    facts: Mapping[str, Any],
    now: dt.datetime,
) -> list[int]:
    """One row per active channel of the athlete; a key already queued is not queued twice."""
    channel_ids = session.scalars(
        select(AthleteChannel.id).where(
            AthleteChannel.athlete_id == athlete_id,
            AthleteChannel.status == ChannelStatus.ACTIVE,
        )
    ).all()
    if not channel_ids:
        return []
    rows = [
        {
            "channel_id": channel_id,
            "athlete_id": athlete_id,
            "kind": kind,
            "key": key,
            "facts": dict(facts),
            "status": DeliveryStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for channel_id in channel_ids
    ]
    inserted = session.execute(
        insert_ignoring_duplicates(session, ChannelMessage).returning(ChannelMessage.id), rows
    )
    return [row.id for row in inserted]


def queue_digest_notices(
    session: Session,
    athlete_id: int,
    week_start: dt.date,
    outbox_id: int,
    now: dt.datetime,
    *,
    by_email: bool = True,
) -> list[int]:
    """A "your weekly check is in your email" notice for each of the athlete's channels;
    `by_email` False (unsubscribed, bounced, no address) words it without the email."""
    facts = {"week_start": week_start.isoformat(), "outbox_id": outbox_id, "by_email": by_email}
    return _queue(session, athlete_id, "digest", f"digest:{week_start.isoformat()}", facts, now)


def target_kinds(session: Session, athlete_id: int) -> list[str]:
    """The channel kinds of the athlete's active push/chat targets (`athlete_channels`)."""
    return sorted(
        session.scalars(
            select(AthleteChannel.kind)
            .where(
                AthleteChannel.athlete_id == athlete_id,
                AthleteChannel.status == ChannelStatus.ACTIVE,
            )
            .distinct()
        )
    )


def hands_over(kind: str) -> bool:
    """Whether a per-run alert of this channel kind goes out as short messages, one row per
    target here; a kind with its own full message (`ALERT_MESSAGES`: email) sends it itself."""
    return kind not in ALERT_MESSAGES


def run_alert_facts(athlete: Athlete, runs: Sequence[RiskyRunFinding]) -> dict[str, Any]:
    """A gathered per-run alert's findings as the short message reads them: each run, its
    30-day longest, and the next-run ceiling after the latest run, in the runner's units."""
    latest = max(runs, key=lambda run: str(run.finding.date or ""))
    ceiling = tightest_limits(latest.limits).get("next_run") or {}
    high = ceiling.get("high_m")
    return {
        "runs": [_run_facts(run.finding) for run in runs],
        "ceiling": (
            f"up to {distance_down(int(high), athlete.units)}"
            if isinstance(high, int | float)
            else "no longer than your longest run of the last 30 days"
        ),
        "units": athlete.units,
        "week_start": latest.finding.week_start.isoformat(),
    }


def _run_facts(run: Finding) -> dict[str, Any]:
    """A single-run spike's figures always hold both distances; figures in general may not."""
    run_m, longest_m = run.figures["run_m"], run.figures["longest_prior_m"]
    if not isinstance(run_m, int | float) or not isinstance(longest_m, int | float):
        raise TypeError(f"{run.rule} on {run.date}: no run distances in {dict(run.figures)}")
    return {
        "run_date": str(run.date),
        "distance_m": int(run_m),
        "longest_30d_m": int(longest_m),
        "ratio": float(run_m) / float(longest_m),
    }


def queue_run_alert(
    session: Session, athlete_id: int, key: str, facts: Mapping[str, Any], now: dt.datetime
) -> list[int]:
    """A per-run alert for each of the athlete's channels; `facts` as `short_messages.render`
    reads them for kind "run" (runs, ceiling, units, week_start). `key` names the alert,
    e.g. "run:<alert id>", so a retried caller queues it once."""
    return _queue(session, athlete_id, "run", key, facts, now)


def send_now(runtime: PipelineHost, message_ids: Sequence[int]) -> None:
    """Enqueue the jobs of rows just committed (the reconciler re-sends any that get lost)."""
    for message_id in message_ids:
        runtime.jobs.send_channel_message(message_id)


def send_due_for(runtime: PipelineHost, athlete_id: int) -> None:
    """Enqueue every message of the athlete that is due now, e.g. right after a digest."""
    with runtime.sessions() as session:
        due = session.scalars(
            select(ChannelMessage.id).where(
                ChannelMessage.athlete_id == athlete_id, claimable(runtime.clock())
            )
        ).all()
    send_now(runtime, due)


def send_channel_message(runtime: PipelineHost, message_id: int) -> None:
    """The `send_channel_message` job (see the module docstring for every outcome)."""
    context = {"channel_message_id": message_id}
    now = runtime.clock()
    with transaction(runtime.sessions) as session:
        claimed = leases.claim(
            session,
            CHANNEL_MESSAGE_LEASE,
            ChannelMessage.id == message_id,
            claimable(now),
            now=now,
            duration=runtime.lease,
            also={"status": DeliveryStatus.SENDING},
        )
    if not claimed:
        log.info("channel message not claimable (sent, not due, or held)", extra=context)
        return
    lease_until = CHANNEL_MESSAGE_LEASE.stamp(now, runtime.lease)
    ours = and_(
        ChannelMessage.id == message_id,
        ChannelMessage.status == DeliveryStatus.SENDING,
        ChannelMessage.lease_until == lease_until,
    )
    with runtime.sessions() as session:
        row = session.get_one(ChannelMessage, message_id)
        channel = session.get_one(AthleteChannel, row.channel_id)
        athlete = session.get_one(Athlete, row.athlete_id)
        attempts, last_error = row.attempts, row.last_error
        kind, facts, created_at = row.kind, dict(row.facts), row.created_at
        channel_kind, channel_status, sealed = channel.kind, channel.status, channel.url_enc
        context["athlete_id"] = athlete.id
    settings = runtime.settings

    def close(status: DeliveryStatus, reason: str | None, **values: Any) -> None:
        with transaction(runtime.sessions) as session:
            leases.release(
                session, CHANNEL_MESSAGE_LEASE, ours, status=status, last_error=reason, **values
            )
        log.info("channel message %s: %s", status, reason or "delivered", extra=context)

    if leases.exhausted(attempts - 1, settings.job_max_attempts):
        close(DeliveryStatus.FAILED, gave_up_text(attempts - 1, last_error))
        raise GaveUp(f"channel message {message_id}: attempts exhausted")
    if channel_status != ChannelStatus.ACTIVE:
        close(DeliveryStatus.CANCELLED, "not sent: the channel is switched off")
        return
    port = plugin_class(CHANNELS, channel_kind)(settings)
    week_start = dt.date.fromisoformat(str(facts.get("week_start") or created_at.date()))
    blocked = port.blocked_reason(athlete, week_start)
    if blocked:
        close(DeliveryStatus.CANCELLED, f"not sent: {blocked}")
        return
    try:
        url = channel_url_cipher(settings.fernet_key()).open(sealed)
        message = render(kind, facts, athlete.id, athlete.firstname, settings)
    except (TokenKeyError, ValueError, KeyError) as exc:
        close(DeliveryStatus.FAILED, error_text(exc))
        return
    try:
        port.deliver(Delivery(url, message))
    except DeliveryError as exc:
        reason = str(exc)[: leases.ERROR_TEXT_LIMIT]
        if exc.permanent:
            with transaction(runtime.sessions) as session:
                leases.release(
                    session,
                    CHANNEL_MESSAGE_LEASE,
                    ours,
                    status=DeliveryStatus.FAILED,
                    last_error=reason,
                )
                switch_off(session, channel_id=row.channel_id, reason=reason, now=runtime.clock())
            log.warning("channel refused for good: switched off", extra=context)
            return
        _retry_later(runtime, message_id, ours, attempts, reason, context)
        return
    close(DeliveryStatus.SENT, None, sent_at=runtime.clock())


def switch_off(session: Session, *, channel_id: int, reason: str, now: dt.datetime) -> None:
    """The channel gets no more messages until the runner adds it again."""
    session.execute(
        update(AthleteChannel)
        .where(AthleteChannel.id == channel_id)
        .values(
            status=ChannelStatus.OFF,
            off_reason=f"{now:%Y-%m-%d}: {reason}"[: leases.ERROR_TEXT_LIMIT],
        )
    )


def _retry_later(
    runtime: PipelineHost,
    message_id: int,
    ours: ColumnElement[bool],
    attempts: int,
    reason: str,
    context: dict[str, Any],
) -> None:
    final = leases.exhausted(attempts, runtime.settings.job_max_attempts)
    delay = runtime.retry_delay(attempts)
    with transaction(runtime.sessions) as session:
        leases.release(
            session,
            CHANNEL_MESSAGE_LEASE,
            ours,
            status=DeliveryStatus.FAILED if final else DeliveryStatus.PENDING,
            last_error=gave_up_text(attempts, reason) if final else reason,
            next_attempt_at=None if final else runtime.clock() + delay,
        )
    if final:
        log.info("channel message given up: %s", reason, extra=context)
        return
    runtime.jobs.send_channel_message(message_id, delay=int(delay.total_seconds() * 1000))
    log.info("channel message not sent (%s); next try in %s", reason, delay, extra=context)
