"""Security suite fixtures: the Strava tests' app, simulator and clock, shared, not copied.

The attacks run against the same real app (FastAPI TestClient, or uvicorn for raw HTTP),
the real databases and the Strava simulator that the Strava tests use.
"""

from __future__ import annotations

from tests.strava.conftest import app, browser, clock, ctx, live, settings, sim

__all__ = ["app", "browser", "clock", "ctx", "live", "settings", "sim"]
