"""The wheel a user installs works on its own: built with `python -m build`, installed into a
fresh venv outside the repository, `strideguard demo` from an empty folder delivers the digests.

An editable checkout hides what a wheel forgets (templates found beside the source, folders
importable from the repository's top), so this builds the real artefact. Nothing is
downloaded: the build runs without isolation on the dev venv's setuptools, and the new venv
sees the dev venv's installed dependencies through a `.pth` file that names that folder as a
plain path. A plain path line does not run the `.pth` files in it, so the editable install's
link back to this checkout stays out, and `strideguard` can only come from the wheel.
"""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# The card's folders that once installed as packages of their own; now only parts of one.
GENERIC_NAMES = ("rules", "worker", "integrations", "migrations", "email_templates")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def run(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        """A command of the new venv, with none of this checkout's environment."""
        keep = ("PATH", "HOME", "LANG", "TMPDIR")
        env = {k: v for k, v in os.environ.items() if k in keep}
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return subprocess.run(
            args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("wheel")
    dist = work / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(REPO)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (wheel,) = dist.glob("strideguard-*.whl")

    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = (venv / "lib").glob("python3.*/site-packages")
    (site / "dev_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--no-deps", "--no-index", "--quiet", str(wheel)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    return Installed(wheel, venv)


def test_the_wheel_installs_one_top_level_package_with_its_email_templates_and_migrations(
    installed: Installed,
) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"strideguard"}
    assert "strideguard/email_templates/digest/body.html" in names
    assert "strideguard/email_templates/exercises.yaml" in names
    assert "strideguard/migrations/env.py" in names
    assert "strideguard/rules/rules.yaml" in names


def test_the_installed_package_comes_from_the_wheel_and_names_nothing_generic(
    installed: Installed, tmp_path: Path
) -> None:
    probe = (
        "import importlib.util, strideguard; print(strideguard.__file__); "
        f"print([n for n in {GENERIC_NAMES!r} if importlib.util.find_spec(n)])"
    )
    result = installed.run(str(installed.python), "-c", probe, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    where, generic = result.stdout.splitlines()
    assert Path(where).is_relative_to(installed.venv)
    assert generic == "[]"


def test_the_web_app_never_loads_the_simulator(installed: Installed, tmp_path: Path) -> None:
    """The simulator ships in the wheel for `strideguard demo` and `strideguard sim`; only
    they import it, on use, so the web app and the worker never load it."""
    simulator = "strideguard.integrations.strava.simulator"
    probe = (
        f"import sys, strideguard.web.app; print([m for m in sys.modules if {simulator!r} in m])"
    )
    result = installed.run(str(installed.python), "-c", probe, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_strideguard_demo_from_an_empty_folder_delivers_the_digests(
    installed: Installed, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = installed.run(str(installed.venv / "bin" / "strideguard"), "demo", cwd=empty)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "5 digests delivered" in result.stdout

    outbox = empty / "var" / "outbox"
    sent = sorted(outbox.glob("digest-*.eml"))
    assert len(sent) == 5
    for path in sent:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        assert message["Subject"]
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        assert text is not None
        assert html is not None
        assert "not medical advice" in str(text.get_content()).lower()
        assert "<html" in str(html.get_content()).lower()
        assert path.with_suffix(".html").is_file()
