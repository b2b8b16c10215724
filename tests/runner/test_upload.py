"""The runner page's upload form: the signed-in runner's files, streamed to a private folder,
queued for the import job, and the last import's result on /me (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from strideguard.mailsink import OutboxSink
from strideguard.models import Activity, FileImport
from strideguard.settings import Settings, get_settings
from strideguard.status import ImportStatus
from strideguard.web.app import create_app
from tests.files.writers import RunSpec, fit_bytes, gpx_bytes
from tests.runner.signing_in import sign_in
from tests.worker.waiting import wait_for

START = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).replace(
    hour=4, minute=17, second=0, microsecond=0
)
FIT_RUN = RunSpec(start=START, distance_m=8000, moving_s=2700)
GPX_RUN = RunSpec(start=START + dt.timedelta(days=1), distance_m=5000, moving_s=1700)


@pytest.fixture
def upload_settings(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("UPLOAD_MAX_BYTES", str(2 * 2**20))
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def web(upload_settings: Settings) -> Iterator[TestClient]:
    """The app with its in-process worker, as `strideguard web` without Redis runs it."""
    from strideguard.web.worker_seam import attach_worker

    app = create_app(upload_settings)
    attach_worker(app, upload_settings, with_scheduler=False)
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client
    app.state.engine.dispose()


def _left(settings: Settings) -> list[Path]:
    """What uploads left on disk (the folder itself is made by the first upload read)."""
    folder = settings.upload_dir
    return list(folder.iterdir()) if folder.exists() else []


def _csrf(html: str) -> str:
    return html.split('name="csrf" value="')[1].split('"')[0]


def _upload(web: TestClient, files: list[tuple[str, bytes]], csrf: str | None = None) -> int:
    token = csrf if csrf is not None else _csrf(web.get("/me").text)
    answer = web.post(
        "/me/upload",
        data={"csrf": token},
        files=[("files", (name, content, "application/octet-stream")) for name, content in files],
        follow_redirects=False,
    )
    if answer.status_code == 303:
        assert answer.headers["location"] == "/me?saved=upload#import"
    return int(answer.status_code)


def _finished(db: sessionmaker[Session], count: int) -> bool:
    with db() as session:
        done = session.scalar(
            select(func.count())
            .select_from(FileImport)
            .where(FileImport.status != ImportStatus.QUEUED)
        )
    return done == count


def _file_rows(db: sessionmaker[Session], athlete_id: int) -> int:
    with db() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Activity)
                .where(Activity.athlete_id == athlete_id, Activity.source == "file")
            )
            or 0
        )


def test_uploaded_files_are_imported_and_the_page_shows_what_happened(
    web: TestClient,
    sink: OutboxSink,
    runner: int,
    db: sessionmaker[Session],
    upload_settings: Settings,
) -> None:
    sign_in(web, sink)
    page = web.get("/me")
    assert 'enctype="multipart/form-data"' in page.text
    assert "Up to 2 MB in one upload" in page.text
    files = [
        ("morning.fit", fit_bytes(FIT_RUN)),
        ("evening.gpx", gpx_bytes(GPX_RUN)),
        ("broken.fit", b"\x0e\x10not a fit file at all"),
    ]
    assert _upload(web, files) == 303
    wait_for(lambda: _finished(db, 1), what="the upload's import")
    assert _file_rows(db, runner) == 2
    shown = web.get("/me").text
    assert "2 imported, 0 already here, 1 could not be read" in shown
    assert "broken.fit" in shown.split("Not imported:")[1].split("</ul>")[0]
    # The upload's private folder is gone once read.
    assert _left(upload_settings) == []

    # The same files again: nothing new, each named as already imported.
    assert _upload(web, files[:2]) == 303
    wait_for(lambda: _finished(db, 2), what="the second import")
    assert _file_rows(db, runner) == 2
    assert "0 imported, 2 already here, 0 could not be read" in web.get("/me").text


def test_an_upload_over_the_limit_is_refused_with_413_and_nothing_kept(
    web: TestClient,
    sink: OutboxSink,
    runner: int,
    db: sessionmaker[Session],
    upload_settings: Settings,
) -> None:
    sign_in(web, sink)
    answer = web.post(
        "/me/upload",
        data={"csrf": _csrf(web.get("/me").text)},
        files=[("files", ("export.zip", b"\0" * (3 * 2**20), "application/zip"))],
        follow_redirects=False,
    )
    assert answer.status_code == 413
    assert "larger than the 2 MB allowed (UPLOAD_MAX_BYTES)" in answer.text
    assert _left(upload_settings) == []
    with db() as session:
        assert session.scalar(select(func.count()).select_from(FileImport)) == 0


def test_a_forged_or_stale_form_uploads_nothing(
    web: TestClient,
    sink: OutboxSink,
    runner: int,
    db: sessionmaker[Session],
    upload_settings: Settings,
) -> None:
    signed_out = web.post(
        "/me/upload", files=[("files", ("a.fit", fit_bytes(FIT_RUN)))], follow_redirects=False
    )
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == "/signin"
    sign_in(web, sink)
    assert _upload(web, [("a.fit", fit_bytes(FIT_RUN))], csrf="forged") == 403
    assert _upload(web, []) == 400  # no file chosen
    assert _left(upload_settings) == []
    with db() as session:
        assert session.scalar(select(func.count()).select_from(FileImport)) == 0
    assert _file_rows(db, runner) == 0


def test_an_upload_where_imports_are_not_running_is_refused_with_503(
    client: TestClient, sink: OutboxSink, runner: int, db: sessionmaker[Session]
) -> None:
    """The app without the worker seam: nothing would run the import, so nothing is queued."""
    sign_in(client, sink)
    answer = client.post(
        "/me/upload",
        data={"csrf": _csrf(client.get("/me").text)},
        files=[("files", ("a.fit", fit_bytes(FIT_RUN)))],
        follow_redirects=False,
    )
    assert answer.status_code == 503
    assert "Imports are not running here; try again later." in answer.text
    with db() as session:
        assert session.scalar(select(func.count()).select_from(FileImport)) == 0
