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
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from integrations.strava.context import StravaContext
from integrations.strava.intake_throttle import WINDOW_S, IntakeThrottle, make_throttle
from integrations.strava.jobs import Enqueue, StravaJob
from integrations.strava.routes import strava_context, strava_enqueue
from integrations.strava.subscription import (
    WEBHOOK_PATH,
    KnownSubscription,
    is_legacy_callback,
    webhook_secret,
)
from integrations.strava.webhooks import (
    MAX_BODY_BYTES,
    EventError,
    PushEvent,
    applies_in_batch,
    parse_event,
    record_event,
)

log = logging.getLogger(__name__)

router = APIRouter(tags=["strava"])

T = TypeVar("T")


def _on_state(state: Any, name: str, make: Callable[[], T]) -> T:
    """The process-wide object `name` kept on the app state, made on first use."""
    found: T | None = getattr(state, name, None)
    if found is None:
        found = make()
        setattr(state, name, found)
    return found


def _known_subscription(state: Any) -> KnownSubscription:
    return _on_state(state, "known_subscription", KnownSubscription)


class Intake(enum.Enum):
    """Which callback a POST came to: ours with its secret, ours with a wrong one, or the old."""

    SECRET = enum.auto()
    WRONG_SECRET = enum.auto()
    LEGACY = enum.auto()


def _webhook_secret(request: Request) -> str:
    settings = strava_context(request).settings
    return _on_state(request.app.state, "webhook_secret", lambda: webhook_secret(settings))


def _intake_throttle(request: Request) -> IntakeThrottle:
    settings = strava_context(request).settings
    return _on_state(request.app.state, "intake_throttle", lambda: make_throttle(settings))


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get(WEBHOOK_PATH + "/{secret}")
def webhook_validate(
    request: Request,
    secret: str,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    verify_token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=200)] = None,
) -> JSONResponse:
    """Strava's subscription handshake: echo the challenge if the secret and token match."""
    throttle, client = _intake_throttle(request), _client(request)
    if throttle.blocked(client):
        return _too_many()
    if not hmac.compare_digest(secret.encode(), _webhook_secret(request).encode()):
        throttle.refused(client)
        return JSONResponse({"error": "wrong webhook secret"}, 403)
    expected = strava_context(request).settings.strava_webhook_verify_token
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
async def webhook_event(request: Request, secret: str) -> JSONResponse:
    """Validate, record once, enqueue; the work happens in a job."""
    secret_ok = hmac.compare_digest(secret.encode(), _webhook_secret(request).encode())
    return await _intake(request, Intake.SECRET if secret_ok else Intake.WRONG_SECRET)


@router.post(WEBHOOK_PATH)
async def legacy_webhook_event(request: Request) -> JSONResponse:
    """The callback without its secret, for a subscription made before the secret existed.

    Accepted only while the stored subscription still points here; remove in the next release.
    """
    return await _intake(request, Intake.LEGACY)


async def _intake(request: Request, path: Intake) -> JSONResponse:
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
        request.app.state,
        strava_context(request),
        strava_enqueue(request),
        _intake_throttle(request),
        _client(request),
        path,
        event,
    )


def _accept_event(
    state: Any,
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
    refusal = _refusal(state, ctx, path, event)
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


def _refusal(state: Any, ctx: StravaContext, path: Intake, event: PushEvent) -> str | None:
    """Why the event cannot be ours, or None."""
    if path is Intake.WRONG_SECRET:
        return "wrong webhook secret"
    callback = _known_subscription(state).callback_of(ctx.sessions, event.subscription_id)
    if callback is None:
        return "unknown subscription_id"
    if path is Intake.LEGACY:
        if not is_legacy_callback(callback):
            return "this callback has moved; run `strideguard strava subscribe` to see where"
        _warn_legacy(state)
    return None


LEGACY_WARNING_EVERY_S = 600.0


def _warn_legacy(state: Any) -> None:
    """Once per ten minutes per process: often enough to be seen, not a line per event."""
    now = time.monotonic()
    last: float | None = getattr(state, "legacy_warned_at", None)
    if last is not None and now - last < LEGACY_WARNING_EVERY_S:
        return
    state.legacy_warned_at = now
    log.warning(
        "Strava events arrive at the old webhook callback %s, which anyone who guesses the "
        "subscription id can use; run `strideguard strava subscribe` to move the subscription "
        "to the callback with a secret (the old one stops working in the next release)",
        WEBHOOK_PATH,
    )
