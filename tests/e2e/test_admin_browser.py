"""An admin signs in through a real browser and sees the dashboard."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser

from strideguard.passwords import hash_password
from strideguard.settings import Settings
from strideguard.web.app import create_app
from strideguard.web.live import LiveServer

PASSWORD = "correct horse battery"


def test_admin_login_and_dashboard(
    app_settings: Settings, browser: Browser, artifacts: Path
) -> None:
    settings = app_settings.model_copy(update={"admin_password_hash": hash_password(PASSWORD)})
    with LiveServer(create_app(settings)) as server:
        page = browser.new_page()
        page.goto(f"{server.url}/admin")
        assert page.url.endswith("/admin/login")
        page.fill("input[name=password]", "not the password")
        page.click("button[type=submit]")
        assert "Wrong password." in page.content()
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/admin")
        assert page.locator("h2", has_text="Athletes").count() == 1
        assert page.locator("h2", has_text="Alerts per rule").count() == 1
        page.screenshot(path=str(artifacts / "admin-dashboard.png"), full_page=True)
        page.click("text=Sign out")
        page.wait_for_url(f"{server.url}/admin/login")
        page.close()
