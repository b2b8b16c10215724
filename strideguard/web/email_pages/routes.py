"""Pages behind the links in our emails: unsubscribe, mute, pause and preferences.

There is no password: the signed token in the link is the credential, and it also serves as
CSRF protection for the forms (a forger cannot know it). Every GET only shows a page with a
button, because mail scanners fetch links; changes happen on POST. The one exception to
"a human clicks a button" is RFC 8058 one-click unsubscribe, a POST from the mail client.
Page templates live in strideguard/web/email_pages/templates/.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from strideguard.db import transaction
from strideguard.integrations.email.digest_links import DEFAULT_PAUSE_WEEKS, PATHS, link_url
from strideguard.integrations.email.preferences import (
    PAUSE_CHOICES,
    PreferenceChange,
    check_preferences,
    describe_pause,
    known_timezones,
    pause_until,
)
from strideguard.integrations.email.rule_choices import rules_in_force, title_of, with_muted
from strideguard.links import MAX_AGE_S, LinkTokenError, Purpose, make_link_token, read_link_token
from strideguard.models import Athlete
from strideguard.services import Services, ServicesDep
from strideguard.settings import Settings
from strideguard.status import EmailStatus
from strideguard.times import zone_or_utc
from strideguard.web.headers import CONTENT_SECURITY_POLICY

log = logging.getLogger(__name__)
router = APIRouter(tags=["email links"])
PAGE_TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
MAX_TOKEN_CHARS = 1000
# Tokens travel in URLs: keep them out of Referer headers, caches and frames.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
}
REFUSALS = {
    "tampered": (
        400,
        "This link doesn't work",
        "It looks damaged or incomplete (some email programs break long links). Use the link "
        "in your latest strideguard email, copying the whole address if you paste it.",
    ),
    "wrong_purpose": (
        400,
        "This link is for something else",
        "Use the matching link at the bottom of your latest strideguard email.",
    ),
    "expired": (
        403,
        "This link has expired",
        "For your safety, the links in our emails stop working after a while. Use the link "
        "in your latest strideguard email.",
    ),
}


class Refusal(Exception):
    """Stop handling the request and show a refusal page instead."""

    def __init__(self, status: int, heading: str, message: str) -> None:
        super().__init__(heading)
        self.status = status
        self.heading = heading
        self.message = message


# ------------------------------------------------------------------ plumbing


@lru_cache(maxsize=1)
def page_environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(PAGE_TEMPLATES_DIR),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page_response(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = page_environment().get_template(name).render(context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def _message(
    status: int, heading: str, message: str, link: str | None = None, *, signin: bool = False
) -> HTMLResponse:
    return page_response(
        "message.html", status, heading=heading, message=message, link=link, signin=signin
    )


def read_token(token: str, purpose: Purpose, settings: Settings) -> dict[str, Any]:
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise Refusal(*REFUSALS["tampered"])
    try:
        return read_link_token(token, purpose, settings)
    except LinkTokenError as problem:
        log.info("email link refused: %s (%s)", problem.problem, purpose)
        raise Refusal(*REFUSALS[problem.problem]) from None


def athlete_of(session: Session, payload: dict[str, Any]) -> Athlete:
    athlete = session.get(Athlete, int(payload["athlete_id"]))
    if athlete is None:
        raise Refusal(
            404,
            "We have no account for this link",
            "It may have been deleted when you disconnected Strava. To start again, "
            "connect Strava from the strideguard home page.",
        )
    return athlete


def local_today(athlete: Athlete) -> dt.date:
    return dt.datetime.now(zone_or_utc(athlete.timezone)).date()


def _preferences_url(settings: Settings, athlete_id: int) -> str:
    """A fresh preferences link for pages reached with another valid link."""
    token = make_link_token(athlete_id, "preferences", settings)
    return link_url(settings, "preferences", token)


def csrf_token(link_token: str, settings: Settings) -> str:
    """Binds the preferences form to the link it was opened from."""
    key = settings.signing_key().encode()
    return hmac.new(key, b"preferences-form:" + link_token.encode(), hashlib.sha256).hexdigest()


async def read_form(request: Request) -> FormData:
    form = await request.form(max_files=0, max_fields=200)
    return form


def form_field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def token_of(request: Request, form: FormData | None = None) -> str:
    if form is not None and form_field(form, "token"):
        return form_field(form, "token")
    return request.query_params.get("token", "")


def require_csrf(form: FormData, token: str, settings: Settings, link: str) -> None:
    """Refuse a form post whose CSRF field does not belong to its link token."""
    if not hmac.compare_digest(form_field(form, "csrf"), csrf_token(token, settings)):
        raise Refusal(
            403,
            "This form has expired",
            f"Open {link} in your latest strideguard email and try again.",
        )


def refusal_page(request: Request, exc: Exception) -> Response:
    """The refusal page for any route that raised `Refusal`; the web app registers it once."""
    assert isinstance(exc, Refusal)
    # A refused link is no dead end: the page offers a sign-in link by email instead.
    return _message(exc.status, exc.heading, exc.message, signin=True)


def open_link(
    request: Request, services: Services, purpose: Purpose
) -> tuple[str, dict[str, Any], Athlete]:
    """For a GET: the link's token and payload, and the athlete it names (read only)."""
    token = token_of(request)
    payload = read_token(token, purpose, services.settings)
    with services.sessions() as session:
        return token, payload, athlete_of(session, payload)


