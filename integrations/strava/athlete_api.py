"""Strava calls on behalf of one athlete: budget first, fresh token, one retry on 401.

Each call reserves a unit of the shared budget before it is sent, so a spent budget raises
`BudgetExceeded` without touching Strava. A 429 (someone else spent the budget) becomes the same
deferral. Raw JSON comes back through stravalib's protocol layer so mapping keeps Strava's exact
strings (the local start time in particular).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import requests
from stravalib import Client
from stravalib import exc as strava_exc

from strideguard.integrations.strava.budget import retry_after_exhausted
from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.errors import (
    BudgetExceeded,
    StravaError,
    StravaRejected,
    StravaUnavailable,
)
from strideguard.integrations.strava.tokens import AccessToken, access_token
from strideguard.worker.ports import Priority

T = TypeVar("T")

PER_PAGE = 200  # Strava's maximum; one request covers a normal six-week window


class StravaNotFound(StravaError):
    """The object is gone on Strava (deleted, or never visible to this athlete)."""

    retryable = False


class AthleteApi:
    def __init__(self, ctx: StravaContext, athlete_id: int, priority: Priority) -> None:
        self.ctx = ctx
        self.athlete_id = athlete_id
        self.priority = priority
        self.requests_sent = 0
        self._token: AccessToken | None = None
        self._client: Client | None = None

    def _authorised_client(self, stale_version: int | None = None) -> Client:
        self._token = access_token(self.ctx, self.athlete_id, stale_version=stale_version)
        if self._client is None:
            self._client = self.ctx.client(self._token.token)
        else:
            self._client.access_token = self._token.token
        return self._client

    def call(self, request: Callable[[Client], T], *, read: bool = True) -> T:
        client = self._authorised_client()
        for attempt in (1, 2):
            self.ctx.budget.reserve(self.priority, self.ctx.clock(), read=read)
            self.requests_sent += 1
            try:
                return request(client)
            except strava_exc.AccessUnauthorized:
                if attempt == 2:
                    raise StravaRejected(
                        f"athlete {self.athlete_id}: Strava still answers 401 after a token "
                        "refresh (missing scope?)"
                    ) from None
                assert self._token is not None
                client = self._authorised_client(stale_version=self._token.version)
            except strava_exc.ObjectNotFound:
                raise StravaNotFound(f"athlete {self.athlete_id}: not found on Strava") from None
            except strava_exc.Fault as error:
                raise _mapped(error, self.ctx) from None
            except requests.RequestException as error:
                raise StravaUnavailable(f"Strava unreachable: {type(error).__name__}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def activities_page(self, *, after: int, before: int | None, page: int) -> list[dict[str, Any]]:
        """One page of the athlete's activities started after `after` (epoch seconds)."""
        result = self.call(
            lambda client: client.protocol.get(
                "/athlete/activities", after=after, before=before, page=page, per_page=PER_PAGE
            )
        )
        if not isinstance(result, list):
            raise StravaUnavailable("Strava returned a non-list page of activities")
        return result

    def activity(self, activity_id: int) -> dict[str, Any]:
        result = self.call(lambda client: client.protocol.get("/activities/{id}", id=activity_id))
        return dict(result)

    def gear(self, gear_id: str) -> dict[str, Any]:
        result = self.call(lambda client: client.protocol.get("/gear/{id}", id=gear_id))
        return dict(result)


def _mapped(error: strava_exc.Fault, ctx: StravaContext) -> StravaError:
    response = error.response
    status = response.status_code if response is not None else 0
    if status == 429:
        headers = response.headers if response is not None else {}
        return BudgetExceeded(
            retry_after_exhausted(headers, ctx.clock()), reason="Strava answered 429"
        )
    if status >= 500 or status == 0:
        return StravaUnavailable(f"Strava answered HTTP {status}")
    return StravaRejected(f"Strava refused the request: HTTP {status}")
