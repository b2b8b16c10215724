"""schemathesis fuzzes every public endpoint of the app from its OpenAPI schema: no 500s.

The email-link pages and the webhook read their query, form and body by hand (to bound sizes
and to treat every token the same way), so FastAPI cannot describe those inputs. The schema is
completed here with what those handlers read, and with a genuine token and CSRF value among
the choices, so the fuzzer gets past the token check into the code that uses the fields.
"""

from __future__ import annotations

import copy
import html
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.core.result import Err
from sqlalchemy.orm import Session, sessionmaker

from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.simulator import Simulator
from strideguard.integrations.strava.subscription import webhook_secret
from strideguard.links import Purpose, make_link_token
from strideguard.models import StravaSubscription
from strideguard.web.email_pages.routes import csrf_token
from tests.strava.conftest import AppUnderTest, connect_directly

PUBLIC_PATHS = {
    "/connect",
    "/connect/strava",
    "/strava/callback",
    "/connect/email",
    "/connect/status",
    "/strava/webhook",
    "/strava/webhook/{secret}",
    "/strava/disconnect",
    "/email/unsubscribe",
    "/email/mute",
    "/email/pause",
    "/email/preferences",
    "/email/back-pain",
    "/email/back-pain/thanks",
    "/email/channels",
    "/email/channels/add",
    "/email/channels/remove",
    "/healthz",
}
EXAMPLES_PER_OPERATION = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 5}
TEXT = {"type": "string", "maxLength": 60}


def _token_or_junk(genuine: str) -> dict[str, Any]:
    return {"anyOf": [{"enum": [genuine]}, TEXT]}


def _form(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": fields}
            }
        },
    }


def _complete(
    schema: dict[str, Any],
    tokens: dict[Purpose, str],
    csrf: str,
    checkin_csrf: str,
    secret: str,
) -> dict[str, Any]:
    """The app's schema plus the inputs its hand-parsing handlers read."""
    schema = copy.deepcopy(schema)
    paths = schema["paths"]
    for purpose in ("unsubscribe", "mute", "pause", "preferences"):
        path = paths[f"/email/{purpose}"]
        token = _token_or_junk(tokens[purpose])
        path["get"]["parameters"] = [
            {"name": "token", "in": "query", "schema": token},
            {"name": "weeks", "in": "query", "schema": TEXT},
        ]
        fields: dict[str, Any] = {"token": token}
        if purpose == "unsubscribe":
            fields["List-Unsubscribe"] = {"anyOf": [{"enum": ["One-Click"]}, TEXT]}
        if purpose == "pause":
            fields["weeks"] = TEXT
        if purpose == "preferences":
            fields |= {
                "csrf": _token_or_junk(csrf),
                "email": TEXT,
                "units": {"anyOf": [{"enum": ["km", "mi"]}, TEXT]},
                "timezone": {"anyOf": [{"enum": ["Europe/Oslo", "UTC"]}, TEXT]},
                "subscribed": TEXT,
                "pause_weeks": TEXT,
                "muted_rules": {"type": "array", "items": TEXT, "maxItems": 5},
            }
        path["post"]["requestBody"] = _form(fields)
    checkin = _token_or_junk(tokens["checkin"])
    for path in ("/email/back-pain", "/email/back-pain/thanks"):
        paths[path]["get"]["parameters"] = [
            {"name": "token", "in": "query", "schema": checkin},
            {"name": "score", "in": "query", "schema": TEXT},
        ]
    paths["/email/back-pain"]["post"]["requestBody"] = _form(
        {
            "token": checkin,
            "csrf": _token_or_junk(checkin_csrf),
            "score": {"anyOf": [{"enum": ["0", "4", "10"]}, TEXT]},
            "note": {"type": "string", "maxLength": 1200},
        }
    )
    ids = {"type": "integer"}
    webhook_body = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "aspect_type": {"enum": ["create", "update", "delete"]},
                        "object_type": {"enum": ["activity", "athlete"]},
                        "event_time": ids,
                        "object_id": ids,
                        "owner_id": ids,
                        "subscription_id": {"anyOf": [{"enum": [SUBSCRIPTION_ID]}, ids]},
                        "updates": {"type": "object", "additionalProperties": TEXT},
                    },
                    "required": [
                        "aspect_type",
                        "object_type",
                        "event_time",
                        "object_id",
                        "owner_id",
                        "subscription_id",
                    ],
                }
            }
        },
    }
    paths["/strava/webhook"]["post"]["requestBody"] = webhook_body
    with_secret = paths["/strava/webhook/{secret}"]
    for method in ("get", "post"):
        with_secret[method]["parameters"][0]["schema"] = _token_or_junk(secret)
    with_secret["post"]["requestBody"] = webhook_body
    return schema


