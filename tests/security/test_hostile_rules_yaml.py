"""Hostile rules files: code-running tags, expansion bombs and deep nesting are refused
with a located error, by the loader, by `strideguard rules check` and by a running worker
(which keeps its last good rules), and nothing in them is ever executed.

tests/rules/test_validation.py checks the error text of one tag and one bomb; here every
shape goes through every entry point an admin or a worker uses.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from strideguard.cli.main import app as cli
from strideguard.rules import ConfigError, ConfigHolder, load_config
from strideguard.rules.config import SHIPPED_RULES

Payload = Callable[[Path], str]


def _shipped_with(extra: str) -> str:
    """The shipped rules with a hostile value added, so only the payload is wrong."""
    return SHIPPED_RULES.read_text() + extra


def _system(marker: Path) -> str:
    return _shipped_with(f'payload: !!python/object/apply:os.system ["touch {marker}"]\n')


def _exec_in_a_key(marker: Path) -> str:
    code = f"open('{marker}', 'w').write('ran')"
    return _shipped_with(f'? !!python/object/apply:builtins.exec ["{code}"]\n: 1\n')


def _name_tag(marker: Path) -> str:
    return _shipped_with("payload: !!python/name:os.system\n")


def _object_new(marker: Path) -> str:
    return _shipped_with(f"payload: !!python/object/new:subprocess.Popen [[touch, '{marker}']]\n")


def _module_tag(marker: Path) -> str:
    return _shipped_with("payload: !!python/module:os\n")


def _billion_laughs(marker: Path) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return _shipped_with("\n".join(lines) + "\n")


def _wide_alias(marker: Path) -> str:
    """Few aliases (under the alias cap) of a big anchor: 100 x 2,000 values."""
    big = "[" + ", ".join(["x"] * 2000) + "]"
    return _shipped_with(f"big: &big {big}\ncopies: [" + ", ".join(["*big"] * 100) + "]\n")


def _deep_flow(marker: Path) -> str:
    return _shipped_with("payload: " + "[" * 5000 + "]" * 5000 + "\n")


def _deep_block(marker: Path) -> str:
    return _shipped_with("payload:\n" + "".join(" " * i + "k:\n" for i in range(1, 400)))


PAYLOADS: dict[str, tuple[Payload, str]] = {
    "os.system via apply": (_system, "is not allowed"),
    "exec in a mapping key": (_exec_in_a_key, "is not allowed"),
    "python/name": (_name_tag, "is not allowed"),
    "python/object/new": (_object_new, "is not allowed"),
    "python/module": (_module_tag, "is not allowed"),
    "billion laughs": (_billion_laughs, "refusing"),
    "few aliases of a big anchor": (_wide_alias, "refusing"),
    "deep flow nesting": (_deep_flow, "nested more than"),
    "deep block nesting": (_deep_block, "nested more than"),
}


@pytest.fixture(params=list(PAYLOADS))
def hostile(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Path, str]:
    """(rules file, marker file that must never appear, expected words in the error)."""
    make, expected = PAYLOADS[request.param]
    marker = tmp_path / "ran"
    path = tmp_path / "rules.yaml"
    path.write_text(make(marker))
    return path, marker, expected


def test_load_config_refuses_with_a_located_error(hostile: tuple[Path, Path, str]) -> None:
    path, marker, expected = hostile
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert len(caught.value.errors) == 1
    error = caught.value.errors[0]
    assert error.startswith(f"{path}:")
    line = int(error.split(":")[1])
    assert line > len(SHIPPED_RULES.read_text().splitlines())  # at the payload, not before
    assert expected in error
    assert not marker.exists()


def test_rules_check_exits_1_with_the_error(hostile: tuple[Path, Path, str]) -> None:
    path, marker, expected = hostile
    result = CliRunner().invoke(cli, ["rules", "check", str(path)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"{path}:")
    assert expected in result.stderr
    assert "Traceback" not in result.output
    assert not marker.exists()


def test_running_worker_keeps_its_rules_when_a_hostile_edit_lands(
    hostile: tuple[Path, Path, str], tmp_path: Path
) -> None:
    path, marker, expected = hostile
    live = tmp_path / "live.yaml"
    shutil.copy(SHIPPED_RULES, live)
    holder = ConfigHolder(live)
    good = holder.current().version
    live.write_text(path.read_text())
    assert holder.current().version == good
    assert holder.last_error is not None
    assert expected in holder.last_error.errors[0]
    assert not marker.exists()
