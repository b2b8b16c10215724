"""`strideguard serve` on a fresh folder: migrates, serves, runs jobs and the scheduler, stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from strideguard.web.live import free_port


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
        return response.status, response.read().decode()


def test_serve_is_the_whole_service_in_one_process(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    env.pop("SMTP_URL", None)
    env["SCHEDULER_TICK_SECONDS"] = "1"
    process = subprocess.Popen(
        [sys.executable, "-m", "strideguard.cli.main", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90  # imports and migrations, on a possibly busy machine
        while True:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "serve did not answer within 90 s"
                time.sleep(0.2)
        assert status == 200
        assert '"ok"' in body
        status, page = _get(f"http://127.0.0.1:{port}/connect")
        assert status == 200
        assert "Connect with Strava" in page
        assert (tmp_path / "var" / "strideguard.db").exists()
        assert (tmp_path / "var" / "outbox").is_dir()
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    # uvicorn finishes the graceful shutdown, then re-raises SIGTERM as its exit status.
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
    assert "digests are filed under var/outbox/" in output
    assert "scheduler started" in output
    assert "in-process worker started" in output
