"""The real stravalib client, pointed at any Strava origin (the simulator, or strava.com).

stravalib 2.6 hard-codes https://www.strava.com. Rather than patching it, the client gets a
`requests.Session` that swaps that origin for `base_url` on every request, so every stravalib
code path (URL building, error mapping, paging) runs unchanged. With the production base URL
nothing is rewritten at all.

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


def rebase(url: str, base_url: str) -> str:
    """`url` with the strava.com origin replaced by `base_url` (other URLs unchanged)."""
    base = base_url.rstrip("/")
    if base == STRAVA_ORIGIN or not url.startswith(STRAVA_ORIGIN):
        return url
    return base + url[len(STRAVA_ORIGIN) :]


class RebasedSession(requests.Session):
    """Sends strava.com requests to `base_url`, with a default timeout and a response hook."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        on_response: Callable[[requests.Response], None] | None = None,
    ) -> None:
        super().__init__()
        self.base_url = base_url
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
        return super().request(method, rebase(target, self.base_url), *args, **kwargs)


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
    on_response: Callable[[requests.Response], None] | None = None,
    timeout: float = 10,
) -> Client:
    """A real `stravalib.Client` talking to `base_url` (e.g. http://127.0.0.1:PORT)."""
    root = logging.getLogger()
    if _credential_filter not in root.filters:
        root.addFilter(_credential_filter)
    session = RebasedSession(base_url, timeout=timeout, on_response=on_response)
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
