"""Every setting the app reads is explained where operators look: .env.example and the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from strideguard.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = sorted(info.alias for info in Settings.model_fields.values() if info.alias)


@pytest.mark.parametrize("name", SETTINGS)
def test_setting_is_in_env_example(name: str) -> None:
    assert f"{name}=" in (ROOT / ".env.example").read_text()


@pytest.mark.parametrize("name", SETTINGS)
def test_setting_is_in_the_readme_table(name: str) -> None:
    assert f"`{name}`" in (ROOT / "README.md").read_text()


def test_readme_starts_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["make demo", "make test"]


def test_ci_runs_the_readme_test_command_with_services_required() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "export STRIDEGUARD_REQUIRE_SERVICES=1" in ci
    assert ci.strip().splitlines()[-1] == "make test"


@pytest.mark.parametrize(
    "rule",
    [
        "weekly_distance_spike",
        "single_run_spike",
        "hill_heavy_week",
        "hard_surface_streak",
        "missed_strength_days",
        "no_rest_day",
        "monotony",
        "acwr",
        "shoe_mileage",
    ],
)
def test_every_built_in_rule_has_a_docs_page(rule: str) -> None:
    page = (ROOT / "docs" / "rules" / f"{rule}.md").read_text()
    assert page.startswith(f"# {rule}")
    assert "Evidence" in page or "evidence" in page
