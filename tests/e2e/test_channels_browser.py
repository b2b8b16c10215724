"""The channels page on a 390 px phone in headless Chromium: it fits without sideways
scrolling, every text meets WCAG AA, and a refused URL and a switched-off channel are both
readable with their reasons."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, ViewportSize
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from strideguard.links import make_link_token
from strideguard.models import Athlete, AthleteChannel
from strideguard.settings import Settings
from strideguard.status import ChannelStatus
from strideguard.web.app import create_app
from strideguard.web.live import LiveServer
from tests.contrast import AA_TEXT, contrast, visible_texts_js

PHONE: ViewportSize = {"width": 390, "height": 844}
COLOURS_JS = visible_texts_js("h1, h2, p, label, li, strong, span, button, a")


def _check(page: Page, path: Path) -> None:
    page.screenshot(path=str(path), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for text, colour, background in page.evaluate(COLOURS_JS):
        ratio = contrast(colour, background)
        assert ratio >= AA_TEXT, f"{text!r}: {colour} on {background} is {ratio:.2f}:1"


def test_channels_page_fits_a_phone_with_aa_contrast(
    app_settings: Settings, sessions: sessionmaker[Session], browser: Browser, artifacts: Path
) -> None:
    with sessions.begin() as session:
        athlete = Athlete(strava_athlete_id=5150, firstname="Ana", email="ana@example.org")
        session.add(athlete)
        session.flush()
        athlete_id = athlete.id
    token = make_link_token(athlete_id, "preferences", app_settings)
    with LiveServer(create_app(app_settings)) as server:
        page = browser.new_page(viewport=PHONE)
        page.goto(f"{server.url}/email/channels?token={token}")
        page.fill("input[name=url]", "tgram://123456789:AAbbccddeeffgghhiijjkkllmmnnooppqq/42")
        page.click("text=Add channel")
        page.wait_for_selector("text=Channel added.")
        _check(page, artifacts / "channels-390.png")

        page.fill("input[name=url]", "tgram://this-is-no-telegram-url-at-all-and-rather-long")
        page.click("text=Add channel")
        assert "Not added: Apprise cannot use" in page.inner_text("#url-error")
        with sessions.begin() as session:
            session.execute(
                update(AthleteChannel).values(
                    status=ChannelStatus.OFF,
                    off_reason="2026-12-03: Telegram refused the message: Unauthorized, error=401.",
                )
            )
        page.goto(f"{server.url}/email/channels?token={token}")
        assert "Switched off: 2026-12-03" in page.inner_text("main")
        _check(page, artifacts / "channels-off-390.png")
