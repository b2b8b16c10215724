"""The one job-row protocol and the status enums, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from strideguard import leases
from strideguard.leases import DELIVERY_LEASE, EVALUATION_LEASE, WEBHOOK_EVENT_LEASE
from strideguard.models import Athlete, DeliveryRecord, Evaluation, WebhookEvent
from strideguard.status import DeliveryStatus, EvaluationStatus
from strideguard.times import aware

NOW = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(minutes=10)
WEEK = dt.date(2026, 2, 23)


def _athlete(session: Session) -> int:
    athlete = Athlete(strava_athlete_id=7, email="runner@example.org")
    session.add(athlete)
    session.flush()
    return athlete.id


def _evaluation(sessions: sessionmaker[Session]) -> int:
    with sessions.begin() as session:
        row = Evaluation(athlete_id=_athlete(session), week_start=WEEK, due_at=NOW)
        session.add(row)
        session.flush()
        return row.id


def _claim_evaluation(sessions: sessionmaker[Session], row_id: int, now: dt.datetime) -> bool:
    with sessions.begin() as session:
        return leases.claim(
            session, EVALUATION_LEASE, Evaluation.id == row_id, now=now, duration=LEASE
        )


def test_a_live_lease_keeps_a_second_claimant_out_and_a_dead_one_lets_it_in(
    sessions: sessionmaker[Session],
) -> None:
    row_id = _evaluation(sessions)
    assert _claim_evaluation(sessions, row_id, NOW)
    assert not _claim_evaluation(sessions, row_id, NOW + LEASE / 2)
    assert _claim_evaluation(sessions, row_id, NOW + LEASE + dt.timedelta(seconds=1))
    with sessions() as session:
        row = session.get_one(Evaluation, row_id)
        assert row.attempts == 2  # both claims counted, the refused one not
        assert aware(row.started_at) == NOW + LEASE + dt.timedelta(seconds=1)


def test_release_frees_the_lease_records_the_outcome_and_can_give_the_attempt_back(
    sessions: sessionmaker[Session],
) -> None:
    row_id = _evaluation(sessions)
    assert _claim_evaluation(sessions, row_id, NOW)
    with sessions.begin() as session:
        assert leases.release(
            session,
            EVALUATION_LEASE,
            Evaluation.id == row_id,
            uncount=True,
            status=EvaluationStatus.FAILED,
            last_error="boom",
        )
    with sessions() as session:
        row = session.get_one(Evaluation, row_id)
        assert (row.started_at, row.attempts, row.last_error) == (None, 0, "boom")
        # Read back as the enum, not as a bare string.
        assert row.status is EvaluationStatus.FAILED
    assert _claim_evaluation(sessions, row_id, NOW + dt.timedelta(seconds=1))


def test_a_lease_kept_as_an_expiry_is_dead_only_once_that_moment_passes(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        row = DeliveryRecord(athlete_id=_athlete(session), week_start=WEEK, message_id="<m@x>")
        session.add(row)
        session.flush()
        row_id = row.id

    def claim(now: dt.datetime) -> bool:
        with sessions.begin() as session:
            return leases.claim(
                session,
                DELIVERY_LEASE,
                DeliveryRecord.id == row_id,
                now=now,
                duration=LEASE,
                also={"status": DeliveryStatus.SENDING},
            )

    assert claim(NOW)
    assert not claim(NOW + LEASE)  # the lease runs up to and including its end
    assert claim(NOW + LEASE + dt.timedelta(seconds=1))
    with sessions() as session:
        row = session.get_one(DeliveryRecord, row_id)
        assert aware(row.lease_until) == NOW + 2 * LEASE + dt.timedelta(seconds=1)
        assert (row.attempts, row.status) == (2, DeliveryStatus.SENDING)


def test_a_row_locked_job_hands_its_attempt_back_without_a_lease_column(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        event = WebhookEvent(
            subscription_id=1,
            object_type="activity",
            object_id=9,
            aspect_type="create",
            owner_id=7,
            event_time=1,
            attempts=3,
        )
        session.add(event)
        session.flush()
        event_id = event.id
    with sessions.begin() as session:
        leases.release(session, WEBHOOK_EVENT_LEASE, WebhookEvent.id == event_id, uncount=True)
    with sessions() as session:
        assert session.get_one(WebhookEvent, event_id).attempts == 2


@pytest.mark.parametrize(("attempts", "allowed", "exhausted"), [(2, 3, False), (3, 3, True)])
def test_attempts_are_exhausted_once_they_reach_the_allowance(
    attempts: int, allowed: int, exhausted: bool
) -> None:
    assert leases.exhausted(attempts, allowed) is exhausted


def test_a_status_the_enum_does_not_know_fails_loudly_on_read(
    sessions: sessionmaker[Session],
) -> None:
    row_id = _evaluation(sessions)
    with sessions.begin() as session:
        session.execute(
            text("UPDATE evaluations SET status = 'pendign' WHERE id = :id"), {"id": row_id}
        )
    with sessions() as session, pytest.raises(ValueError, match="pendign"):
        session.get(Evaluation, row_id)
