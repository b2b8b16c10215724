"""The athlete's shoes as the rules read them, whichever source counted their distance."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from strideguard.models import Gear


def load_gear(session: Session, athlete_id: int) -> dict[str, Gear]:
    return {
        gear.strava_gear_id: gear
        for gear in session.scalars(select(Gear).where(Gear.athlete_id == athlete_id))
    }
