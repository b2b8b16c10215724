"""A runner without Strava, in a real browser at phone width, signs in by the emailed link,
uploads their watch's files and reads what was imported and what was not (SQLite and
PostgreSQL, the app over HTTP with its in-process worker, mail through SMTP into the sink)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from playwright.sync_api import Browser
from sqlalchemy import func, select

from strideguard.db import make_engine, make_sessionmaker
from strideguard.mailsink import OutboxSink
from strideguard.models import Activity, Athlete, FileImport
from strideguard.settings import Settings
from strideguard.web.app import create_app
from strideguard.web.live import LiveServer, free_port
from strideguard.web.worker_seam import attach_worker
from tests.e2e.test_runner_page import PHONE, _check_layout_and_contrast
from tests.files.writers import RunSpec, fit_bytes, tcx_bytes, write
from tests.runner.conftest import signin_links

EMAIL = "fiona@example.org"
START = (dt.datetime.now(dt.UTC) - dt.timedelta(days=4)).replace(hour=6, minute=5, second=0)


def test_a_runner_without_strava_uploads_files_and_sees_the_result(
    app_settings: Settings, browser: Browser, artifacts: Path, tmp_path: Path
) -> None:
    port = free_port()
    files = [
        write(tmp_path / "picked" / "long-run.fit", fit_bytes(RunSpec(START, 18_000, 6000))),
        write(
            tmp_path / "picked" / "tempo.tcx.gz",
            tcx_bytes(RunSpec(START + dt.timedelta(days=2), 9_000, 2700)),
            gzipped=True,
        ),
        write(tmp_path / "picked" / "garbled.gpx", b"<gpx><trk>no times here"),
    ]
    with OutboxSink(tmp_path / "mail") as sink:
        settings = app_settings.model_copy(
            update={
                "public_base_url": f"http://127.0.0.1:{port}",
                "smtp_url": sink.smtp_url,
                "upload_dir": tmp_path / "uploads",
            }
        )
        sessions = make_sessionmaker(make_engine(settings.database_url))
        with sessions.begin() as session:
            athlete = Athlete(firstname="Fiona", email=EMAIL, timezone="Europe/Oslo")
            session.add(athlete)
            session.flush()
            athlete_id = athlete.id
        app = create_app(settings)
        attach_worker(app, settings, with_scheduler=False)
        with LiveServer(app, port=port) as server:
            page = browser.new_page(viewport=PHONE)
            page.goto(f"{server.url}/connect#files")
            assert "Upload your files instead" in page.inner_text("main")
            page.goto(f"{server.url}/signin")
            page.fill("input[name=email]", EMAIL)
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r"/signin\?sent=1$"))
            page.goto(signin_links(sink)[-1])
            page.wait_for_url(f"{server.url}/me")

            page.set_input_files("#files", [str(path) for path in files])
            page.click("text=Upload and import")
            page.wait_for_url(re.compile(r"/me\?saved=upload#import$"))
            assert "Upload received" in page.inner_text("main")
            for _ in range(100):  # the worker thread imports meanwhile; the runner reloads
                if "2 imported" in page.inner_text("#import ~ .import-result"):
                    break
                page.wait_for_timeout(300)
                page.goto(f"{server.url}/me")
            result = page.inner_text(".import-result")
            assert "2 imported, 0 already here, 1 could not be read" in result
            problems = page.inner_text(".import-problems")
            assert problems.startswith("garbled.gpx: not a readable GPX file")  # no server path
            _check_layout_and_contrast(page, PHONE)
            page.screenshot(path=str(artifacts / "runner-upload-390.png"), full_page=True)

            page.go_back()  # back to the page the form was posted from, then a refresh:
            page.reload()  # the browser gets the page again, and nothing is uploaded twice
        for handler in app.router.on_shutdown:
            handler()
    with sessions() as session:
        stored = session.scalar(
            select(func.count()).select_from(Activity).where(Activity.athlete_id == athlete_id)
        )
        uploads = session.scalar(select(func.count()).select_from(FileImport))
    assert stored == 2
    assert uploads == 1
    assert list((tmp_path / "uploads").iterdir()) == []
