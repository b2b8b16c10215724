"""Sign in by email link: ask (/signin), open the link (/signin/open), sign out (/signout).

The answer to "email me a link" is the same page whether or not the address has an account,
and the mail goes out after the response, so neither the text nor the timing tells anyone who
uses strideguard. Requests are throttled per address and per client, counted in the database
so the cap holds across web processes.
"""

from __future__ import annotations

import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select

from strideguard import runner_sessions
from strideguard.db import transaction
from strideguard.email_address import EmailAddressError, check_email_address
from strideguard.models import Athlete, utcnow
from strideguard.services import ServicesDep
from strideguard.web.admin_auth import client_key
from strideguard.web.runner.common import (
    SESSION_COOKIE,
    SESSION_MAX_AGE_S,
    page,
    see_other,
    set_cookie,
    signed_in,
    token_matches,
)
from strideguard.web.runner.signin_mail import OPEN_PATH, send_signin_link

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
BROWSER_COOKIE = "sg_signin"
BROWSER_COOKIE_MAX_AGE_S = int(runner_sessions.LINK_LIFETIME.total_seconds())
LINK_PROBLEMS: dict[runner_sessions.LinkProblem, tuple[str, str]] = {
    "unknown": (
        "This sign-in link doesn't work",
        "It may be damaged or incomplete (some email programs break long links).",
    ),
    "used": ("This sign-in link was already used", "Each link works once."),
    "expired": (
        "This sign-in link has expired",
        "Links work for 15 minutes, for your safety.",
    ),
    "other_browser": (
        "Open this link in the browser where you asked for it",
        "For your safety, a sign-in link only works in the browser that asked for it (and "
        "not after its cookies were cleared). It has not been used up: open it there, or ask "
        "for a new link here.",
    ),
}


@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request, services: ServicesDep, sent: int = 0, out: int = 0) -> Response:
    if signed_in(request, services) is not None and not sent:
        return see_other("/me")
    return page(request, "signin.html", sent=bool(sent), signed_out=bool(out), problem=None)


@router.post("/signin", response_class=HTMLResponse)
def ask_for_link(
    request: Request,
    services: ServicesDep,
    background: BackgroundTasks,
    email: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    settings = services.settings
    try:
        # The same rule as every other form, so a stored address is found as it was stored.
        address = check_email_address(email)
    except EmailAddressError as problem:
        return page(
            request,
            "signin.html",
            400,
            sent=False,
            signed_out=False,
            problem=str(problem),
            entered=email,
        )
    nonce = request.cookies.get(BROWSER_COOKIE) or secrets.token_urlsafe(32)
    now = utcnow()
    with transaction(services.sessions) as session:
        if runner_sessions.throttled(session, address, client_key(request), now):
            return page(
                request,
                "signin.html",
                429,
                sent=False,
                signed_out=False,
                problem="You asked for several links in a short time. Use the newest email "
                "we sent, or try again in 15 minutes.",
                entered=email,
            )
        runner_sessions.record_request(session, address, client_key(request), now)
        athlete_id = session.scalar(
            select(Athlete.id)
            .where(func.lower(Athlete.email) == address.lower())
            .order_by(Athlete.id.desc())
            .limit(1)
        )
        token = (
            None
            if athlete_id is None
            else runner_sessions.issue_link(session, athlete_id, now, nonce)
        )
    if token is not None:
        background.add_task(send_signin_link, settings, address, token)
    response = see_other("/signin?sent=1")
    set_cookie(response, settings, BROWSER_COOKIE, nonce, BROWSER_COOKIE_MAX_AGE_S)
    return response


@router.get(OPEN_PATH, response_class=HTMLResponse)
def open_link(request: Request, services: ServicesDep, token: str = "") -> Response:
    settings = services.settings
    now = utcnow()
    try:
        if not token or len(token) > 200:
            raise runner_sessions.LinkRefused("unknown")
        with transaction(services.sessions) as session:
            athlete_id = runner_sessions.spend_link(
                session, token, request.cookies.get(BROWSER_COOKIE), now
            )
            session_id = runner_sessions.open_session(session, athlete_id, now)
    except runner_sessions.LinkRefused as refused:
        log.info("sign-in link refused: %s", refused.problem)
        heading, message = LINK_PROBLEMS[refused.problem]
        return page(request, "link_problem.html", 400, heading=heading, message=message)
    log.info("runner signed in", extra={"athlete_id": athlete_id})
    response = see_other("/me")
    set_cookie(response, settings, SESSION_COOKIE, session_id, SESSION_MAX_AGE_S)
    response.delete_cookie(BROWSER_COOKIE, path="/")
    return response


@router.post("/signout")
def sign_out(
    request: Request, services: ServicesDep, csrf: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    who = signed_in(request, services)
    if who is not None and token_matches(services.settings, who[1], csrf):
        with transaction(services.sessions) as session:
            runner_sessions.revoke(session, who[1], utcnow())
    response = see_other("/signin?out=1")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
