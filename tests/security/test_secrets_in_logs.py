"""No secret reaches the logs: every log record of a connect, a backfill, a token refresh, a
webhook and a digest send is captured at DEBUG and searched for each secret involved.

Two places are searched: the raw records (what any handler an operator adds would see; the
code must not log a secret at all) and the lines our RedactingFormatter writes. Records from
the Strava simulator and the test SMTP server are left out: they play Strava and the mail
relay, whose logs are not ours.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import re
from collections.abc import Iterator
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from strideguard.integrations.email import outbox
from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.jobs import run_job
from strideguard.integrations.strava.simulator import Simulator
from strideguard.integrations.strava.subscription import webhook_secret
from strideguard.integrations.strava.tokens import access_token
from strideguard.logs import RedactingFormatter
from strideguard.models import Athlete, StravaConnection, StravaSubscription
from strideguard.runtime import start_runtime
from strideguard.settings import Settings
from tests.strava.conftest import (
    CLIENT_SECRET,
    RUNNER,
    AppUnderTest,
    click_connect,
    follow_back,
    strava_answers,
    webhook_path,
)
from tests.worker.conftest import SmtpServer, smtp
from tests.worker.digests import add_digest

__all__ = ["smtp"]  # the real SMTP server fixture of the worker tests

# Strava's side, the mail relay's side, and the test's browser (httpx logs each URL it gets).
NOT_OURS = ("strideguard.integrations.strava.simulator", "mail.log", "httpx")
SUBSCRIPTION_ID = 120475


@dataclasses.dataclass
class Captured:
    caplog: pytest.LogCaptureFixture
    formatted: io.StringIO


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture) -> Iterator[Captured]:
    caplog.set_level(logging.DEBUG)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    handler.addFilter(lambda record: not record.name.startswith(NOT_OURS))
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(exc_text)s")
    )
    root = logging.getLogger()
    root.addHandler(handler)
    yield Captured(caplog, stream)
    root.removeHandler(handler)


def _raw_text(record: logging.LogRecord) -> str:
    """Everything a handler could print from the record, before any redaction."""
    parts = [record.getMessage(), repr(record.args), repr(record.__dict__)]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


def _stored_tokens(ctx: StravaContext) -> set[str]:
    with ctx.sessions() as session:
        connection = session.scalars(select(StravaConnection)).one()
        return {
            ctx.cipher.open(connection.access_token_enc),
            ctx.cipher.open(connection.refresh_token_enc),
        }


def _text_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_no_secret_is_logged_through_connect_refresh_webhook_and_digest(
    captured: Captured,
    app: AppUnderTest,
    ctx: StravaContext,
    sim: Simulator,
    settings: Settings,
    sessions: sessionmaker[Session],
    smtp: SmtpServer,
) -> None:
    secrets: dict[str, str] = {
        "client secret": CLIENT_SECRET,
        "webhook callback secret": webhook_secret(settings),
    }
    ctx.settings = ctx.settings.model_copy(update={"strava_webhook_sync": "immediate"})
    with TestClient(app.app) as browser:
        # connect, with the email form that follows
        answer = strava_answers(click_connect(browser))
        reply = parse_qs(urlsplit(answer.headers["location"]).query)
        secrets["OAuth code"] = reply["code"][0]
        page = follow_back(browser, answer)
        form_token = re.search(r'name="token" value="([^"]+)"', page.text)
        assert form_token is not None
        secrets["email form token"] = form_token.group(1)
        saved = browser.post(
            "/connect/email", data={"token": form_token.group(1), "email": "ada@example.org"}
        )
        assert saved.status_code == 200
        run_job(ctx, app.jobs.pop())  # the backfill, with the first access token
        tokens = _stored_tokens(ctx)
        # a token refresh: six hours later the access token is dead
        sim.clock.advance(6 * 60 * 60)
        with sessions() as session:
            athlete_id = session.scalars(select(Athlete.id)).one()
        access_token(ctx, athlete_id)
        tokens |= _stored_tokens(ctx)
        assert len(tokens) == 4  # two access tokens, two refresh tokens
        # a webhook, processed with a Strava request
        with sessions.begin() as session:
            session.add(StravaSubscription(subscription_id=SUBSCRIPTION_ID, callback_url="x"))
        event = {
            "aspect_type": "update",
            "event_time": 1772618850,
            "object_id": 5003,
            "object_type": "activity",
            "owner_id": RUNNER,
            "subscription_id": SUBSCRIPTION_ID,
            "updates": {"title": "Morning run"},
        }
        assert browser.post(webhook_path(settings), json=event).status_code == 200
        run_job(ctx, app.jobs.pop())
    # a digest, sent over SMTP by the worker's job
    runtime = start_runtime(settings.model_copy(update={"smtp_url": smtp.url}))
    try:
        outbox.send_digest(runtime, add_digest(runtime.sessions, athlete_id))
    finally:
        runtime.close()
    (message,) = smtp.inbox.messages
    body = _text_body(message)
    link_tokens = sorted(set(re.findall(r"token=([A-Za-z0-9_.-]{20,})", body)))
    assert len(link_tokens) == 5  # mute, pause, preferences, unsubscribe, back-pain check-in
    secrets |= {f"link token {n}": token for n, token in enumerate(link_tokens)}
    for number, line in enumerate(line.strip() for line in body.splitlines()):
        if len(line) > 40 and "token=" not in line:
            secrets[f"email body line {number}"] = line
    for number, token in enumerate(sorted(tokens)):
        secrets[f"Strava token {number}"] = token

    ours = [r for r in captured.caplog.get_records("call") if not r.name.startswith(NOT_OURS)]
    assert len(ours) > 5, "nothing was logged: the capture is not working"
    raw = "\n".join(_raw_text(record) for record in ours)
    formatted = captured.formatted.getvalue()
    leaks = [
        f"{name} in {where}"
        for name, secret in secrets.items()
        for where, text in (("raw records", raw), ("formatted lines", formatted))
        if secret in text
    ]
    assert leaks == []
