"""The real stravalib client, pointed at any Strava origin (the simulator, or strava.com).

stravalib 2.6 hard-codes https://www.strava.com for OAuth and https://www.strava.com/api/v3
for the API. Rather than patching it, the client gets a `requests.Session` that swaps the
API base for `api_url` and the origin for `base_url` on every request, so every stravalib
code path (URL building, error mapping, paging) runs unchanged. Strava moves the API to
https://www.api-v3.strava.com (the only base from 1 June 2027; STRAVA_API_URL) while OAuth
stays on www.strava.com, hence two bases. stravalib already sends the access token only in
the Authorization header, which Strava requires from the same date.

stravalib's own rate limiter sleeps inside the request; that would stall a worker thread, so
it is switched off (the app keeps its own shared budget, fed by `on_response`). Its silent
token refresh is switched off too: a refresh rotates the refresh token, and the app must
persist the new one under its own per-athlete lock, which stravalib cannot do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

import requests
from stravalib import Client
from stravalib.protocol import Scope

STRAVA_ORIGIN = "https://www.strava.com"
STRAVA_API = STRAVA_ORIGIN + "/api/v3"


def rebase(url: str, base_url: str, api_url: str | None = None) -> str:
    """`url` with Strava's API base replaced by `api_url` (default `base_url`/api/v3) and the
    strava.com origin by `base_url` (other URLs unchanged)."""
    base = base_url.rstrip("/")
    api = (api_url or base + "/api/v3").rstrip("/")
    if url.startswith(STRAVA_API + "/"):
        return api + url[len(STRAVA_API) :]
    if not url.startswith(STRAVA_ORIGIN):
        return url
    return base + url[len(STRAVA_ORIGIN) :]


class RebasedSession(requests.Session):
    """Sends strava.com requests to `base_url`, with a default timeout and a response hook."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        api_url: str | None = None,
        on_response: Callable[[requests.Response], None] | None = None,
    ) -> None:
        super().__init__()
        self.base_url = base_url
        self.api_url = api_url
        self.timeout = timeout
        if on_response is not None:

            def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
                on_response(response)

            self.hooks["response"].append(hook)

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        target = url.decode() if isinstance(url, bytes) else url
        rebased = rebase(target, self.base_url, self.api_url)
        return super().request(method, rebased, *args, **kwargs)


class RebasedClient(Client):
    """A stravalib Client whose authorization URL also points at the configured origin."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url

    def authorization_url(self, *args: Any, **kwargs: Any) -> str:
        return rebase(str(super().authorization_url(*args, **kwargs)), self.base_url)


class _DropCredentialWarnings(logging.Filter):
    """stravalib warns on the root logger about STRAVA_CLIENT_ID on every new client;
    the app never lets stravalib refresh tokens, so the advice does not apply."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.pathname.endswith("stravalib/protocol.py") and record.levelno == logging.WARNING
        )


_credential_filter = _DropCredentialWarnings()


def make_client(
    base_url: str,
    access_token: str | None = None,
    *,
    api_url: str | None = None,
    on_response: Callable[[requests.Response], None] | None = None,
    timeout: float = 10,
) -> Client:
    """A real `stravalib.Client` talking to `base_url` (e.g. http://127.0.0.1:PORT), its API
    calls to `api_url` (default `base_url`/api/v3)."""
    root = logging.getLogger()
    if _credential_filter not in root.filters:
        root.addFilter(_credential_filter)
    session = RebasedSession(base_url, timeout=timeout, api_url=api_url, on_response=on_response)
    client = RebasedClient(
        base_url,
        access_token=access_token,
        rate_limit_requests=False,
        requests_session=session,
    )
    # No silent refresh (see the module docstring).
    client.protocol.client_id = None
    client.protocol.client_secret = None
    return client


def authorize_url(
    base_url: str,
    client_id: int,
    redirect_uri: str,
    scope: list[Scope] | None = None,
    state: str | None = None,
    approval_prompt: Literal["auto", "force"] = "auto",
) -> str:
    """Strava's consent-page URL as stravalib builds it, on the configured origin."""
    client = make_client(base_url)
    url: str = client.authorization_url(
        client_id=client_id,
        redirect_uri=redirect_uri,
        approval_prompt=approval_prompt,
        scope=scope,
        state=state,
    )
    return url
