"""/me shows the same weekly-note field as the email link's page, and saves it there too."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from strideguard.mailsink import OutboxSink
from strideguard.models import Athlete
from tests.notifier.test_weekly_note_form import CHECKBOX, _weekly_note_checked
from tests.runner.signing_in import sign_in
from tests.runner.test_me_page import _preferences


def test_the_weekly_note_is_turned_on_from_the_runner_s_page(
    client: TestClient, sink: OutboxSink, db: sessionmaker[Session], runner: int
) -> None:
    sign_in(client, sink)
    page = client.get("/me").text
    assert CHECKBOX in page
    assert not _weekly_note_checked(page)
    form = _preferences(page, weekly_note="on")
    saved = client.post("/me/preferences", data=form, follow_redirects=False)
    assert saved.status_code == 303
    assert _weekly_note_checked(client.get(saved.headers["location"]).text)
    with db() as session:
        assert session.get_one(Athlete, runner).weekly_note is True
