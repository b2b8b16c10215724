"""The weekly note is off by default and turned on (and off) on the preferences page behind
the email link: post, redirect, get, on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from strideguard.integrations.email.digest_links import make_digest_links
from strideguard.settings import Settings
from tests.notifier.test_pages import _athlete, _path, _preferences_form, _text

CHECKBOX = 'name="weekly_note"'


def _weekly_note_checked(page: str) -> bool:
    tag = page[page.index(CHECKBOX) :].split(">", 1)[0]
    return " checked" in tag


def test_the_weekly_note_is_off_until_the_runner_turns_it_on(
    client: TestClient, settings: Settings, db: sessionmaker[Session], athlete_id: int
) -> None:
    url = make_digest_links(athlete_id, [], settings).preferences
    page = _text(client.get(_path(url)))
    assert _athlete(db, athlete_id).weekly_note is False
    assert "Also send me a short note after weeks where nothing stood out" in page
    assert not _weekly_note_checked(page)

    form = _preferences_form(client, url)
    form.update(
        email="ana@example.org",
        units="km",
        timezone="Europe/Oslo",
        subscribed="on",
        pause_weeks="keep",
        weekly_note="on",
    )
    posted = client.post("/email/preferences", data=form, follow_redirects=False)
    assert posted.status_code == 303
    assert posted.headers["location"].startswith("https://testserver/email/preferences?token=")
    assert posted.headers["location"].endswith("&saved=1")
    assert _athlete(db, athlete_id).weekly_note is True

    shown = client.get(_path(posted.headers["location"]))
    assert shown.status_code == 200
    assert "Saved." in _text(shown)
    assert _weekly_note_checked(_text(shown))

    del form["weekly_note"]  # an unticked box is not sent
    client.post("/email/preferences", data=form)
    assert _athlete(db, athlete_id).weekly_note is False
