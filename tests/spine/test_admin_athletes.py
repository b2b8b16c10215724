"""The admin athlete page: weeks, deliveries, overrides, previews and retries, and the
dashboard's search and paging."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from strideguard.models import Athlete, DeliveryRecord
from strideguard.passwords import hash_password
from strideguard.settings import Settings
from strideguard.web.app import create_app
from tests.spine.test_athlete_cli import LAST_MONDAY, coached

__all__ = ["coached"]  # the fixture, shared with the command-line tests
PASSWORD = "correct horse battery"


@pytest.fixture
def client(app_settings: Settings, coached: sessionmaker[Session]) -> TestClient:
    settings = app_settings.model_copy(update={"admin_password_hash": hash_password(PASSWORD)})
    client = TestClient(create_app(settings))
    page = client.get("/admin/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    client.post("/admin/login", data={"password": PASSWORD, "csrf": csrf.group(1)})
    return client


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def _overrides(sessions: sessionmaker[Session]) -> dict[str, object]:
    with sessions() as session:
        athlete = session.get(Athlete, 7)
        assert athlete is not None
        return dict(athlete.rule_overrides or {})


def test_page_shows_weeks_findings_deliveries_and_next_evaluation(client: TestClient) -> None:
    page = client.get("/admin/athletes/7")
    assert page.status_code == 200
    assert "Ada" in page.text
    assert "Next evaluation" in page.text
    assert str(LAST_MONDAY) in page.text
    assert "weekly_distance_spike (50.0)" in page.text
    assert "550 mailbox unavailable" in page.text
    assert page.text.count(">Retry</button>") == 1  # the failed email
    assert client.get("/admin/athletes/99").status_code == 404


def test_override_form_validates_in_place_and_saves_with_post_redirect_get(
    client: TestClient, coached: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    csrf = _csrf(client.get("/admin/athletes/7").text)
    refused = client.post(
        "/admin/athletes/7/overrides",
        data={"csrf": csrf, "overrides": "weekly_distance_spike.treshold=40"},
    )
    assert refused.status_code == 400
    assert "did you mean &#39;threshold&#39;?" in refused.text
    assert "weekly_distance_spike.treshold=40</textarea>" in refused.text  # text kept
    assert _overrides(coached) == {}

    forged = client.post(
        "/admin/athletes/7/overrides",
        data={"csrf": "forged", "overrides": "weekly_distance_spike.threshold=40"},
    )
    assert forged.status_code == 403
    assert _overrides(coached) == {}

    with caplog.at_level(logging.INFO, logger="strideguard.web.admin_athletes"):
        saved = client.post(
            "/admin/athletes/7/overrides",
            data={"csrf": csrf, "overrides": "weekly_distance_spike.threshold=40\n"},
            follow_redirects=False,
        )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/admin/athletes/7?saved=1"
    assert _overrides(coached) == {"weekly_distance_spike": {"threshold": 40}}
    after = client.get(saved.headers["location"])
    assert "Overrides saved." in after.text
    assert "weekly_distance_spike.threshold=40</textarea>" in after.text
    audit = [r.getMessage() for r in caplog.records if "admin overrides" in r.getMessage()]
    assert len(audit) == 1
    assert re.search(
        r"by session [0-9a-f]{12}: \[\] -> \[weekly_distance_spike.threshold=40\]", audit[0]
    )


def test_preview_and_retry(client: TestClient, coached: sessionmaker[Session]) -> None:
    preview = client.get(f"/admin/athletes/7/preview?week={LAST_MONDAY}")
    assert preview.status_code == 200
    assert "50%" in preview.text  # the spike, as the runner would read it
    with coached() as session:
        assert session.query(DeliveryRecord).filter_by(status="sent").count() == 0  # not sent

    csrf = _csrf(client.get("/admin/athletes/7").text)
    with coached() as session:
        email_id = session.query(DeliveryRecord.id).filter_by(athlete_id=7).scalar()
    forged = client.post(
        "/admin/athletes/7/retry", data={"csrf": "x", "kind": "email", "job_id": email_id}
    )
    assert forged.status_code == 403
    retried = client.post(
        "/admin/athletes/7/retry",
        data={"csrf": csrf, "kind": "email", "job_id": email_id},
        follow_redirects=False,
    )
    assert retried.status_code == 303
    with coached() as session:
        row = session.get(DeliveryRecord, email_id)
        assert row is not None
        assert (row.status, row.attempts, row.last_error) == ("pending", 0, None)
    assert "Sent back to the queue." in client.get(retried.headers["location"]).text
    again = client.post(
        "/admin/athletes/7/retry",
        data={"csrf": csrf, "kind": "email", "job_id": email_id},
        follow_redirects=False,
    )
    assert again.headers["location"].endswith("retried=0")  # no longer failed


def test_a_broken_rules_file_never_gives_a_500(
    client: TestClient, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    broken = Path(str(tmp_path)) / "broken.yaml"
    broken.write_text("rules: [")
    client.app.state.settings = client.app.state.settings.model_copy(  # type: ignore[attr-defined]
        update={"rules_path": broken}
    )
    page = client.get("/admin/athletes/7")
    assert page.status_code == 200
    assert "The rules file cannot be read" in page.text
    csrf = _csrf(page.text)
    saved = client.post("/admin/athletes/7/overrides", data={"csrf": csrf, "overrides": "x.y=1"})
    assert saved.status_code == 400
    assert client.get(f"/admin/athletes/7/preview?week={LAST_MONDAY}").status_code == 409


def test_dashboard_search_and_paging(
    client: TestClient, coached: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with coached.begin() as session:
        session.add_all(
            Athlete(strava_athlete_id=9000 + n, firstname=f"Runner {n}") for n in range(3)
        )
    found = client.get("/admin?q=ada")
    assert 'href="/admin/athletes/7"' in found.text
    assert 'href="/admin/athletes/8"' not in found.text
    assert "Athletes (1)" in found.text
    by_id = client.get("/admin?q=8")
    assert 'href="/admin/athletes/8"' in by_id.text
    assert "No athlete matches" in client.get("/admin?q=nobody").text

    monkeypatch.setattr("strideguard.web.admin.ATHLETES_PER_PAGE", 2)
    first = client.get("/admin")
    assert "Page 1 of 3" in first.text
    assert first.text.count('href="/admin/athletes/') == 4  # two athletes, two links each
    pages = [client.get(f"/admin?page={n}").text for n in (1, 2, 3)]
    ids = [re.findall(r'<td data-label="#"><a href="/admin/athletes/(\d+)"', p) for p in pages]
    assert [len(page) for page in ids] == [2, 2, 1]
    every = [int(i) for page in ids for i in page]
    assert every == sorted(every)
    assert len(set(every)) == 5


def test_page_flags_invalid_stored_overrides(
    client: TestClient, coached: sessionmaker[Session]
) -> None:
    with coached.begin() as session:
        row = session.get(Athlete, 7)
        assert row is not None
        row.rule_overrides = {"weekly_distance_spike": {"treshold": 40}}
    page = client.get("/admin/athletes/7").text
    assert "The stored overrides are invalid" in page
    assert "did you mean &#39;threshold&#39;?" in page
    assert "weekly_distance_spike.treshold=40</textarea>" in page  # there to be fixed
