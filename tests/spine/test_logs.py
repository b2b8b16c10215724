"""Log lines never carry a token or password, whatever shape the secret arrives in."""

from __future__ import annotations

import logging

import pytest

from strideguard.logs import RedactingFormatter, redact

SECRET = "deadbeefd7ab44704fb2a146bd98c7a349a2b43d"


@pytest.mark.parametrize(
    "line",
    [
        f"POST /oauth/token refresh_token={SECRET}&grant_type=refresh_token",
        f'{{"access_token": "{SECRET}", "expires_at": 1}}',
        f"Authorization: Bearer {SECRET}",
        f"client_secret={SECRET}",
        f"stored gAAAAAB{SECRET}{SECRET}",
        f"code={SECRET}&scope=read",
        f'"GET /email/unsubscribe?token={SECRET} HTTP/1.1" 200',
        f"GET /strava/callback?state={SECRET}&code=abc",
        f"csrf={SECRET}",
    ],
)
def test_secrets_are_replaced(line: str) -> None:
    cleaned = redact(line)
    assert SECRET not in cleaned
    assert "***" in cleaned


def test_ordinary_text_is_untouched() -> None:
    line = "evaluated week 2025-10-13 for athlete 42: 2 rules fired"
    assert redact(line) == line


def test_formatter_adds_context_and_redacts() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, f"refresh_token={SECRET}", (), None)
    record.athlete_id = 42
    record.job_id = "abc"
    line = RedactingFormatter("%(message)s").format(record)
    assert line == "refresh_token=*** athlete_id=42 job_id=abc"
