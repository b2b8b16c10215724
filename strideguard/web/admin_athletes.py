"""The admin's athlete page: recent weeks, findings, deliveries, overrides, previews, retries.

Every change is a CSRF-checked POST that answers with a redirect (post-redirect-get), except
a refused override form, which is shown again with the error in place and the text kept.
Each action is logged with a tag of the admin session (the first characters of the session
hash stored in admin_sessions), never the session id itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import update

from strideguard import athlete_detail
from strideguard.athlete_overrides import (
    OverrideError,
    apply_changes,
    override_problems,
    parse_assignment,
)
from strideguard.db import transaction
from strideguard.digest_preview import PreviewError, preview_digest
from strideguard.models import Athlete, DeliveryRecord, Evaluation
from strideguard.rules import ConfigError, RulesConfig, load_config
from strideguard.rules.config import SHIPPED_RULES
from strideguard.rules.findings import shown
from strideguard.runtime import WorkerRuntime
from strideguard.services import Services, ServicesDep
from strideguard.status import EvaluationStatus
from strideguard.times import week_start_of
from strideguard.web import admin_auth
from strideguard.web.admin import templates

log = logging.getLogger(__name__)
router = APIRouter(prefix="/admin", include_in_schema=False)
FORBIDDEN = "Invalid or missing CSRF token."
RETRYABLE: dict[str, type[DeliveryRecord] | type[Evaluation]] = {
    "email": DeliveryRecord,
    "evaluation": Evaluation,
}


def _rules(services: Services) -> tuple[RulesConfig | None, str | None]:
    """The rules in force, or why they cannot be read (the page then says so, never a 500)."""
    runtime = services.optional("worker_runtime", WorkerRuntime)
    if runtime is not None:
        return runtime.rules.current(), None
    try:
        return load_config(services.settings.rules_path or SHIPPED_RULES), None
    except ConfigError as exc:
        return None, "; ".join(exc.errors)


def _form_sender(request: Request, services: Services, csrf: str) -> admin_auth.SignedIn | Response:
    """The admin who sent a form, or the answer to give: sign in first, or 403 on a bad token."""
    signed_in = admin_auth.current_session(request, services)
    if signed_in is None:
        return RedirectResponse("/admin/login", status_code=303)
    if not admin_auth.csrf_matches(signed_in.csrf, csrf):
        return Response(FORBIDDEN, status_code=403)
    return signed_in


def _session_tag(signed_in: admin_auth.SignedIn) -> str:
    return hashlib.sha256(signed_in.session_id.encode()).hexdigest()[:12]


def _audit(signed_in: admin_auth.SignedIn, action: str, athlete_id: int, detail: str) -> None:
    log.info(
        "admin %s by session %s: %s",
        action,
        _session_tag(signed_in),
        detail,
        extra={"athlete_id": athlete_id},
    )


def overrides_text(overrides: dict[str, Any]) -> str:
    """The overrides as the form edits them: one RULE.PARAM=VALUE a line."""
    lines = []
    for rule, params in sorted(overrides.items()):
        for param, value in sorted(params.items()):
            text = str(value).lower() if isinstance(value, bool) else str(value)
            lines.append(f"{rule}.{param}={text}")
    return "\n".join(lines)


def _page(
    request: Request,
    services: Services,
    signed_in: admin_auth.SignedIn,
    athlete_id: int,
    *,
    form_text: str | None = None,
    form_errors: list[str] | None = None,
    status: int = 200,
) -> Response:
    settings = services.settings
    config, rules_error = _rules(services)
    running = config.activity_types.running if config else frozenset({"Run", "TrailRun"})
    with services.sessions() as db:
        detail = athlete_detail.load(
            db,
            athlete_id,
            dt.datetime.now(dt.UTC),
            dt.timedelta(hours=settings.evaluation_grace_hours),
            running,
        )
    if detail is None:
        return Response("No such athlete.", status_code=404)
    response = templates.TemplateResponse(
        request,
        "admin/athlete.html",
        {
            "csrf": signed_in.csrf,
            "a": detail,
            "shown": shown,
            "rules_error": rules_error,
            "stored_problems": override_problems(config, detail.overrides) if config else [],
            "form_text": overrides_text(detail.overrides) if form_text is None else form_text,
            "form_errors": form_errors or [],
            "saved": request.query_params.get("saved"),
            "retried": request.query_params.get("retried"),
            "last_week": detail.weeks[0].week_start if detail.weeks else None,
        },
        status_code=status,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/athletes/{athlete_id}", response_class=HTMLResponse)
def athlete_page(request: Request, services: ServicesDep, athlete_id: int) -> Response:
    signed_in = admin_auth.current_session(request, services)
    if signed_in is None:
        return RedirectResponse("/admin/login", status_code=303)
    return _page(request, services, signed_in, athlete_id)


@router.post("/athletes/{athlete_id}/overrides", response_class=HTMLResponse)
def save_overrides(
    request: Request,
    services: ServicesDep,
    athlete_id: int,
    csrf: Annotated[str, Form(max_length=128)],
    overrides: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    signed_in = _form_sender(request, services, csrf)
    if isinstance(signed_in, Response):
        return signed_in
    config, rules_error = _rules(services)
    lines = [line.strip() for line in overrides.splitlines() if line.strip()]
    try:
        if config is None:
            raise OverrideError(
                [f"the rules file cannot be read, so nothing is checked: {rules_error}"]
            )
        new = apply_changes(config, {}, [parse_assignment(line) for line in lines])
    except OverrideError as exc:
        return _page(
            request,
            services,
            signed_in,
            athlete_id,
            form_text=overrides,
            form_errors=exc.problems,
            status=400,
        )
    with transaction(services.sessions) as db:
        athlete = db.get(Athlete, athlete_id)
        if athlete is None:
            return Response("No such athlete.", status_code=404)
        before = overrides_text(dict(athlete.rule_overrides or {})).replace("\n", ", ")
        athlete.rule_overrides = new
    after = overrides_text(new).replace("\n", ", ")
    _audit(signed_in, "overrides", athlete_id, f"[{before}] -> [{after}]")
    return RedirectResponse(f"/admin/athletes/{athlete_id}?saved=1", status_code=303)


@router.get("/athletes/{athlete_id}/preview", response_class=HTMLResponse)
def preview(
    request: Request,
    services: ServicesDep,
    athlete_id: int,
    week: Annotated[dt.date | None, Query()] = None,
) -> Response:
    """The digest for a week as the runner would see it; nothing is sent or stored."""
    settings = services.settings
    signed_in = admin_auth.current_session(request, services)
    if signed_in is None:
        return RedirectResponse("/admin/login", status_code=303)
    config, rules_error = _rules(services)
    if config is None:
        return Response(f"The rules file cannot be read: {rules_error}", status_code=409)
    monday = week_start_of(week) if week else None
    with services.sessions() as db:
        try:
            made = preview_digest(db, athlete_id, monday, config, settings, dt.datetime.now(dt.UTC))
        except PreviewError as exc:
            return Response(str(exc), status_code=404)
    _audit(signed_in, "preview", athlete_id, f"week {made.week_start}")
    if made.rendered is None:
        return templates.TemplateResponse(
            request,
            "admin/no_digest.html",
            {"csrf": signed_in.csrf, "athlete_id": athlete_id, "week": made.week_start},
        )
    return HTMLResponse(made.rendered.html, headers={"Cache-Control": "no-store"})


@router.post("/athletes/{athlete_id}/retry")
def retry(
    request: Request,
    services: ServicesDep,
    athlete_id: int,
    csrf: Annotated[str, Form(max_length=128)],
    kind: Annotated[str, Form(max_length=16)],
    job_id: Annotated[int, Form()],
) -> Response:
    """Send a failed email or evaluation back to pending; the worker picks it up."""
    signed_in = _form_sender(request, services, csrf)
    if isinstance(signed_in, Response):
        return signed_in
    model = RETRYABLE.get(kind)
    if model is None:
        return Response(f"Unknown job kind {kind!r}.", status_code=400)
    now = dt.datetime.now(dt.UTC)
    values: dict[str, Any] = {"status": EvaluationStatus.PENDING, "attempts": 0, "last_error": None}
    if model is DeliveryRecord:
        values |= {"next_attempt_at": now, "lease_until": None, "crashes": 0}
    else:
        values |= {"due_at": now, "started_at": None}
    with transaction(services.sessions) as db:
        result = db.execute(
            update(model)
            .where(
                model.id == job_id,
                model.athlete_id == athlete_id,
                model.status == EvaluationStatus.FAILED,
            )
            .values(**values)
        )
        changed = getattr(result, "rowcount", 0) == 1
    if not changed:
        return RedirectResponse(f"/admin/athletes/{athlete_id}?retried=0", status_code=303)
    runtime = services.optional("worker_runtime", WorkerRuntime)
    if runtime is not None:  # else the scheduler's reconciler sends it on its next tick
        if model is DeliveryRecord:
            runtime.jobs.send_digest(job_id)
        else:
            with services.sessions() as db:
                row = db.get(Evaluation, job_id)
                if row is not None:
                    runtime.jobs.evaluate_week(athlete_id, row.week_start)
    _audit(signed_in, f"retry {kind}", athlete_id, f"job {job_id}")
    return RedirectResponse(f"/admin/athletes/{athlete_id}?retried=1", status_code=303)
