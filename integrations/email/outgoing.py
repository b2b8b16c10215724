"""What `send_digest` needs to deliver any outbox row, whatever its kind, read in one go.

A digest is read and rendered by integrations/email/outbox.py; the welcome and the weekly note are
read here, from the rows their evaluation left: the limits after the week
(`evaluations.limits`, the digest's own figures), the runs of the chart's weeks, and, for
the welcome, the checks the runner will hear about and when the next one happens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from strideguard import rules
from strideguard.integrations.email.digest_links import DigestLinks, make_digest_links
from strideguard.integrations.email.notices import (
    Check,
    NoteContext,
    WelcomeContext,
    render_weekly_note,
    render_welcome,
)
from strideguard.integrations.email.render import AthleteView, RenderedEmail
from strideguard.integrations.email.weekly_totals import week_runs, weekly_running_m
from strideguard.models import Alert, Athlete, DeliveryRecord, Evaluation
from strideguard.settings import Settings
from strideguard.status import DeliveryKind, EvaluationStatus
from strideguard.times import WEEK, due_at, zone_or_utc

Render = Callable[[Settings], tuple[RenderedEmail, DigestLinks]]


@dataclass(frozen=True)
class Outgoing:
    """One outbox row ready to send: who gets it, its Message-ID, the late alerts it carries
    (a digest's only) and how to render it with fresh links."""

    athlete: Athlete
    message_id: str
    carried_late: list[int]
    render: Render


def links_for(athlete_id: int, settings: Settings) -> DigestLinks:
    """Unsubscribe, pause, preferences and check-in links; no rule to mute."""
    return make_digest_links(
        athlete_id, [], settings, unsubscribe_mailbox=settings.unsubscribe_address
    )


def load_notice(
    session: Session, row: DeliveryRecord, config: rules.RulesConfig, lookback_weeks: int
) -> Outgoing:
    """A welcome or a weekly note as it goes out (or went out, for the runner's page)."""
    athlete = session.get_one(Athlete, row.athlete_id)
    view = AthleteView.of(athlete)
    running = config.activity_types.running
    evaluation = session.execute(
        select(Evaluation.status, Evaluation.limits).where(
            Evaluation.athlete_id == row.athlete_id, Evaluation.week_start == row.week_start
        )
    ).one_or_none()
    limits = (evaluation.limits if evaluation else None) or []
    if row.kind == DeliveryKind.NOTE:
        figures = week_runs(session, athlete.id, row.week_start, row.week_start, running)

        def render_note(settings: Settings) -> tuple[RenderedEmail, DigestLinks]:
            links = links_for(athlete.id, settings)
            note = NoteContext(
                athlete=view,
                week_start=row.week_start,
                distance_m=figures.distance_m,
                runs=figures.runs,
                longest_m=figures.longest_m,
                limits=limits,
                links=links,
            )
            return render_weekly_note(note), links

        return Outgoing(athlete, row.message_id, [], render_note)
    fired = None
    if evaluation is not None and evaluation.status == EvaluationStatus.DONE:
        fired = session.scalar(
            select(func.count()).where(
                Alert.athlete_id == athlete.id,
                Alert.week_start == row.week_start,
                Alert.late.is_(False),
            )
        )
    muted = set(athlete.muted_rules or [])
    checks = [
        Check(rule_id, rule.title)
        for rule_id, rule in config.rules.items()
        if rule.enabled and rule_id not in muted
    ]
    chart_weeks = weekly_running_m(session, athlete.id, row.week_start, running)
    # The weeks the first read covered, up to the end of the last closed week.
    first_week = row.week_start - (lookback_weeks - 1) * WEEK
    found = week_runs(session, athlete.id, first_week, row.week_start, running)

    def render_greeting(settings: Settings) -> tuple[RenderedEmail, DigestLinks]:
        links = links_for(athlete.id, settings)
        zone = zone_or_utc(athlete.timezone)
        grace = dt.timedelta(hours=settings.evaluation_grace_hours)
        welcome = WelcomeContext(
            athlete=view,
            timezone=athlete.timezone,
            last_week=row.week_start,
            weeks=lookback_weeks,
            weekly_distance_m=chart_weeks,
            runs=found.runs,
            total_m=found.distance_m,
            limits=limits,
            checks=checks,
            # The week after the last closed one is the current week: it is judged next.
            next_check=due_at(row.week_start + WEEK, zone, grace).astimezone(zone),
            last_week_fired=fired,
            weekly_note=athlete.weekly_note,
            links=links,
        )
        return render_welcome(welcome), links

    return Outgoing(athlete, row.message_id, [], render_greeting)
