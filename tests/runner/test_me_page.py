"""/me shows a signed-in runner their weeks, limits, emails, sources and settings."""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from strideguard.integrations.files.importer import import_paths
from strideguard.mailsink import OutboxSink
from strideguard.models import Activity, Athlete, Base, DeliveryRecord
from strideguard.rules.config import SHIPPED_RULES
from strideguard.settings import Settings
from strideguard.web.runner.common import SESSION_COOKIE
from tests.files.writers import RunSpec, gpx_bytes, write
from tests.runner.history import EMAIL, SPIKE_WEEKS_AGO, weekly_km
from tests.runner.signing_in import sign_in


def _rows(html: str) -> list[list[str]]:
    """The weekly table's cells, newest week first."""
    body = html.split('<table id="week-table">', 1)[1].split("</tbody>", 1)[0]
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.split("<tbody>", 1)[1], re.S)
    ]


def _csrf(html: str) -> str:
    return html.split('name="csrf" value="')[1].split('"')[0]


def _preferences(html: str, **changes: str | list[str]) -> dict[str, str | list[str]]:
    form: dict[str, str | list[str]] = {
        "csrf": _csrf(html),
        "email": "ana@example.org",
        "subscribed": "on",
        "units": "km",
        "timezone": "Europe/Oslo",
        "pause_weeks": "keep",
    }
    form.update(changes)
    return form