def _confirm(
    purpose: Purpose, token: str, heading: str, message: str, button: str, **extra: Any
) -> HTMLResponse:
    """A page whose only way to change anything is its POST button."""
    return page_response(
        "confirm.html",
        heading=heading,
        message=message,
        action=PATHS[purpose],
        token=token,
        button=button,
        pause_choices=extra.pop("pause_choices", None),
        **extra,
    )


# ------------------------------------------------------------------ unsubscribe


@router.get(PATHS["unsubscribe"], response_class=HTMLResponse)
def unsubscribe_page(request: Request, services: ServicesDep) -> HTMLResponse:
    """A confirmation button only: link scanners that fetch GETs must not unsubscribe."""
    token, _, athlete = open_link(request, services, "unsubscribe")
    if athlete.email_status == EmailStatus.UNSUBSCRIBED:
        heading = "You're unsubscribed"
        message = "You already get no emails from us. Pressing the button again changes nothing."
    else:
        heading = "Unsubscribe from strideguard emails?"
        message = (
            "You will get no more weekly digests. Your Strava connection stays as it is; "
            "you can disconnect it from your preferences."
        )
    return _confirm("unsubscribe", token, heading, message, "Unsubscribe")


@router.post(PATHS["unsubscribe"], response_class=HTMLResponse)
async def unsubscribe(request: Request, services: ServicesDep) -> HTMLResponse:
    """The page's button and RFC 8058 one-click (`List-Unsubscribe=One-Click`) both land here."""
    form = await read_form(request)
    settings = services.settings
    one_click = form_field(form, "List-Unsubscribe") == "One-Click"
    payload = read_token(token_of(request, form), "unsubscribe", settings)
    with transaction(services.sessions) as session:
        athlete = athlete_of(session, payload)
        athlete.email_status = EmailStatus.UNSUBSCRIBED
        athlete.email_status_reason = (
            "one-click unsubscribe from the mail client" if one_click else "unsubscribe page"
        )
        athlete_id = athlete.id
    log.info("athlete unsubscribed", extra={"athlete_id": athlete_id})
    return _message(
        200,
        "You're unsubscribed",
        "We won't email you again. Changed your mind? You can turn emails back on in your "
        "preferences.",
        link=_preferences_url(settings, athlete_id),
    )


# ------------------------------------------------------------------ mute


