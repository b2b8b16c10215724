"""The Strava box's objects for its web routes, typed, reached through FastAPI's `Depends`.

Each is made on first use from the web app's settings and database, or is whatever the
worker seam put there before serving (`strideguard/web/worker_seam.py`: the dramatiq sender, and one
context shared with the jobs so the routes and the jobs spend one rate budget).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from strideguard.integrations.strava.context import StravaContext, make_context
from strideguard.integrations.strava.intake_throttle import IntakeThrottle, make_throttle
from strideguard.integrations.strava.jobs import BackgroundRunner, Enqueue
from strideguard.integrations.strava.subscription import KnownSubscription, webhook_secret
from strideguard.services import Services


class StravaServices(Services):
    @property
    def context(self) -> StravaContext:
        return self.kept("strava", lambda: make_context(self.settings, self.sessions))

    @property
    def enqueue(self) -> Enqueue:
        """Where routes hand Strava work; without a worker, threads of this process run it."""
        return self.kept("strava_enqueue", lambda: BackgroundRunner(self.context))

    @property
    def webhook_secret(self) -> str:
        settings = self.context.settings
        return self.kept("webhook_secret", lambda: webhook_secret(settings))

    @property
    def intake_throttle(self) -> IntakeThrottle:
        settings = self.context.settings
        return self.kept("intake_throttle", lambda: make_throttle(settings))

    @property
    def known_subscription(self) -> KnownSubscription:
        return self.kept("known_subscription", KnownSubscription)


async def strava_services(request: Request) -> StravaServices:
    """Async so that the webhook intake gets it without a thread hop."""
    return StravaServices(request.app.state)


StravaDep = Annotated[StravaServices, Depends(strava_services)]
