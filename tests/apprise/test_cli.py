"""`strideguard athlete channel add|remove|list` and the channels in `athlete list|show`, as an
admin uses them: Apprise refuses a bad URL with its reason, and no URL is ever printed back
or stored in the clear."""

from __future__ import annotations

import html
import json

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from strideguard.cli.main import app
from strideguard.models import Athlete, AthleteChannel, Evaluation, StravaConnection
from strideguard.settings import Settings
from strideguard.status import ChannelStatus

runner = CliRunner()
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
TELEGRAM = f"tgram://{TOKEN}/-100424242"
NTFY = "ntfy://ntfy.example.org/strideguard-alerts-77"


def athlete(*args: str, stdin: str | None = None) -> Result:
    return runner.invoke(app, ["athlete", *args], input=stdin)


@pytest.fixture
def ada(app_settings: Settings, sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    import datetime as dt

    with sessions.begin() as session:
        session.add(Athlete(id=7, strava_athlete_id=707, firstname="Ada", email="ada@example.org"))
        session.flush()
        session.add(
            StravaConnection(
                athlete_id=7,
                access_token_enc=b"-",
                refresh_token_enc=b"-",
                expires_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                scopes="read",
            )
        )
        session.add(
            Evaluation(
                athlete_id=7,
                week_start=dt.date(2026, 11, 23),
                status="done",
                due_at=dt.datetime(2026, 11, 30, 6, tzinfo=dt.UTC),
            )
        )
    return sessions


def test_add_list_remove_a_channel_and_the_url_is_never_shown_or_stored_in_clear(
    ada: sessionmaker[Session],
) -> None:
    added = athlete("channel", "add", "7", TELEGRAM)
    assert added.exit_code == 0, added.output
    assert "Telegram (tgram://…)" in added.stdout
    # From stdin, so the token stays out of shell history.
    from_stdin = athlete("channel", "add", "7", "-", stdin=NTFY + "\n")
    assert from_stdin.exit_code == 0, from_stdin.output
    assert "ntfy (ntfy://ntfy.example.org)" in from_stdin.stdout

    listed = athlete("channel", "list", "7", "--format", "json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["label"], r["status"]) for r in rows] == [
        ("Telegram (tgram://…)", "active"),
        ("ntfy (ntfy://ntfy.example.org)", "active"),
    ]
    everything = json.loads(athlete("list", "--format", "json").stdout)
    [row] = everything
    assert (row["id"], row["firstname"], row["email"]) == (7, "Ada", "ada@example.org")
    assert row["sources"] == {"strava": "active"}
    assert [c["label"] for c in row["channels"]] == [r["label"] for r in rows]
    assert row["last_evaluation"] == {"week_start": "2026-11-23", "status": "done"}
    table = athlete("list").stdout
    assert "Telegram (tgram://…) (active)" in table
    shown = athlete("show", "7").stdout
    shown_json = json.loads(athlete("show", "7", "--format", "json").stdout)
    assert [c["label"] for c in shown_json["channels"]["apprise"]] == [r["label"] for r in rows]
    assert "channel 1: Telegram (tgram://…) (active)" in shown
    for output in (added.stdout, listed.stdout, table, shown, json.dumps(everything)):
        assert TOKEN not in output
        assert "strideguard-alerts-77" not in output
    with ada() as session:
        sealed = session.scalars(select(AthleteChannel.url_enc)).all()
    assert len(sealed) == 2
    assert all(TOKEN.encode() not in bytes(s) and b"alerts-77" not in bytes(s) for s in sealed)

    again = athlete("channel", "add", "7", TELEGRAM)
    assert again.exit_code == 1
    assert "already one of your channels" in again.stderr

    removed = athlete("channel", "remove", "7", TELEGRAM)
    assert removed.exit_code == 0, removed.output
    assert "channel removed, Telegram (tgram://…)" in removed.stdout
    gone = athlete("channel", "remove", "7", TELEGRAM)
    assert gone.exit_code == 1
    assert "athlete 7 has no channel with this URL" in gone.stderr
    assert [
        r["label"] for r in json.loads(athlete("channel", "list", "7", "--format", "json").stdout)
    ] == ["ntfy (ntfy://ntfy.example.org)"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("tgram://not-a-bot-token", "Apprise cannot use this tgram:// URL"),
        ("nosuchservice://host/path", "Apprise cannot use this nosuchservice:// URL"),
        ("https//missing-colon", "this is not an Apprise URL"),
        ("", "the URL is empty"),
    ],
)
def test_a_url_apprise_cannot_use_is_refused_with_the_reason_and_nothing_changes(
    ada: sessionmaker[Session], url: str, reason: str
) -> None:
    refused = athlete("channel", "add", "7", url)
    assert refused.exit_code == 1
    assert reason in refused.stderr
    assert "nothing was changed" in refused.stderr
    with ada() as session:
        assert session.scalars(select(AthleteChannel)).all() == []


def test_an_unknown_athlete_is_refused(ada: sessionmaker[Session]) -> None:
    missing = athlete("channel", "add", "99", NTFY)
    assert missing.exit_code == 1
    assert "no athlete 99" in missing.stderr


def test_the_admin_athlete_page_shows_a_switched_off_channel_with_its_reason(
    app_settings: Settings, ada: sessionmaker[Session]
) -> None:
    from tests.spine.test_admin_athletes import client as admin_client

    assert athlete("channel", "add", "7", TELEGRAM).exit_code == 0
    with ada.begin() as session:
        session.execute(
            update(AthleteChannel).values(
                status=ChannelStatus.OFF,
                off_reason="2026-12-03: Telegram refused the message: Unauthorized, error=401.",
            )
        )
    client = admin_client.__wrapped__(app_settings, ada)  # type: ignore[attr-defined]
    page = html.unescape(client.get("/admin/athletes/7").text)
    assert "Telegram (tgram://…) · off (2026-12-03: Telegram refused the message" in page
    assert TOKEN not in page
    listed = athlete("channel", "list", "7").stdout
    assert "Telegram refused the message" in listed
