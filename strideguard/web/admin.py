"""The admin view: what the service is doing. Rules are edited in YAML, on purpose; one
athlete's overrides and failed jobs are changed on the athlete page (admin_athletes.py)."""

from __future__ import annotations

import datetime as dt
import math
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from strideguard.db import transaction
from strideguard.integrations.strava.subscription import needs_resubscribe
from strideguard.passwords import verify_password
from strideguard.runtime import WorkerRuntime
from strideguard.services import Services, ServicesDep
from strideguard.web import admin_auth, admin_operations, admin_queries

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
ATHLETES_PER_PAGE = 50
router = APIRouter(prefix="/admin", include_in_schema=False)


@dataclass(frozen=True)
class Paging:
    page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // ATHLETES_PER_PAGE))


def _login_page(
    request: Request, services: Services, error: str | None = None, status: int = 200
) -> Response:
    settings = services.settings
    csrf = secrets.token_urlsafe(24)
    response = templates.TemplateResponse(
        request,
        "admin/login.html",
        {
            "csrf": csrf,
            "error": error,
            "enabled": bool(settings.admin_password_hash),
        },
        status_code=status,
    )
    admin_auth.set_cookie(response, settings, admin_auth.LOGIN_CSRF_COOKIE, csrf, 900)
    return response


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, services: ServicesDep) -> Response:
    return _login_page(request, services)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    services: ServicesDep,
    password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=128)],
) -> Response:
    settings = services.settings
    if not settings.admin_password_hash:
        return _login_page(request, services, status=403)
    if not admin_auth.csrf_matches(request.cookies.get(admin_auth.LOGIN_CSRF_COOKIE, ""), csrf):
        return _login_page(request, services, "The form expired. Please try again.", 400)
    remote = admin_auth.client_key(request)
    sessions = services.sessions
    # Counted as a failure before the check, so guesses sent at once see one another.
    with transaction(sessions) as session:
        attempt = admin_auth.record_failure(session, remote)
    with transaction(sessions) as session:
        wait_s = admin_auth.throttled_for(session, remote, pending=1)
    right = not wait_s and verify_password(password, settings.admin_password_hash)
    if wait_s or right:  # only a wrong password stays counted
        with transaction(sessions) as session:
            admin_auth.forget_attempt(session, attempt)
    if wait_s:
        page = _login_page(
            request, services, f"Too many failed logins. Try again in {_duration(wait_s)}.", 429
        )
        page.headers["Retry-After"] = str(wait_s)
        return page
    if not right:
        return _login_page(request, services, "Wrong password.", 401)
    response = RedirectResponse("/admin", status_code=303)
    admin_auth.start_session(request, response, services)
    return response


@router.post("/logout")
def logout(
    request: Request, services: ServicesDep, csrf: Annotated[str, Form(max_length=128)]
) -> Response:
    signed_in = admin_auth.current_session(request, services)
    if signed_in is not None and not admin_auth.csrf_matches(signed_in.csrf, csrf):
        return Response("Invalid or missing CSRF token.", status_code=403)
    response = RedirectResponse("/admin/login", status_code=303)
    admin_auth.end_session(request, response, services, signed_in)
    return response


@router.get("", response_class=HTMLResponse)
def dashboard(
    request: Request,
    services: ServicesDep,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    signed_in = admin_auth.current_session(request, services)
    if signed_in is None:
        return RedirectResponse("/admin/login", status_code=303)
    now = dt.datetime.now(dt.UTC)
    today = now.date()
    runtime = services.optional("worker_runtime", WorkerRuntime)
    with services.sessions() as db:
        total = admin_queries.count_athletes(db, q)
        context = {
            "csrf": signed_in.csrf,
            "search": q,
            "paging": Paging(page, total),
            "athletes": admin_queries.athletes(
                db, q, limit=ATHLETES_PER_PAGE, offset=(page - 1) * ATHLETES_PER_PAGE
            ),
            "outbox": admin_queries.outbox_counts(db),
            "failures": admin_queries.failed_jobs(db),
            "rule_failures": admin_queries.rule_failures(db),
            "alerts": admin_queries.alert_counts(db, today),
            "operations": admin_operations.operations(runtime, now) if runtime else None,
            "resubscribe": needs_resubscribe(db),
        }
    response = templates.TemplateResponse(request, "admin/dashboard.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response
