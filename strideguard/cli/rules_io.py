"""What the `strideguard rules` commands read and print: rules files, Strava exports, the
stored history, tables and JSON. The maths is in `rules/`.

Kept apart from the command declarations (rules_cmd.py) because it needs numpy, rich and the
database layer, which listing the commands must not load.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

from rules import (
    ActivityInputError,
    ActivityRecord,
    ConfigError,
    Finding,
    Limit,
    RulesConfig,
    evaluate_all,
    from_strava_summary,
    limits_all,
    load_config,
    week_start_of,
)
from rules.backtest import BacktestResult, backtest, compare
from rules.columns import ActivityColumns
from rules.config import SHIPPED_RULES
from rules.metrics import RUN_FUNCTIONS, RUN_METRICS, WEEK_FUNCTIONS, WEEK_METRICS
from strideguard.cli.rules_cmd import OutputFormat
from strideguard.db import check_migrated, make_engine, make_sessionmaker
from strideguard.models import Activity, Athlete
from strideguard.settings import Settings, get_settings


def _stdout_console() -> Console:
    """The terminal's width when there is one; wide enough not to wrap in pipes and files."""
    return Console(width=None if sys.stdout.isatty() else 200)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _settings() -> Settings:
    """The settings without the service start-up checks.

    These commands read only RULES_PATH and DATABASE_URL, so an admin need not configure
    token keys to check or backtest a file; an invalid value still fails with one line.
    """
    try:
        return Settings()
    except ValidationError:
        return get_settings()  # raises SettingsError naming the variable


def _rules_path_in_force() -> Path:
    """RULES_PATH when set, else the shipped rules/rules.yaml."""
    return _settings().rules_path or SHIPPED_RULES


@contextmanager
def _valid_rules() -> Iterator[None]:
    """An invalid rules file: every error on its own `path:line:col: message` line, exit 1."""
    try:
        yield
    except ConfigError as exc:
        for line in exc.errors:
            typer.echo(line, err=True)
        raise typer.Exit(1) from None


def _load(path: Path | None) -> RulesConfig:
    with _valid_rules():
        return load_config(path if path is not None else _rules_path_in_force())


# ---------------------------------------------------------------- check


_LOCATED = re.compile(r"^(?P<path>.*):(?P<line>\d+):(?P<column>\d+): (?P<message>.*)$", re.S)


def _located(line: str) -> dict[str, Any]:
    """A `path:line:col: message` line as the fields a script reads."""
    found = _LOCATED.match(line)
    if found is None:
        return {"path": None, "line": None, "column": None, "message": line}
    return {
        "path": found["path"],
        "line": int(found["line"]),
        "column": int(found["column"]),
        "message": found["message"],
    }


def check_file(path: Path | None, output: OutputFormat = OutputFormat.table) -> None:
    target = path if path is not None else _rules_path_in_force()
    try:
        config = load_config(target)
    except ConfigError as exc:
        if output == OutputFormat.json:
            errors = [_located(line) for line in exc.errors]
            typer.echo(json.dumps({"path": str(target), "valid": False, "errors": errors}))
        else:
            for line in exc.errors:
                typer.echo(line, err=True)
        raise typer.Exit(1) from None
    enabled = sum(1 for rule in config.rules.values() if rule.enabled)
    if output == OutputFormat.json:
        summary = {
            "path": config.source,
            "valid": True,
            "rules": len(config.rules),
            "enabled": sorted(r.id for r in config.rules.values() if r.enabled),
            "version": config.version,
            "errors": [],
            "warnings": [_located(line) for line in config.warnings],
        }
        typer.echo(json.dumps(summary))
        return
    for line in config.warnings:
        typer.echo(line, err=True)
    typer.echo(
        f"{config.source}: OK, {len(config.rules)} rules ({enabled} enabled), "
        f"version {config.version[:12]}"
    )


# ---------------------------------------------------------------- metrics


def print_metrics() -> None:
    for title, catalog, functions in (
        ("per: week", WEEK_METRICS, WEEK_FUNCTIONS),
        ("per: run", RUN_METRICS, RUN_FUNCTIONS),
    ):
        typer.echo(f"{title}")
        for name, spec in catalog.items():
            typer.echo(f"  {name:28} {spec.doc}")
        for name, function in functions.items():
            typer.echo(f"  {name + '()':28} {function.doc}")


# ---------------------------------------------------------------- evaluate


