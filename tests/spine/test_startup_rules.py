"""A broken RULES_PATH stops every service before it starts; once running, a broken edit
never breaks an admin page (the last good rules stay in force)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from strideguard.passwords import hash_password
from strideguard.rules import ConfigError
from strideguard.rules.config import SHIPPED_RULES
from strideguard.runtime import start_runtime
from strideguard.settings import Settings
from strideguard.web.app import create_app
from strideguard.web.worker_seam import attach_worker
from tests.spine.test_admin import PASSWORD
from tests.spine.test_admin import _login as admin_login

OVERFLOW_RULE = """
  broken:
    title: Broken
    enabled: true
    severity: info
    params:
      factor: 10
    fires_when: run_m * 10000000000000000000 > factor
    shown_threshold: factor
"""


def _overflowing(path: Path) -> tuple[int, int]:
    """Write the shipped rules plus a rule that fails at evaluation; its fires_when's place."""
    path.write_text(SHIPPED_RULES.read_text() + OVERFLOW_RULE)
    line = len(path.read_text().splitlines()) - 1
    return line, len("    fires_when: ") + 1


@pytest.mark.parametrize("command", ["serve", "web", "worker", "scheduler"])
def test_every_service_refuses_to_start_on_broken_rules(tmp_path: Path, command: str) -> None:
    rules_file = tmp_path / "rules.yaml"
    line, column = _overflowing(rules_file)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    env["RULES_PATH"] = str(rules_file)
    # In a child with a timeout: a service that does not refuse would run until killed.
    result = subprocess.run(
        [sys.executable, "-m", "strideguard.cli.main", command, *_options(command)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.splitlines()[-2:] == [
        "error: the rules file is invalid, so the service does not start; fix it "
        "(`strideguard rules check` shows the same):",
        f"{rules_file}:{line}:{column}: rule broken: fires_when cannot be evaluated (tried on a "
        "built-in sample history): OverflowError: Python int too large to convert to C long",
    ]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "var" / "strideguard.db").exists()  # stopped before migrating


def _options(command: str) -> list[str]:
    return ["--port", "0"] if command in ("serve", "web") else []


def test_a_runtime_is_never_built_on_broken_rules(app_settings: Settings, tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.yaml"
    _overflowing(rules_file)
    with pytest.raises(ConfigError):
        start_runtime(app_settings.model_copy(update={"rules_path": rules_file}))


def _admin_pages(client: TestClient) -> dict[str, int]:
    return {
        "/admin/login": client.get("/admin/login").status_code,
        "POST /admin/login": admin_login(client)[0],
        "/admin": client.get("/admin").status_code,
    }


def _break_with_yaml(path: Path) -> None:
    path.write_text(SHIPPED_RULES.read_text().replace("\nrules:", "\nrules: [", 1))


def _break_with_fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _break_by_deleting(path: Path) -> None:
    path.unlink()


@pytest.mark.parametrize(
    "break_it", [_overflowing, _break_with_yaml, _break_with_fifo, _break_by_deleting]
)
def test_admin_pages_answer_200_after_the_rules_file_breaks(
    app_settings: Settings, tmp_path: Path, break_it: Callable[[Path], object]
) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(SHIPPED_RULES.read_text())
    settings = app_settings.model_copy(
        update={"admin_password_hash": hash_password(PASSWORD), "rules_path": rules_file}
    )
    app = create_app(settings)
    attach_worker(app, settings, with_scheduler=False)
    with TestClient(app) as client:
        break_it(rules_file)
        assert _admin_pages(client) == {
            "/admin/login": 200,
            "POST /admin/login": 303,
            "/admin": 200,
        }
        page = client.get("/admin").text
        assert "The last edit of the rules file was refused" in page
        assert f"{rules_file}:" in page
        assert "weekly_distance_spike" in page  # the rules loaded at start stay in force