@router.get(PATHS["mute"], response_class=HTMLResponse)
def mute_page(request: Request, services: ServicesDep) -> HTMLResponse:
    token, payload, _ = open_link(request, services, "mute")
    rule_id = _muted_rule(payload)
    title = title_of(rule_id, rules_in_force(services.settings))
    return _confirm(
        "mute",
        token,
        f"Stop alerts about {title.lower()}?",
        "Your digests will leave this check out. Other checks carry on, and you can "
        "turn it back on in your preferences.",
        "Stop these alerts",
    )


@router.post(PATHS["mute"], response_class=HTMLResponse)
async def mute(request: Request, services: ServicesDep) -> HTMLResponse:
    form = await read_form(request)
    settings = services.settings
    payload = read_token(token_of(request, form), "mute", settings)
    rule_id = _muted_rule(payload)
    with transaction(services.sessions) as session:
        athlete = athlete_of(session, payload)
        if rule_id not in athlete.muted_rules:
            # A new list, so SQLAlchemy sees the JSON column change.
            athlete.muted_rules = [*athlete.muted_rules, rule_id]
        athlete_id = athlete.id
    title = title_of(rule_id, rules_in_force(settings))
    return _message(
        200,
        f"Alerts about {title.lower()} are off",
        "You can turn them back on at any time in your preferences.",
        link=_preferences_url(settings, athlete_id),
    )


def _muted_rule(payload: dict[str, Any]) -> str:
    rule_id = payload.get("rule_id")
    if not isinstance(rule_id, str) or not rule_id:
        raise Refusal(*REFUSALS["tampered"])
    return rule_id


# ------------------------------------------------------------------ pause


def _pause_choice(raw: str) -> int | None:
    """The offered pause length `raw` names, compared as text: `str.isdigit()` accepts "²",
    which `int()` refuses, and `int()` refuses numbers of thousands of digits."""
    return next((weeks for weeks in PAUSE_CHOICES if raw == str(weeks)), None)


@router.get(PATHS["pause"], response_class=HTMLResponse)
def pause_page(request: Request, services: ServicesDep) -> HTMLResponse:
    token, _, _ = open_link(request, services, "pause")
    weeks = _pause_choice(request.query_params.get("weeks", "")) or DEFAULT_PAUSE_WEEKS
    return _confirm(
        "pause",
        token,
        "Pause your alerts?",
        "We won't email you about any of your training during the pause. "
        "Your Strava connection and settings stay as they are.",
        "Pause alerts",
        pause_choices=PAUSE_CHOICES,
        pause_selected=weeks,
    )


@router.post(PATHS["pause"], response_class=HTMLResponse)
async def pause(request: Request, services: ServicesDep) -> HTMLResponse:
    form = await read_form(request)
    settings = services.settings
    weeks = _pause_choice(form_field(form, "weeks"))
    payload = read_token(token_of(request, form), "pause", settings)
    if weeks is None:
        raise Refusal(
            400,
            "Choose how long to pause",
            f"Pick one of {', '.join(map(str, PAUSE_CHOICES))} weeks and try again.",
        )
    with transaction(services.sessions) as session:
        athlete = athlete_of(session, payload)
        today = local_today(athlete)
        athlete.paused_until = pause_until(today, weeks)
        silenced = describe_pause(today, athlete.paused_until)
        athlete_id = athlete.id
    return _message(
        200,
        "Alerts paused",
        f"No alerts about {silenced}. You can resume earlier from your preferences.",
        link=_preferences_url(settings, athlete_id),
    )


# ------------------------------------------------------------------ preferences


@router.get(PATHS["preferences"], response_class=HTMLResponse)
def preferences_page(request: Request, services: ServicesDep) -> HTMLResponse:
    token, _, athlete = open_link(request, services, "preferences")
    saved = request.query_params.get("saved") == "1"
    return _preferences_form(athlete, token, services.settings, 200, saved=saved)


