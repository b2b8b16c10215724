"""What the simulated Strava does with a request: OAuth, the API, webhooks, limits, faults.

`StravaApp` holds all state behind one lock and answers `SimRequest`s; `server.py` turns HTTP
into those requests and `simulator.py` runs the server. Responses are serialised outside the
lock, so concurrent clients mostly wait on the network, not on each other.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

from strideguard.integrations.strava.simulator import bodies
from strideguard.integrations.strava.simulator.catalog import Activity, Catalog, is_private
from strideguard.integrations.strava.simulator.clock import SimClock
from strideguard.integrations.strava.simulator.consent import consent_page
from strideguard.integrations.strava.simulator.grants import (
    AccessToken,
    Grant,
    GrantBook,
    format_scopes,
    parse_scopes,
)
from strideguard.integrations.strava.simulator.ratelimit import RateCounter
from strideguard.integrations.strava.simulator.webhooks import (
    Delivery,
    Subscription,
    WebhookSender,
    callback_answers,
)

ACTIVITY_SCOPES = frozenset({"activity:read", "activity:read_all"})
# The first path segment of every API resource, for the new API host's form (no /api/v3).
API_ROOTS = frozenset({"athlete", "athletes", "activities", "gear", "push_subscriptions"})
# What `retire` can switch off, to act as Strava before or after one of its announced changes.
Retirable = Literal["deauthorize", "revoke", "api/v3 path", "token parameters"]
MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 30


@dataclass(frozen=True)
class RequestRecord:
    """One request as Strava's side saw it; status 0 means the connection was dropped."""

    method: str
    path: str
    athlete_id: int | None
    status: int
    at: datetime


