"""Fault-case fixtures: the production shape (PostgreSQL, Redis, worker processes) under test.

Every case runs on PostgreSQL only: the faults are those of a deployment with a database
server and a Redis queue, and the 20-second database outage needs a server to cut.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from strideguard.integrations.strava.simulator import SimClock, Simulator
from strideguard.runtime import start_runtime
from strideguard.settings import Settings
from tests.conftest import SERVICES_REQUIRED
from tests.faults.redis_server import REDIS_SERVER, RedisServer
from tests.faults.tcp_proxy import TcpProxy
from tests.faults.world import (
    RUNNERS,
    FaultWorld,
    Runners,
    closing_week,
    seeded_simulator,
    world_env,
)
from tests.worker.conftest import SmtpServer, env_for, smtp, worker_env  # noqa: F401


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(db_url: str) -> str:
    """The shared `db_url` (a fresh, migrated database), on PostgreSQL only."""
    return db_url


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it may flush, crash and restart."""
    if not Path(REDIS_SERVER).is_file():
        problem = f"no redis-server binary at {REDIS_SERVER} (install the redis-server package)"
        if SERVICES_REQUIRED:
            pytest.fail(f"STRIDEGUARD_REQUIRE_SERVICES=1 but {problem}", pytrace=False)
        pytest.skip(problem)
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.crash()


@pytest.fixture
def proxy(db_url: str) -> Iterator[TcpProxy]:
    """A proxy in front of this test's PostgreSQL that the test can cut."""
    url = make_url(db_url)
    running = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    yield running
    running.close()


@pytest.fixture
def make_world(
    worker_env: Callable[..., Settings],  # noqa: F811
    redis_url: str,
    redis_namespace: str,
    smtp: SmtpServer,  # noqa: F811
) -> Iterator[Callable[..., FaultWorld]]:
    """Build the world: `now` (None = real time) starts the simulated clock, `week` is the
    runners' closing week (default: the newest one due), `queue_url` replaces the shared Redis,
    `sim_class` and `sim_options` make the simulator, `env` goes to the settings."""
    built: list[FaultWorld] = []

    def make(
        *,
        now: dt.datetime | None = None,
        week: dt.date | None = None,
        runners: Runners = RUNNERS,
        queue_url: str | None = None,
        sim_class: type[Simulator] = Simulator,
        sim_options: dict[str, Any] | None = None,
        connect: bool = True,
        **env: str,
    ) -> FaultWorld:
        clock = SimClock(now) if now is not None else SimClock()
        week = week or closing_week(clock.now())
        sim, seeds = seeded_simulator(week, clock, runners, sim_class, **(sim_options or {}))
        sim.start()
        settings = worker_env(
            REDIS_URL=queue_url or redis_url,
            QUEUE_NAMESPACE=redis_namespace,
            **{**world_env(sim, smtp), **env},
        )
        runtime = start_runtime(settings, clock=clock.now) if now else start_runtime(settings)
        world = FaultWorld(
            runtime=runtime,
            sim=sim,
            smtp=smtp,
            week=week,
            seeds=seeds,
            read_limits=(sim_options or {}).get("read_limits", (100, 1000)),
        )
        built.append(world)
        if connect:
            world.connect_all()
        return world

    yield make
    for world in built:
        world.sim.stop()
        world.runtime.close()
