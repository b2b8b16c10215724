"""Mail redirection through the address a runner types: refused by every form, and never sent.

The attack address decodes (RFC 2047) into `attacker@evil.com, x@example.com` once it is in a
`To` header. Both forms that take an address (after connecting, and preferences) and the admin
CLI refuse it with the same reason; an address stored before this rule existed is not mailed,
and the outbox row says why. Real app, real databases, real SMTP (aiosmtpd).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from strideguard.cli.main import app as cli
from strideguard.integrations.email import outbox
from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.simulator import Simulator
from strideguard.links import make_link_token
from strideguard.models import Athlete, DeliveryRecord
from strideguard.runtime import WorkerRuntime, start_runtime
from strideguard.settings import Settings
from strideguard.web.email_pages.routes import csrf_token
from tests.strava.conftest import (
    AppUnderTest,
    connect_directly,
    follow_back,
    strava_round_trip,
)
from tests.worker.conftest import SmtpServer, add_athlete, env_for, smtp, worker_env
from tests.worker.digests import add_digest

__all__ = ["env_for", "smtp", "worker_env"]  # fixtures, imported to be found by pytest

ATTACK = "=?utf-8?q?attacker=40evil=2Ecom=2C?=x@example.com"
# (address typed, words of the reason the page must show)
REFUSED = [
    (ATTACK, "=?"),
    ("<script>alert(1)</script>@example.com", "doesn't look like an email address"),
    ("ana\x00@example.org", "NUL character"),
    ("ana@example.org\r\nBcc: attacker@evil.com", "line break"),
    ("ana@example.org,attacker@evil.com", "comma"),
]


def _email_of(sessions: sessionmaker[Session], athlete_id: int) -> str | None:
    with sessions() as session:
        athlete = session.get(Athlete, athlete_id)
        assert athlete is not None
        return athlete.email


def _page_text(response: Any) -> str:
    return str(response.text).replace("&#39;", "'").replace("&#34;", '"').replace("&quot;", '"')


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_connect_email_form_refuses_the_address_with_its_reason(
    browser: TestClient, sessions: sessionmaker[Session], address: str, reason: str
) -> None:
    page = follow_back(browser, strava_round_trip(browser))
    form_token = page.text.split('name="token" value="')[1].split('"')[0]
    refused = browser.post("/connect/email", data={"token": form_token, "email": address})
    assert refused.status_code == 400
    assert reason in _page_text(refused)
    with sessions() as session:
        assert [a.email for a in session.query(Athlete)] == [None]
    # The same form then takes a good address: nothing about the refusal stuck.
    saved = browser.post("/connect/email", data={"token": form_token, "email": "ada@example.org"})
    assert saved.status_code == 200


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_preferences_form_refuses_the_address_with_its_reason(
    app: AppUnderTest,
    ctx: StravaContext,
    sim: Simulator,
    sessions: sessionmaker[Session],
    address: str,
    reason: str,
) -> None:
    athlete_id = connect_directly(ctx, sim)
    token = make_link_token(athlete_id, "preferences", ctx.settings)
    with TestClient(app.app) as client:
        refused = client.post(
            "/email/preferences",
            data={
                "token": token,
                "csrf": csrf_token(token, ctx.settings),
                "email": address,
                "units": "km",
                "timezone": "UTC",
                "subscribed": "on",
            },
        )
    assert refused.status_code == 400
    assert reason in _page_text(refused)
    assert _email_of(sessions, athlete_id) == "runner@example.com"


def test_admin_unsubscribe_refuses_the_attack_address(app_settings: Settings) -> None:
    result = CliRunner().invoke(cli, ["admin", "unsubscribe", ATTACK])
    assert result.exit_code == 2
    assert "=?" in result.output
    assert "decode" in result.output


@pytest.fixture
def mail_runtime(worker_env: Callable[..., Settings], smtp: SmtpServer) -> Iterator[WorkerRuntime]:
    runtime = start_runtime(worker_env(SMTP_URL=smtp.url))
    yield runtime
    runtime.close()


def test_an_address_stored_before_the_rule_is_not_mailed_and_the_row_says_why(
    mail_runtime: WorkerRuntime, smtp: SmtpServer
) -> None:
    sessions = mail_runtime.sessions
    victim = add_athlete(sessions, strava_id=1, email=ATTACK)
    neighbour = add_athlete(sessions, strava_id=2, email="neighbour@example.com")
    refused, delivered = add_digest(sessions, victim), add_digest(sessions, neighbour)

    outbox.send_digest(mail_runtime, refused)
    outbox.send_digest(mail_runtime, delivered)

    assert [str(m["To"]) for m in smtp.inbox.messages] == ["neighbour@example.com"]
    with sessions() as session:
        row = session.get(DeliveryRecord, refused)
        athlete = session.get(Athlete, victim)
        assert row is not None
        assert athlete is not None
        assert row.status == "failed"
        assert "attacker@evil.com" in (row.last_error or "")
        assert "preferences" in (row.last_error or "")
        # Not a bounce: the runner can still fix the address and get the next digest.
        assert athlete.email_status == "ok"
