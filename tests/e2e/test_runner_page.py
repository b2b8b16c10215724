"""A runner, in a real browser, signs in by the emailed link and uses their own page.

The whole path runs for real: the app over HTTP, the sign-in email through SMTP into the
sink, Strava as the project's simulator (for the disconnect), SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize
from sqlalchemy import func, select

from strideguard.db import make_engine, make_sessionmaker
from strideguard.integrations.strava.context import make_context
from strideguard.integrations.strava.simulator import Simulator
from strideguard.mailsink import OutboxSink
from strideguard.models import Athlete, Base
from strideguard.settings import Settings
from strideguard.web.app import create_app
from strideguard.web.live import LiveServer, free_port
from tests.contrast import AA_TEXT, contrast, visible_texts_js
from tests.runner.conftest import signin_links
from tests.runner.history import (
    EMAIL,
    SPIKE_WEEKS_AGO,
    STRAVA_ID,
    seed_runner,
    strava_env,
    strava_simulator,
    weekly_km,
)

WIDE: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
TEXTS_JS = visible_texts_js(
    "h1, h2, p, label, legend, button, a, td, th, li, figcaption, option:checked"
)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with strava_simulator() as running:
        yield running


def _check_layout_and_contrast(page: Page, viewport: ViewportSize, at_least: int = 10) -> None:
    """No sideways scrolling at this width, and every visible text meets AA (4.5:1)."""
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    texts = page.evaluate(TEXTS_JS)
    assert len(texts) >= at_least  # the probe found the page's text
    for text, colour, background in texts:
        ratio = contrast(colour, background)
        assert ratio >= AA_TEXT, f"{text!r}: {colour} on {background} is {ratio:.2f}:1"


def _weekly_figures(page: Page) -> list[str]:
    return page.locator("#week-table tbody tr td:nth-child(2)").all_inner_texts()


def test_runner_signs_in_reads_their_page_changes_it_and_leaves(
    app_settings: Settings,
    sim: Simulator,
    browser: Browser,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    port = free_port()
    with OutboxSink(tmp_path / "mail") as sink:
        settings = app_settings.model_copy(
            update={
                "public_base_url": f"http://127.0.0.1:{port}",
                "smtp_url": sink.smtp_url,
                "retention_days": 150,
                "strava_base_url": strava_env(sim)["STRAVA_BASE_URL"],
                "strava_client_id": int(strava_env(sim)["STRAVA_CLIENT_ID"]),
                "strava_client_secret": strava_env(sim)["STRAVA_CLIENT_SECRET"],
            }
        )
        engine = make_engine(settings.database_url)
        sessions = make_sessionmaker(engine)
        seed_runner(
            sessions,
            dt.datetime.now(dt.UTC),
            ctx=make_context(settings, sessions),
            grant=sim.issue_tokens(STRAVA_ID),
        )
        with LiveServer(create_app(settings), port=port) as server:
            page = browser.new_page(viewport=WIDE)
            page.goto(f"{server.url}/")
            _check_layout_and_contrast(page, WIDE, at_least=5)  # the Connect button included
            page.click("text=Sign in")
            page.fill("input[name=email]", EMAIL)
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r"/signin\?sent=1$"))
            page.goto(signin_links(sink)[-1])
            page.wait_for_url(f"{server.url}/me")

            # The chart's figures, newest week first, as seeded.
            figures = _weekly_figures(page)
            assert figures[0] == "8.0 km"
            assert figures[SPIKE_WEEKS_AGO] == "45.0 km"
            assert figures[1:] == [f"{weekly_km(n)}.0 km" for n in range(1, 16)]
            assert page.locator("svg g.week").count() == 16
            assert "Strava: connected, last sync 12 minutes ago" in page.inner_text("main")
            _check_layout_and_contrast(page, WIDE)
            page.screenshot(path=str(artifacts / "runner-page-1280.png"), full_page=True)
            page.set_viewport_size(PHONE)
            _check_layout_and_contrast(page, PHONE)
            page.screenshot(path=str(artifacts / "runner-page-390.png"), full_page=True)

            # Miles: the page follows the saved choice.
            page.select_option("#units", "mi")
            page.click("text=Save preferences")
            page.wait_for_url(re.compile(r"/me\?saved=preferences"))
            assert _weekly_figures(page)[SPIKE_WEEKS_AGO] == "28.0 mi"

            # An old digest, as it was sent.
            page.click("text=View the email as sent")
            assert "Three things stood out" in page.inner_text("body")
            page.go_back()

            # Mute a rule; a reload after the save submits nothing twice.
            page.check("input[name=muted_rules][value=no_rest_day]")
            page.click("text=Save preferences")
            page.wait_for_url(re.compile(r"/me\?saved=preferences"))
            page.reload()
            assert page.is_checked("input[name=muted_rules][value=no_rest_day]")
            with sessions() as session:
                assert session.scalars(select(Athlete.muted_rules)).one() == ["no_rest_day"]

            # Disconnect, after a confirmation that says what goes.
            page.click("text=Disconnect Strava…")
            assert "61 activities" in page.inner_text("main")
            _check_layout_and_contrast(page, PHONE)
            page.click("text=Disconnect and delete everything")
            page.wait_for_url(re.compile(r"/goodbye"))
            assert "Strava confirmed" in page.inner_text("main")
            page.goto(f"{server.url}/me")
            assert page.url.endswith("/signin")
            page.close()
        with sessions() as session:
            for table in Base.metadata.sorted_tables:
                if "athlete_id" in table.c:
                    rows = select(func.count()).select_from(table)
                    assert session.scalar(rows) == 0, table.name
            assert session.scalar(select(func.count()).select_from(Athlete)) == 0
        engine.dispose()
