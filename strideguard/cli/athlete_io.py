"""What the `strideguard athlete` commands read, change and print."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from strideguard import athlete_detail
from strideguard.athlete_overrides import (
    OverrideError,
    apply_changes,
    override_problems,
    override_rows,
    parse_assignment,
    parse_key,
)
from strideguard.cli.formats import OutputFormat
from strideguard.cli.rules_io import fail, load_rules, stdout_console
from strideguard.db import check_migrated, make_engine, make_sessionmaker, transaction
from strideguard.digest_preview import PreviewError, preview_digest
from strideguard.models import Athlete
from strideguard.new_athlete import new_athlete_fields
from strideguard.rules.findings import shown
from strideguard.settings import Settings, get_settings
from strideguard.web.admin_queries import athletes as athlete_rows


@contextmanager
def _database() -> Iterator[tuple[Settings, Any]]:
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        check_migrated(engine)
        yield settings, make_sessionmaker(engine)
    finally:
        engine.dispose()


def _athlete(session: Session, athlete_id: int) -> Athlete:
    athlete = session.get(Athlete, athlete_id)
    if athlete is None:
        raise fail(f"no athlete {athlete_id} (see `strideguard athlete list`)", 1)
    return athlete


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def list_athletes(output: OutputFormat) -> None:
    with _database() as (_, sessions), sessions() as session:
        rows = athlete_rows(session)
    if output is OutputFormat.json:
        listed = [
            {
                **asdict(row),
                "sources": {"strava": row.connection},
                "last_evaluation": (
                    {"week_start": row.last_week, "status": row.last_week_status}
                    if row.last_week
                    else None
                ),
            }
            for row in rows
        ]
        typer.echo(json.dumps(athlete_detail.jsonable(listed), indent=2))
        return
    table = _table(
        f"Athletes ({len(rows)})",
        *("id", "name", "email", "sources", "channels", "last evaluation", "error"),
    )
    for row in rows:
        synced = f"{row.last_synced_at:%Y-%m-%d %H:%M}" if row.last_synced_at else "never"
        table.add_row(
            str(row.id),
            row.firstname or "",
            f"{row.email or '-'} ({row.email_status})",
            f"strava {row.connection}, synced {synced}",
            "\n".join(f"{c.label} ({c.status})" for c in row.channels) or "-",
            f"{row.last_week} ({row.last_week_status})" if row.last_week else "none yet",
            row.last_error or "",
        )
    stdout_console().print(table)


def show_athlete(athlete_id: int, output: OutputFormat) -> None:
    config = load_rules(None)
    with _database() as (settings, sessions), sessions() as session:
        _athlete(session, athlete_id)
        detail = athlete_detail.load(
            session,
            athlete_id,
            dt.datetime.now(dt.UTC),
            dt.timedelta(hours=settings.evaluation_grace_hours),
            config.activity_types.running,
        )
    assert detail is not None  # checked just above
    problems = override_problems(config, detail.overrides)
    if output is OutputFormat.json:
        typer.echo(json.dumps({**detail.to_dict(), "invalid_overrides": problems}, indent=2))
        return
    out = stdout_console()
    out.print(
        f"Athlete {detail.id} ({detail.firstname or 'no name'}), "
        + (f"Strava {detail.strava_athlete_id}" if detail.strava_athlete_id else "no Strava")
    )
    channels = {k: v for k, v in detail.channels.items() if k != "apprise"}
    for title, values in (
        ("settings", detail.settings),
        ("sources", detail.sources),
        ("channels", channels),
    ):
        out.print(f"{title}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
    for channel in detail.channels["apprise"]:
        off = f": {channel['off_reason']}" if channel["off_reason"] else ""
        out.print(f"channel {channel['id']}: {channel['label']} ({channel['status']}{off})")
    out.print(f"next evaluation: {detail.next_evaluation_at:%Y-%m-%d %H:%M} UTC")
    if detail.matches:
        matched = _table(
            "Runs in both sources (counted once)", "start", "km", "counted", "left out"
        )
        for match in detail.matches:
            matched.add_row(
                f"{match.start_local:%Y-%m-%d %H:%M}",
                shown(match.distance_m / 1000),
                match.counted,
                match.left_out,
            )
        out.print(matched)
    out.print(_overrides_table(config, detail.overrides))
    for problem in problems:
        out.print(f"[red]invalid override (the worker refuses this athlete's weeks): {problem}[/]")
    weeks = _table("Recent weeks", "week", "running km", "runs", "evaluation", "fired")
    for week in detail.weeks:
        weeks.add_row(
            week.week_start.isoformat(),
            shown(week.running_m / 1000),
            str(week.runs),
            week.evaluation or "-",
            "; ".join(f"{f['rule']} {shown(f.get('value'))}" for f in week.findings) or "-",
        )
    out.print(weeks)
    deliveries = _table("Deliveries", "week", "status", "attempts", "sent", "error")
    for d in detail.deliveries:
        deliveries.add_row(
            d.week_start.isoformat(),
            d.status,
            str(d.attempts),
            f"{d.sent_at:%Y-%m-%d %H:%M}" if d.sent_at else "",
            d.last_error or "",
        )
    out.print(deliveries)


def _overrides_table(config: Any, overrides: dict[str, Any]) -> Table:
    table = _table(
        "Rule overrides (on top of the rules file)", "rule", "parameter", "override", "rules file"
    )
    for row in override_rows(config, overrides):
        table.add_row(row.rule, row.param, str(row.value), str(row.default))
    return table


def change_overrides(
    athlete_id: int, assignments: list[str], clear: list[str], *, list_only: bool
) -> None:
    config = load_rules(None)
    with _database() as (_, sessions):
        if list_only or not (assignments or clear):
            with sessions() as session:
                current = dict(_athlete(session, athlete_id).rule_overrides or {})
            stdout_console().print(_overrides_table(config, current))
            return
        try:
            changes = [parse_assignment(text) for text in assignments]
            cleared = [parse_key(text) for text in clear]
        except OverrideError as exc:
            _refuse(exc)
        with transaction(sessions) as session:
            athlete = _athlete(session, athlete_id)
            try:
                athlete.rule_overrides = apply_changes(
                    config, athlete.rule_overrides, changes, cleared
                )
            except OverrideError as exc:
                _refuse(exc)
            result = dict(athlete.rule_overrides)
    typer.echo(f"athlete {athlete_id}: overrides now {json.dumps(result, sort_keys=True)}")


def _refuse(exc: OverrideError) -> NoReturn:
    for problem in exc.problems:
        typer.echo(f"error: {problem}", err=True)
    typer.echo("nothing was changed", err=True)
    raise typer.Exit(1)


def preview_week(athlete_id: int, week: dt.date | None, out: Path) -> None:
    config = load_rules(None)
    with _database() as (settings, sessions), sessions() as session:
        try:
            made = preview_digest(
                session, athlete_id, week, config, settings, dt.datetime.now(dt.UTC)
            )
        except PreviewError as exc:
            raise fail(str(exc), 1) from None
    if made.message is None or made.rendered is None:
        typer.echo(
            f"athlete {athlete_id}, week of {made.week_start}: no rule fired, "
            "so no digest would be sent"
        )
        return
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"preview-{athlete_id}-{made.week_start.isoformat()}"
    stem.with_suffix(".eml").write_bytes(made.message.as_bytes())
    stem.with_suffix(".html").write_text(made.rendered.html, encoding="utf-8")
    rules_fired = ", ".join(f.finding.rule for f in made.findings)
    typer.echo(f"wrote {stem}.eml and {stem}.html ({rules_fired}); nothing was sent")


def add_athlete(email: str, name: str, timezone: str, units: str, output: OutputFormat) -> None:
    """Create a runner without Strava, each value checked before anything is written."""
    try:
        fields = new_athlete_fields(email, name, timezone, units)
    except ValueError as exc:
        raise fail(str(exc), 1) from exc
    with _database() as (_, sessions), transaction(sessions) as session:
        taken = session.scalar(select(Athlete.id).where(Athlete.email == fields["email"]))
        if taken is not None:
            raise fail(f"--email: athlete {taken} already uses {fields['email']}", 1)
        athlete = Athlete(**fields, timezone_locked=True)
        session.add(athlete)
        session.flush()
        athlete_id = athlete.id
    if output is OutputFormat.json:
        typer.echo(json.dumps({"id": athlete_id, **fields}, indent=2))
        return
    stdout_console().print(
        f"Athlete {athlete_id} added ({fields['firstname']}, {fields['email']}); "
        f"import their files with `strideguard import {athlete_id} PATH...`"
    )
