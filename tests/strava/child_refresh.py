"""Run in a separate process by test_tokens: ask for an access token as a second worker would."""

from __future__ import annotations

import datetime as dt
import multiprocessing.synchronize
from multiprocessing.queues import Queue

from strideguard.db import make_engine, make_sessionmaker
from strideguard.integrations.strava.budget import MemoryBudget
from strideguard.integrations.strava.context import make_context
from strideguard.integrations.strava.tokens import access_token
from strideguard.settings import load_settings


def refresh_in_child(
    athlete_id: int,
    now_iso: str,
    start: multiprocessing.synchronize.Event,
    results: Queue[tuple[str, int]],
) -> None:
    settings = load_settings()
    engine = make_engine(settings.database_url)
    now = dt.datetime.fromisoformat(now_iso)
    ctx = make_context(
        settings, make_sessionmaker(engine), budget=MemoryBudget(), clock=lambda: now
    )
    start.wait(10)
    token = access_token(ctx, athlete_id)
    results.put((token.token, token.version))
    engine.dispose()
