"""A real browser renders one digest; the PNG lands in tests/artifacts/ for a human to look at.

Headless Chromium stands in for the mail clients' HTML engines (Apple Mail and Gmail's web
view are browser engines). Skips when no Chromium is installed, unless CI requires it.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from strideguard.integrations.email.render import render_digest
from strideguard.rules.findings import Figure
from tests.notifier.worked import BUILT_IN, digest, late

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _chromium() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    reason = f"no Chromium binary on PATH (looked for {', '.join(BROWSERS)})"
    if os.environ.get("STRIDEGUARD_REQUIRE_SERVICES") == "1":
        pytest.fail(f"STRIDEGUARD_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_digest_screenshot(tmp_path: Path) -> None:
    browser = _chromium()
    streak: dict[str, Figure] = {
        "streak_days": 6,
        "streak_start": "2025-10-06",
        "streak_end": "2025-10-11",
    }
    update = late(replace(BUILT_IN["hard_surface_streak"], figures=streak))
    email = render_digest(
        digest([BUILT_IN["weekly_distance_spike"], BUILT_IN["single_run_spike"], update], "km")
    )
    page = tmp_path / "digest.html"
    page.write_text(email.html, encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "digest.png"
    shot.unlink(missing_ok=True)
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",  # CI containers run as root
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=680,3200",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert shot.exists(), "Chromium wrote no screenshot"
    assert _png_size(shot) == (680, 3200)
    (ARTIFACTS / "digest.html").write_text(email.html, encoding="utf-8")
