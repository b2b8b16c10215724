"""The Strava webhook's HTTP routes: the subscription handshake and event intake.

The POST handler must answer within Strava's 2 s (we aim for 50 ms), so it only checks,
records and enqueues (webhooks.py does the work in a job). The callback carries a secret
derived from SECRET_KEY (subscription.py); the old callback without it works only while the
stored subscription still points there. Refused requests count towards a per-address
throttle (intake_throttle.py).
"""

from __future__ import annotations

import enum
import hmac
import logging
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.intake_throttle import WINDOW_S, IntakeThrottle
from strideguard.integrations.strava.jobs import Enqueue, StravaJob
from strideguard.integrations.strava.subscription import (
    WEBHOOK_PATH,
    is_legacy_callback,
)
from strideguard.integrations.strava.web_services import StravaDep, StravaServices
from strideguard.integrations.strava.webhooks import (
    MAX_BODY_BYTES,
    EventError,
    PushEvent,
    applies_in_batch,
    parse_event,
    record_event,
)

log = logging.getLogger(__name__)

router = APIRouter(tags=["strava"])


class Intake(enum.Enum):
    """Which callback a POST came to: ours with its secret, ours with a wrong one, or the old."""

    SECRET = enum.auto()
    WRONG_SECRET = enum.auto()
    LEGACY = enum.auto()


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get(WEBHOOK_PATH + "/{secret}")
def webhook_validate(
    request: Request,
    secret: str,
    strava: StravaDep,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    verify_token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=200)] = None,
) -> JSONResponse:
    """Strava's subscription handshake: echo the challenge if the secret and token match."""
    throttle, client = strava.intake_throttle, _client(request)
    if throttle.blocked(client):
        return _too_many()
    if not hmac.compare_digest(secret.encode(), strava.webhook_secret.encode()):
        throttle.refused(client)
        return JSONResponse({"error": "wrong webhook secret"}, 403)
    expected = strava.context.settings.strava_webhook_verify_token
    if not expected:
        return JSONResponse({"error": "STRAVA_WEBHOOK_VERIFY_TOKEN is not set"}, 403)
    if mode != "subscribe" or not challenge:
        return JSONResponse({"error": "expected hub.mode=subscribe and a hub.challenge"}, 400)
    if not hmac.compare_digest((verify_token or "").encode(), expected.encode()):
        return JSONResponse({"error": "hub.verify_token does not match"}, 403)
    return JSONResponse({"hub.challenge": challenge})


def _too_many() -> JSONResponse:
    return JSONResponse(
        {"error": "too many refused webhook requests from this address; try again later"},
        429,
        headers={"Retry-After": str(WINDOW_S)},
    )


async def _bounded_body(request: Request) -> bytes | None:
    """The body, or None as soon as it grows past MAX_BODY_BYTES."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


@router.post(WEBHOOK_PATH + "/{secret}")
async def webhook_event(request: Request, secret: str, strava: StravaDep) -> JSONResponse:
    """Validate, record once, enqueue; the work happens in a job."""
    secret_ok = hmac.compare_digest(secret.encode(), strava.webhook_secret.encode())
    return await _intake(request, strava, Intake.SECRET if secret_ok else Intake.WRONG_SECRET)


@router.post(WEBHOOK_PATH)
async def legacy_webhook_event(request: Request, strava: StravaDep) -> JSONResponse:
    """The callback without its secret, for a subscription made before the secret existed.

    Accepted only while the stored subscription still points here; remove in the next release.
    """
    return await _intake(request, strava, Intake.LEGACY)


async def _intake(request: Request, strava: StravaServices, path: Intake) -> JSONResponse:
    body = await _bounded_body(request)
    if body is None:
        return JSONResponse({"error": f"body larger than {MAX_BODY_BYTES} bytes"}, 413)
    try:
        event = parse_event(body)
    except EventError as problem:
        return JSONResponse({"error": str(problem)}, 400)
    # The database, the throttle and the queue block: on a worker thread they cannot stall
    # the event loop, which would make every concurrent webhook wait behind this one.
    return await run_in_threadpool(
        _accept_event,
        strava,
        strava.context,
        strava.enqueue,
        strava.intake_throttle,
        _client(request),
        path,
        event,
    )


def _accept_event(
    strava: StravaServices,
    ctx: StravaContext,
    enqueue: Enqueue,
    throttle: IntakeThrottle,
    client: str,
    path: Intake,
    event: PushEvent,
) -> JSONResponse:
    # With the right secret there is nothing left to guess, so Strava's events skip the
    # throttle lookup (a Redis round trip) unless they are refused after all.
    if path is not Intake.SECRET and throttle.blocked(client):
        return _too_many()
    refusal = _refusal(strava, ctx, path, event)
    if refusal is not None:
        if path is Intake.SECRET and throttle.blocked(client):
            return _too_many()
        throttle.refused(client)
        log.info("webhook refused from %s: %s", client, refusal)
        return JSONResponse({"error": refusal}, 403)
    event_id = record_event(ctx, event, client)
    if event_id is None:
        return JSONResponse({"status": "duplicate"})
    batchable = applies_in_batch(event, ctx.settings.strava_webhook_sync)
    enqueue(StravaJob("webhook_event", event_id, batchable=batchable))
    return JSONResponse({"status": "received"})


def _refusal(
    strava: StravaServices, ctx: StravaContext, path: Intake, event: PushEvent
) -> str | None:
    """Why the event cannot be ours, or None."""
    if path is Intake.WRONG_SECRET:
        return "wrong webhook secret"
    callback = strava.known_subscription.callback_of(ctx.sessions, event.subscription_id)
    if callback is None:
        return "unknown subscription_id"
    if path is Intake.LEGACY:
        if not is_legacy_callback(callback):
            return "this callback has moved; run `strideguard strava subscribe` to see where"
        _warn_legacy(strava)
    return None


LEGACY_WARNING_EVERY_S = 600.0


def _warn_legacy(strava: StravaServices) -> None:
    """Once per ten minutes per process: often enough to be seen, not a line per event."""
    now = time.monotonic()
    last = strava.optional("legacy_warned_at", float)
    if last is not None and now - last < LEGACY_WARNING_EVERY_S:
        return
    strava.state.legacy_warned_at = now
    log.warning(
        "Strava events arrive at the old webhook callback %s, which anyone who guesses the "
        "subscription id can use; run `strideguard strava subscribe` to move the subscription "
        "to the callback with a secret (the old one stops working in the next release)",
        WEBHOOK_PATH,
    )
