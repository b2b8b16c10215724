"""Routes reach the web app's objects through `Depends`, which must stay invisible to clients."""

from __future__ import annotations

from typing import Any

from strideguard.settings import Settings
from strideguard.web.app import create_app


def test_no_route_asks_the_client_for_the_services_it_depends_on(app_settings: Settings) -> None:
    app = create_app(app_settings)
    schema = app.openapi()
    asked: list[str] = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            names = [p["name"] for p in operation.get("parameters", [])]
            body: dict[str, Any] = operation.get("requestBody", {})
            names += list(body.get("content", {}).keys())
            asked += [f"{method.upper()} {path}: {n}" for n in names if n in {"services", "strava"}]
    assert asked == []
    app.state.engine.dispose()
