"""Strava tokens at rest: after a real connect, no table holds a token in the clear, and the
stored ciphertext opens with the configured TOKEN_ENCRYPTION_KEY and no other key.

tests/strava/test_tokens.py reads the one column through the ORM's own connection; here the
whole database is read with plain SQL, as someone holding a backup would read it.
"""

from __future__ import annotations

import base64
import contextlib

import pytest
from cryptography.fernet import Fernet, InvalidToken
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from strideguard.crypto import TokenCipher, TokenKeyError
from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.http import make_client
from strideguard.integrations.strava.simulator import Simulator
from strideguard.integrations.strava.tokens import access_token
from strideguard.models import Base
from tests.strava.conftest import RUNNER, follow_back, strava_round_trip


def _every_stored_value(engine: Engine) -> bytes:
    """Every value of every row of every table, as bytes, read with plain SQL."""
    values: list[bytes] = []
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(text(f'SELECT * FROM "{table.name}"')):
                for value in row:
                    raw = value if isinstance(value, bytes | memoryview) else str(value).encode()
                    values.append(bytes(raw))
    return b"\n".join(values)


def _shapes(token: str) -> list[bytes]:
    """The token as text, and the other ways a careless store could write it."""
    plain = token.encode()
    shapes = [plain, base64.b64encode(plain), base64.urlsafe_b64encode(plain)]
    with contextlib.suppress(ValueError):
        shapes.append(bytes.fromhex(token))
    return shapes


def test_no_table_holds_a_token_and_only_the_configured_key_opens_them(
    browser: TestClient,
    ctx: StravaContext,
    sim: Simulator,
    engine: Engine,
    sessions: sessionmaker[Session],
) -> None:
    assert follow_back(browser, strava_round_trip(browser)).status_code == 200
    with engine.connect() as connection:
        athlete_id, sealed_access, sealed_refresh = connection.execute(
            text("SELECT athlete_id, access_token_enc, refresh_token_enc FROM strava_connections")
        ).one()
    key = ctx.settings.fernet_key()
    access = Fernet(key).decrypt(bytes(sealed_access)).decode()
    refresh = Fernet(key).decrypt(bytes(sealed_refresh)).decode()
    # they are the live tokens Strava issued: the access token reads the athlete
    assert make_client(sim.base_url, access).get_athlete().id == RUNNER
    assert access != refresh

    stored = _every_stored_value(engine)
    for token in (access, refresh):
        for shape in _shapes(token):
            assert shape not in stored

    other_key = Fernet.generate_key()
    for sealed in (sealed_access, sealed_refresh):
        with pytest.raises(InvalidToken):
            Fernet(other_key).decrypt(bytes(sealed))
        with pytest.raises(TokenKeyError):
            TokenCipher(other_key).open(bytes(sealed))

    # the app itself, configured with another key, cannot use them (and says why)
    ctx.settings = ctx.settings.model_copy(update={"token_encryption_key": other_key.decode()})
    calls = len(sim.requests)
    with pytest.raises(TokenKeyError, match="TOKEN_ENCRYPTION_KEY"):
        access_token(ctx, athlete_id)
    assert len(sim.requests) == calls  # nothing was sent to Strava with a garbled token
