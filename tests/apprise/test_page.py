"""The runner's channels page behind the preferences link, through the real app on SQLite
and PostgreSQL: add and remove with POST-redirect-GET, Apprise's refusal on the form, a
switched-off channel's reason shown, and the forms bound to the link (CSRF)."""

from __future__ import annotations

import html
import logging
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from strideguard.links import make_link_token
from strideguard.models import Athlete, AthleteChannel
from strideguard.settings import Settings
from strideguard.status import ChannelStatus
from strideguard.web.email_pages.routes import csrf_token
from tests.notifier.conftest import client, db, settings

__all__ = ["client", "db", "settings"]  # the email-link pages' app on SQLite and PostgreSQL

BOT = "987654321:AAFsecretsecretsecretsecretsecret1"
TELEGRAM = f"tgram://{BOT}/4242"


def runner(db: sessionmaker[Session], strava_id: int) -> int:
    with db.begin() as session:
        athlete = Athlete(strava_athlete_id=strava_id, firstname="Ana", email="ana@example.org")
        session.add(athlete)
        session.flush()
        return athlete.id


def text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def form(settings: Settings, token: str, **fields: str) -> dict[str, str]:
    return {"token": token, "csrf": csrf_token(token, settings), **fields}


def test_add_and_remove_redirect_back_and_a_reload_repeats_nothing(
    client: TestClient, settings: Settings, db: sessionmaker[Session]
) -> None:
    ana = runner(db, 1)
    token = make_link_token(ana, "preferences", settings)
    preferences = client.get("/email/preferences", params={"token": token})
    assert f'href="/email/channels?token={token}"' in preferences.text

    empty = client.get("/email/channels", params={"token": token})
    assert empty.status_code == 200
    assert empty.headers["cache-control"] == "no-store"
    assert "You have no channels yet" in text(empty.text)

    added = client.post(
        "/email/channels/add", data=form(settings, token, url=TELEGRAM), follow_redirects=False
    )
    assert added.status_code == 303
    shown = client.get(added.headers["location"])
    page = text(shown.text)
    assert "Channel added." in page
    assert "Telegram (tgram://…) · on" in page
    assert BOT not in shown.text
    # Reloading the page after the redirect is a GET: nothing is added twice.
    client.get(added.headers["location"])
    with db() as session:
        [channel] = session.scalars(select(AthleteChannel)).all()
    assert channel.athlete_id == ana

    removed = client.post(
        "/email/channels/remove",
        data=form(settings, token, channel_id=str(channel.id)),
        follow_redirects=False,
    )
    assert removed.status_code == 303
    assert "Channel removed." in text(client.get(removed.headers["location"]).text)
    with db() as session:
        assert session.scalars(select(AthleteChannel)).all() == []


def test_a_url_apprise_refuses_comes_back_on_the_form_with_the_reason(
    client: TestClient,
    settings: Settings,
    db: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token = make_link_token(runner(db, 1), "preferences", settings)
    refused = client.post("/email/channels/add", data=form(settings, token, url="tgram://nonsense"))
    assert refused.status_code == 400
    page = text(refused.text)
    assert "Not added: Apprise cannot use this tgram:// URL" in page
    assert 'aria-invalid="true"' in refused.text
    assert 'value="tgram://nonsense"' in refused.text  # kept, to correct
    with db() as session:
        assert session.scalars(select(AthleteChannel)).all() == []
    # Apprise logs the URL it could not parse; none of its records reach ours.
    assert not [r for r in caplog.records if "nonsense" in r.getMessage()]


def test_a_switched_off_channel_shows_why_and_adding_it_again_switches_it_on(
    client: TestClient, settings: Settings, db: sessionmaker[Session]
) -> None:
    token = make_link_token(runner(db, 1), "preferences", settings)
    client.post("/email/channels/add", data=form(settings, token, url=TELEGRAM))
    with db.begin() as session:
        session.execute(
            update(AthleteChannel).values(
                status=ChannelStatus.OFF,
                off_reason="2026-12-03: Telegram refused the message: Unauthorized, error=401.",
            )
        )
    page = text(client.get("/email/channels", params={"token": token}).text)
    assert "Switched off: 2026-12-03: Telegram refused the message: Unauthorized" in page
    client.post("/email/channels/add", data=form(settings, token, url=TELEGRAM))
    with db() as session:
        [channel] = session.scalars(select(AthleteChannel)).all()
    assert (channel.status, channel.off_reason) == (ChannelStatus.ACTIVE, None)


def test_forms_are_bound_to_the_link_and_to_the_runner(
    client: TestClient, settings: Settings, db: sessionmaker[Session]
) -> None:
    ana, bo = runner(db, 1), runner(db, 2)
    ana_token = make_link_token(ana, "preferences", settings)
    bo_token = make_link_token(bo, "preferences", settings)
    forged = client.post(
        "/email/channels/add", data={"token": ana_token, "csrf": "0" * 64, "url": TELEGRAM}
    )
    assert forged.status_code == 403
    client.post("/email/channels/add", data=form(settings, ana_token, url=TELEGRAM))
    with db() as session:
        [channel] = session.scalars(select(AthleteChannel)).all()
    # Bo's valid link cannot remove Ana's channel by its id.
    client.post("/email/channels/remove", data=form(settings, bo_token, channel_id=str(channel.id)))
    with db() as session:
        assert len(session.scalars(select(AthleteChannel)).all()) == 1
    assert client.get("/email/channels", params={"token": "broken"}).status_code == 400
