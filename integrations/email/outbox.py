"""Deliver one digest from the outbox: claim, render, send, mark.

`send_digest(runtime, outbox_id)` is the job behind the `send_digest` actor. The row is claimed
under a lease (integrations/email/outbox_lease.py), rendered by the notifier, sent with the
row's stable Message-ID, and marked sent together with the late alerts the email carried.

Outcomes, each recorded on the row:

- SMTP says "later" (`TransientSendError`, or no SMTP_URL yet): back to `pending` with
  `next_attempt_at` backed off and `last_error`; retried until the digest is three days old.
- The recipient is refused for good (`PermanentBounce`): the athlete becomes `bounced` (no
  more mail) and the row `failed`. Other permanent errors fail the row.
- A template cannot render (`TemplateRenderError`): the row stays `pending` with the error, and
  no half-rendered mail goes out; it is retried after an operator fixes the template.
- The athlete unsubscribed or bounced meanwhile: the row is `cancelled`.

Exactly-once, and its one gap. A worker killed at any point before the SMTP server accepts the
message leaves the row `sending` under a lease; after the lease expires the reconciler re-sends
it and the next attempt delivers it once. A worker killed *between the SMTP server's accept and
the commit that marks the row sent* (a window of one local database write) leaves the same
state, so that digest is delivered a second time, with the same Message-ID, which mail clients
use to recognise the duplicate. Alerts are never duplicated: they were written once, with
unique keys, by the evaluation. A worker that merely hangs past its lease can likewise collide
with its successor; `mark_sent` then refuses the stale holder's mark.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from strideguard import rules
from strideguard.alerted_runs import alerted_on, alerted_runs
from strideguard.db import transaction
from strideguard.integrations.email.digest_links import DigestLinks, make_digest_links
from strideguard.integrations.email.mime import build_message
from strideguard.integrations.email.outbox_lease import (
    DIGEST_MAX_AGE,
    OutboxClaim,
    back_to_pending,
    claim,
    finish,
    mark_bounced,
    mark_sent,
)
from strideguard.integrations.email.outgoing import Outgoing, load_notice
from strideguard.integrations.email.render import (
    AthleteView,
    DigestContext,
    DigestFinding,
    RenderedEmail,
    TemplateRenderError,
    render_digest,
)
from strideguard.integrations.email.smtp import (
    PermanentBounce,
    PermanentSendError,
    TransientSendError,
)
from strideguard.integrations.email.weekly_totals import weekly_running_m
from strideguard.leases import GaveUp, error_text, exhausted, gave_up_text
from strideguard.models import Alert, Athlete, DeliveryRecord, Evaluation
from strideguard.settings import Settings
from strideguard.status import DeliveryKind, DeliveryStatus, EmailStatus
from strideguard.times import WEEK, aware
from strideguard.worker.ports import Delivery, DeliveryHost

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Digest:
    """What the email is made of, read from the database in one go."""

    athlete: Athlete
    week_start: dt.date
    message_id: str
    findings: list[DigestFinding]
    carried_late: list[int]
    weekly_distance_m: dict[dt.date, int]
    limits: list[dict[str, Any]]


def send_digest(runtime: DeliveryHost, outbox_id: int) -> None:
    """The `send_digest` job (see the module docstring for every outcome)."""
    context = {"outbox_id": outbox_id}
    now = runtime.clock()
    with transaction(runtime.sessions) as session:
        claim_ = claim(session, outbox_id, now, runtime.lease)
    if claim_ is None:
        log.info("digest not claimable (sent, not due, or held by a live sender)", extra=context)
        return
    # Only crashes count here: transient SMTP failures are retried until the digest is stale.
    if claim_.after_crash and exhausted(claim_.crashes, runtime.settings.job_max_attempts):
        reason = gave_up_text(claim_.attempts - 1, claim_.last_error)
        _finish(
            runtime, claim_, DeliveryStatus.FAILED, f"{reason} ({claim_.crashes} of them crashed)"
        )
        raise GaveUp(f"outbox {outbox_id}: attempts exhausted")
    with runtime.sessions() as session:
        outgoing = load_outgoing(
            session, outbox_id, runtime.rules.current(), runtime.settings.lookback_weeks
        )
    athlete = outgoing.athlete
    if athlete.email_status != EmailStatus.OK or not athlete.email:
        _finish(
            runtime,
            claim_,
            DeliveryStatus.CANCELLED,
            f"not sent: email status is {athlete.email_status}",
        )
        return
    if not runtime.settings.smtp_url:
        _retry_later(runtime, claim_, "SMTP_URL is not set; the digest waits until it is")
        return
    try:
        rendered, links = outgoing.render(runtime.settings)
        message = build_message(
            rendered,
            to=athlete.email,
            from_=runtime.settings.mail_from,
            message_id=outgoing.message_id,
            links=links,
        )
    except TemplateRenderError as exc:
        # Not the athlete's fault and not the attempt's: wait for the template fix.
        _retry_later(runtime, claim_, f"template error: {exc}", uncount=True)
        log.error("digest template failed: %s", exc, extra=context)
        return
    except ValueError as exc:  # no usable recipient address
        _finish(runtime, claim_, DeliveryStatus.FAILED, error_text(exc))
        return
    except Exception as exc:
        _retry_later(runtime, claim_, error_text(exc))
        log.exception("digest could not be built", extra=context)
        return
    try:
        runtime.channel.deliver(Delivery(athlete.email, message))
    except TransientSendError as exc:
        _retry_later(runtime, claim_, error_text(exc))
        return
    except PermanentBounce as exc:
        with transaction(runtime.sessions) as session:
            mark_bounced(session, athlete.id, error_text(exc))
            finish(session, claim_, DeliveryStatus.FAILED, error_text(exc))
        log.warning("recipient refused: athlete marked bounced", extra=context)
        return
    except PermanentSendError as exc:
        _finish(runtime, claim_, DeliveryStatus.FAILED, error_text(exc))
        return
    # The documented window: the SMTP server has the message, the row is not yet marked.
    with transaction(runtime.sessions) as session:
        marked = mark_sent(session, claim_, runtime.clock(), outgoing.carried_late)
    if not marked:
        log.warning(
            "digest sent after its lease expired; another sender may repeat it", extra=context
        )
    else:
        log.info("digest sent", extra={**context, "athlete_id": athlete.id})


def render_loaded(digest: Digest, settings: Settings) -> tuple[RenderedEmail, DigestLinks]:
    """The digest's email, with fresh links (the runner's page re-renders a sent one)."""
    athlete = digest.athlete
    links = make_digest_links(
        athlete.id,
        [told.finding.rule for told in digest.findings],
        settings,
        unsubscribe_mailbox=settings.unsubscribe_address,
    )
    rendered = render_digest(
        DigestContext(
            athlete=AthleteView.of(athlete),
            week_start=digest.week_start,
            findings=digest.findings,
            weekly_distance_m=digest.weekly_distance_m,
            links=links,
            limits=digest.limits,
        )
    )
    return rendered, links


def load_outgoing(
    session: Session, outbox_id: int, config: rules.RulesConfig, lookback_weeks: int
) -> Outgoing:
    """Any outbox row ready to render: a digest here, a welcome or a weekly note by
    integrations/email/outgoing.py."""
    row = session.get_one(DeliveryRecord, outbox_id)
    if row.kind != DeliveryKind.DIGEST:
        return load_notice(session, row, config, lookback_weeks)
    digest = load_digest(session, outbox_id, config.activity_types.running)
    return Outgoing(
        digest.athlete, digest.message_id, digest.carried_late, partial(render_loaded, digest)
    )


def load_digest(session: Session, outbox_id: int, running: frozenset[str]) -> Digest:
    """A digest as it goes out, or, once sent, as it went out (the runner's page shows it).

    A sent digest already holds the late alerts it carried (their outbox_id is its own), so it
    takes no new ones; an alert from an earlier week than the digest's is a carried late one.
    """
    # Callers hold a claimed or sent row, and an athlete's rows are deleted with it.
    row = session.get_one(DeliveryRecord, outbox_id)
    athlete = session.get_one(Athlete, row.athlete_id)
    own = session.scalars(
        select(Alert).where(Alert.outbox_id == outbox_id).order_by(Alert.id)
    ).all()
    late = (
        []
        if row.status == DeliveryStatus.SENT
        else session.scalars(
            select(Alert)
            .where(
                Alert.athlete_id == row.athlete_id,
                Alert.late.is_(True),
                Alert.outbox_id.is_(None),
                Alert.week_start < row.week_start,
            )
            .order_by(Alert.id)
        ).all()
    )
    # Rules that were in last week's email too: the runner has read that advice before.
    repeated = set(
        session.scalars(
            select(Alert.rule_id).where(
                Alert.athlete_id == row.athlete_id,
                Alert.week_start == row.week_start - WEEK,
                Alert.outbox_id.is_not(None),
            )
        )
    )
    # Runs a per-run alert already told the runner about: the digest does not repeat it.
    alerted = alerted_runs(session, row.athlete_id, row.week_start)
    findings = []
    for alert in own:
        told = _stored(alert)
        findings.append(
            replace(
                told,
                late=alert.week_start < row.week_start,
                repeat=alert.rule_id in repeated,
                alerted_on=alerted_on(told.finding, alerted),
            )
        )
    findings += [replace(_stored(alert), late=True) for alert in late]
    return Digest(
        athlete=athlete,
        week_start=row.week_start,
        message_id=row.message_id,
        findings=findings,
        carried_late=[alert.id for alert in late],
        weekly_distance_m=weekly_running_m(session, row.athlete_id, row.week_start, running),
        limits=session.scalar(
            select(Evaluation.limits).where(
                Evaluation.athlete_id == row.athlete_id, Evaluation.week_start == row.week_start
            )
        )
        or [],
    )


def _stored(alert: Alert) -> DigestFinding:
    """The alert's JSON, parsed here and nowhere else: the finding, and `other_runs`, which
    the evaluation stores beside it (`Fired.to_json` in worker/evaluation.py)."""
    return DigestFinding(
        rules.Finding.from_dict(alert.finding), other_runs=alert.finding.get("other_runs", 0)
    )


def _retry_later(
    runtime: DeliveryHost, claim_: OutboxClaim, reason: str, *, uncount: bool = False
) -> None:
    """Back to pending with a backoff, unless the digest has gone stale waiting."""
    now = runtime.clock()
    if now - (aware(claim_.created_at) or now) > DIGEST_MAX_AGE:
        _finish(
            runtime,
            claim_,
            DeliveryStatus.FAILED,
            f"undeliverable for {DIGEST_MAX_AGE.days} days; {reason}",
        )
        return
    delay = runtime.retry_delay(claim_.attempts)
    with transaction(runtime.sessions) as session:
        back_to_pending(session, claim_, reason, now + delay, uncount=uncount)
    runtime.jobs.send_digest(claim_.outbox_id, delay=int(delay.total_seconds() * 1000))
    log.info(
        "digest not sent (%s); next try in %s", reason, delay, extra={"outbox_id": claim_.outbox_id}
    )


def _finish(
    runtime: DeliveryHost, claim_: OutboxClaim, status: DeliveryStatus, reason: str
) -> None:
    with transaction(runtime.sessions) as session:
        finish(session, claim_, status, reason)
    log.info("digest %s: %s", status, reason, extra={"outbox_id": claim_.outbox_id})
