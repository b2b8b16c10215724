"""The runner's push and chat channels page, behind the preferences link of their emails.

GET shows the channels (by label, never the URL) with a remove button each, and a form to add
an Apprise URL. Both POSTs redirect back to the GET (POST-redirect-GET), so a reload never
adds or removes twice; a URL Apprise refuses comes back on the form with Apprise's reason.
The signed preferences token is the credential, and the CSRF field is bound to it, as on the
preferences page (strideguard/web/email_pages/routes.py).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from strideguard.db import transaction
from strideguard.integrations.apprise import store
from strideguard.integrations.apprise.urls import RefusedUrl
from strideguard.integrations.email.digest_links import PATHS
from strideguard.services import Services, ServicesDep
from strideguard.web.email_pages.routes import (
    PAGE_HEADERS,
    athlete_of,
    csrf_token,
    form_field,
    page_response,
    read_form,
    read_token,
    require_csrf,
    token_of,
)
from strideguard.worker.short_messages import CHANNELS_PATH

log = logging.getLogger(__name__)
router = APIRouter(tags=["email links"])
ADD_PATH = f"{CHANNELS_PATH}/add"
REMOVE_PATH = f"{CHANNELS_PATH}/remove"


def _back(token: str, done: str) -> Response:
    query = urlencode({"token": token, "done": done})
    return RedirectResponse(f"{CHANNELS_PATH}?{query}", status_code=303, headers=PAGE_HEADERS)


def _channels_page(
    services: Services,
    token: str,
    athlete_id: int,
    status: int = 200,
    *,
    done: str = "",
    url: str = "",
    error: str | None = None,
) -> HTMLResponse:
    with services.sessions() as session:
        channels = store.channels(session, athlete_id)
    return page_response(
        "channels.html",
        status,
        channels=channels,
        token=token,
        csrf=csrf_token(token, services.settings),
        add_action=ADD_PATH,
        remove_action=REMOVE_PATH,
        preferences_url=f"{PATHS['preferences']}?{urlencode({'token': token})}",
        done=done if done in ("added", "removed") else "",
        url=url,
        error=error,
    )


async def _posted(request: Request, services: Services) -> tuple[FormData, str, dict[str, Any]]:
    """A channels form's fields, its link token and the token's payload, CSRF checked."""
    form = await read_form(request)
    token = token_of(request, form)
    payload = read_token(token, "preferences", services.settings)
    require_csrf(form, token, services.settings, "the preferences link")
    return form, token, payload


@router.get(CHANNELS_PATH, response_class=HTMLResponse)
def channels_page(request: Request, services: ServicesDep) -> HTMLResponse:
    token = token_of(request)
    payload = read_token(token, "preferences", services.settings)
    with services.sessions() as session:
        athlete_id = athlete_of(session, payload).id
    done = request.query_params.get("done", "")
    return _channels_page(services, token, athlete_id, done=done)


@router.post(ADD_PATH, response_class=HTMLResponse)
async def add_channel(request: Request, services: ServicesDep) -> Response:
    form, token, payload = await _posted(request, services)
    url = form_field(form, "url")
    try:
        with transaction(services.sessions) as session:
            athlete_id = athlete_of(session, payload).id
            store.add(session, services.settings, athlete_id, url)
    except RefusedUrl as exc:
        return _channels_page(
            services, token, int(payload["athlete_id"]), 400, url=url, error=str(exc)
        )
    log.info("channel added", extra={"athlete_id": athlete_id})
    return _back(token, "added")


@router.post(REMOVE_PATH, response_class=HTMLResponse)
async def remove_channel(request: Request, services: ServicesDep) -> Response:
    form, token, payload = await _posted(request, services)
    raw = form_field(form, "channel_id")
    with transaction(services.sessions) as session:
        athlete_id = athlete_of(session, payload).id
        # Another runner's channel id finds nothing: the token names whose channels these are.
        removed = raw.isdigit() and store.remove_by_id(session, athlete_id, int(raw))
    if removed:
        log.info("channel removed", extra={"athlete_id": athlete_id})
    return _back(token, "removed")
