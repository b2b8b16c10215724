"""The pages behind email links, through the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session, sessionmaker

from strideguard import links as link_tokens
from strideguard.integrations.email.digest_links import make_digest_links
from strideguard.links import make_link_token
from strideguard.models import Athlete
from strideguard.settings import Settings
from strideguard.status import EmailStatus
from strideguard.web.email_pages.routes import csrf_token


def _athlete(db: sessionmaker[Session], athlete_id: int) -> Athlete:
    with db() as session:
        athlete = session.get(Athlete, athlete_id)
        assert athlete is not None
        return athlete


def _text(response: Response) -> str:
    return html.unescape(response.text)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _token(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


# ------------------------------------------------------------------ unsubscribe


def test_get_only_asks_and_changes_nothing(
    client: TestClient, settings: Settings, db: sessionmaker[Session], athlete_id: int
) -> None:
    links = make_digest_links(athlete_id, [], settings)
    page = client.get(_path(links.unsubscribe))
    assert page.status_code == 200
    assert "Unsubscribe from strideguard emails?" in _text(page)
    assert re.search(r'<form method="post" action="/email/unsubscribe">', page.text)
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert _athlete(db, athlete_id).email_status == "ok"


def test_rfc8058_one_click_post_unsubscribes(
    client: TestClient, settings: Settings, db: sessionmaker[Session], athlete_id: int
) -> None:
    links = make_digest_links(athlete_id, [], settings)
    # What a mail client sends: a POST to the List-Unsubscribe URL with this one field.
    done = client.post(_path(links.unsubscribe), data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "You're unsubscribed" in _text(done)
    athlete = _athlete(db, athlete_id)
    assert athlete.email_status == "unsubscribed"
    assert athlete.email_status_reason == "one-click unsubscribe from the mail client"


def test_confirmation_button_unsubscribes(
    client: TestClient, settings: Settings, db: sessionmaker[Session], athlete_id: int
) -> None:
    token = _token(make_digest_links(athlete_id, [], settings).unsubscribe)
    done = client.post("/email/unsubscribe", data={"token": token})
    assert done.status_code == 200
    assert _athlete(db, athlete_id).email_status == "unsubscribed"


@pytest.mark.parametrize(
    ("problem", "status", "heading"),
    [
        ("tampered", 400, "This link doesn't work"),
        ("other_purpose", 400, "This link is for something else"),
        ("other_key", 400, "This link doesn't work"),
        ("missing", 400, "This link doesn't work"),
    ],
)
def test_bad_tokens_get_a_clear_refusal_and_change_nothing(
    client: TestClient,
    settings: Settings,
    db: sessionmaker[Session],
    athlete_id: int,
    problem: str,
    status: int,
    heading: str,
) -> None:
    good = make_link_token(athlete_id, "unsubscribe", settings)
    token = {
        "tampered": good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"),
        "other_purpose": make_link_token(athlete_id, "pause", settings),
        "other_key": make_link_token(
            athlete_id, "unsubscribe", Settings(SECRET_KEY="somebody-else-" + "q" * 32)
        ),
        "missing": "",
    }[problem]
    for response in (
        client.get("/email/unsubscribe", params={"token": token}),
        client.post("/email/unsubscribe", data={"token": token, "List-Unsubscribe": "One-Click"}),
    ):
        assert response.status_code == status
        assert heading in _text(response)
        assert "latest strideguard email" in _text(response)
    assert _athlete(db, athlete_id).email_status == "ok"


def test_expired_link_is_refused(
    client: TestClient,
    settings: Settings,
    db: sessionmaker[Session],
    athlete_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = make_link_token(athlete_id, "mute", settings, {"rule_id": "acwr"})
    monkeypatch.setitem(link_tokens.MAX_AGE_S, "mute", -1)
    response = client.post("/email/mute", data={"token": token})
    assert response.status_code == 403
    assert "This link has expired" in _text(response)
    # Not a dead end: the page offers a sign-in link to the runner's own page instead.
    assert '<form method="post" action="/signin">' in response.text
    assert "Email me a new link" in response.text
    assert _athlete(db, athlete_id).muted_rules == []


def test_deleted_athlete_gets_a_clear_page(
    client: TestClient, settings: Settings, db: sessionmaker[Session]
) -> None:
    links = make_digest_links(424242, [], settings)
    response = client.get(_path(links.preferences))
    assert response.status_code == 404
    assert "We have no account for this link" in _text(response)


# ------------------------------------------------------------------ mute and pause


def test_mute_adds_the_rule_once(
    client: TestClient, settings: Settings, db: sessionmaker[Session], athlete_id: int
) -> None:
    links = make_digest_links(athlete_id, ["no_rest_day"], settings)
    page = client.get(_path(links.mute["no_rest_day"]))
    assert page.status_code == 200
    assert "Stop alerts about no rest day?" in _text(page)
    assert _athlete(db, athlete_id).muted_rules == []
    token = _token(links.mute["no_rest_day"])
    for _ in range(2):
        done = client.post("/email/mute", data={"token": token})
        assert done.status_code == 200
    assert _athlete(db, athlete_id).muted_rules == ["no_rest_day"]


def test_pause_sets_paused_until(
    client: TestClient, settings: Settings, db: sessionmaker[Session], athlete_id: int
) -> None:
    links = make_digest_links(athlete_id, [], settings, pause_weeks=4)
    page = client.get(_path(links.pause))
    assert '<option value="4" selected>' in _text(page)
    assert _athlete(db, athlete_id).paused_until is None
    done = client.post("/email/pause", data={"token": _token(links.pause), "weeks": "4"})
    assert done.status_code == 200
    paused = _athlete(db, athlete_id).paused_until
    # The page names the training weeks that get no alerts, not a bare end date.
    assert re.search(r"No alerts about the weeks of [0-9A-Za-z ,]+\.", _text(done))
    today = dt.datetime.now(dt.UTC).date()
    assert paused is not None
    assert dt.timedelta(days=27) <= paused - today <= dt.timedelta(days=29)
    bad = client.post("/email/pause", data={"token": _token(links.pause), "weeks": "52"})
    assert bad.status_code == 400
    assert _athlete(db, athlete_id).paused_until == paused


# ------------------------------------------------------------------ preferences


def _preferences_form(client: TestClient, url: str) -> dict[str, str]:
    page = client.get(_path(url))
    assert page.status_code == 200
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', _text(page))
    assert csrf
    return {"token": _token(url), "csrf": csrf.group(1)}


def test_preferences_page_shows_rules_and_disconnect(
    client: TestClient, settings: Settings, athlete_id: int
) -> None:
    url = make_digest_links(athlete_id, [], settings).preferences
    page = _text(client.get(_path(url)))
    assert 'value="ana@example.org"' in page
    assert '<option value="Europe/Oslo" selected>' in page
    assert 'name="muted_rules" value="weekly_distance_spike"' in page
    assert '<form method="post" action="/strava/disconnect">' in page
    assert f'name="token" value="{_token(url)}"' in page


def test_preferences_update_everything(
    client: TestClient, settings: Settings, db: sessionmaker[Session], athlete_id: int
) -> None:
    form = _preferences_form(client, make_digest_links(athlete_id, [], settings).preferences)
    form.update(
        email="ana.new@example.org",
        units="mi",
        timezone="America/New_York",
        subscribed="on",
        pause_weeks="keep",
    )
    response = client.post(
        "/email/preferences",
        data={**form, "muted_rules": ["hard_surface_streak", "no_rest_day"]},
    )
    assert response.status_code == 200, response.text
    assert "Saved." in _text(response)
    athlete = _athlete(db, athlete_id)
    assert athlete.email == "ana.new@example.org"
    assert athlete.units == "mi"
    assert athlete.timezone == "America/New_York"
    assert athlete.timezone_locked is True
    assert athlete.muted_rules == ["hard_surface_streak", "no_rest_day"]
    assert athlete.email_status == "ok"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Mars/Olympus_Mons", "is not a time zone we know"),
        ("timezone", "../../etc/passwd", "is not a time zone we know"),
        ("email", "ana.example.org", "doesn't look like an email address"),
        ("email", "ana@localhost", "doesn't look like an email address"),
    ],
)
def test_bad_preferences_are_refused_specifically_and_change_nothing(
    client: TestClient,
    settings: Settings,
    db: sessionmaker[Session],
    athlete_id: int,
    field: str,
    value: str,
    message: str,
) -> None:
    form = _preferences_form(client, make_digest_links(athlete_id, [], settings).preferences)
    form.update(email="changed@example.org", units="mi", timezone="Asia/Tokyo", subscribed="on")
    form[field] = value
    response = client.post("/email/preferences", data={**form, "muted_rules": ["no_rest_day"]})
    assert response.status_code == 400
    assert message in _text(response)
    assert "Nothing was saved" in _text(response)
    athlete = _athlete(db, athlete_id)
    assert (athlete.email, athlete.units, athlete.timezone, athlete.muted_rules) == (
        "ana@example.org",
        "km",
        "Europe/Oslo",
        [],
    )
    assert athlete.timezone_locked is False


def test_preferences_need_the_matching_csrf_token(
    client: TestClient, settings: Settings, db: sessionmaker[Session], athlete_id: int
) -> None:
    url = make_digest_links(athlete_id, [], settings).preferences
    other = make_link_token(athlete_id, "preferences", settings, {"n": 1})
    form = {
        "token": _token(url),
        "csrf": csrf_token(other, settings),  # valid for another link, not this one
        "email": "evil@example.org",
        "units": "km",
        "timezone": "UTC",
    }
    response = client.post("/email/preferences", data=form)
    assert response.status_code == 403
    assert _athlete(db, athlete_id).email == "ana@example.org"


def test_unsubscribed_runner_can_resubscribe_and_resume(
    client: TestClient, settings: Settings, db: sessionmaker[Session], athlete_id: int
) -> None:
    with db.begin() as session:
        athlete = session.get(Athlete, athlete_id)
        assert athlete is not None
        athlete.email_status = EmailStatus.UNSUBSCRIBED
        athlete.paused_until = dt.date.today() + dt.timedelta(weeks=3)
    form = _preferences_form(client, make_digest_links(athlete_id, [], settings).preferences)
    form.update(
        email="ana@example.org",
        units="km",
        timezone="Europe/Oslo",
        subscribed="on",
        pause_weeks="0",
    )
    assert client.post("/email/preferences", data=form).status_code == 200
    athlete = _athlete(db, athlete_id)
    assert athlete.email_status == "ok"
    assert athlete.paused_until is None
    assert athlete.timezone_locked is False  # the zone was not changed, so not "chosen"
