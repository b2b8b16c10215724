"""The worker tier outside compose (`strideguard worker --processes 2` under nothing that
restarts it) through a Redis outage that hits while a child restarts, and a configuration error
that appears under a running tier.

Before, the supervisor read a child's exit code 2 as "bad settings" also when the child merely
could not reach Redis at start-up, stopped the healthy children and exited: the whole tier was
gone for good although Redis came back 12 s later.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from strideguard.db import head_revision
from strideguard.settings import Settings
from tests.faults.redis_server import RedisServer
from tests.worker.waiting import children_of, wait_for

pytestmark = pytest.mark.faults

REDIS_AWAY_S = 12  # the figure


class Supervisor:
    """`strideguard worker --processes 2` with its output (and its children's) in a file."""

    def __init__(self, log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "strideguard.cli.main", "worker", "--processes", "2"],
                env=dict(os.environ),
                stderr=out,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def ready(self) -> set[int]:
        """Children that are alive and said they were ready."""
        said = {int(pid) for pid in re.findall(r"worker ready \(pid (\d+)\)", self.text())}
        return said & children_of(self.process.pid)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Callable[[], Supervisor]]:
    started: list[Supervisor] = []

    def start() -> Supervisor:
        started.append(Supervisor(tmp_path / "worker.log"))
        return started[-1]

    yield start
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait(30)


def test_redis_away_while_a_child_restarts_the_tier_comes_back_with_two_children(
    worker_env: Callable[..., Settings],
    own_redis: RedisServer,
    redis_namespace: str,
    supervisor: Callable[[], Supervisor],
) -> None:
    # The replacement child gives up on Redis after 1 s, so the supervisor's restarts (not
    # only the child's own start-up wait) must carry the tier over the 12 s.
    worker_env(REDIS_URL=own_redis.url, QUEUE_NAMESPACE=redis_namespace, STARTUP_WAIT_SECONDS="1")
    tier = supervisor()
    wait_for(lambda: len(tier.ready()) == 2, what="two worker processes ready", timeout_s=90)
    first = tier.ready()
    own_redis.crash()
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    time.sleep(REDIS_AWAY_S)
    # Redis stays away until a replacement has failed to start at least once: on a machine
    # whose cores are both busy, one slow start can outlast the 12 s.
    wait_for(
        lambda: "could not reach a dependency" in tier.text(),
        what="a replacement child failing to reach Redis",
        timeout_s=60,
    )
    assert tier.process.poll() is None, tier.text()  # before: exited 2 with no children
    own_redis.start()  # same port, empty
    wait_for(
        lambda: len(tier.ready()) == 2 and victim not in tier.ready(),
        what="two worker processes ready again after Redis returned",
        timeout_s=90,
    )
    log = tier.text()
    # Each failed start is logged by the supervisor with the child's reason.
    reasons = re.findall(
        r"worker process \d+ could not reach a dependency \(cannot reach Redis at (\S+): ", log
    )
    # How many starts fail depends on how fast a child starts. Every failure is logged.
    assert len(reasons) >= 1, log
    assert len(reasons) == log.count("could not reach a dependency"), log
    assert set(reasons) == {own_redis.url}
    assert f"worker process {victim} was killed by SIGKILL" in log
    assert tier.stop() == 0


def test_a_configuration_error_in_a_new_child_stops_the_tier_with_code_2(
    worker_env: Callable[..., Settings],
    own_redis: RedisServer,
    redis_namespace: str,
    db_url: str,
    supervisor: Callable[[], Supervisor],
) -> None:
    """A schema the code does not match (someone set_revision the database) cannot be waited
    out: the next child says so, and the supervisor stops every child and exits 2."""
    worker_env(REDIS_URL=own_redis.url, QUEUE_NAMESPACE=redis_namespace)
    tier = supervisor()
    wait_for(lambda: len(tier.ready()) == 2, what="two worker processes ready", timeout_s=90)
    # The database is shared by the run's other tests: the revision is put back whatever happens.
    engine = create_engine(db_url)
    set_revision = text("UPDATE alembic_version SET version_num = :revision")
    with engine.begin() as connection:
        connection.execute(set_revision, {"revision": "0001_initial_schema"})
    try:
        victim, *healthy = sorted(tier.ready())
        os.kill(victim, signal.SIGKILL)
        assert tier.process.wait(90) == 2
    finally:
        with engine.begin() as connection:
            connection.execute(set_revision, {"revision": head_revision()})
        engine.dispose()
    assert healthy
    assert not any(Path(f"/proc/{pid}").exists() for pid in healthy)  # stopped and reaped
    log = tier.text()
    assert "cannot start (the database at" in log
    assert "run `strideguard db upgrade`); stopping every worker process" in log
