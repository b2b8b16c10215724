"""The digest the rules in force would send an athlete for one week, built but never sent.

It goes the worker's way: the week is judged on the stored activities with the athlete's
overrides, gear and muted rules, then rendered and wrapped as the outbox would. The stored
history counts from the day after its oldest activity (as in the backtest), so a week the
service could only partly see is not previewed as an alert it would never send.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from strideguard import rules
from strideguard.activity_sources import counted
from strideguard.gear import load_gear
from strideguard.integrations.email.digest_links import make_digest_links
from strideguard.integrations.email.mime import build_message
from strideguard.integrations.email.render import (
    AthleteView,
    DigestContext,
    DigestFinding,
    RenderedEmail,
    render_digest,
)
from strideguard.integrations.email.weekly_totals import weekly_running_m
from strideguard.models import Activity, Athlete
from strideguard.settings import Settings
from strideguard.times import week_start_of, zone_or_utc
from strideguard.worker.evaluation import Fired, alertable, digest_message_id
from strideguard.worker.weeks import WEEK

# build_message needs a recipient; a preview of an athlete with no address shows this one.
NO_ADDRESS = "no-address@example.invalid"


class PreviewError(ValueError):
    """The preview cannot be made (unknown athlete, a week that is not a Monday...)."""


@dataclass(frozen=True)
class Preview:
    athlete_id: int
    week_start: dt.date
    findings: list[Fired]  # what fired and is not muted
    rendered: RenderedEmail | None  # None: no rule fired, nothing would be sent
    message: EmailMessage | None


def last_closed_week(athlete: Athlete, now: dt.datetime) -> dt.date:
    return week_start_of(now.astimezone(zone_or_utc(athlete.timezone)).date()) - WEEK


def preview_digest(
    session: Session,
    athlete_id: int,
    week_start: dt.date | None,
    config: rules.RulesConfig,
    settings: Settings,
    now: dt.datetime,
) -> Preview:
    athlete = session.get(Athlete, athlete_id)
    if athlete is None:
        raise PreviewError(f"no athlete {athlete_id}")
    week = week_start or last_closed_week(athlete, now)
    if week.weekday() != 0:
        raise PreviewError(f"{week} is not a Monday; weeks are named by their Monday")
    fields = [getattr(Activity, name) for name in rules.ActivityRecord.__dataclass_fields__]
    activities = [
        rules.ActivityRecord(**row._asdict())
        for row in session.execute(
            select(*fields).where(Activity.athlete_id == athlete_id, counted())
        )
    ]
    oldest = session.scalar(
        select(func.min(Activity.start_date_local)).where(Activity.athlete_id == athlete_id)
    )
    try:
        findings = rules.evaluate_week(
            activities,
            week,
            config,
            overrides=athlete.rule_overrides or None,
            gear=load_gear(session, athlete_id),
            history_start=oldest.date() + dt.timedelta(days=1) if oldest else None,
        )
    except rules.ConfigError as exc:
        raise PreviewError("invalid rule overrides: " + "; ".join(exc.errors)) from None
    fired = alertable(findings, athlete.muted_rules or [])
    if not fired:
        return Preview(athlete_id, week, [], None, None)
    links = make_digest_links(
        athlete.id,
        [f.finding.rule for f in fired],
        settings,
        unsubscribe_mailbox=settings.unsubscribe_address,
    )
    rendered = render_digest(
        DigestContext(
            athlete=AthleteView.of(athlete),
            week_start=week,
            findings=[DigestFinding(f.finding, other_runs=f.other_runs) for f in fired],
            weekly_distance_m=weekly_running_m(
                session, athlete_id, week, config.activity_types.running
            ),
            links=links,
        )
    )
    message = build_message(
        rendered,
        to=athlete.email or NO_ADDRESS,
        from_=settings.mail_from,
        message_id=digest_message_id(athlete.id, week, settings.public_base_url),
        links=links,
    )
    return Preview(athlete_id, week, fired, rendered, message)
