"""What every web route may use, typed, and reached through FastAPI's `Depends`.

The web app keeps its process-wide objects on `app.state`, which is an untyped bag. This
view is the only reader and writer of that bag: a route declares `services: ServicesDep`
and gets typed attributes. Objects a plug-in needs only on first use (a Strava context, a
throttle) are made once, here, by `kept`, instead of by a getattr-or-create in each module.
A view rather than a copy: whatever sets a field on the state (the worker seam, a test
replacing the settings) is what the next request sees.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import State

from strideguard.db import make_sessionmaker
from strideguard.rules import ConfigHolder
from strideguard.settings import Settings

T = TypeVar("T")


class Services:
    """The web app's settings and database, and the objects plug-ins keep beside them."""

    def __init__(self, state: State) -> None:
        self.state = state

    @classmethod
    def install(cls, state: State, settings: Settings, engine: Engine) -> None:
        """What `create_app` puts on a new app's state; everything else is made on first use."""
        state.settings = settings
        state.engine = engine
        state.sessions = make_sessionmaker(engine)

    @property
    def settings(self) -> Settings:
        settings: Settings = self.state.settings
        return settings

    @property
    def engine(self) -> Engine:
        engine: Engine = self.state.engine
        return engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        sessions: sessionmaker[Session] = self.state.sessions
        return sessions

    @property
    def rules(self) -> ConfigHolder:
        """The rules the runner's pages show limits from, reloaded when the file changes.

        Raises `ConfigError` while the file has never loaded; nothing is kept then, so the
        next request tries again.
        """
        return self.kept("rules", lambda: ConfigHolder(self.settings.rules_path))

    def kept(self, name: str, make: Callable[[], T]) -> T:
        """The process-wide object `name`, made by `make` on first use and kept on the state."""
        found: T | None = getattr(self.state, name, None)
        if found is None:
            found = make()
            setattr(self.state, name, found)
        return found

    def optional(self, name: str, kind: type[T]) -> T | None:
        """An object another box may have put on the state (the worker runtime), or None."""
        found = getattr(self.state, name, None)
        return found if isinstance(found, kind) else None


async def services(request: Request) -> Services:
    """Async so that an async route (the webhook) gets it without a thread hop."""
    return Services(request.app.state)


ServicesDep = Annotated[Services, Depends(services)]
