"""What the runner's page shows, read from the database in one pass.

Weekly figures come from the activity rows we hold. Those are kept only RETENTION_DAYS, so a
week that began before the cutoff is shown as "not kept" rather than as a quiet week. The band
each week is judged against comes from the rules engine itself, run with the runner's own
overrides, so the page and the emails can never disagree about a limit.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field, replace

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from strideguard import rules
from strideguard.activity_sources import FILE, counted
from strideguard.integrations.email.render import figure_label, format_figure
from strideguard.models import (
    Activity,
    Alert,
    Athlete,
    BackPainCheckin,
    DeliveryRecord,
    StravaConnection,
)
from strideguard.times import week_start_of, zone_or_utc
from strideguard.worker.weeks import WEEK

WEEKS = 16
SPIKE_RULE = "weekly_distance_spike"
LONGEST_RUN_DAYS = 30
# Used only when the rules file cannot be read: the types the shipped rules count as running.
DEFAULT_RUNNING = frozenset({"Run", "TrailRun", "VirtualRun"})


@dataclass(frozen=True)
class WeekRow:
    week_start: dt.date
    distance_m: int | None  # None: before the data we hold
    limit_m: float | None  # the most the weekly-spike rule allows; None when it cannot judge
    baseline_m: float | None
    findings: tuple[str, ...]  # titles of the rules that fired for this week
    current: bool


@dataclass(frozen=True)
class AlertLine:
    title: str
    figures: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class DigestRow:
    outbox_id: int
    week_start: dt.date
    status: str
    sent_at: dt.datetime | None
    alerts: tuple[AlertLine, ...]
    kind: str = "digest"  # or "welcome", "note" (DeliveryKind)


@dataclass(frozen=True)
class Source:
    name: str
    state: str
    ok: bool


@dataclass
class RunnerSummary:
    athlete: Athlete
    today: dt.date
    weeks: list[WeekRow]
    spike_threshold_pct: int | float | None
    spike_baseline_weeks: int | None
    longest_run_m: int | None
    longest_run_day: dt.date | None
    digests: list[DigestRow]
    sources: list[Source]
    channels: list[Source]
    checkins: list[BackPainCheckin]
    kept_since: dt.date
    undelivered_alerts: list[tuple[dt.date, AlertLine]] = field(default_factory=list)


def local_today(athlete: Athlete, now: dt.datetime) -> dt.date:
    return now.astimezone(zone_or_utc(athlete.timezone)).date()


def ago(then: dt.datetime, now: dt.datetime) -> str:
    """ "12 minutes ago", "3 hours ago", "2 days ago": how long, in the largest whole unit."""
    then = then if then.tzinfo else then.replace(tzinfo=dt.UTC)
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "just now"


def _strava_state(connection: StravaConnection | None, now: dt.datetime) -> Source:
    if connection is None:
        return Source("Strava", "not connected", False)
    if connection.status != "active":
        return Source("Strava", "access revoked on Strava; connect again to resume", False)
    if connection.last_synced_at is None:
        return Source("Strava", "connected, first sync still running", True)
    return Source("Strava", f"connected, last sync {ago(connection.last_synced_at, now)}", True)


def _email_state(athlete: Athlete) -> Source:
    if not athlete.email:
        return Source("Email", "no address yet: add one in your preferences", False)
    states = {
        "ok": (f"sending to {athlete.email}", True),
        "bounced": (f"{athlete.email} bounced, so nothing is sent: correct it below", False),
        "unsubscribed": (f"unsubscribed ({athlete.email})", False),
    }
    state, ok = states.get(athlete.email_status, (athlete.email_status, False))
    return Source("Email", state, ok)


def _alert_line(alert: Alert, titles: dict[str, str], units: str) -> AlertLine:
    figures = alert.finding.get("figures") or {}
    shown = tuple(
        (figure_label(name), format_figure(value, name, units))
        for name, value in figures.items()
        if value is not None
    )
    return AlertLine(titles.get(alert.rule_id, alert.finding.get("title") or alert.rule_id), shown)


def _effective(config: rules.RulesConfig | None, athlete: Athlete) -> rules.RulesConfig | None:
    """The rules as they apply to this runner; None when their overrides are broken (the
    admin view reports those; the chart then shows no band rather than a wrong one)."""
    if config is None:
        return None
    try:
        return config.with_overrides(athlete.rule_overrides)
    except rules.ConfigError:
        return None


def _band(
    activities: list[Activity], config: rules.RulesConfig | None, history_start: dt.date
) -> dict[dt.date, tuple[float, float]]:
    """Week Monday -> (baseline mean, limit) for the weeks the spike rule could judge."""
    spike = config.rules.get(SPIKE_RULE) if config is not None else None
    if config is None or spike is None or not activities:
        return {}
    # Only the one rule: the others' findings are not drawn, and cost 10x the time.
    only_spike = replace(config, rules={SPIKE_RULE: spike})
    findings = rules.evaluate_all(activities, only_spike, history_start=history_start)
    band = {}
    for finding in findings:
        if finding.rule != SPIKE_RULE or finding.status not in ("clear", "fired"):
            continue
        baseline = finding.figures.get("baseline_m")
        if isinstance(baseline, int | float) and isinstance(finding.threshold, int | float):
            band[finding.week_start] = (
                float(baseline),
                float(baseline) * (1 + finding.threshold / 100),
            )
    return band


def load_summary(
    session: Session,
    athlete_id: int,
    now: dt.datetime,
    config: rules.RulesConfig | None,
    retention_days: int,
) -> RunnerSummary | None:
    athlete = session.get(Athlete, athlete_id)
    if athlete is None:
        return None
    titles = {rule_id: rule.title for rule_id, rule in config.rules.items()} if config else {}
    config = _effective(config, athlete)
    today = local_today(athlete, now)
    current = week_start_of(today)
    first = current - (WEEKS - 1) * WEEK
    kept_since = (now - dt.timedelta(days=retention_days)).date()
    # The runner's own files are kept longer (FILE_RETENTION_DAYS): known from the first one.
    first_file = session.scalar(
        select(func.min(Activity.start_date_local)).where(
            Activity.athlete_id == athlete_id, Activity.source == FILE
        )
    )
    if first_file is not None:
        kept_since = min(kept_since, first_file.date())
    spike = config.rules.get(SPIKE_RULE) if config else None
    spike_params = dict(spike.params) if spike is not None and spike.enabled else {}
    lead_weeks = int(spike_params.get("baseline_weeks", 0))
    running = config.activity_types.running if config else DEFAULT_RUNNING
    activities = list(
        session.scalars(
            select(Activity)
            .where(
                Activity.athlete_id == athlete_id,
                counted(),  # a run from Strava and a file once
                Activity.start_date_local
                >= dt.datetime.combine(first - lead_weeks * WEEK, dt.time()),
            )
            .order_by(Activity.start_date_local)
        )
    )
    # Weeks that began before the retention cutoff are not fully held: unknown, not quiet.
    first_full_week = kept_since + dt.timedelta(days=-kept_since.weekday() % 7)
    history_start = max(first - lead_weeks * WEEK, first_full_week)
    totals: dict[dt.date, int] = defaultdict(int)
    longest: Activity | None = None
    for activity in activities:
        if activity.sport_type not in running:
            continue
        day = activity.start_date_local.date()
        totals[week_start_of(day)] += activity.distance_m
        if day > today - dt.timedelta(days=LONGEST_RUN_DAYS) and (
            longest is None or activity.distance_m > longest.distance_m
        ):
            longest = activity
    band = _band(activities, config, history_start)
    alerts = list(
        session.scalars(
            select(Alert).where(Alert.athlete_id == athlete_id).order_by(Alert.week_start.desc())
        )
    )
    fired: dict[dt.date, list[str]] = defaultdict(list)
    for alert in alerts:
        fired[alert.week_start].append(titles.get(alert.rule_id, alert.rule_id))
    weeks = []
    for back in range(WEEKS - 1, -1, -1):
        monday = current - back * WEEK
        known = monday >= history_start
        limit = band.get(monday)
        weeks.append(
            WeekRow(
                week_start=monday,
                distance_m=totals.get(monday, 0) if known else None,
                limit_m=limit[1] if limit else None,
                baseline_m=limit[0] if limit else None,
                findings=tuple(fired.get(monday, ())),
                current=monday == current,
            )
        )
    by_outbox: dict[int, list[AlertLine]] = defaultdict(list)
    undelivered = []
    for alert in alerts:
        line = _alert_line(alert, titles, athlete.units)
        if alert.outbox_id is None:
            undelivered.append((alert.week_start, line))
        else:
            by_outbox[alert.outbox_id].append(line)
    digests = [
        DigestRow(
            row.id, row.week_start, row.status, row.sent_at, tuple(by_outbox[row.id]), row.kind
        )
        for row in session.scalars(
            select(DeliveryRecord)
            .where(DeliveryRecord.athlete_id == athlete_id)
            .order_by(DeliveryRecord.week_start.desc())
        )
    ]
    checkins = list(
        session.scalars(
            select(BackPainCheckin)
            .where(BackPainCheckin.athlete_id == athlete_id)
            .order_by(BackPainCheckin.week_start.desc())
        )
    )
    return RunnerSummary(
        athlete=athlete,
        today=today,
        weeks=weeks,
        spike_threshold_pct=spike_params.get("threshold"),
        spike_baseline_weeks=int(spike_params["baseline_weeks"]) if lead_weeks else None,
        longest_run_m=longest.distance_m if longest else None,
        longest_run_day=longest.start_date_local.date() if longest else None,
        digests=digests,
        sources=[_strava_state(athlete.connection, now)],
        channels=[_email_state(athlete)],
        checkins=checkins,
        kept_since=kept_since,
        undelivered_alerts=undelivered,
    )
