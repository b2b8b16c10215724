"""Plumbing every runner page shares: templates, cookies, CSRF and the signed-in runner."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from strideguard import runner_sessions
from strideguard.db import transaction
from strideguard.integrations.email.formatting import distance
from strideguard.models import utcnow
from strideguard.services import Services
from strideguard.settings import Settings
from strideguard.web.email_pages.routes import PAGE_TEMPLATES_DIR

# The runner's pages, and the notifier's for the page shell and the preference fields
# that /me shares with the emailed preferences link.
templates = Jinja2Templates(
    directory=[Path(__file__).resolve().parents[1] / "templates", PAGE_TEMPLATES_DIR]
)
templates.env.filters["distance"] = distance
SESSION_COOKIE = "sg_runner"
SESSION_MAX_AGE_S = int(runner_sessions.SESSION_LIFETIME.total_seconds())
# Pages that show a runner's data or a form token must not be kept by caches or history.
NO_STORE = {"Cache-Control": "no-store"}


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        request, f"runner/{name}", context, status_code=status, headers=NO_STORE
    )


def see_other(url: str) -> RedirectResponse:
    """Post, redirect, get: a refresh of the page that follows never submits the form again."""
    return RedirectResponse(url, status_code=303, headers=NO_STORE)


def set_cookie(
    response: HTMLResponse | RedirectResponse,
    settings: Settings,
    name: str,
    value: str,
    max_age: int,
) -> None:
    """HttpOnly and SameSite=Lax: Lax, not Strict, because the runner arrives from an email,
    a top-level navigation from another site that Strict would strip the cookie from."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=settings.public_base_url.startswith("https://"),
        path="/",
    )


def signed_in(request: Request, services: Services) -> tuple[int, str] | None:
    """(athlete id, session id) of the runner behind this request, if their session is live."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id or len(session_id) > 100:
        return None
    with transaction(services.sessions) as session:
        athlete_id = runner_sessions.athlete_of(session, session_id, utcnow())
    return None if athlete_id is None else (athlete_id, session_id)


def form_token(settings: Settings, session_id: str) -> str:
    """CSRF token for the signed-in runner's forms, bound to their session."""
    key = settings.signing_key().encode()
    return hmac.new(key, b"runner-form:" + session_id.encode(), hashlib.sha256).hexdigest()


def token_matches(settings: Settings, session_id: str, submitted: str) -> bool:
    return hmac.compare_digest(form_token(settings, session_id), submitted)
