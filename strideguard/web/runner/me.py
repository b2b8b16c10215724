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
from strideguard.rules import ConfigError, RulesConfig
from strideguard.services import Services, ServicesDep
from strideguard.web.email_pages.routes import apply_change, current_values
from strideguard.web.runner.common import (
    SESSION_COOKIE,
    form_token,
    page,
    see_other,
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


def _rules(services: Services) -> RulesConfig | None:
    """The rules in force, reloaded when the file changes; None if it never loaded."""
    try:
        holder = services.rules
    except ConfigError as problem:
        log.warning("rules file unusable; the runner page shows no limits: %s", problem)
        return None
    return holder.current()


def _choices(services: Services) -> list[RuleChoice]:
    """The rules a runner can mute, from the config already in memory (parsing the YAML on
    every page view cost more than the rest of the page)."""
    config = _rules(services)
    if config is None:
        return rules_in_force(services.settings)  # it falls back to the shipped rules
    return [
        RuleChoice(rule_id, rule.title) for rule_id, rule in config.rules.items() if rule.enabled
    ]


def _render_me(
    request: Request,
    services: Services,
    summary: RunnerSummary,
    session_id: str,
    status: int = 200,
    *,
    errors: dict[str, str] | None = None,
    submitted: dict[str, str] | None = None,
    muted: list[str] | None = None,
) -> Response:
    settings = services.settings
    athlete = summary.athlete
    choices = with_muted(_choices(services), athlete.muted_rules)
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
    with services.sessions() as session:
        context["last_import"] = last_import(session, athlete.id)
    return page(request, "me.html", status, **context)


def _summary(services: Services, session: Session, athlete_id: int) -> RunnerSummary | None:
    return load_summary(
        session, athlete_id, utcnow(), _rules(services), services.settings.retention_days
    )


@router.get("/me", response_class=HTMLResponse)
def me(request: Request, services: ServicesDep) -> Response:
    who = signed_in(request, services)
    if who is None:
        return see_other("/signin")
    with services.sessions() as session:
        summary = _summary(services, session, who[0])
        if summary is None:
            return see_other("/signin")
        return _render_me(request, services, summary, who[1])


@router.post("/me/preferences", response_class=HTMLResponse)
async def save_preferences(request: Request, services: ServicesDep) -> Response:
    who = signed_in(request, services)
    if who is None:
        return see_other("/signin")
    form = await request.form(max_files=0, max_fields=200)
    fields = {name: value for name, value in form.items() if isinstance(value, str)}
    if not token_matches(services.settings, who[1], fields.get("csrf", "")):
        return page(request, "problem.html", 403, heading="Nothing was saved", message=FORM_EXPIRED)
    muted = [v for v in form.getlist("muted_rules") if isinstance(v, str)]
    # Nothing is written unless the whole form checks out: errors re-show it as submitted.
    with services.sessions() as session:
        summary = _summary(services, session, who[0])
        if summary is None:
            return see_other("/signin")
        athlete = summary.athlete
        allowed = [c.id for c in _choices(services)] + list(athlete.muted_rules)
        outcome = check_preferences(fields, muted, allowed)
        if isinstance(outcome, dict):
            return _render_me(
                request,
                services,
                summary,
                who[1],
                400,
                errors=outcome,
                submitted=fields,
                muted=muted,
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
def disconnect_page(request: Request, services: ServicesDep) -> Response:
    who = signed_in(request, services)
    if who is None:
        return see_other("/signin")
    with services.sessions() as session:
        athlete = session.get(Athlete, who[0])
        if athlete is None:
            return see_other("/signin")
        return page(
            request,
            "disconnect.html",
            holdings=_holdings(session, who[0]),
            email=athlete.email,
            csrf=form_token(services.settings, who[1]),
            signout_csrf=form_token(services.settings, who[1]),
        )


@router.post("/me/disconnect", response_class=HTMLResponse)
def disconnect_now(
    request: Request, strava_services: StravaDep, csrf: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    who = signed_in(request, strava_services)
    if who is None:
        return see_other("/signin")
    settings = strava_services.settings
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
def view_digest(request: Request, services: ServicesDep, outbox_id: int) -> Response:
    """A past email as it was sent, re-rendered from the alerts it carried."""
    who = signed_in(request, services)
    if who is None:
        return see_other("/signin")
    config = _rules(services)
    settings = services.settings
    with services.sessions() as session:
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
            outgoing = load_outgoing(session, outbox_id, config, settings.lookback_weeks)
            rendered, _ = outgoing.render(settings)
        else:  # the rules file never loaded: a digest still renders from its own alerts
            digest = load_digest(session, outbox_id, DEFAULT_RUNNING)
            rendered, _ = render_loaded(digest, settings)
    return HTMLResponse(rendered.html, headers={"Cache-Control": "no-store"})
