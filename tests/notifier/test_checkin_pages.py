"""The back-pain check-in pages, through the real app on SQLite and PostgreSQL.

A link opened (by a person or by a mail scanner prefetching it) stores nothing; the button
stores the answer for the runner's current local week and redirects to a thank-you page.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from strideguard.integrations.email.digest_links import make_digest_links
from strideguard.links import make_link_token
from strideguard.models import BackPainCheckin
from strideguard.settings import Settings
from strideguard.web.email_pages.routes import csrf_token
from tests.notifier.test_pages import _path, _text, _token


def _rows(db: sessionmaker[Session]) -> list[BackPainCheckin]:
    with db() as session:
        return list(session.scalars(select(BackPainCheckin)))


def _this_monday() -> dt.date:
    today = dt.datetime.now(zoneinfo.ZoneInfo("Europe/Oslo")).date()  # the athlete's zone
    return today - dt.timedelta(days=today.weekday())


def _answer(client: TestClient, token: str, settings: Settings, **fields: str) -> object:
    data = {"token": token, "csrf": csrf_token(token, settings), **fields}
    return client.post("/email/back-pain", data=data, follow_redirects=False)


def test_every_link_opens_a_page_with_that_answer_selected_and_stores_nothing(
    client: TestClient, settings: Settings, db: sessionmaker[Session], athlete_id: int
) -> None:
    links = make_digest_links(athlete_id, [], settings)
    assert sorted(links.checkin) == list(range(11))
    for _ in range(2):  # a scanner, then the runner
        page = client.get(_path(links.checkin[6]))
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
    assert re.search(r'value="6" checked', page.text)
    assert "How is your back this week?" in _text(page)
    assert '<form method="post" action="/email/back-pain">' in page.text
    assert _rows(db) == []


def test_saving_records_the_week_redirects_and_thanks_with_a_note_form(
    client: TestClient, settings: Settings, db: sessionmaker[Session], athlete_id: int
) -> None:
    token = _token(make_digest_links(athlete_id, [], settings).checkin[6])
    saved = _answer(client, token, settings, score="6", note="")
    assert saved.status_code == 303  # type: ignore[attr-defined]
    location = saved.headers["location"]  # type: ignore[attr-defined]
    assert location.startswith("/email/back-pain/thanks?token=")
    thanks = client.get(location)
    assert "We saved 6 out of 10" in _text(thanks)
    assert thanks.headers["cache-control"] == "no-store"
    assert 'name="note"' in thanks.text
    (row,) = _rows(db)
    assert (row.athlete_id, row.week_start, row.score, row.note) == (
        athlete_id,
        _this_monday(),
        6,
        None,
    )
    # The note form on the thank-you page, then a changed mind: still one answer a week.
    _answer(client, token, settings, score="6", note="Stiff after the long run")
    _answer(client, token, settings, score="3", note="Better today")
    (row,) = _rows(db)
    assert (row.score, row.note) == (3, "Better today")


def test_strong_pain_points_to_urgent_care(
    client: TestClient, settings: Settings, athlete_id: int
) -> None:
    token = _token(make_digest_links(athlete_id, [], settings).checkin[8])
    thanks = client.get(_answer(client, token, settings, score="8").headers["location"])  # type: ignore[attr-defined]
    assert "urgent or emergency care today" in _text(thanks)


def test_bad_answers_are_refused_with_what_to_fix_and_nothing_is_stored(
    client: TestClient, settings: Settings, db: sessionmaker[Session], athlete_id: int
) -> None:
    token = _token(make_digest_links(athlete_id, [], settings).checkin[0])
    for score in ("11", "²", "-1", ""):
        page = _answer(client, token, settings, score=score)
        assert page.status_code == 400  # type: ignore[attr-defined]
        assert "Choose a number from 0 (no pain) to 10" in _text(page)  # type: ignore[arg-type]
    long_note = _answer(client, token, settings, score="2", note="x" * 1001)
    assert long_note.status_code == 400  # type: ignore[attr-defined]
    assert "1001 characters long" in _text(long_note)  # type: ignore[arg-type]
    forged = client.post("/email/back-pain", data={"token": token, "csrf": "0", "score": "2"})
    assert forged.status_code == 403
    assert _rows(db) == []


def test_a_link_for_something_else_or_altered_is_refused(
    client: TestClient, settings: Settings, db: sessionmaker[Session], athlete_id: int
) -> None:
    preferences = make_link_token(athlete_id, "preferences", settings)
    wrong = client.get(f"/email/back-pain?token={preferences}&score=2")
    assert wrong.status_code == 400
    assert "This link is for something else" in _text(wrong)
    token = _token(make_digest_links(athlete_id, [], settings).checkin[2])
    altered = _answer(client, token[:-2] + "xx", settings, score="2")
    assert altered.status_code in (400, 403)  # type: ignore[attr-defined]
    assert _rows(db) == []
