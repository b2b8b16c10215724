"""`strideguard rules backtest`: which history to replay, and what it would have sent.

Three sources of history: the stored activities (DATABASE_URL), a generated population (the
Strava simulator's generator, seeded) and a runner's own Strava bulk export. Each says from
which day every athlete's history is complete, so the backtest judges only the weeks the live
service would have judged: a week that began before the stored history did (the first fetch
window, or the retention purge, opened part-way through it) is unknown, sends nothing and
serves no baseline.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from sqlalchemy import select

from strideguard.activity_sources import counted
from strideguard.cli.formats import OutputFormat
from strideguard.cli.progress import progress_bars
from strideguard.cli.rules_io import (
    cli_settings,
    fail,
    load_rules,
    read_files,
    stdout_console,
    zone_option,
)
from strideguard.db import check_migrated, make_engine, make_sessionmaker
from strideguard.integrations.strava.mapping import from_strava_summary
from strideguard.models import Activity, Athlete
from strideguard.rules import ActivityRecord, RulesConfig
from strideguard.rules.backtest import BacktestResult, backtest, compare
from strideguard.rules.columns import ActivityColumns
from strideguard.times import week_start_of
from strideguard.worker.weeks import WEEK

# Weeks generated before the window, so a population's first counted weeks have baselines.
POPULATION_LEAD_WEEKS = 8


@dataclass
class History:
    """Athletes to replay, index-aligned; `observed_from` as
    `strideguard.rules.backtest.backtest` takes it."""

    source: str  # database | population | export
    # The last day known complete when it is not today: an export ends with its newest activity.
    complete_through: dt.date | None = None
    # Files or rows the export reader left out, each naming the file and the reason.
    skipped: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    activities: list[list[ActivityRecord]] = field(default_factory=list)
    overrides: list[dict[str, Any]] = field(default_factory=list)
    muted: list[frozenset[str]] = field(default_factory=list)
    observed_from: list[int] = field(default_factory=list)

    def add(
        self,
        athlete_id: int,
        activities: list[ActivityRecord],
        observed_from: int = 0,
        overrides: dict[str, Any] | None = None,
        muted: frozenset[str] = frozenset(),
    ) -> None:
        self.ids.append(athlete_id)
        self.activities.append(activities)
        self.observed_from.append(observed_from)
        self.overrides.append(overrides or {})
        self.muted.append(muted)


def stored_history(database_url: str, athlete_id: int | None) -> History:
    """Every athlete's (or one athlete's) stored activities, overrides and muted rules.

    Each history counts as complete from the day after its oldest stored activity: the
    service fetched from some moment before that activity, and the daily purge cuts at a
    moment too, so the first stored day may be partly missing.
    """
    engine = make_engine(database_url)
    history = History("database")
    try:
        check_migrated(engine)
        with make_sessionmaker(engine)() as session:
            query = select(Athlete.id, Athlete.rule_overrides, Athlete.muted_rules)
            if athlete_id is not None:
                query = query.where(Athlete.id == athlete_id)
            athletes = session.execute(query.order_by(Athlete.id)).all()
            if athlete_id is not None and not athletes:
                raise fail(f"no athlete {athlete_id} (see `strideguard athlete list`)", 1)
            rows: dict[int, list[ActivityRecord]] = {row.id: [] for row in athletes}
            fields = [getattr(Activity, name) for name in ActivityRecord.__dataclass_fields__]
            query = select(*fields).where(counted())  # a run from Strava and a file once
            if athlete_id is not None:
                query = query.where(Activity.athlete_id == athlete_id)
            for row in session.execute(query):
                rows[row.athlete_id].append(ActivityRecord(**row._asdict()))
    finally:
        engine.dispose()
    for row in athletes:
        activities = rows[row.id]
        first = min((a.start_date_local.date() for a in activities), default=None)
        history.add(
            row.id,
            activities,
            observed_from=first.toordinal() + 1 if first else 0,
            overrides=dict(row.rule_overrides or {}),
            muted=frozenset(row.muted_rules or ()),
        )
    return history


def population_history(size: int, seed: int, weeks: int, end: dt.date) -> History:
    """`size` generated runners, each with whole weeks up to `end` (a Sunday)."""
    from strideguard.integrations.strava.simulator.generator import generate_seed

    history = History("population")
    total_weeks = weeks + POPULATION_LEAD_WEEKS
    first_monday = week_start_of(end) - (total_weeks - 1) * WEEK
    with progress_bars() as start:
        entries = generate_seed(
            size,
            total_weeks,
            seed=seed,
            end=end,
            progress=start("generating runners", size),
            routes=False,  # no GPS: the rules never read it
        )
    for entry in entries:
        athlete_id = int(entry["athlete"]["id"])
        records = [from_strava_summary(item) for item in entry["activities"]]
        history.add(athlete_id, records, observed_from=first_monday.toordinal())
    return history


def export_history(path: Path, athlete_tz: str | None) -> History:
    """One runner's bulk export (or activity files): their whole history up to its newest
    activity. The week of that activity may go on after the export was made, so it is not
    counted. Dates without a zone of their own are placed in `athlete_tz` (default UTC)."""
    read = read_files(path, zone_option(athlete_tz or "UTC"))
    newest = max(r.start_date_local.date() for r in read.records)
    history = History("export", complete_through=newest, skipped=read.warnings)
    history.add(0, read.records)
    return history


def last_closed_week() -> dt.date:
    return week_start_of(dt.datetime.now(dt.UTC).date()) - WEEK


def result_window(
    history: History, weeks: int, until: dt.date | None
) -> tuple[dt.date, dt.date] | None:
    """The last `weeks` closed weeks, ending at the newest activity's week at the latest.

    The week still under way is never counted, even when `until` falls in it: the service
    judges a week only once it is over. Nor is a week that runs past `complete_through`.
    """
    days = [a.start_date_local.date() for records in history.activities for a in records]
    if not days:
        return None
    last = min(last_closed_week(), week_start_of(until or max(days)))
    if history.complete_through is not None:
        whole = week_start_of(history.complete_through + dt.timedelta(days=1)) - WEEK
        last = min(last, whole)
    return last - (weeks - 1) * WEEK, last


def coverage_warning(
    result: BacktestResult, weeks: int, history: History, retention_days: int
) -> str | None:
    """Say so when fewer weeks than asked could be judged, and why when we know it."""
    with_data = sum(1 for count in result.observed if count)
    if with_data >= weeks:
        return None
    text = f"{with_data} of {weeks} weeks have data"
    oldest = min(
        (a.start_date_local.date() for records in history.activities for a in records),
        default=None,
    )
    purged_before = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=retention_days + 1)
    if history.source == "database" and oldest is not None and oldest >= purged_before:
        # Nothing stored is older than the retention period: the purge is what limits it.
        kept = "a week" if retention_days == 7 else f"{retention_days} days"
        text += f"; RETENTION_DAYS={retention_days} keeps {kept}"
    return text


def run_backtest(
    history: History,
    configs: Sequence[RulesConfig],
    window: tuple[dt.date, dt.date],
) -> list[BacktestResult]:
    columns = ActivityColumns.from_athletes(history.activities)
    results = []
    with progress_bars() as start:
        for config in configs:
            tick = start(f"backtest {Path(config.source).name}", len(history.ids))
            results.append(
                backtest(
                    columns,
                    config,
                    first_week=window[0],
                    last_week=window[1],
                    overrides=history.overrides,
                    muted=history.muted,
                    progress=tick,
                    athlete_ids=history.ids,
                    observed_from=history.observed_from,
                )
            )
    return results


@dataclass(frozen=True)
class BacktestRequest:
    weeks: int
    rules_path: Path | None
    until: dt.date | None
    output: OutputFormat
    athlete_id: int | None = None
    population: int | None = None
    seed: int = 0
    export: Path | None = None
    athlete_tz: str | None = None


def backtest_history(request: BacktestRequest) -> None:
    settings = cli_settings()
    if request.population is not None and request.export is not None:
        raise fail("give --population or --export, not both", 2)
    configs = [load_rules(None)]
    if request.rules_path is not None:
        configs.append(load_rules(request.rules_path))
    if request.population is not None:
        # Generated up to the Sunday that ends the window, so its last week is a whole one.
        last_week = min(last_closed_week(), week_start_of(request.until or dt.date.max))
        history = population_history(
            request.population, request.seed, request.weeks, last_week + dt.timedelta(days=6)
        )
    elif request.export is not None:
        history = export_history(request.export, request.athlete_tz)
    else:
        history = stored_history(settings.database_url, request.athlete_id)
    window = result_window(history, request.weeks, request.until)
    if window is None:
        raise fail("no stored activities to backtest (has any athlete synced yet?)", 1)
    results = run_backtest(history, configs, window)
    in_force, candidate = results[0], (results[1] if len(results) > 1 else None)
    problems = list(dict.fromkeys(w for result in results for w in result.warnings))
    coverage = coverage_warning(in_force, request.weeks, history, settings.retention_days)
    for warning in [*history.skipped, *([coverage] if coverage else []), *problems]:
        typer.echo(f"warning: {warning}", err=True)
    if request.output is OutputFormat.json:
        _print_json(history, in_force, candidate, request.weeks, coverage)
    else:
        _print_tables(in_force, candidate, window)
    if problems:
        typer.echo("error: invalid overrides (fix with `strideguard athlete override`)", err=True)
        raise typer.Exit(1)


def _print_json(
    history: History,
    in_force: BacktestResult,
    candidate: BacktestResult | None,
    weeks: int,
    coverage: str | None,
) -> None:
    comparison = None
    if candidate:
        comparison = [
            {"rule": r.rule, "in_force": r.in_force, "candidate": r.candidate, "delta": r.delta}
            for r in compare(in_force, candidate)
        ]
    report = {
        "source": history.source,
        "weeks": [w.isoformat() for w in in_force.weeks],
        "weeks_asked": weeks,
        "weeks_with_data": sum(1 for count in in_force.observed if count),
        "warning": coverage,
        "skipped": history.skipped,
        "athletes": in_force.athletes,
        "athlete_weeks": in_force.athlete_weeks,
        "invalid_overrides": list(in_force.warnings),
        "in_force": in_force.to_dict(),
        "candidate": candidate.to_dict() if candidate else None,
        "comparison": comparison,
    }
    typer.echo(json.dumps(report, indent=2))


def _print_tables(
    in_force: BacktestResult, candidate: BacktestResult | None, window: tuple[dt.date, dt.date]
) -> None:
    out = stdout_console()
    totals, weekly = _tables(in_force, candidate)
    out.print(
        f"{in_force.athletes} athletes, {in_force.athlete_weeks} complete athlete-weeks, "
        f"weeks {window[0]} to {window[1]}"
    )
    out.print(totals)
    out.print(weekly)
    if in_force.not_evaluated:
        out.print(f"not evaluated (needs gear data): {', '.join(in_force.not_evaluated)}")


def _tables(in_force: BacktestResult, candidate: BacktestResult | None) -> tuple[Table, Table]:
    totals = Table(title="Alerts in total")
    totals.add_column("rule")
    totals.add_column(f"in force\n{in_force.source}", justify="right")
    if candidate:
        totals.add_column(f"candidate\n{candidate.source}", justify="right")
        totals.add_column("change", justify="right")
        for row in compare(in_force, candidate):
            delta = "" if row.delta is None else f"{row.delta:+d}"
            totals.add_row(row.rule, _count(row.in_force), _count(row.candidate), delta)
        digest_delta = sum(candidate.digests) - sum(in_force.digests)
        totals.add_row(
            "digests (emails)",
            str(sum(in_force.digests)),
            str(sum(candidate.digests)),
            f"{digest_delta:+d}",
        )
    else:
        for rule in in_force.per_week:
            totals.add_row(rule, _count(in_force.total(rule)))
        totals.add_row("digests (emails)", str(sum(in_force.digests)))

    weekly = Table(title="Alerts per week" + (" (in force → candidate)" if candidate else ""))
    weekly.add_column("week")
    weekly.add_column("athletes judged", justify="right")
    rules = list(in_force.per_week)
    if candidate:
        rules += [r for r in candidate.per_week if r not in rules]
    for rule in [*rules, "digests"]:
        weekly.add_column(rule, justify="right")
    for i, week in enumerate(in_force.weeks):
        cells = []
        for rule in rules:
            before = in_force.per_week.get(rule)
            text = str(before[i]) if before else "-"
            if candidate:
                after = candidate.per_week.get(rule)
                text += f" → {after[i] if after else '-'}"
            cells.append(text)
        digests = str(in_force.digests[i])
        if candidate:
            digests += f" → {candidate.digests[i]}"
        weekly.add_row(week.isoformat(), str(in_force.observed[i]), *cells, digests)
    return totals, weekly


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)
