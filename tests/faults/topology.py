"""The product's processes as `compose.yaml` runs them, outside compose, for the chaos cases.

`compose_command(service)` reads the service's command from compose.yaml, so the test and the
file cannot drift; the only changes are the ones a test on a shared machine needs: the
`strideguard` console script of this virtualenv, and web bound to loopback on a free port
instead of 0.0.0.0:8000. Settings come from the environment, as compose's `environment:` gives
them. Every process writes its log to a file of the test's own, shown when a case fails.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.worker.waiting import children_of, wait_for

ROOT = Path(__file__).resolve().parents[2]
STRIDEGUARD = Path(sys.executable).parent / "strideguard"


def compose_command(service: str, **replace: str) -> list[str]:
    """The service's `command` from compose.yaml; `replace` swaps an option's value."""
    compose: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    command = [str(part) for part in compose["services"][service]["command"]]
    assert command[0] == "strideguard", command
    command[0] = str(STRIDEGUARD)
    for option, value in replace.items():
        at = command.index(f"--{option}")
        command[at + 1] = value
    return command


class Deployment:
    """The app's processes, started from their compose commands, each with a log file."""

    def __init__(self, logs: Path, web_port: int) -> None:
        self.logs = logs
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.web_port = web_port

    @property
    def web_url(self) -> str:
        return web_url(self.web_port)

    def command(self, service: str) -> list[str]:
        if service == "web":
            return compose_command("web", host="127.0.0.1", port=str(self.web_port))
        return compose_command(service)

    def run(self, service: str) -> None:
        """A one-shot service (migrate): run it to the end, which must succeed."""
        done = subprocess.run(
            self.command(service), env=dict(os.environ), capture_output=True, timeout=120
        )
        assert done.returncode == 0, done.stderr.decode(errors="replace")

    def start(self, service: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{service}.log").open("ab")
        self.processes[service] = subprocess.Popen(
            self.command(service), env=dict(os.environ), stdout=log, stderr=log
        )
        log.close()
        return self.processes[service]

    def log(self, service: str) -> str:
        return (self.logs / f"{service}.log").read_text(errors="replace")

    def logs_text(self) -> str:
        """Every process's log, for a failure message."""
        return "\n".join(
            f"----- {path.name}\n{path.read_text(errors='replace')[-6000:]}"
            for path in sorted(self.logs.glob("*.log"))
        )

    def wait_web(self) -> None:
        def healthy() -> bool:
            try:
                return requests.get(f"{self.web_url}/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_for(healthy, what="the web service healthy", timeout_s=60)

    def workers(self) -> set[int]:
        """The worker processes that are alive and said they were ready."""
        said = re.findall(r"worker ready \(pid (\d+)\)", self.log("worker"))
        return {int(pid) for pid in said} & children_of(self.processes["worker"].pid)

    def wait_workers(self, count: int = 2) -> None:
        wait_for(
            lambda: len(self.workers()) == count,
            what=f"{count} worker processes ready",
            timeout_s=90,
        )

    def kill(self, service: str) -> None:
        process = self.processes[service]
        process.send_signal(signal.SIGKILL)
        process.wait(30)

    def stop(self) -> dict[str, int]:
        """SIGTERM every running process, as `docker compose stop` does; their exit codes."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = {}
        for service, process in self.processes.items():
            try:
                codes[service] = process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[service] = process.wait(30)
        return codes


def web_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


@contextmanager
def deployment(logs: Path, web_port: int) -> Iterator[Deployment]:
    logs.mkdir(parents=True, exist_ok=True)
    running = Deployment(logs, web_port)
    try:
        yield running
    finally:
        running.stop()


def connect_through_oauth(web: str, strava_id: int, email: str | None) -> None:
    """What a runner's browser does: Connect, approve on (simulated) Strava, give an email
    (or leave the connected page without one, when `email` is None).

    The simulator approves at once (its default consent) and signs in as `strava_id`, which
    its authorize URL accepts as `athlete_id` so that concurrent flows connect different
    runners; it redirects to PUBLIC_BASE_URL, our web service.
    """
    browser = requests.Session()
    start = browser.get(f"{web}/connect/strava", allow_redirects=False, timeout=10)
    assert start.status_code == 303, start.text
    answer = requests.get(
        f"{start.headers['location']}&athlete_id={strava_id}", allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302, answer.text
    page = browser.get(answer.headers["location"], allow_redirects=False, timeout=30)
    assert page.status_code == 200, page.text
    if email is None:
        return
    token = page.text.split('name="token" value="')[1].split('"')[0]
    saved = browser.post(f"{web}/connect/email", data={"token": token, "email": email}, timeout=10)
    assert saved.status_code == 200, saved.text


def owner_of_connection(local_port: int, candidates: set[int]) -> int | None:
    """Which of `candidates` holds the loopback TCP socket bound to `local_port` (Linux)."""
    inode = None
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == local_port:
                inode = fields[9]
                break
    if inode is None:
        return None
    for pid in candidates:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        if f"socket:[{inode}]" in links:
            return pid
    return None


def wait_until(check: Any, what: str, timeout_s: float, deployment: Deployment) -> float:
    """`wait_for` that shows every process's log when it times out; the seconds it took."""
    started = time.monotonic()
    try:
        wait_for(check, what=what, timeout_s=timeout_s)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{deployment.logs_text()}") from None
    return time.monotonic() - started
