"""/me, the signed-in runner's page, and the forms on it (each one post, redirect, get)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from strideguard.integrations.email.digest_links import link_url
from strideguard.integrations.email.outbox import load_digest, load_outgoing, render_loaded
from strideguard.integrations.email.preferences import (
    PAUSE_CHOICES,
    check_preferences,
    describe_pause,
)
from strideguard.integrations.email.rule_choices import RuleChoice, rules_in_force, with_muted
from strideguard.integrations.files.import_runs import last_import
from strideguard.integrations.strava.disconnect import disconnect
from strideguard.integrations.strava.web_services import StravaDep
from strideguard.links import make_link_token
from strideguard.models import (
    Activity,
    Alert,
    Athlete,
    BackPainCheckin,
    DeliveryRecord,
    FileImport,
    Gear,
    RunnerSession,
    utcnow,
)
from strideguard.rules import ConfigError, ConfigHolder, RulesConfig
from strideguard.web.email_pages.routes import apply_change, current_values
from strideguard.web.runner.common import (
    SESSION_COOKIE,
    form_token,
    page,
    see_other,
    sessions_of,
    settings_of,
    signed_in,
    token_matches,
)
from strideguard.web.runner.summary import DEFAULT_RUNNING, RunnerSummary, load_summary
from strideguard.web.runner.svg_chart import build_chart
from strideguard.web.runner.upload import upload_limit
from strideguard.web.runner.zones import zone_choices

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
FORM_EXPIRED = "This form has expired (you signed out or in again). Reload the page and retry."


def _rules(request: Request) -> RulesConfig | None:
    """The rules in force, reloaded when the file changes; None if it never loaded."""
    state = request.app.state
    holder: ConfigHolder | None = getattr(state, "runner_rules", None)
    if holder is None:
        try:
            holder = ConfigHolder(settings_of(request).rules_path)
        except ConfigError as problem:
            log.warning("rules file unusable; the runner page shows no limits: %s", problem)
            return None
        state.runner_rules = holder
    return holder.current()


def _choices(request: Request) -> list[RuleChoice]:
    """The rules a runner can mute, from the config already in memory (parsing the YAML on
    every page view cost more than the rest of the page)."""
    config = _rules(request)
    if config is None:
        return rules_in_force(settings_of(request))  # it falls back to the shipped rules
    return [
        RuleChoice(rule_id, rule.title) for rule_id, rule in config.rules.items() if rule.enabled
    ]


def _render_me(
    request: Request,
    summary: RunnerSummary,
    session_id: str,
    status: int = 200,
    *,
    errors: dict[str, str] | None = None,
    submitted: dict[str, str] | None = None,
    muted: list[str] | None = None,
) -> Response:
    settings = settings_of(request)
    athlete = summary.athlete
    choices = with_muted(_choices(request), athlete.muted_rules)
    values = submitted or current_values(athlete)
    until = athlete.paused_until
    paused = until if until is not None and until >= summary.today else None
    checkin_url = link_url(settings, "checkin", make_link_token(athlete.id, "checkin", settings))
    context: dict[str, Any] = {
        "summary": summary,
        "chart": build_chart(summary.weeks, athlete.units),
        "units": athlete.units,
        "csrf": form_token(settings, session_id),
        "signout_csrf": form_token(settings, session_id),
        "values": values,
        "errors": errors or {},
        "muted": set(athlete.muted_rules if muted is None else muted),
        "choices": choices,
        "zones": zone_choices(athlete.timezone, utcnow()),
        "pause_choices": PAUSE_CHOICES,
        "paused_until": paused,
        "paused_words": describe_pause(summary.today, paused) if paused else None,
        "checkin_url": checkin_url,
        "saved": request.query_params.get("saved", ""),
        "upload_max": upload_limit(settings),
    }
    with sessions_of(request)() as session:
        context["last_import"] = last_import(session, athlete.id)
    return page(request, "me.html", status, **context)


def _summary(request: Request, session: Session, athlete_id: int) -> RunnerSummary | None:
    return load_summary(
        session, athlete_id, utcnow(), _rules(request), settings_of(request).retention_days
    )


@router.get("/me", response_class=HTMLResponse)
def me(request: Request) -> Response:
    who = signed_in(request)
    if who is None:
        return see_other("/signin")
    with sessions_of(request)() as session:
        summary = _summary(request, session, who[0])
        if summary is None:
            return see_other("/signin")
        return _render_me(request, summary, who[1])


@router.post("/me/preferences", response_class=HTMLResponse)
async def save_preferences(request: Request) -> Response:
    who = signed_in(request)
    if who is None:
        return see_other("/signin")
    form = await request.form(max_files=0, max_fields=200)
    fields = {name: value for name, value in form.items() if isinstance(value, str)}
    if not token_matches(settings_of(request), who[1], fields.get("csrf", "")):
        return page(request, "problem.html", 403, heading="Nothing was saved", message=FORM_EXPIRED)
    muted = [v for v in form.getlist("muted_rules") if isinstance(v, str)]
    # Nothing is written unless the whole form checks out: errors re-show it as submitted.
    with sessions_of(request)() as session:
        summary = _summary(request, session, who[0])
        if summary is None:
            return see_other("/signin")
        athlete = summary.athlete
        allowed = [c.id for c in _choices(request)] + list(athlete.muted_rules)
        outcome = check_preferences(fields, muted, allowed)
        if isinstance(outcome, dict):
            return _render_me(
                request, summary, who[1], 400, errors=outcome, submitted=fields, muted=muted
            )
        apply_change(athlete, outcome)
        session.commit()
    log.info("preferences saved on the runner page", extra={"athlete_id": who[0]})
    return see_other("/me?saved=preferences#preferences")


def _holdings(session: Session, athlete_id: int) -> list[tuple[str, int]]:
    """What disconnecting deletes, counted, so the confirmation can say it plainly."""

    def count(model: Any) -> int:
        return int(session.scalar(select(func.count()).where(model.athlete_id == athlete_id)) or 0)

    return [
        ("activities (distance, time, climb, shoe; no maps)", count(Activity)),
        ("shoes", count(Gear)),
        ("alerts", count(Alert)),
        ("emails we wrote to you", count(DeliveryRecord)),
        ("back-pain check-ins", count(BackPainCheckin)),
        ("file imports (file names and results)", count(FileImport)),
        ("signed-in browsers", count(RunnerSession)),
    ]


@router.get("/me/disconnect", response_class=HTMLResponse)
def disconnect_page(request: Request) -> Response:
    who = signed_in(request)
    if who is None:
        return see_other("/signin")
    with sessions_of(request)() as session:
        athlete = session.get(Athlete, who[0])
        if athlete is None:
            return see_other("/signin")
        return page(
            request,
            "disconnect.html",
            holdings=_holdings(session, who[0]),
            email=athlete.email,
            csrf=form_token(settings_of(request), who[1]),
            signout_csrf=form_token(settings_of(request), who[1]),
        )


@router.post("/me/disconnect", response_class=HTMLResponse)
def disconnect_now(
    request: Request, strava_services: StravaDep, csrf: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    who = signed_in(request)
    if who is None:
        return see_other("/signin")
    settings = settings_of(request)
    if not token_matches(settings, who[1], csrf):
        return page(
            request, "problem.html", 403, heading="Nothing was deleted", message=FORM_EXPIRED
        )
    ctx = strava_services.context
    confirmed = disconnect(ctx.sessions, who[0], settings, ctx=ctx)
    response = see_other(f"/goodbye?strava={'confirmed' if confirmed else 'unreachable'}")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/goodbye", response_class=HTMLResponse)
def goodbye(request: Request, strava: str = "confirmed") -> Response:
    return page(request, "goodbye.html", confirmed=strava != "unreachable")


@router.get("/me/digests/{outbox_id}", response_class=HTMLResponse)
def view_digest(request: Request, outbox_id: int) -> Response:
    """A past email as it was sent, re-rendered from the alerts it carried."""
    who = signed_in(request)
    if who is None:
        return see_other("/signin")
    config = _rules(request)
    with sessions_of(request)() as session:
        row = session.get(DeliveryRecord, outbox_id)
        if row is None or row.athlete_id != who[0]:
            return page(
                request,
                "problem.html",
                404,
                heading="No such email",
                message="It may be from before a disconnect. Your page lists every email we hold.",
            )
        if config is not None:
            outgoing = load_outgoing(
                session, outbox_id, config, settings_of(request).lookback_weeks
            )
            rendered, _ = outgoing.render(settings_of(request))
        else:  # the rules file never loaded: a digest still renders from its own alerts
            digest = load_digest(session, outbox_id, DEFAULT_RUNNING)
            rendered, _ = render_loaded(digest, settings_of(request))
    return HTMLResponse(rendered.html, headers={"Cache-Control": "no-store"})
