"""The CLI: help everywhere, idempotent migrations, one-line start-up errors."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from strideguard.cli.main import app
from strideguard.models import Athlete
from strideguard.settings import Settings

runner = CliRunner()


def _command_paths(command: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command path; typer ships its own click, so walk it by its `commands` mapping."""
    yield prefix
    for name, sub in getattr(command, "commands", {}).items():
        yield from _command_paths(sub, (*prefix, name))


ALL_COMMANDS = list(_command_paths(typer.main.get_command(app)))


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda p: " ".join(p) or "strideguard")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    # Plain help in the shared style: no type on flags, no sentence cut off with "...".
    assert "<bool>" not in result.output
    commands = result.output.partition("Commands:")[2]
    assert not [line for line in commands.splitlines() if line.endswith("...")]


def test_version_prints_the_installed_version() -> None:
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"strideguard {version('strideguard')}\n"


def test_one_format_vocabulary_everywhere() -> None:
    """Every `--format` takes exactly table|json; `text` is refused with the choices."""
    paths = [p for p in ALL_COMMANDS if "--format" in runner.invoke(app, [*p, "--help"]).output]
    assert len(paths) >= 4
    for path in paths:
        help_text = runner.invoke(app, [*path, "--help"]).output
        assert "--format <table|json>" in help_text, path
    refused = runner.invoke(app, ["strava", "subscribe", "--format", "text"])
    assert refused.exit_code == 2
    assert "'text' is not one of 'table', 'json'" in refused.output


def test_console_script_is_installed() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "strideguard.cli.main", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "db" in result.stdout


def test_db_upgrade_twice_is_a_no_op(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _server_keys(monkeypatch)
    monkeypatch.setenv("DATABASE_URL", db_url)
    first = runner.invoke(app, ["db", "upgrade"])
    second = runner.invoke(app, ["db", "upgrade"])
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    current = runner.invoke(app, ["db", "current"])
    assert current.exit_code == 0


def test_fresh_sqlite_file_is_created_and_migrated() -> None:
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "sqlite:///var/strideguard.db is at head" in result.output


def test_unreachable_database_is_one_line_with_password_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _server_keys(monkeypatch)
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:hunter2@127.0.0.1:1/strideguard")
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 75  # a server that may come back, not a wrong setting
    assert "hunter2" not in result.output
    assert "cannot reach the database at postgresql+psycopg://app:***@127.0.0.1:1" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [["web", "--port", "0"], ["scheduler"]])
def test_web_and_scheduler_wait_for_the_database_then_give_up_with_75(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], command: list[str]
) -> None:
    _server_keys(monkeypatch)
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:hunter2@127.0.0.1:1/strideguard")
    monkeypatch.setenv("STARTUP_WAIT_SECONDS", "2.5")
    started = time.monotonic()
    result = runner.invoke(app, command)
    waited = time.monotonic() - started
    logged = capfd.readouterr().err + result.output
    assert result.exit_code == 75, logged
    assert waited >= 2.5
    # Each retry says what it waits for (1 s, then 1.5 s: the wait is bounded).
    retries = re.findall(r"waiting for a dependency: cannot reach the database at (\S+): ", logged)
    assert retries == ["postgresql+psycopg://app:***@127.0.0.1:1/strideguard"] * 2
    assert "hunter2" not in logged


def test_serving_an_unmigrated_database_says_run_db_upgrade() -> None:
    result = runner.invoke(app, ["web", "--port", "0"])
    assert result.exit_code == 2
    assert "run `strideguard db upgrade`" in result.output


def test_bad_setting_stops_any_command_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "localhost:6379")
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith("error: setting REDIS_URL:")


def test_keys_generate_prints_usable_keys() -> None:
    result = runner.invoke(app, ["keys", "generate"])
    lines = dict(line.split("=", 1) for line in result.output.split())
    Fernet(lines["TOKEN_ENCRYPTION_KEY"].encode())
    assert len(lines["SECRET_KEY"]) >= 40


def _server_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("SECRET_KEY", "k" * 48)


def test_admin_unsubscribe_stops_mail_to_an_address(
    app_settings: Settings, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:
        session.add(Athlete(strava_athlete_id=5, email="Ada@Example.org"))
        session.add(Athlete(strava_athlete_id=6, email="bo@example.org"))
    result = runner.invoke(app, ["admin", "unsubscribe", "ada@example.org"])
    assert result.exit_code == 0, result.output
    with sessions() as session:
        statuses = dict(session.execute(select(Athlete.email, Athlete.email_status)).all())
    assert statuses == {"Ada@Example.org": "unsubscribed", "bo@example.org": "ok"}
    missing = runner.invoke(app, ["admin", "unsubscribe", "nobody@example.org"])
    assert missing.exit_code == 1