@router.post(PATHS["preferences"], response_class=HTMLResponse)
async def save_preferences(request: Request, services: ServicesDep) -> Response:
    form = await read_form(request)
    settings = services.settings
    token = token_of(request, form)
    payload = read_token(token, "preferences", settings)
    require_csrf(form, token, settings, "the preferences link")
    choices = rules_in_force(settings)
    with services.sessions() as session:
        athlete = athlete_of(session, payload)
        fields = {name: form_field(form, name) for name in form}
        muted = [v for v in form.getlist("muted_rules") if isinstance(v, str)]
        allowed = [c.id for c in choices] + list(athlete.muted_rules)
        outcome = check_preferences(fields, muted, allowed)
        if isinstance(outcome, dict):
            # Nothing is written: the page shows the form as submitted, with the errors.
            return _preferences_form(
                athlete, token, settings, 400, errors=outcome, submitted=fields, muted=muted
            )
        apply_change(athlete, outcome)
        session.commit()
        log.info("preferences saved", extra={"athlete_id": athlete.id})
    # Post, redirect, get: a reload shows the saved page instead of posting again.
    return RedirectResponse(
        link_url(settings, "preferences", token, saved=1), status_code=303, headers=PAGE_HEADERS
    )


def current_values(athlete: Athlete) -> dict[str, str]:
    """The preferences form's fields as the athlete's settings fill them."""
    return {
        "email": athlete.email or "",
        "units": athlete.units,
        "timezone": athlete.timezone,
        "subscribed": "on" if athlete.email_status != EmailStatus.UNSUBSCRIBED else "",
        "weekly_note": "on" if athlete.weekly_note else "",
    }


def apply_change(athlete: Athlete, change: PreferenceChange) -> None:
    """Write a checked preferences form onto the athlete (the email page and /me share it)."""
    if change.email != athlete.email:
        athlete.email = change.email
        if athlete.email_status == EmailStatus.BOUNCED:
            athlete.email_status = EmailStatus.OK  # a new address deserves a new try
            athlete.email_status_reason = "address changed in preferences"
    if change.subscribed and athlete.email_status == EmailStatus.UNSUBSCRIBED:
        athlete.email_status = EmailStatus.OK
        athlete.email_status_reason = "resubscribed in preferences"
    elif not change.subscribed and athlete.email_status != EmailStatus.UNSUBSCRIBED:
        athlete.email_status = EmailStatus.UNSUBSCRIBED
        athlete.email_status_reason = "preferences page"
    athlete.units = change.units
    if change.timezone != athlete.timezone:
        athlete.timezone = change.timezone
        athlete.timezone_locked = True  # the runner chose it; activities stop overriding it
    athlete.muted_rules = change.muted_rules
    athlete.weekly_note = change.weekly_note
    if change.pause_weeks == 0:
        athlete.paused_until = None
    elif change.pause_weeks is not None:
        athlete.paused_until = pause_until(local_today(athlete), change.pause_weeks)


def _preferences_form(
    athlete: Athlete,
    token: str,
    settings: Settings,
    status: int,
    *,
    errors: dict[str, str] | None = None,
    submitted: dict[str, str] | None = None,
    muted: list[str] | None = None,
    saved: bool = False,
) -> HTMLResponse:
    choices = with_muted(rules_in_force(settings), athlete.muted_rules)
    values = submitted or current_values(athlete)
    paused = (
        athlete.paused_until
        if athlete.paused_until and (athlete.paused_until >= local_today(athlete))
        else None
    )
    return page_response(
        "preferences.html",
        status,
        action=PATHS["preferences"],
        token=token,
        csrf=csrf_token(token, settings),
        values=values,
        muted=set(athlete.muted_rules if muted is None else muted),
        choices=choices,
        timezones=sorted(known_timezones()),
        pause_choices=PAUSE_CHOICES,
        paused_until=paused,
        bounced=athlete.email_status == EmailStatus.BOUNCED,
        errors=errors or {},
        saved=saved,
        link_days=MAX_AGE_S["preferences"] // 86400,
    )
