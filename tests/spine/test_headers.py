"""Every page refuses framing, keeps its URL out of Referer headers and is not sniffed."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from strideguard.settings import Settings
from strideguard.web.app import create_app


@pytest.mark.parametrize("path", ["/connect", "/admin/login", "/healthz", "/email/unsubscribe"])
def test_pages_carry_the_safe_headers(app_settings: Settings, path: str) -> None:
    response = TestClient(create_app(app_settings)).get(path)
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_no_docs_ui_that_would_load_scripts_from_a_cdn(app_settings: Settings) -> None:
    client = TestClient(create_app(app_settings))
    assert client.get("/docs").status_code == 404
    assert client.get("/openapi.json").status_code == 200
