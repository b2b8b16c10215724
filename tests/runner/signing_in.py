"""Signing in as the seeded runner through the real email link."""

from __future__ import annotations

from fastapi.testclient import TestClient

from strideguard.mailsink import OutboxSink
from tests.runner.conftest import signin_links
from tests.runner.history import EMAIL


def ask_for_link(client: TestClient, address: str = EMAIL) -> int:
    answer = client.post("/signin", data={"email": address}, follow_redirects=False)
    return int(answer.status_code)


def path_of(link: str) -> str:
    return link.replace("https://testserver", "")


def sign_in(client: TestClient, sink: OutboxSink) -> None:
    assert ask_for_link(client) == 303
    opened = client.get(path_of(signin_links(sink)[-1]), follow_redirects=False)
    assert opened.status_code == 303
    assert opened.headers["location"] == "/me"