@dataclass
class SimRequest:
    method: str
    path: str
    params: dict[str, list[str]]
    bearer: str | None = None
    basic: tuple[str, str] | None = None  # HTTP Basic user and password

    def access_token(self, param_tokens: bool) -> str:
        """The bearer token; a token parameter counts only while Strava still accepts one."""
        if self.bearer:
            return self.bearer
        return (self.get("access_token") or "") if param_tokens else ""

    def get(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None


@dataclass
class SimResponse:
    status: int
    body: Any = None  # JSON-able; None with status 204 means no body
    html: str | None = None
    location: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    athlete_id: int | None = None
    hold_s: float = 0.0  # > 0: hold the request this long, then drop the connection


@dataclass
class Consent:
    auto: bool
    approve: bool = True
    scopes: frozenset[str] | None = None  # None: tick everything requested
    athlete_id: int | None = None  # None: the first athlete of the seed


@dataclass
class _Fault:
    prefix: str
    status: int | None  # None: a timeout
    remaining: int
    hold_s: float = 0.0


class StravaApp:
    """The simulated strava.com for one registered application (client id and secret)."""

    def __init__(
        self,
        athletes: list[dict[str, Any]],
        *,
        client_id: int = 1234,
        client_secret: str = "sim-secret",  # noqa: S107 - a throwaway test credential
        clock: SimClock | None = None,
        read_limits: tuple[int, int] = (100, 1000),
        overall_limits: tuple[int, int] = (200, 2000),
        auto_approve: bool = True,
        timeout_hold_s: float = 11.0,
        webhook_retry_delay_s: float = 0.05,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.clock = clock or SimClock()
        self.timeout_hold_s = timeout_hold_s
        self.requests: list[RequestRecord] = []
        self.subscriptions: list[Subscription] = []
        self._catalog = Catalog(athletes)
        self._grants = GrantBook()
        self._rate = RateCounter(read_limits, overall_limits)
        self._consent = Consent(auto=auto_approve)
        self._faults: list[_Fault] = []
        self._webhooks = WebhookSender(retry_delay_s=webhook_retry_delay_s)
        self._next_subscription_id = 120475
        self.retired: set[Retirable] = set()
        self._lock = threading.Lock()
        self.stopping = threading.Event()

    # ------------------------------------------------------------------ test controls

    @property
    def athlete_ids(self) -> list[int]:
        return list(self._catalog.athletes)

    @property
    def deliveries(self) -> list[Delivery]:
        return list(self._webhooks.deliveries)

    def set_consent(
        self,
        approve: bool = True,
        scopes: Iterable[str] | None = None,
        *,
        athlete_id: int | None = None,
    ) -> None:
        """From now on /oauth/authorize answers at once: approve (with only `scopes` ticked,
        None = all requested) or deny, signed in as `athlete_id` (None = first athlete)."""
        with self._lock:
            ticked = None if scopes is None else frozenset(scopes)
            self._consent = Consent(True, approve, ticked, athlete_id)

    def show_consent_page(self, athlete_id: int | None = None) -> None:
        """From now on /oauth/authorize shows the consent form (what a browser user sees)."""
        with self._lock:
            self._consent = Consent(False, athlete_id=athlete_id)

    def issue_tokens(
        self, athlete_id: int, scopes: Iterable[str] = ("read", "activity:read_all")
    ) -> dict[str, Any]:
        """Skip the browser: authorize `athlete_id` and return the token response body.

        For benchmarks and for tests that are not about OAuth."""
        if athlete_id not in self._catalog.athletes:
            raise KeyError(f"no athlete {athlete_id} in the simulator's seed")
        with self._lock:
            granted = frozenset(scopes) | {"read"}
            return self._token_body(self._grants.grant(athlete_id, granted, self.clock.time()))

    def fail_next(self, path_prefix: str, status: int = 503, count: int = 1) -> None:
        with self._lock:
            self._faults.append(_Fault(path_prefix, status, count))

    def timeout_next(self, path_prefix: str, count: int = 1, hold_s: float | None = None) -> None:
        """The next `count` matching requests get no answer: held `hold_s`, then dropped."""
        hold = self.timeout_hold_s if hold_s is None else hold_s
        with self._lock:
            self._faults.append(_Fault(path_prefix, None, count, hold))

    def retire(self, *features: Retirable) -> None:
        """Stop serving these, as Strava does from 1 June 2027 (or, for "revoke", as it did
        before June 2026): the endpoints answer 404, token parameters are ignored."""
        with self._lock:
            self.retired.update(features)

    def revoke(self, athlete_id: int) -> None:
        """Tokens die silently, as if the deauthorization webhook never arrived."""
        with self._lock:
            self._grants.revoke(athlete_id)

    def deauthorize_athlete(self, athlete_id: int, *, wait: bool = False) -> Delivery | None:
        """The athlete revokes access on strava.com: tokens die and the athlete event is sent."""
        with self._lock:
            event = self._event_for_athlete(athlete_id)
            self._grants.revoke(athlete_id)
        return self._send(event, wait)

    def add_activity(
        self, athlete_id: int, activity: Activity, *, wait: bool = False
    ) -> Delivery | None:
        with self._lock:
            stored = self._catalog.add(athlete_id, activity)
            event = self._activity_event("create", stored, {})
        return self._send(event, wait)

    def update_activity(
        self, athlete_id: int, activity_id: int, *, wait: bool = False, **changes: Any
    ) -> Delivery | None:
        """Edit an activity. Like Strava, only title, type and privacy changes send an event
        (privacy only to apps holding activity:read_all)."""
        if "sport_type" in changes and "type" not in changes:
            changes["type"] = (
                "Run" if changes["sport_type"] == "TrailRun" else changes["sport_type"]
            )
        with self._lock:
            self._owned(athlete_id, activity_id)
            before, after = self._catalog.replace(activity_id, changes)
            updates: dict[str, str] = {}
            if before.get("name") != after.get("name"):
                updates["title"] = str(after.get("name"))
            if (before.get("sport_type"), before.get("type")) != (
                after.get("sport_type"),
                after.get("type"),
            ):
                updates["type"] = str(after.get("sport_type") or after.get("type"))
            if is_private(before) != is_private(after):
                updates["private"] = "true" if is_private(after) else "false"
            event = self._activity_event("update", after, updates) if updates else None
            if event is not None and "private" in updates and not self._sees_private(athlete_id):
                event = None
        return self._send(event, wait)

    def delete_activity(
        self, athlete_id: int, activity_id: int, *, wait: bool = False
    ) -> Delivery | None:
        with self._lock:
            self._owned(athlete_id, activity_id)
            removed = self._catalog.delete(activity_id)
            event = self._activity_event("delete", removed, {})
        return self._send(event, wait)

    def flush_webhooks(self, timeout_s: float = 30.0) -> bool:
        """Wait until every event sent in the background has had all its attempts."""
        return self._webhooks.flush(timeout_s)

    def rate_usage(self) -> dict[str, int]:
        with self._lock:
            return self._rate.usage(self.clock.time())

    def count_requests(self, athlete_id: int | None = None, path_prefix: str = "") -> int:
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (athlete_id is None or r.athlete_id == athlete_id)
                and r.path.startswith(path_prefix)
            )

    # ------------------------------------------------------------------ dispatch

    def handle(self, req: SimRequest) -> SimResponse:
        response = self._fault(req) or self._route(req)
        with self._lock:
            self.requests.append(
                RequestRecord(
                    req.method,
                    req.path,
                    response.athlete_id,
                    0 if response.hold_s else response.status,
                    self.clock.now(),
                )
            )
        return response

    def _route(self, req: SimRequest) -> SimResponse:
        path = req.path.rstrip("/") or "/"
        if path == "/oauth/authorize" and req.method in ("GET", "POST"):
            return self._authorize(req)
        if path == "/oauth/token" and req.method == "POST":
            return self._token(req)
        retired = self.retired
        # stravalib 2.6 posts deauthorize to /api/v3/oauth/deauthorize; the docs say /oauth/...
        if (
            path in ("/oauth/deauthorize", "/api/v3/oauth/deauthorize")
            and req.method == "POST"
            and "deauthorize" not in retired
        ):
            return self._deauthorize(req)
        if path == "/oauth/revoke" and req.method == "POST" and "revoke" not in retired:
            return self._revoke(req)
        if path.startswith("/api/v3/") and "api/v3 path" not in retired:
            return self._api(req, path.removeprefix("/api/v3"))
        if path.split("/")[1] in API_ROOTS:  # the new API host: https://www.api-v3.strava.com
            return self._api(req, path)
        return SimResponse(404, bodies.error("Record Not Found", "resource", "path", "invalid"))

    def _fault(self, req: SimRequest) -> SimResponse | None:
        with self._lock:
            for fault in self._faults:
                if req.path.startswith(fault.prefix):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    if fault.status is None:
                        return SimResponse(0, hold_s=fault.hold_s)
                    reason = "Service Unavailable" if fault.status == 503 else "Server Error"
                    return SimResponse(fault.status, bodies.server_error(fault.status, reason))
        return None

    # ------------------------------------------------------------------ OAuth

    def _authorize(self, req: SimRequest) -> SimResponse:
        if req.get("client_id") != str(self.client_id):
            return SimResponse(400, bodies.INVALID_CLIENT)
        redirect_uri = req.get("redirect_uri") or ""
        if urlsplit(redirect_uri).scheme not in ("http", "https"):
            return SimResponse(400, bodies.INVALID_REDIRECT_URI)
        if req.method == "GET" and req.get("response_type") != "code":
            return SimResponse(400, bodies.bad_request("Authorize", "response_type"))
        # the consent form sends what was asked as requested_scope and the ticked boxes as scope
        asked = req.get("requested_scope") if req.method == "POST" else req.get("scope")
        requested = parse_scopes(asked or "read")
        if requested is None:
            return SimResponse(400, bodies.INVALID_SCOPE)
        requested = requested | {"read"}
        state = req.get("state")
        with self._lock:
            consent = self._consent
            athlete_id = self._signed_in(req, consent)
            if req.method == "POST":
                approve = req.get("decision") == "authorize"
                ticked = frozenset(req.params.get("scope", []))
            elif consent.auto:
                approve = consent.approve
                ticked = requested if consent.scopes is None else consent.scopes
            else:
                existing = self._grants.active_grant(athlete_id)
                if (
                    req.get("approval_prompt") != "force"
                    and existing is not None
                    and requested <= existing.scopes
                ):
                    approve, ticked = True, existing.scopes
                else:
                    page = consent_page(
                        hidden={
                            "client_id": str(self.client_id),
                            "redirect_uri": redirect_uri,
                            "requested_scope": format_scopes(requested),
                            "state": state or "",
                        },
                        requested=requested,
                        athletes=self._athlete_names(),
                        signed_in=athlete_id,
                    )
                    return SimResponse(200, html=page)
            if not approve:
                return SimResponse(
                    302, location=_with_query(redirect_uri, state, {"error": "access_denied"})
                )
            granted = (requested & ticked) | {"read"}
            code = self._grants.issue_code(athlete_id, granted, self.clock.time())
        query = {"code": code, "scope": format_scopes(granted)}
        return SimResponse(302, location=_with_query(redirect_uri, state, query))

    def _signed_in(self, req: SimRequest, consent: Consent) -> int:
        chosen = req.get("athlete_id")
        if chosen and chosen.isdigit() and int(chosen) in self._catalog.athletes:
            return int(chosen)
        if consent.athlete_id is not None:
            return consent.athlete_id
        return next(iter(self._catalog.athletes))

    def _athlete_names(self) -> list[tuple[int, str]]:
        return [
            (i, f"{a.profile.get('firstname', '')} {a.profile.get('lastname', '')} ({i})")
            for i, a in self._catalog.athletes.items()
        ]

    def _token(self, req: SimRequest) -> SimResponse:
        if req.get("client_id") != str(self.client_id):
            return SimResponse(400, bodies.INVALID_CLIENT)
        if req.get("client_secret") != self.client_secret:
            return SimResponse(400, bodies.INVALID_SECRET)
        grant_type = req.get("grant_type")
        now = self.clock.time()
        with self._lock:
            if grant_type == "authorization_code":
                grant = self._grants.redeem_code(req.get("code") or "", now)
                if grant is None:
                    return SimResponse(400, bodies.INVALID_CODE)
                body = self._token_body(grant)
            elif grant_type == "refresh_token":
                grant = self._grants.refresh(req.get("refresh_token") or "", now)
                if grant is None:
                    return SimResponse(400, bodies.INVALID_REFRESH_TOKEN)
                body = self._token_body(grant, with_athlete=False)
            else:
                return SimResponse(400, bodies.INVALID_GRANT_TYPE)
        return SimResponse(200, body, athlete_id=grant.athlete_id)

    def _token_body(self, grant: Grant, *, with_athlete: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "expires_at": grant.access.expires_at,
            "expires_in": max(0, int(grant.access.expires_at - self.clock.time())),
            "refresh_token": grant.refresh_token,
            "access_token": grant.access.token,
        }
        if with_athlete:
            body["athlete"] = self._catalog.summary_athlete(grant.athlete_id)
        return body

    def _deauthorize(self, req: SimRequest) -> SimResponse:
        token = req.access_token("token parameters" not in self.retired)
        with self._lock:
            access = self._grants.authenticate(token, self.clock.time())
            if access is None:
                return SimResponse(401, bodies.UNAUTHORIZED)
            event = self._event_for_athlete(access.athlete_id)
            self._grants.revoke(access.athlete_id)
        self._send(event, wait=False)
        return SimResponse(200, {"access_token": token}, athlete_id=access.athlete_id)

    def _revoke(self, req: SimRequest) -> SimResponse:
        """RFC 7009 as Strava documents it: the app authenticates with HTTP Basic, `token` is
        the access or the refresh token, and revoking either revokes the whole grant. An
        unknown token is not an error (nothing left to revoke)."""
        if req.basic != (str(self.client_id), self.client_secret):
            return SimResponse(401, bodies.UNAUTHORIZED)
        token = req.get("token") or ""
        with self._lock:
            athlete_id = self._grants.owner_of(token, self.clock.time())
            if athlete_id is None:
                return SimResponse(200, {})
            event = self._event_for_athlete(athlete_id)
            self._grants.revoke(athlete_id)
        self._send(event, wait=False)
        return SimResponse(200, {}, athlete_id=athlete_id)

    # ------------------------------------------------------------------ API

    def _api(self, req: SimRequest, path: str) -> SimResponse:
        with self._lock:
            verdict = self._rate.hit(self.clock.time())
        if verdict.exceeded_body is not None:
            response = SimResponse(429, verdict.exceeded_body)
        elif path.startswith("/push_subscriptions"):
            response = self._push_subscriptions(req, path)
        else:
            response = self._athlete_api(req, path)
        response.headers.update(verdict.headers)
        return response

    def _athlete_api(self, req: SimRequest, path: str) -> SimResponse:
        token = req.access_token("token parameters" not in self.retired)
        parts = path.strip("/").split("/")
        with self._lock:
            access = self._grants.authenticate(token, self.clock.time())
            if access is None:
                return SimResponse(401, bodies.UNAUTHORIZED)
            me = access.athlete_id
            if req.method != "GET":
                response = SimResponse(404, bodies.not_found("resource"))
            elif parts == ["athlete"]:
                response = SimResponse(200, self._catalog.detailed_athlete(me))
            elif parts == ["athlete", "activities"]:
                response = self._list_activities(req, access)
            elif len(parts) == 2 and parts[0] == "activities":
                response = self._one_activity(parts[1], access)
            elif len(parts) == 2 and parts[0] == "gear":
                found = self._catalog.gear(parts[1])
                if found is None or found[0] != me:
                    response = SimResponse(404, bodies.not_found("Gear"))
                else:
                    response = SimResponse(200, {**found[1], "resource_state": 3})
            else:
                response = SimResponse(404, bodies.not_found("resource"))
        response.athlete_id = me
        return response

    def _list_activities(self, req: SimRequest, access: AccessToken) -> SimResponse:
        if not access.scopes & ACTIVITY_SCOPES:
            return SimResponse(401, bodies.MISSING_ACTIVITY_SCOPE)
        numbers: dict[str, int | None] = {}
        for name in ("before", "after", "page", "per_page"):
            raw = req.get(name)
            if raw in (None, ""):
                numbers[name] = None
                continue
            try:
                numbers[name] = int(float(str(raw)))
            except ValueError:
                return SimResponse(400, bodies.bad_request("Application", name))
        page = max(1, numbers["page"] or 1)
        # Strava documents page sizes "up to 200"; larger requests are clamped, not refused.
        per_page = min(MAX_PER_PAGE, max(1, numbers["per_page"] or DEFAULT_PER_PAGE))
        before, after = numbers["before"], numbers["after"]
        activities = self._catalog.page(
            access.athlete_id,
            before=None if before is None else float(before),
            after=None if after is None else float(after),
            page=page,
            per_page=per_page,
            include_private="activity:read_all" in access.scopes,
        )
        return SimResponse(200, activities)

    def _one_activity(self, raw_id: str, access: AccessToken) -> SimResponse:
        if not access.scopes & ACTIVITY_SCOPES:
            return SimResponse(401, bodies.MISSING_ACTIVITY_SCOPE)
        found = self._catalog.find(int(raw_id)) if raw_id.isdigit() else None
        if (
            found is None
            or found[0] != access.athlete_id
            or (is_private(found[1]) and "activity:read_all" not in access.scopes)
        ):
            return SimResponse(404, bodies.not_found("Activity"))
        summary = found[1]
        gear = self._catalog.gear(str(summary.get("gear_id")))
        return SimResponse(200, bodies.detailed_activity(summary, gear[1] if gear else None))

    # ------------------------------------------------------------------ push subscriptions

    def _push_subscriptions(self, req: SimRequest, path: str) -> SimResponse:
        if req.get("client_id") != str(self.client_id):
            return SimResponse(
                401, bodies.error("Authorization Error", "Application", "client_id", "invalid")
            )
        if req.get("client_secret") != self.client_secret:
            return SimResponse(
                401, bodies.error("Authorization Error", "Application", "client_secret", "invalid")
            )
        parts = path.strip("/").split("/")
        if req.method == "GET" and len(parts) == 1:
            with self._lock:
                return SimResponse(200, [s.to_json() for s in self.subscriptions])
        if req.method == "DELETE" and len(parts) == 2:
            with self._lock:
                for sub in self.subscriptions:
                    if str(sub.id) == parts[1]:
                        self.subscriptions.remove(sub)
                        return SimResponse(204)
            return SimResponse(404, bodies.not_found("PushSubscription"))
        if req.method == "POST" and len(parts) == 1:
            return self._subscribe(req)
        return SimResponse(404, bodies.not_found("resource"))

    def _subscribe(self, req: SimRequest) -> SimResponse:
        callback_url = req.get("callback_url") or ""
        verify_token = req.get("verify_token") or ""
        if urlsplit(callback_url).scheme not in ("http", "https"):
            return SimResponse(400, bodies.bad_request("PushSubscription", "callback url"))
        with self._lock:
            if self.subscriptions:
                return SimResponse(400, bodies.SUBSCRIPTION_EXISTS)
        # The callback check runs without the lock: it may take the full two seconds.
        if not callback_answers(callback_url, verify_token):
            return SimResponse(400, bodies.CALLBACK_NOT_VERIFIABLE)
        with self._lock:
            if self.subscriptions:
                return SimResponse(400, bodies.SUBSCRIPTION_EXISTS)
            sub = Subscription(
                self._next_subscription_id,
                self.client_id,
                callback_url,
                verify_token,
                self.clock.now(),
            )
            self._next_subscription_id += 1
            self.subscriptions.append(sub)
            return SimResponse(201, sub.to_json())

    # ------------------------------------------------------------------ events (under lock)

    def _owned(self, athlete_id: int, activity_id: int) -> None:
        found = self._catalog.find(activity_id)
        if found is None or found[0] != athlete_id:
            raise KeyError(f"athlete {athlete_id} has no activity {activity_id}")

    def _sees_private(self, athlete_id: int) -> bool:
        grant = self._grants.active_grant(athlete_id)
        return grant is not None and "activity:read_all" in grant.scopes

    def _activity_event(
        self, aspect: str, activity: Activity, updates: dict[str, str]
    ) -> tuple[str, dict[str, Any]] | None:
        """Strava pushes activity events only for athletes who authorized the app, and events
        about private activities only when the app may read them."""
        owner = int(activity["athlete"]["id"])
        if self._grants.active_grant(owner) is None:
            return None
        if is_private(activity) and "private" not in updates and not self._sees_private(owner):
            return None
        return self._event("activity", int(activity["id"]), owner, aspect, updates)

    def _event_for_athlete(self, athlete_id: int) -> tuple[str, dict[str, Any]] | None:
        if self._grants.active_grant(athlete_id) is None:
            return None
        return self._event("athlete", athlete_id, athlete_id, "update", {"authorized": "false"})

    def _event(
        self, object_type: str, object_id: int, owner: int, aspect: str, updates: dict[str, str]
    ) -> tuple[str, dict[str, Any]] | None:
        if not self.subscriptions:
            return None
        sub = self.subscriptions[0]
        event = {
            "aspect_type": aspect,
            "event_time": int(self.clock.time()),
            "object_id": object_id,
            "object_type": object_type,
            "owner_id": owner,
            "subscription_id": sub.id,
            "updates": updates,
        }
        return sub.callback_url, event

    def _send(self, event: tuple[str, dict[str, Any]] | None, wait: bool) -> Delivery | None:
        if event is None:
            return None
        return self._webhooks.send(event[0], event[1], wait=wait)


def _with_query(url: str, state: str | None, params: dict[str, str]) -> str:
    """Strava's redirect: state first, commas in the scope list left as they are."""
    split = urlsplit(url)
    ordered = {"state": state or "", **params}
    query = urlencode(ordered, safe=",:")
    joined = f"{split.query}&{query}" if split.query else query
    return urlunsplit((split.scheme, split.netloc, split.path, joined, split.fragment))