def _read_activities(path: Path, fallback_zone: ZoneInfo | None) -> list[ActivityRecord]:
    """Strava SummaryActivity objects from a JSON array; any problem names the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise _fail(f"cannot read {path}: {reason}") from None
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    if not isinstance(items, list):
        raise _fail(
            f"{path}: expected a JSON array of Strava activities "
            "(as GET /athlete/activities returns), got a JSON "
            + type(items).__name__.replace("dict", "object")
        )
    records = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise _fail(f"{path}: item {index}: expected an activity object")
        try:
            records.append(from_strava_summary(item, fallback_zone))
        except ActivityInputError as exc:
            raise _fail(f"{path}: item {index}: {exc}") from None
    return records


def _zone(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail(f"--athlete-tz {name!r} is not an IANA time zone (e.g. Europe/Oslo)") from None


def _figures_text(finding: Finding) -> str:
    return ", ".join(f"{key}={value}" for key, value in finding.figures.items())


_STATUS_STYLE = {
    "fired": "bold red",
    "clear": "green",
    "insufficient_history": "dim",
    "no_baseline": "yellow",
    "disabled": "dim",
    "error": "bold magenta",
}


def _findings_table(findings: Sequence[Finding], open_week: dt.date | None) -> Table:
    table = Table(title="Findings")
    for column in ("week", "rule", "status", "value", "threshold"):
        table.add_column(column, no_wrap=True)
    table.add_column("details (band, run, figures)", overflow="fold")
    for finding in findings:
        week = finding.week_start.isoformat()
        if open_week and finding.week_start >= open_week:
            week += " (open)"
        details = [f"band={finding.band}"] if finding.band else []
        if finding.error:
            details.append(finding.error)
        if finding.activity_id:
            details.append(f"run {finding.activity_id} on {finding.date}")
        details.append(_figures_text(finding))
        table.add_row(
            week,
            finding.rule,
            f"[{_STATUS_STYLE[finding.status]}]{finding.status}[/]",
            "" if finding.value is None else str(finding.value),
            "" if finding.threshold is None else str(finding.threshold),
            "; ".join(d for d in details if d),
        )
    return table


_LIMIT_WORDS = {"next_run": "longest next run", "next_week": "next week's total"}


def _limits_table(limits: Sequence[Limit], open_week: dt.date | None) -> Table:
    """After each week: how far the next run, and next week's total, can go (metres)."""
    table = Table(title="Limits after each week (metres)")
    for column in ("after week", "rule", "limit", "from", "up to"):
        table.add_column(column, no_wrap=True)
    for limit in limits:
        week = limit.week_start.isoformat()
        if open_week and limit.week_start >= open_week:
            week += " (open)"
        table.add_row(
            week,
            limit.rule,
            _LIMIT_WORDS[limit.kind],
            "" if limit.low_m is None else str(limit.low_m),
            "no figure yet" if limit.high_m is None else str(limit.high_m),
        )
    return table


def evaluate_export(
    activities: Path,
    rules_path: Path | None,
    athlete_tz: str | None,
    today: dt.datetime | None,
    output: OutputFormat,
) -> None:
    config = _load(rules_path)
    zone = _zone(athlete_tz)
    records = _read_activities(activities, zone)
    findings = evaluate_all(records, config)
    limits = limits_all(records, config)
    if zone is None:
        latest = max(records, key=lambda r: r.start_date, default=None)
        zone = ZoneInfo(latest.timezone) if latest and latest.timezone else ZoneInfo("UTC")
    local_today = today.date() if today else dt.datetime.now(zone).date()
    open_monday = week_start_of(local_today)
    open_week = open_monday if any(f.week_start >= open_monday for f in findings) else None
    if output is OutputFormat.json:
        typer.echo(
            json.dumps(
                {
                    "findings": [f.to_dict() for f in findings],
                    "limits": [limit.to_dict() for limit in limits],
                    "open_week": open_week.isoformat() if open_week else None,
                    "rules": {"source": config.source, "version": config.version},
                },
                indent=2,
            )
        )
        return
    console = _stdout_console()
    console.print(_findings_table(findings, open_week))
    console.print(_limits_table(limits, open_week))
    fired = sum(1 for f in findings if f.fired)
    weeks = len({f.week_start for f in findings})
    console.print(
        f"{fired} fired over {weeks} weeks; rules {config.source} ({config.version[:12]})"
    )


# ---------------------------------------------------------------- backtest