SUBSCRIPTION_ID = 120475


@pytest.fixture
def fuzzed_app(
    app: AppUnderTest, ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> tuple[AppUnderTest, dict[str, Any]]:
    athlete_id = connect_directly(ctx, sim)
    with sessions.begin() as session:
        session.add(StravaSubscription(subscription_id=SUBSCRIPTION_ID, callback_url="x"))
    tokens: dict[Purpose, str] = {
        purpose: make_link_token(
            athlete_id,
            purpose,
            ctx.settings,
            {"rule_id": "no_rest_day"} if purpose == "mute" else None,
        )
        for purpose in ("unsubscribe", "mute", "pause", "preferences", "checkin")
    }
    schema = _complete(
        app.app.openapi(),
        tokens,
        csrf_token(tokens["preferences"], ctx.settings),
        csrf_token(tokens["checkin"], ctx.settings),
        webhook_secret(ctx.settings),
    )
    return app, schema


def test_public_routes_are_in_the_schema(fuzzed_app: tuple[AppUnderTest, dict[str, Any]]) -> None:
    app, _ = fuzzed_app
    assert set(app.app.openapi()["paths"]) >= PUBLIC_PATHS


# The fuzzer is about the app's handling of input; the database's own limits are attacked
# on both databases in test_webhook_attacks.py, so one database keeps this test quick.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_no_public_endpoint_answers_500(fuzzed_app: tuple[AppUnderTest, dict[str, Any]]) -> None:
    app, completed = fuzzed_app
    schema = schemathesis.openapi.from_dict(completed)
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operations.append(result.ok())
    assert {op.path for op in operations} == PUBLIC_PATHS
    for operation in operations:
        spec = completed["paths"][operation.path][operation.method.lower()]
        takes_input = bool(spec.get("parameters") or spec.get("requestBody"))
        modes = [GenerationMode.POSITIVE] + [GenerationMode.NEGATIVE] * takes_input
        for mode in modes:

            @settings(
                max_examples=EXAMPLES_PER_OPERATION[mode],
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case: Any) -> None:
                response = case.call(app=app.app)
                assert response.status_code < 500, (
                    f"{case.method} {case.path} answered {response.status_code}: "
                    f"query={case.query} body={case.body!r}\n{response.text[:500]}"
                )

            fuzz()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_pause_weeks_that_only_look_numeric_are_handled(
    fuzzed_app: tuple[AppUnderTest, dict[str, Any]],
) -> None:
    """Found by reading what the fuzzer could not reach: str.isdigit() accepts "²", which
    int() refuses, and int() refuses more than 4,300 digits."""
    app, completed = fuzzed_app
    token = completed["paths"]["/email/pause"]["get"]["parameters"][0]["schema"]["anyOf"][0]
    genuine = token["enum"][0]
    with TestClient(app.app) as client:
        for weeks in ("\u00b2", "\u0663", "1" * 5000, "-1", "+4", " 4", "4.0"):
            page = client.get("/email/pause", params={"token": genuine, "weeks": weeks})
            assert page.status_code == 200, weeks
            assert '<option value="2" selected>' in page.text, weeks  # the default choice
            refused = client.post("/email/pause", data={"token": genuine, "weeks": weeks})
            assert refused.status_code == 400, weeks
            assert "Choose how long to pause" in html.unescape(refused.text), weeks
