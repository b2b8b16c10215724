"""Everything a Strava job needs, built once per process and passed in.

Settings, sessions, the shared budget and the clock travel together so that tests and the
benchmark can drive time (the simulator's clock decides token expiry and rate windows) and
nothing is looked up from globals at import time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from strideguard.crypto import TokenCipher
from strideguard.integrations.strava.budget import RateBudget, make_budget
from strideguard.models import utcnow

if TYPE_CHECKING:
    import requests
    from sqlalchemy.orm import Session, sessionmaker
    from stravalib import Client

    from strideguard.settings import Settings
    from strideguard.worker.ports import SourceHost


class ClientFactory(Protocol):
    def __call__(
        self,
        base_url: str,
        access_token: str | None = None,
        *,
        api_url: str | None = None,
        on_response: Callable[[requests.Response], None] | None = None,
        timeout: float = 10,
    ) -> Client: ...


def _default_factory(
    base_url: str,
    access_token: str | None = None,
    *,
    api_url: str | None = None,
    on_response: Callable[[requests.Response], None] | None = None,
    timeout: float = 10,
) -> Client:
    from strideguard.integrations.strava.http import make_client

    return make_client(
        base_url, access_token, api_url=api_url, on_response=on_response, timeout=timeout
    )


@dataclass
class StravaContext:
    settings: Settings
    sessions: sessionmaker[Session]
    budget: RateBudget
    clock: Callable[[], dt.datetime] = utcnow
    client_factory: ClientFactory = field(default=_default_factory)

    @property
    def cipher(self) -> TokenCipher:
        return TokenCipher(self.settings.fernet_key())

    def client(self, access_token: str | None = None) -> Client:
        """A stravalib client whose every response feeds the shared budget."""
        return self.client_factory(
            self.settings.strava_base_url,
            access_token,
            api_url=self.settings.strava_api_base,
            on_response=self._observe,
        )

    def credentials(self) -> tuple[int, str]:
        from strideguard.integrations.strava.errors import StravaRejected

        if self.settings.strava_client_id is None or not self.settings.strava_client_secret:
            raise StravaRejected(
                "STRAVA_CLIENT_ID and STRAVA_CLIENT_SECRET must be set to talk to Strava"
            )
        return self.settings.strava_client_id, self.settings.strava_client_secret

    def _observe(self, response: Any) -> None:
        self.budget.observe(response.headers, self.clock())


def make_context(
    settings: Settings,
    sessions: sessionmaker[Session],
    *,
    budget: RateBudget | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    client_factory: ClientFactory | None = None,
) -> StravaContext:
    return StravaContext(
        settings=settings,
        sessions=sessions,
        budget=budget if budget is not None else make_budget(settings),
        clock=clock or utcnow,
        client_factory=client_factory or _default_factory,
    )


def strava_of(host: SourceHost) -> StravaContext:
    """The Strava context the runtime built for this process (its `plugin_context`)."""
    context = host.plugin_context("strava")
    assert isinstance(context, StravaContext)
    return context
