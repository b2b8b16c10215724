"""Settings: defaults for the embedded run, one readable line for every bad value."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from strideguard.settings import SettingsError, load_settings

FERNET_KEY = Fernet.generate_key().decode()


def test_defaults_are_the_embedded_run(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        settings = load_settings()
    assert settings.database_url == "sqlite:///var/strideguard.db"
    assert settings.redis_url is None
    assert settings.embedded
    assert settings.strava_base_url == "https://www.strava.com"
    assert "TOKEN_ENCRYPTION_KEY is not set" in caplog.text


def test_generated_local_keys_survive_a_restart() -> None:
    first = load_settings()
    second = load_settings()
    assert first.fernet_key() == second.fernet_key()
    assert first.signing_key() == second.signing_key()
    Fernet(first.fernet_key())  # a usable key
    assert Path("var/token.key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DATABASE_URL", "mysql://db/x", "setting DATABASE_URL: scheme 'mysql' is not supported"),
        ("REDIS_URL", "http://localhost", "setting REDIS_URL: must start with redis://"),
        ("SMTP_URL", "mail.example.com", "setting SMTP_URL: must look like smtp://"),
        ("STRAVA_BASE_URL", "www.strava.com", "setting STRAVA_BASE_URL: must be an absolute"),
        ("STRAVA_CLIENT_ID", "abc", "setting STRAVA_CLIENT_ID: Input should be a valid integer"),
        ("TOKEN_ENCRYPTION_KEY", "short", "setting TOKEN_ENCRYPTION_KEY: is not a Fernet key"),
        ("RETENTION_DAYS", "0", "setting RETENTION_DAYS: Input should be greater than or equal"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as excinfo:
        load_settings()
    message = str(excinfo.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_servers_configured_require_real_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db/strideguard")
    with pytest.raises(SettingsError, match="setting TOKEN_ENCRYPTION_KEY: required outside"):
        load_settings()
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEY", FERNET_KEY)
    with pytest.raises(SettingsError, match="setting SECRET_KEY: required outside"):
        load_settings()
    monkeypatch.setenv("SECRET_KEY", "s" * 40)
    settings = load_settings()
    assert settings.database_url == "postgresql+psycopg://app@db/strideguard"
    assert not settings.embedded


def test_dotenv_file_is_read_and_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text("STRAVA_CLIENT_ID=4242\nPUBLIC_BASE_URL=https://sg.example.org/\n")
    monkeypatch.setenv("STRAVA_CLIENT_ID", "99")
    settings = load_settings()
    assert settings.strava_client_id == 99
    assert settings.public_base_url == "https://sg.example.org"


def test_local_strava_stand_in_url_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRAVA_BASE_URL", "http://127.0.0.1:8123")
    assert load_settings().strava_base_url == "http://127.0.0.1:8123"


def test_secrets_are_hidden_from_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRAVA_CLIENT_SECRET", "topsecretvalue")
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEY", FERNET_KEY)
    text = repr(load_settings())
    assert "topsecretvalue" not in text
    assert FERNET_KEY not in text
