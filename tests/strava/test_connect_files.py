"""/connect tells a runner who will not use Strava how to upload files instead, honestly:
an account is made for a checked address, then the emailed link and the upload form."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_connect_page_explains_how_to_upload_files_instead(browser: TestClient) -> None:
    page = browser.get("/connect")
    assert page.status_code == 200
    section = page.text.split('<h2 id="files">', 1)[1]
    assert section.startswith("Not on Strava? Upload your files instead")
    assert "strideguard athlete add --email ADDRESS --name NAME" in section
    assert 'href="/signin"' in section
    assert "Import your own files" in section
    assert "never the map" in section