def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    page = client.get("/me", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/signin"


def test_the_weeks_show_distance_against_the_runners_own_limit(
    client: TestClient, sink: OutboxSink, runner: int
) -> None:
    sign_in(client, sink)
    page = client.get("/me")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    rows = _rows(page.text)
    assert len(rows) == 16
    # Newest first: this week so far, then whole weeks as seeded.
    assert rows[0][0].endswith("(so far)")
    assert rows[0][1] == "8.0 km"
    for back, row in enumerate(rows[1:], start=1):
        assert row[1] == f"{weekly_km(back)}.0 km", row
    spike = rows[SPIKE_WEEKS_AGO]
    assert "Weekly distance spike" in spike[3]
    # The runner's override (20 %, not the shipped 30 %) sets the limit: 30 km -> 36 km.
    assert spike[2] == "36.0 km"
    # After the spike the 4-week average is (3 x 30 + 45) / 4 = 33.75 km, so 40.5 km.
    assert rows[SPIKE_WEEKS_AGO - 1][2] == "40.5 km"
    assert "to 20 % above it" in page.text
    # The chart: 16 bars, the current one dashed, one red mark for the week with alerts.
    svg = page.text.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert svg.count('<g class="week') == 16
    assert svg.count('stroke-dasharray="5 3"') == 1
    assert svg.count('fill="#b42318"') == 1
    assert "<script" not in page.text
    assert "Longest run in the last 30 days:\n<strong>15.0 km</strong>" in page.text
    assert 'id="ceiling"' in page.text
    assert "Powered by Strava" in page.text


def test_weeks_older_than_the_retention_window_show_as_not_kept(
    client: TestClient, sink: OutboxSink, runner: int
) -> None:
    client.app.state.settings = client.app.state.settings.model_copy(  # type: ignore[attr-defined]
        update={"retention_days": 7}
    )
    sign_in(client, sink)
    rows = _rows(client.get("/me").text)
    assert rows[0][1] == "8.0 km"
    assert all(row[1] == "not kept" for row in rows[2:])


def test_sources_channels_emails_and_checkins_are_listed(
    client: TestClient, sink: OutboxSink, runner: int
) -> None:
    sign_in(client, sink)
    page = client.get("/me").text
    assert "Strava</strong>: connected, last sync 12 minutes ago" in page
    assert "Email</strong>: sending to ana@example.org" in page
    assert "Weekly distance spike: week 45.0 km, baseline 30.0 km, pct 50%" in page
    assert re.search(r'<a href="/me/digests/\d+">View the email as sent</a>', page)
    assert "2 out of 10" in page


def test_an_old_digest_opens_as_it_was_sent_and_only_for_its_runner(
    client: TestClient, sink: OutboxSink, db: sessionmaker[Session], runner: int
) -> None:
    sign_in(client, sink)
    link = re.search(r'href="(/me/digests/\d+)"', client.get("/me").text)
    assert link is not None
    digest = client.get(link.group(1))
    assert digest.status_code == 200
    assert "Hi Ana," in digest.text
    assert "Three things stood out" in digest.text
    assert "45.0&nbsp;km" in digest.text  # the spike week's distance, from its alert
    assert "Powered by Strava" in digest.text
    with db.begin() as session:
        other = Athlete(strava_athlete_id=99, email="other@example.org")
        session.add(other)
        session.flush()
        row = DeliveryRecord(athlete_id=other.id, week_start=runner_week(db), message_id="<x@y>")
        session.add(row)
        session.flush()
        theirs = row.id
    assert client.get(f"/me/digests/{theirs}").status_code == 404


def runner_week(db: sessionmaker[Session]) -> object:
    with db() as session:
        return session.scalars(select(DeliveryRecord.week_start)).first()


def test_changing_units_saves_and_the_page_follows(
    client: TestClient, sink: OutboxSink, db: sessionmaker[Session], runner: int
) -> None:
    sign_in(client, sink)
    page = client.get("/me").text
    saved = client.post(
        "/me/preferences", data=_preferences(page, units="mi"), follow_redirects=False
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/me?saved=preferences#preferences"
    after = client.get(saved.headers["location"]).text
    assert "Saved." in after
    rows = _rows(after)
    assert rows[SPIKE_WEEKS_AGO][1] == "28.0 mi"  # 45 km
    assert rows[0][1] == "5.0 mi"  # 8 km
    assert "Running distance per week in miles" in after
    with db() as session:
        assert session.get_one(Athlete, runner).units == "mi"


def test_muting_a_rule_and_pausing_from_the_page(
    client: TestClient, sink: OutboxSink, db: sessionmaker[Session], runner: int
) -> None:
    sign_in(client, sink)
    page = client.get("/me").text
    form = _preferences(page, muted_rules=["no_rest_day"], pause_weeks="2")
    assert client.post("/me/preferences", data=form, follow_redirects=False).status_code == 303
    after = client.get("/me").text
    assert re.search(r'value="no_rest_day" checked', after)
    assert re.search(r"Alerts are paused: no alerts about the weeks of [^<]+\.", after)
    with db() as session:
        athlete = session.get_one(Athlete, runner)
        assert athlete.muted_rules == ["no_rest_day"]
        assert athlete.paused_until is not None


def test_a_bad_time_zone_saves_nothing_and_says_why(
    client: TestClient, sink: OutboxSink, db: sessionmaker[Session], runner: int
) -> None:
    sign_in(client, sink)
    page = client.get("/me").text
    bad = client.post("/me/preferences", data=_preferences(page, units="mi", timezone="Mars/Base"))
    assert bad.status_code == 400
    assert "Nothing was saved" in bad.text
    assert "is not a time zone we know" in bad.text
    with db() as session:
        assert session.get_one(Athlete, runner).units == "km"


def test_a_form_without_the_sessions_token_changes_nothing(
    client: TestClient, sink: OutboxSink, db: sessionmaker[Session], runner: int
) -> None:
    sign_in(client, sink)
    page = client.get("/me").text
    forged = _preferences(page, units="mi", csrf="0" * 64)
    assert client.post("/me/preferences", data=forged).status_code == 403
    assert client.post("/me/disconnect", data={"csrf": "0" * 64}).status_code == 403
    with db() as session:
        assert session.get_one(Athlete, runner).units == "km"


def test_disconnect_says_what_goes_then_deletes_everything(
    client: TestClient, sink: OutboxSink, db: sessionmaker[Session], runner: int
) -> None:
    sign_in(client, sink)
    confirm = client.get("/me/disconnect")
    assert confirm.status_code == 200
    assert "<li>61 activities (distance, time, climb, shoe; no maps)</li>" in confirm.text
    assert "<li>1 emails we wrote to you</li>" in confirm.text
    assert "<li>1 back-pain check-ins</li>" in confirm.text
    gone = client.post("/me/disconnect", data={"csrf": _csrf(confirm.text)}, follow_redirects=False)
    assert gone.status_code == 303
    assert gone.headers["location"] == "/goodbye?strava=confirmed"
    assert SESSION_COOKIE not in client.cookies
    bye = client.get(gone.headers["location"]).text
    assert "Strava confirmed" in bye
    with db() as session:
        for table in Base.metadata.sorted_tables:
            if "athlete_id" in table.c:
                count = session.scalar(
                    select(func.count()).select_from(table).where(table.c.athlete_id == runner)
                )
                assert count == 0, table.name
        assert session.scalar(select(func.count()).select_from(Athlete)) == 0


def test_a_runner_without_strava_deletes_everything_from_their_page(
    client: TestClient,
    sink: OutboxSink,
    db: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
) -> None:
    """No Strava to ask: the page deletes at once what the runner's own files gave us."""
    with db.begin() as session:
        athlete = Athlete(firstname="Kim", email=EMAIL, timezone="Europe/Oslo")
        session.add(athlete)
        session.flush()
        athlete_id = athlete.id
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=2)
    run = RunSpec(start=start, distance_m=8_000, moving_s=2600)
    imported = import_paths(
        db, athlete_id, [write(tmp_path / "run.gpx", gpx_bytes(run))], settings=settings
    )
    assert len(imported.imported) == 1
    sign_in(client, sink)
    confirm = client.get("/me/disconnect")
    assert "<li>1 activities (distance, time, climb, shoe; no maps)</li>" in confirm.text
    gone = client.post("/me/disconnect", data={"csrf": _csrf(confirm.text)}, follow_redirects=False)
    assert gone.status_code == 303
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Athlete)) == 0
        assert session.scalar(select(func.count()).select_from(Activity)) == 0


def test_home_page_and_the_stylesheet(client: TestClient) -> None:
    home = client.get("/")
    assert home.status_code == 200
    assert 'href="/connect"' in home.text
    assert 'href="/signin"' in home.text
    css = client.get("/static/style.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "style-src 'self'" in home.headers["content-security-policy"]


def test_a_rules_file_that_cannot_load_leaves_the_page_without_limits_until_it_can(
    client: TestClient,
    sink: OutboxSink,
    runner: int,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules: [not, a, mapping\n", encoding="utf-8")
    client.app.state.settings = client.app.state.settings.model_copy(  # type: ignore[attr-defined]
        update={"rules_path": rules}
    )
    sign_in(client, sink)
    with caplog.at_level(logging.WARNING, logger="strideguard.web.runner.me"):
        page = client.get("/me")
    assert page.status_code == 200
    assert "to 20 % above it" not in page.text
    assert "rules file unusable; the runner page shows no limits" in caplog.text
    # Nothing was kept from the failed load: once the file is good, the next view has limits.
    rules.write_text(SHIPPED_RULES.read_text(encoding="utf-8"), encoding="utf-8")
    assert "to 20 % above it" in client.get("/me").text
