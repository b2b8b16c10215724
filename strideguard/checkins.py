"""The back-pain check-in: the runner's own 0-10 answer for one local week, with a note.

The web page writes it and the evaluation reads it, so both go through here. An answer is
stored per athlete and week: answering again (a second click, a changed mind) replaces the
first, so a link clicked twice, or prefetched and then clicked, can never make two rows.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from strideguard.models import BackPainCheckin, utcnow
from strideguard.upsert import insert_ignoring_duplicates

SCORES = range(11)  # 0 = no pain ... 10 = the worst imaginable
MAX_NOTE_CHARS = 1000


def parse_score(raw: str) -> int | None:
    """The answer `raw` names, compared as text (so "²" or "1e1" are refused, not guessed)."""
    return next((score for score in SCORES if raw.strip() == str(score)), None)


def record_checkin(
    session: Session, athlete_id: int, week_start: dt.date, score: int, note: str | None
) -> None:
    """Store (or replace) the answer for the athlete's week, race-free on the unique key."""
    if score not in SCORES:
        raise ValueError(f"a back-pain answer is 0 to 10, not {score}")
    values = {"score": score, "note": note or None, "answered_at": utcnow()}
    session.execute(
        insert_ignoring_duplicates(session, BackPainCheckin).values(
            athlete_id=athlete_id, week_start=week_start, **values
        )
    )
    session.execute(
        update(BackPainCheckin)
        .where(BackPainCheckin.athlete_id == athlete_id, BackPainCheckin.week_start == week_start)
        .values(**values)
    )


def checkin_for_week(
    session: Session, athlete_id: int, week_start: dt.date
) -> BackPainCheckin | None:
    return session.scalar(
        select(BackPainCheckin).where(
            BackPainCheckin.athlete_id == athlete_id, BackPainCheckin.week_start == week_start
        )
    )


def answers_by_week(session: Session, athlete_id: int) -> dict[dt.date, int]:
    """Every answer of one athlete, as the plain data the rules engine reads."""
    rows = session.execute(
        select(BackPainCheckin.week_start, BackPainCheckin.score).where(
            BackPainCheckin.athlete_id == athlete_id
        )
    )
    return {week: score for week, score in rows}
