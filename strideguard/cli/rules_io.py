"""What the `strideguard rules` commands read and print: rules files, activities, tables
and JSON (the backtest's sources and report are in backtest_io.py). The maths is in `rules/`.

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
from rich.table import Table

from strideguard.cli.activity_files import FileRecords, is_activity_files, read_file_records
from strideguard.cli.formats import OutputFormat
from strideguard.integrations.strava.mapping import MappingError, from_strava_summary
from strideguard.rules import (
    ActivityRecord,
    ConfigError,
    Finding,
    Limit,
    RulesConfig,
    evaluate_all,
    limits_all,
    load_config,
    week_start_of,
)
from strideguard.rules.config import SHIPPED_RULES
from strideguard.rules.findings import shown
from strideguard.rules.metrics import RUN_FUNCTIONS, RUN_METRICS, WEEK_FUNCTIONS, WEEK_METRICS
from strideguard.settings import Settings, get_settings


def stdout_console() -> Console:
    """The terminal's width when there is one; wide enough not to wrap in pipes and files."""
    return Console(width=None if sys.stdout.isatty() else 200)


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def cli_settings() -> Settings:
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
    return cli_settings().rules_path or SHIPPED_RULES


@contextmanager
def _valid_rules() -> Iterator[None]:
    """An invalid rules file: every error on its own `path:line:col: message` line, exit 1."""
    try:
        yield
    except ConfigError as exc:
        for line in exc.errors:
            typer.echo(line, err=True)
        raise typer.Exit(1) from None


def load_rules(path: Path | None) -> RulesConfig:
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
        raise fail(f"cannot read {path}: {reason}") from None
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    if not isinstance(items, list):
        raise fail(
            f"{path}: expected a JSON array of Strava activities "
            "(as GET /athlete/activities returns), got a JSON "
            + type(items).__name__.replace("dict", "object")
        )
    records = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise fail(f"{path}: item {index}: expected an activity object")
        try:
            records.append(from_strava_summary(item, fallback_zone))
        except MappingError as exc:
            raise fail(f"{path}: item {index}: {exc}") from None
    return records


def read_files(path: Path, fallback_zone: ZoneInfo | None) -> FileRecords:
    """Activity files, folders or an export; one that yields nothing at all is an error, as
    an unreadable JSON file is, with the reader's reason for each file."""
    read = read_file_records([path], fallback_zone)
    if not read.records:
        for warning in read.warnings:
            typer.echo(f"warning: {warning}", err=True)
        raise fail(f"no activities could be read from {path} (see the warnings above)")
    return read


def _read_any(path: Path, fallback_zone: ZoneInfo | None) -> FileRecords:
    """Files through the file reader, warning about each one skipped; else a JSON array."""
    if not is_activity_files(path):
        return FileRecords(_read_activities(path, fallback_zone), [])
    read = read_files(path, fallback_zone)
    for warning in read.warnings:
        typer.echo(f"warning: {warning}", err=True)
    return read


def zone_option(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise fail(f"--athlete-tz {name!r} is not an IANA time zone (e.g. Europe/Oslo)") from None


def _figures_text(finding: Finding) -> str:
    return ", ".join(f"{key}={shown(value)}" for key, value in finding.figures.items())


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
            shown(finding.value),
            shown(finding.threshold),
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
    *,
    fired_only: bool = False,
) -> None:
    config = load_rules(rules_path)
    zone = zone_option(athlete_tz)
    read = _read_any(activities, zone)
    records = read.records
    findings = evaluate_all(records, config)
    if fired_only:
        findings = [f for f in findings if f.fired]
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
                    "skipped": read.warnings,
                    "rules": {"source": config.source, "version": config.version},
                },
                indent=2,
            )
        )
        return
    console = stdout_console()
    console.print(_findings_table(findings, open_week))
    console.print(_limits_table(limits, open_week))
    fired = sum(1 for f in findings if f.fired)
    weeks = len({f.week_start for f in findings})
    console.print(
        f"{fired} fired over {weeks} weeks; rules {config.source} ({config.version[:12]})"
    )
