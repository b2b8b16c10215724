"""HTTP routes for the Strava box: connect, callback, email, disconnect (webhook_routes.py: the
webhook).

One APIRouter, mounted by strideguard/web/app.py. Routes reach the Strava context and the
job seam through `StravaDep` (web_services.py).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from strideguard.first_result import load_first_result
from strideguard.integrations.strava.connect_email import (
    EmailFormError,
    athlete_from_form,
    clean_email,
    email_form_token,
    save_email,
)
from strideguard.integrations.strava.connect_receipt import (
    RECEIPT_COOKIE,
    RECEIPT_MAX_AGE,
    make_receipt,
    read_receipt,
)
from strideguard.integrations.strava.connect_status import (
    REFRESH_S,
    STATUS_PATH,
    distance,
    status_url,
)
from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.disconnect import disconnect
from strideguard.integrations.strava.errors import StravaError
from strideguard.integrations.strava.jobs import StravaJob
from strideguard.integrations.strava.oauth import (
    BROWSER_COOKIE,
    CALLBACK_PATH,
    STATE_MAX_AGE,
    StateError,
    begin_connect,
    complete_connect,
    judge_scopes,
    spend_state,
)
from strideguard.integrations.strava.web_services import StravaDep, StravaServices
from strideguard.models import Athlete

log = logging.getLogger(__name__)

router = APIRouter(tags=["strava"])
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

START_PATH = "/connect/strava"
EMAIL_PATH = "/connect/email"


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


def _problem(
    request: Request, status: int, heading: str, *paragraphs: str, retry: bool = True
) -> HTMLResponse:
    retry_url = f"{START_PATH}?retry=1" if retry else None
    return _page(
        request,
        "problem.html",
        status,
        heading=heading,
        paragraphs=paragraphs,
        retry_url=retry_url,
    )


# ------------------------------------------------------------------ connect


@router.get("/connect", response_class=HTMLResponse)
def connect_page(request: Request) -> HTMLResponse:
    """The page with the "Connect with Strava" button."""
    return _page(request, "connect.html", start_url=START_PATH)


@router.get(START_PATH)
def connect_start(
    request: Request, strava: StravaDep, retry: Annotated[int, Query(ge=0, le=1)] = 0
) -> Response:
    """Mint a single-use state bound to this browser and send the runner to Strava."""
    ctx = strava.context
    try:
        start = begin_connect(ctx, force_prompt=bool(retry))
    except StravaError as error:
        return _problem(request, 503, "Strava isn't configured yet", str(error), retry=False)
    response = RedirectResponse(start.authorize_url, status_code=303)
    response.set_cookie(
        BROWSER_COOKIE,
        start.browser_secret,
        max_age=int(STATE_MAX_AGE.total_seconds()),
        path=CALLBACK_PATH,
        httponly=True,
        samesite="lax",
        secure=ctx.settings.public_base_url.startswith("https://"),
    )
    return response


_STATE_PROBLEMS = {
    "missing": "The reply from Strava was incomplete.",
    "tampered": "The reply from Strava was altered on its way back.",
    "expired": "Connecting took longer than ten minutes, so we stopped waiting.",
    "replayed": "This Strava reply was already used; each one works only once.",
    "other_browser": (
        "This reply belongs to a connection started in another browser (or your cookies "
        "were cleared)."
    ),
}


@router.get(CALLBACK_PATH, response_class=HTMLResponse)
def strava_callback(
    request: Request,
    strava: StravaDep,
    state: str | None = None,
    code: str | None = None,
    scope: str | None = None,
    error: str | None = None,
) -> Response:
    """Strava sends the runner back here with a code (or an error) and our state."""
    ctx = strava.context
    try:
        spend_state(ctx, state, request.cookies.get(BROWSER_COOKIE))
    except StateError as problem:
        again = read_receipt(ctx, state, request.cookies.get(RECEIPT_COOKIE))
        if again is not None and (shown := _connected_again(request, ctx, again)) is not None:
            return shown
        response: Response = _problem(
            request,
            400,
            "We couldn't finish connecting",
            _STATE_PROBLEMS[problem.problem],
            "Nothing was stored. Please start again from this browser.",
        )
        return response
    if error == "access_denied":
        response = _problem(
            request,
            200,
            "No problem, nothing was connected",
            "You chose not to give strideguard access on Strava, so we stored nothing.",
            "If you change your mind, connect again; you can disconnect at any time.",
        )
    elif error or not code:
        response = _problem(
            request, 400, "Strava didn't complete the connection", "Please try again."
        )
    else:
        response = _finish_connect(request, strava, code, scope, state or "")
    response.delete_cookie(BROWSER_COOKIE, path=CALLBACK_PATH)
    return response


def _connected_again(request: Request, ctx: StravaContext, athlete_id: int) -> Response | None:
    """The connected page once more, for a reload; None if the athlete has since gone."""
    with ctx.sessions() as session:
        athlete = session.get(Athlete, athlete_id)
        if athlete is None:
            return None
        return _connected_page(request, ctx, athlete_id, athlete.firstname, athlete.email)


def _finish_connect(
    request: Request, strava: StravaServices, code: str, scope: str | None, state: str
) -> Response:
    ctx = strava.context
    verdict = judge_scopes(scope)
    if verdict == "no_private":
        return _problem(
            request,
            200,
            "One more permission, please",
            "You allowed strideguard to see your public activities, but not the ones you keep "
            'private or "Only You" ("View data about your private activities").',
            "Our warnings compare each week with the ones before it, so a run we can't see "
            "makes a week look lighter than it was, and a warning can be missed or "
            "raised for nothing. We stored nothing; please connect again and leave that box "
            "ticked.",
        )
    if verdict == "no_activities":
        return _problem(
            request,
            200,
            "strideguard needs to see your activities",
            'You didn\'t allow "View data about your activities", and without your runs there '
            "is nothing for us to check.",
            "We stored nothing. Please connect again and allow access to your activities, "
            "including private ones.",
        )
    try:
        connected = complete_connect(ctx, code, scope or "")
    except StravaError:
        return _problem(
            request,
            502,
            "Strava didn't answer as expected",
            "We couldn't finish connecting, and nothing was stored. Please try again.",
        )
    strava.enqueue(StravaJob("backfill", connected.athlete_id))
    log.info("Strava connected; backfill enqueued", extra={"athlete_id": connected.athlete_id})
    page = _connected_page(request, ctx, connected.athlete_id, connected.firstname, connected.email)
    page.set_cookie(
        RECEIPT_COOKIE,
        make_receipt(ctx, state, connected.athlete_id),
        max_age=int(RECEIPT_MAX_AGE.total_seconds()),
        path=CALLBACK_PATH,
        httponly=True,
        samesite="lax",
        secure=ctx.settings.public_base_url.startswith("https://"),
    )
    return page


def _connected_page(
    request: Request,
    ctx: StravaContext,
    athlete_id: int,
    firstname: str | None,
    email: str | None,
    *,
    entered: str | None = None,
    problem: str | None = None,
) -> HTMLResponse:
    return _page(
        request,
        "connected.html",
        400 if problem else 200,
        firstname=firstname,
        email=email,
        entered=entered,
        email_problem=problem,
        email_action=EMAIL_PATH,
        email_token=email_form_token(ctx, athlete_id),
        lookback_weeks=ctx.settings.lookback_weeks,
        **_first_result(ctx, athlete_id, auto_refresh=False),
    )


def _first_result(ctx: StravaContext, athlete_id: int, *, auto_refresh: bool) -> dict[str, Any]:
    """The first-result section's values (templates/first_result.html)."""
    with ctx.sessions() as session:
        result = load_first_result(session, athlete_id, ctx.clock())
    return {
        "result": result,
        "status_url": status_url(ctx, athlete_id),
        "distance": distance,
        "auto_refresh": auto_refresh,
        "refresh_s": REFRESH_S,
    }


