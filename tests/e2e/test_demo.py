"""The demo end to end: which weeks get an email, the figures in them, and preferences that
change the next digest, followed from an email link in a real browser."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from collections import defaultdict
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from strideguard.demo import DEMO_EMAIL, Demo, WeekResult

RUNNING = {"Run", "TrailRun", "VirtualRun"}
METRES_PER_MILE = 1609.344


def _weekly_running_m(history: dict[str, list[dict[str, object]]]) -> dict[dt.date, float]:
    """Running distance per local ISO week, straight from the Strava activities."""
    weeks: dict[dt.date, float] = defaultdict(float)
    for activity in history["activities"]:
        if activity["sport_type"] not in RUNNING:
            continue
        local_day = dt.date.fromisoformat(str(activity["start_date_local"])[:10])
        monday = local_day - dt.timedelta(days=local_day.weekday())
        weeks[monday] += float(str(activity["distance"]))
    return weeks


def _message(result: WeekResult) -> EmailMessage:
    assert result.email is not None
    message = email.message_from_bytes(result.email.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


@pytest.fixture
def demo(tmp_path: Path) -> Demo:
    return Demo(tmp_path / "work", tmp_path / "outbox", admin_password="demo admin password")


def test_demo_emails_the_risky_weeks_and_preferences_change_the_next_digest(
    demo: Demo, browser: Browser, artifacts: Path
) -> None:
    with demo:
        demo.connect()
        weeks = demo.weeks
        unit = "mi" if demo.history["athlete"]["measurement_preference"] == "feet" else "km"
        per_unit = METRES_PER_MILE if unit == "mi" else 1000.0

        first = {r.week_start: r for r in demo.evaluate(weeks[:12])}
        assert {w for w, r in first.items() if r.email} == {weeks[9], weeks[11]}
        assert first[weeks[9]].rules == ["weekly_distance_spike"]
        assert first[weeks[11]].rules == ["hill_heavy_week"]
        assert all(first[w].rules == [] for w in [*weeks[:9], weeks[10]])

        # The spike email carries the runner's own figures, in their units.
        spike = _message(first[weeks[9]])
        assert spike["To"] == DEMO_EMAIL
        text = _text(spike)
        match = re.search(
            rf"You ran ([\d.]+)\s{unit} this week, (\d+)% more than your 4-week average of "
            rf"([\d.]+)\s{unit}",
            text,
        )
        assert match is not None, text
        weekly = _weekly_running_m(demo.history)
        this_week = weekly[weeks[9]]
        baseline = sum(weekly[w] for w in weeks[5:9]) / 4
        assert float(match.group(1)) == pytest.approx(this_week / per_unit, abs=0.06)
        assert float(match.group(3)) == pytest.approx(baseline / per_unit, abs=0.06)
        assert int(match.group(2)) == round((this_week - baseline) / baseline * 100)
        assert "not medical advice" in text
        assert spike["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

        # The runner follows the email's preferences link: km, and no strength reminders.
        hills_text = _text(_message(first[weeks[11]]))
        link = re.search(r"(http://127\.0\.0\.1:\d+/email/preferences\?token=[^\s>]+)", hills_text)
        assert link is not None, hills_text
        page = browser.new_page()
        page.goto(link.group(1))
        page.check("input[name=muted_rules][value=missed_strength_days]")
        page.select_option("select[name=units]", "km")
        page.locator("form", has=page.locator("input[name=email]")).locator(
            "button[type=submit]"
        ).click()
        page.wait_for_load_state()
        page.screenshot(path=str(artifacts / "demo-preferences-saved.png"), full_page=True)
        page.close()

        second = {r.week_start: r for r in demo.evaluate(weeks[12:])}
        # Weeks 12 and 14 only missed strength days, which the runner has now muted.
        assert {w for w, r in second.items() if r.email} == {weeks[13]}
        assert second[weeks[13]].rules == ["hard_surface_streak"]
        streak_text = _text(_message(second[weeks[13]]))
        assert "Your running over the last 8 weeks (km)" in streak_text
        assert "strength" not in _message(second[weeks[13]])["Subject"].lower()


def test_connect_and_admin_in_a_real_browser(demo: Demo, browser: Browser, artifacts: Path) -> None:
    with demo:
        demo.simulator.show_consent_page()
        page = browser.new_page()
        page.goto(f"{demo.base_url}/connect")
        page.screenshot(path=str(artifacts / "connect-1-start.png"))
        page.click("text=Connect with Strava")
        page.wait_for_selector("button[value=authorize]")
        page.screenshot(path=str(artifacts / "connect-2-strava-consent.png"))
        page.click("button[value=authorize]")
        page.wait_for_selector("text=What happens next")
        assert page.url.startswith(f"{demo.base_url}/strava/callback")
        page.fill("input[name=email]", DEMO_EMAIL)
        page.screenshot(path=str(artifacts / "connect-3-what-happens-next.png"))
        page.click("text=Save email address")
        page.wait_for_load_state()
        assert DEMO_EMAIL in page.content()
        demo.wait_for_backfill()

        page.goto(f"{demo.base_url}/admin")
        page.fill("input[name=password]", "demo admin password")
        page.click("button[type=submit]")
        page.wait_for_url(f"{demo.base_url}/admin")
        athletes = page.locator("section", has=page.locator("h2", has_text="Athletes (1)"))
        assert athletes.locator("td", has_text="active").count() == 1
        page.screenshot(path=str(artifacts / "connect-4-admin.png"), full_page=True)
        page.close()
