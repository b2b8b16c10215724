"""What several benchmarks share: ports, percentiles, the machine, results, scratch services.

Every benchmark writes one JSON file under bench/results/ with the machine it ran on, so the
figures in docs/benchmarks.md can be traced to a run. Scratch databases and Redis keys are
private to the run and removed afterwards, even when the run fails.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import redis
from alembic import command
from sqlalchemy import create_engine, text

from strideguard.db import alembic_config
from strideguard.settings import Settings
from strideguard.web.live import free_port

RESULTS = Path(__file__).resolve().parent / "results"
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
SETTING_NAMES = frozenset(
    info.alias for info in Settings.model_fields.values() if info.alias is not None
)


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted sample."""
    rank = max(1, round(fraction * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary(samples_ms: list[float]) -> dict[str, float | None]:
    if not samples_ms:
        return {"median": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(samples_ms)
    return {
        "median": round(statistics.median(ordered), 2),
        "p95": round(percentile(ordered, 0.95), 2),
        "p99": round(percentile(ordered, 0.99), 2),
        "max": round(ordered[-1], 2),
    }


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_result(name: str, result: dict[str, Any]) -> Path:
    """bench/results/<name>.json, stamped with the date and the machine."""
    stamped = {
        "benchmark": name,
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **result,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(stamped, indent=2) + "\n")
    print(json.dumps(stamped, indent=2))
    return path


@contextmanager
def scratch_postgres(prefix: str) -> Iterator[str]:
    """A migrated private PostgreSQL database for one run, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        command.upgrade(alembic_config(url), "head")
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def scratch_redis_namespace(prefix: str) -> Iterator[str]:
    """A unique queue namespace on the real Redis; its keys are deleted afterwards."""
    namespace = f"{prefix}-{uuid.uuid4().hex[:8]}"
    try:
        yield namespace
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{namespace}*"):
            client.delete(key)
        client.close()


class CountingInbox:
    """An aiosmtpd handler that accepts every message and counts it."""

    def __init__(self, counter: Synchronized[int] | None = None) -> None:
        self.count = 0
        self._shared = counter

    async def handle_DATA(self, _server: object, _session: object, _envelope: object) -> str:
        self.count += 1
        if self._shared is not None:
            with self._shared.get_lock():
                self._shared.value += 1
        return "250 OK"


def _serve_smtp(port: int, counter: Synchronized[int], stop: EventType) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(CountingInbox(counter), hostname="127.0.0.1", port=port)
    controller.start()
    stop.wait()
    controller.stop()


class SmtpSinkProcess:
    """aiosmtpd on loopback in its own process, as a local relay would be; counts messages."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.port = free_port()
        self._count: Synchronized[int] = context.Value("q", 0)
        self._stop = context.Event()
        self._process = context.Process(
            target=_serve_smtp, args=(self.port, self._count, self._stop), daemon=True
        )

    @property
    def count(self) -> int:
        return int(self._count.value)

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    def __enter__(self) -> SmtpSinkProcess:
        self._process.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()


def service_env(database_url: str, namespace: str, **extra: str) -> dict[str, str]:
    """Environment for `strideguard` processes: production-shaped, throwaway secrets."""
    from cryptography.fernet import Fernet

    env = {
        key: value
        for key, value in os.environ.items()
        if key not in SETTING_NAMES  # nothing from the caller's own deployment leaks in
    }
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        QUEUE_NAMESPACE=namespace,
        SECRET_KEY=uuid.uuid4().hex * 2,
        TOKEN_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        PUBLIC_BASE_URL="https://strideguard.example.org",
        LOG_LEVEL="WARNING",
        **extra,
    )
    return env


def settings_from(env: Mapping[str, str]) -> Settings:
    """The Settings a `strideguard` process started with `env` would read."""
    return Settings.model_validate({k: v for k, v in env.items() if k in SETTING_NAMES})


def start_process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`strideguard <args>` from this checkout's interpreter, output to `log`."""
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "strideguard.cli.main", *args],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def stop_processes(processes: list[subprocess.Popen[bytes]], timeout_s: float = 30) -> None:
    """SIGTERM (graceful: in-flight jobs finish), then SIGKILL whatever is still there."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for_http(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout_s} s")
        time.sleep(0.1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_workers(namespace: str, count: int, timeout_s: float = 120) -> None:
    """Until `count` dramatiq brokers have polled the queue (their heartbeats are in Redis)."""
    client = redis.Redis.from_url(REDIS_URL)
    deadline = time.monotonic() + timeout_s
    try:
        while int(client.zcard(f"{namespace}:__heartbeats__")) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{count} worker processes did not start in {timeout_s} s")
            time.sleep(0.1)
    finally:
        client.close()