@router.get(STATUS_PATH, response_class=HTMLResponse)
def connect_status(
    request: Request,
    strava: StravaDep,
    token: Annotated[str, Query(max_length=500)] = "",
    saved: Annotated[int, Query(ge=0, le=1)] = 0,
) -> Response:
    """What the first backfill found; reloads itself while there is more to come."""
    ctx = strava.context
    try:
        athlete_id = athlete_from_form(ctx, token)
    except EmailFormError as problem:
        return _problem(request, 400, "We couldn't show your first result", str(problem))
    section = _first_result(ctx, athlete_id, auto_refresh=True)
    result = section["result"]
    if result is None:
        return _problem(
            request, 404, "We no longer hold a connection for you", "Please connect again."
        )
    # Reload while the backfill runs, and while the welcome is on its way to a known address.
    section["auto_refresh"] = not result.backfilled or (
        result.email is not None and not result.welcome_sent
    )
    return _page(
        request,
        "status.html",
        saved=bool(saved),
        lookback_weeks=ctx.settings.lookback_weeks,
        **section,
    )


@router.post(EMAIL_PATH, response_class=HTMLResponse)
def connect_email(
    request: Request,
    strava: StravaDep,
    token: Annotated[str, Form(max_length=500)],
    email: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    ctx = strava.context
    try:
        athlete_id = athlete_from_form(ctx, token)
    except EmailFormError as problem:
        return _problem(request, 400, "We couldn't save your email", str(problem), retry=False)
    try:
        address = clean_email(email)
        save_email(ctx, athlete_id, address)
    except EmailFormError as problem:
        return _connected_page(
            request, ctx, athlete_id, None, None, entered=email, problem=str(problem)
        )
    # Post, redirect, get: the status page shows the address and what the backfill found.
    return RedirectResponse(status_url(ctx, athlete_id, saved=True), status_code=303)


# ------------------------------------------------------------------ disconnect


@router.post("/strava/disconnect", response_class=HTMLResponse)
def strava_disconnect(
    request: Request, strava: StravaDep, token: Annotated[str, Form(max_length=500)]
) -> Response:
    """Deauthorize and delete; the form comes from the runner's preferences page."""
    from strideguard.links import LinkTokenError, read_link_token

    ctx = strava.context
    try:
        payload = read_link_token(token, "preferences", ctx.settings)
    except LinkTokenError as problem:
        return _problem(
            request,
            400,
            "We couldn't disconnect you from this link",
            f"{problem}. Open the settings link from your latest email and try again.",
            retry=False,
        )
    confirmed = disconnect(ctx.sessions, int(payload["athlete_id"]), ctx.settings, ctx=ctx)
    return _page(request, "disconnected.html", confirmed=confirmed, connect_url="/connect")
