"""`strideguard strava-sim`: generate a seed file, then serve it to a real client."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from strideguard.cli.main import app
from strideguard.integrations.strava.http import make_client
from strideguard.integrations.strava.simulator import load_seed
from tests.simulator.conftest import authorize_via_browser

CLI = [sys.executable, "-m", "strideguard.cli.main", "strava-sim"]
runner = CliRunner()


def test_generate_writes_a_valid_seed_file(tmp_path: Path) -> None:
    out = tmp_path / "seed.json"
    done = runner.invoke(
        app,
        ["strava-sim", "generate", "--athletes", "3", "--weeks", "16", "--end", "2025-10-19",
         "--scenario", "demo", "--out", str(out), "--format", "json"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    entries = load_seed(out)
    assert [e["athlete"]["id"] for e in entries] == [100001, 100002, 100003]
    assert summary["activities"] == sum(len(e["activities"]) for e in entries)


def test_generate_refuses_a_bad_end_date(tmp_path: Path) -> None:
    done = runner.invoke(
        app, ["strava-sim", "generate", "--end", "19/10/2025", "--out", str(tmp_path / "x.json")]
    )
    assert done.exit_code == 2
    assert "not a date" in done.output


def test_serve_prints_the_base_url_and_answers_real_requests(tmp_path: Path) -> None:
    out = tmp_path / "seed.json"
    generated = runner.invoke(
        app, ["strava-sim", "generate", "--athletes", "2", "--weeks", "2", "--out", str(out)]
    )
    assert generated.exit_code == 0, generated.output
    server = subprocess.Popen(
        [*CLI, "--port", "0", "--athletes", str(out), "--auto-approve",
         "--client-id", "777", "--client-secret", "s3cret"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        lines = [server.stdout.readline() for _ in range(4)]
        settings = dict(line.strip().split("=", 1) for line in lines if "=" in line)
        base_url = settings["STRAVA_BASE_URL"]
        assert base_url.startswith("http://127.0.0.1:")
        assert settings["STRAVA_CLIENT_ID"] == "777"
        code = authorize_via_browser(base_url, 777)["code"][0]
        tokens = make_client(base_url).exchange_code_for_token(777, "s3cret", code)
        assert isinstance(tokens, dict)
        athlete = make_client(base_url, tokens["access_token"]).get_athlete()
        assert athlete.id == 100001
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)
    assert server.returncode == 0
    assert server.stdout.read().strip().endswith("stopped")


def test_serve_refuses_a_broken_seed_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("[]")
    done = runner.invoke(app, ["strava-sim", "--port", "0", "--athletes", str(broken)])
    assert done.exit_code == 2
    assert "broken.json" in done.output
