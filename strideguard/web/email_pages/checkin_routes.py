"""The back-pain check-in pages behind the 0-10 links in every email.

Mail scanners fetch links, so a GET never records anything: the link opens a page with the
clicked answer already selected and one button to save it (plus an optional note). The POST
stores the answer for the runner's current local week, replacing an earlier one, and
redirects to a thank-you page (post-redirect-get, so a reload cannot resubmit). The signed
link is the credential; the form also carries a CSRF value bound to it, as preferences do.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from strideguard.checkins import (
    MAX_NOTE_CHARS,
    SCORES,
    checkin_for_week,
    parse_score,
    record_checkin,
)
from strideguard.db import transaction
from strideguard.integrations.email.digest_links import PATHS
from strideguard.models import Athlete
from strideguard.services import ServicesDep
from strideguard.settings import Settings
from strideguard.times import week_start_of
from strideguard.web.email_pages.routes import (
    PAGE_HEADERS,
    athlete_of,
    csrf_token,
    form_field,
    local_today,
    open_link,
    page_response,
    read_form,
    read_token,
    require_csrf,
    token_of,
)

log = logging.getLogger(__name__)
router = APIRouter(tags=["back-pain check-in"])
THANKS_PATH = PATHS["checkin"] + "/thanks"
STRONG_PAIN = 7  # from here the page points to the warning signs, as the email does


@router.get(PATHS["checkin"], response_class=HTMLResponse)
def checkin_page(request: Request, services: ServicesDep) -> HTMLResponse:
    """The clicked answer, selected, with a button: nothing is stored by opening a link."""
    token, _, athlete = open_link(request, services, "checkin")
    with services.sessions() as session:
        saved = checkin_for_week(session, athlete.id, week_start_of(local_today(athlete)))
    clicked = parse_score(request.query_params.get("score", ""))
    score = clicked if clicked is not None else (saved.score if saved else None)
    return _form_page(
        services.settings,
        athlete,
        token,
        200,
        score=score,
        note=(saved.note or "") if saved else "",
    )


@router.post(PATHS["checkin"], response_model=None)
async def save_checkin(request: Request, services: ServicesDep) -> Response:
    form = await read_form(request)
    settings = services.settings
    token = token_of(request, form)
    score = parse_score(form_field(form, "score"))
    note = form_field(form, "note").strip()
    payload = read_token(token, "checkin", settings)
    require_csrf(form, token, settings, "a back-pain link")
    with transaction(services.sessions) as session:
        athlete = athlete_of(session, payload)
        problem = _problem(score, note)
        if problem or score is None:
            # Nothing is written: the form comes back as submitted, with what to fix.
            return _form_page(
                services.settings, athlete, token, 400, score=score, note=note, error=problem
            )
        record_checkin(session, athlete.id, week_start_of(local_today(athlete)), score, note)
        athlete_id = athlete.id
    log.info("back-pain check-in saved", extra={"athlete_id": athlete_id})
    return RedirectResponse(
        f"{THANKS_PATH}?{urlencode({'token': token})}", status_code=303, headers=PAGE_HEADERS
    )


@router.get(THANKS_PATH, response_class=HTMLResponse)
def thanks_page(request: Request, services: ServicesDep) -> HTMLResponse:
    token, _, athlete = open_link(request, services, "checkin")
    week = week_start_of(local_today(athlete))
    with services.sessions() as session:
        saved = checkin_for_week(session, athlete.id, week)
    if saved is None:  # e.g. the week turned over: ask again rather than thank for nothing
        return _form_page(services.settings, athlete, token, 200, score=None, note="")
    return page_response(
        "checkin_thanks.html",
        action=PATHS["checkin"],
        change=f"{PATHS['checkin']}?{urlencode({'token': token})}",
        token=token,
        csrf=csrf_token(token, services.settings),
        score=saved.score,
        note=saved.note or "",
        week=week,
        strong=saved.score >= STRONG_PAIN,
        max_note=MAX_NOTE_CHARS,
    )


def _problem(score: int | None, note: str) -> str | None:
    if score is None:
        return "Choose a number from 0 (no pain) to 10, then save."
    if len(note) > MAX_NOTE_CHARS:
        return (
            f"Your note is {len(note)} characters long; please shorten it to "
            f"{MAX_NOTE_CHARS} or fewer. Your answer was not saved yet."
        )
    return None


def _form_page(
    settings: Settings,
    athlete: Athlete,
    token: str,
    status: int,
    *,
    score: int | None,
    note: str,
    error: str | None = None,
) -> HTMLResponse:
    return page_response(
        "checkin.html",
        status,
        action=PATHS["checkin"],
        token=token,
        csrf=csrf_token(token, settings),
        scores=SCORES,
        score=score,
        note=note,
        error=error,
        week=week_start_of(local_today(athlete)),
        max_note=MAX_NOTE_CHARS,
    )