def _read_history(
    database_url: str,
) -> tuple[list[int], list[list[ActivityRecord]], list[dict[str, Any]], list[frozenset[str]]]:
    """Every athlete's stored activities, overrides and muted rules (the only DB read)."""
    engine = make_engine(database_url)
    try:
        check_migrated(engine)
        with make_sessionmaker(engine)() as session:
            athletes = session.execute(
                select(Athlete.id, Athlete.rule_overrides, Athlete.muted_rules).order_by(Athlete.id)
            ).all()
            index = {row.id: i for i, row in enumerate(athletes)}
            histories: list[list[ActivityRecord]] = [[] for _ in athletes]
            rows = session.execute(
                select(
                    Activity.strava_id,
                    Activity.athlete_id,
                    Activity.sport_type,
                    Activity.start_date,
                    Activity.start_date_local,
                    Activity.timezone,
                    Activity.distance_m,
                    Activity.moving_time_s,
                    Activity.elevation_gain_dm,
                    Activity.trainer,
                    Activity.manual,
                    Activity.gear_id,
                )
            )
            for row in rows:
                histories[index[row.athlete_id]].append(ActivityRecord(**row._asdict()))
    finally:
        engine.dispose()
    return (
        [row.id for row in athletes],
        histories,
        [dict(row.rule_overrides or {}) for row in athletes],
        [frozenset(row.muted_rules or ()) for row in athletes],
    )


def _result_window(
    histories: Sequence[Sequence[ActivityRecord]], weeks: int, until: dt.date | None
) -> tuple[dt.date, dt.date] | None:
    """The last `weeks` closed weeks, ending at the newest stored activity's week at the latest."""
    days = [a.start_date_local.date() for history in histories for a in history]
    if not days:
        return None
    last_closed = week_start_of(dt.datetime.now(dt.UTC).date()) - dt.timedelta(weeks=1)
    last = week_start_of(until) if until else min(last_closed, week_start_of(max(days)))
    return last - dt.timedelta(weeks=weeks - 1), last


def _backtest_tables(
    in_force: BacktestResult, candidate: BacktestResult | None
) -> tuple[Table, Table]:
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
        weekly.add_row(week.isoformat(), *cells, digests)
    return totals, weekly


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def backtest_history(
    weeks: int, rules_path: Path | None, until: dt.datetime | None, output: OutputFormat
) -> None:
    settings = _settings()
    in_force_config = _load(None)
    candidate_config = _load(rules_path) if rules_path is not None else None
    ids, histories, overrides, muted = _read_history(settings.database_url)
    window = _result_window(histories, weeks, until.date() if until else None)
    if window is None:
        raise _fail("no stored activities to backtest (has any athlete synced yet?)", 1)
    columns = ActivityColumns.from_athletes(histories)
    configs = [c for c in (in_force_config, candidate_config) if c is not None]
    results = []
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not sys.stderr.isatty(),
        transient=True,
    ) as bar:
        for config in configs:
            task = bar.add_task(f"backtest {Path(config.source).name}", total=len(ids))
            results.append(
                backtest(
                    columns,
                    config,
                    first_week=window[0],
                    last_week=window[1],
                    overrides=overrides,
                    muted=muted,
                    progress=lambda done, task=task: bar.update(task, completed=done),  # type: ignore[misc]
                    athlete_ids=ids,
                )
            )
    in_force, candidate = results[0], (results[1] if len(results) > 1 else None)
    for warning in dict.fromkeys(w for result in results for w in result.warnings):
        typer.echo(f"warning: {warning}", err=True)
    if output is OutputFormat.json:
        typer.echo(
            json.dumps(
                {
                    "weeks": [w.isoformat() for w in in_force.weeks],
                    "athletes": in_force.athletes,
                    "athlete_weeks": in_force.athlete_weeks,
                    "in_force": in_force.to_dict(),
                    "candidate": candidate.to_dict() if candidate else None,
                    "comparison": [
                        {
                            "rule": row.rule,
                            "in_force": row.in_force,
                            "candidate": row.candidate,
                            "delta": row.delta,
                        }
                        for row in compare(in_force, candidate)
                    ]
                    if candidate
                    else None,
                },
                indent=2,
            )
        )
        return
    out = _stdout_console()
    totals, weekly = _backtest_tables(in_force, candidate)
    out.print(
        f"{in_force.athletes} athletes, {in_force.athlete_weeks} athlete-weeks, "
        f"weeks {window[0]} to {window[1]}"
    )
    out.print(totals)
    out.print(weekly)
    if in_force.not_evaluated:
        out.print(f"not evaluated (needs gear data): {', '.join(in_force.not_evaluated)}")
