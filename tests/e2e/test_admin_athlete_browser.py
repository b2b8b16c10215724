"""The admin dashboard and athlete page on a phone, in a real browser: nothing spills sideways,
the override form shows its error in place, and a forged CSRF token is refused."""

from __future__ import annotations

import struct
from pathlib import Path

from playwright.sync_api import Browser, Page, ViewportSize
from sqlalchemy.orm import Session, sessionmaker

from strideguard.models import Athlete
from strideguard.passwords import hash_password
from strideguard.settings import Settings
from strideguard.web.app import create_app
from strideguard.web.live import LiveServer
from tests.spine.test_athlete_cli import coached

__all__ = ["coached"]  # the fixture: a runner with weeks, an alert and a failed email
PASSWORD = "correct horse battery"
PHONE: ViewportSize = {"width": 390, "height": 844}


def _png_width(path: Path) -> int:
    width: int = struct.unpack(">I", path.read_bytes()[16:20])[0]  # the IHDR chunk
    return width


def _fits(page: Page, path: Path) -> None:
    page.screenshot(path=str(path), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert _png_width(path) <= PHONE["width"]


def test_admin_pages_fit_a_phone_and_refuse_a_forged_csrf(
    app_settings: Settings,
    coached: sessionmaker[Session],
    browser: Browser,
    artifacts: Path,
) -> None:
    with coached.begin() as session:  # long values are what made the tables spill
        athlete = session.get(Athlete, 8)
        assert athlete is not None
        athlete.email = "a.very.long.address.for.a.narrow.screen@example.org"
    settings = app_settings.model_copy(update={"admin_password_hash": hash_password(PASSWORD)})
    with LiveServer(create_app(settings)) as server:
        page = browser.new_page(viewport=PHONE)
        page.goto(f"{server.url}/admin/login")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/admin")
        _fits(page, artifacts / "admin-dashboard-390.png")

        page.fill("input[name=q]", "ada")
        page.click("text=Search")
        page.click("a[href='/admin/athletes/7'] >> nth=0")
        page.wait_for_url(f"{server.url}/admin/athletes/7")
        _fits(page, artifacts / "admin-athlete-390.png")

        # A typo is refused in place, with the text kept.
        page.fill("textarea[name=overrides]", "weekly_distance_spike.treshold=40")
        page.click("text=Save overrides")
        error = page.locator("#override-errors")
        assert "did you mean 'threshold'?" in error.inner_text()
        assert page.input_value("textarea[name=overrides]") == "weekly_distance_spike.treshold=40"
        _fits(page, artifacts / "admin-athlete-error-390.png")

        # A forged token (as a cross-site form would send) changes nothing.
        page.fill("textarea[name=overrides]", "weekly_distance_spike.threshold=40")
        page.eval_on_selector(
            "form[action$='/overrides'] input[name=csrf]", "input => input.value = 'forged'"
        )
        with page.expect_response(lambda r: r.url.endswith("/overrides")) as answer:
            page.click("text=Save overrides")
        assert answer.value.status == 403
        assert "Invalid or missing CSRF token." in page.content()
        with coached() as session:
            stored = session.get(Athlete, 7)
            assert stored is not None
            assert not stored.rule_overrides

        # The real form saves and comes back with a GET (post-redirect-get).
        page.goto(f"{server.url}/admin/athletes/7")
        page.fill("textarea[name=overrides]", "weekly_distance_spike.threshold=40")
        page.click("text=Save overrides")
        page.wait_for_url(f"{server.url}/admin/athletes/7?saved=1")
        assert page.locator("text=Overrides saved.").count() == 1
        page.close()
