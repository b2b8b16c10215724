"""A command loads only what it runs.

Every command module is loaded to list the commands, so one that imported its box at the top
made `strideguard --help` load numpy, alembic, the web stack and the Strava simulator (1.5 s
on a 2-core machine), and every worker process load the ones jobs do not use. Each case runs
the real command under `python -X importtime`, which names each module as it is first imported.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from tests.conftest import TEST_FERNET_KEY

# Loaded by one command or another; listing the commands needs none of them.
NOT_FOR_HELP = (
    "numpy",
    "alembic",
    "sqlalchemy",
    "fastapi",
    "uvicorn",
    "strideguard.integrations.strava.simulator",
)
# A worker runs jobs: no web app, no terminal tables, no simulator, no migrations to apply.
NOT_FOR_JOBS = (
    "fastapi",
    "uvicorn",
    "rich",
    "aiosmtpd",
    "strideguard.integrations.strava.simulator",
    "alembic.command",
)


def _command(*args: str) -> list[str]:
    return [sys.executable, "-X", "importtime", "-m", "strideguard.cli.main", *args]


def _loaded(importtime_lines: Iterable[str], watched: Iterable[str]) -> list[str]:
    """Which `watched` modules `-X importtime` lines (`import time: ... | name`) name."""
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in importtime_lines
        if line.startswith("import time:")
    }
    return sorted(name for name in watched if name in imported)


@pytest.mark.parametrize("args", [("--help",), ("worker", "--help"), ("rules", "--help")])
def test_help_loads_no_command_box(args: tuple[str, ...]) -> None:
    result = subprocess.run(_command(*args), capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Usage:" in result.stdout
    assert _loaded(result.stderr.splitlines(), NOT_FOR_HELP) == []


def test_worker_process_loads_only_what_runs_jobs(
    sqlite_template: Path, tmp_path: Path, redis_url: str, redis_namespace: str
) -> None:
    database = tmp_path / "worker.db"
    shutil.copy(sqlite_template, database)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        REDIS_URL=redis_url,
        QUEUE_NAMESPACE=redis_namespace,
        TOKEN_ENCRYPTION_KEY=TEST_FERNET_KEY,
        SECRET_KEY="test-signing-key-" + "x" * 32,
        LOG_LEVEL="INFO",
    )
    worker = subprocess.Popen(
        _command("worker", "--threads", "1"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert worker.stderr is not None
    lines = []
    try:
        for line in worker.stderr:  # ends early only if the worker dies
            lines.append(line)
            if "worker ready" in line:
                break
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            rest = worker.communicate(timeout=60)[1]
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.communicate()
            raise
    assert any("worker ready" in line for line in lines), "".join(lines[-20:]) + rest
    assert _loaded(lines, NOT_FOR_JOBS) == []
    assert worker.returncode == 0, rest  # SIGTERM as it became ready stopped it cleanly
