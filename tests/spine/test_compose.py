"""compose.yaml describes the production layout the app expects.

No Docker engine runs here, so parsing the file is the check: every service the app needs,
health-gated start-up order, the settings each app container gets, and no secret in the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from strideguard.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "web", "worker", "scheduler")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def test_every_expected_service_is_present(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"postgres", "redis", "mailpit", *APP_SERVICES}


def test_backing_services_have_healthchecks(compose: dict[str, Any]) -> None:
    for name in ("postgres", "redis", "mailpit", "web"):
        assert "test" in compose["services"][name]["healthcheck"], name


def test_app_services_wait_for_healthy_dependencies(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker", "scheduler"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name


def test_app_containers_get_every_setting_the_app_reads(compose: dict[str, Any]) -> None:
    required = {
        "DATABASE_URL",
        "REDIS_URL",
        "SMTP_URL",
        "STRAVA_CLIENT_ID",
        "STRAVA_CLIENT_SECRET",
        "STRAVA_BASE_URL",
        "STRAVA_WEBHOOK_VERIFY_TOKEN",
        "PUBLIC_BASE_URL",
        "SECRET_KEY",
        "TOKEN_ENCRYPTION_KEY",
    }
    known = {info.alias for info in Settings.model_fields.values()}
    for name in APP_SERVICES:
        environment = compose["services"][name]["environment"]
        assert required <= set(environment), name
        assert set(environment) <= known, f"{name} sets variables the app never reads"
        assert environment["DATABASE_URL"].startswith("postgresql+psycopg://")
        assert "@postgres:5432/" in environment["DATABASE_URL"]
        assert environment["REDIS_URL"] == "redis://redis:6379/0"


def test_commands_and_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == ["strideguard", "db", "upgrade"]
    assert services["web"]["command"][:2] == ["strideguard", "web"]
    assert "8000:8000" in services["web"]["ports"]
    assert services["worker"]["command"][:2] == ["strideguard", "worker"]
    assert services["scheduler"]["command"] == ["strideguard", "scheduler"]
    assert "8025:8025" in services["mailpit"]["ports"]
    # The dramatiq master does not restart dead children; compose must.
    assert services["worker"]["restart"] == "unless-stopped"


def test_redis_keeps_queued_jobs(compose: dict[str, Any]) -> None:
    command = compose["services"]["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"


def test_no_secret_is_written_in_the_file(compose: dict[str, Any]) -> None:
    secret_names = ("PASSWORD", "SECRET", "TOKEN", "KEY")
    for service in compose["services"].values():
        for name, value in (service.get("environment") or {}).items():
            if any(word in name for word in secret_names):
                assert str(value).startswith("${"), (name, value)
                assert ":?" in str(value), (name, value)
