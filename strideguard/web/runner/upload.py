"""POST /me/upload: the signed-in runner's FIT/GPX/TCX files or Strava export ZIP, queued for
the same import job `strideguard import` runs (integrations/files/jobs.py).

The body is streamed into an owner-only folder of its own under UPLOAD_DIR (upload_stream.py)
and never unpacked there: the import reads ZIPs in memory, entry by entry, and deletes the
folder when it is done. Only a signed-in runner's upload is read, and only into their own
account; the CSRF token is checked before anything is queued, and a refused upload leaves
nothing behind. Post, redirect, get: the page that follows shows the import's progress, and
refreshing it never uploads again.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from strideguard.integrations.files.import_runs import UPLOAD, open_import
from strideguard.private_files import private_dir
from strideguard.runtime import WorkerRuntime
from strideguard.services import ServicesDep
from strideguard.settings import Settings
from strideguard.web.runner.common import page, see_other, signed_in, token_matches
from strideguard.web.runner.upload_stream import UploadRefused, UploadTooLarge, receive_upload

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
NOT_IMPORTED = "Nothing was imported"


def upload_limit(settings: Settings) -> str:
    """UPLOAD_MAX_BYTES as the page says it."""
    return f"{settings.upload_max_bytes / 2**20:.0f} MB"


def _too_large(request: Request, settings: Settings) -> Response:
    return page(
        request,
        "problem.html",
        413,
        heading=NOT_IMPORTED,
        message=(
            f"This upload is larger than the {upload_limit(settings)} allowed "
            "(UPLOAD_MAX_BYTES). Upload your files in smaller batches, or ask whoever runs "
            "strideguard to import the export with `strideguard import`."
        ),
    )


def _refused(request: Request, status: int, message: str) -> Response:
    return page(request, "problem.html", status, heading=NOT_IMPORTED, message=message)


@router.post("/me/upload", response_class=HTMLResponse)
async def upload(request: Request, services: ServicesDep) -> Response:
    who = signed_in(request, services)
    if who is None:
        return see_other("/signin")
    athlete_id, session_id = who
    settings = services.settings
    runtime = services.optional("worker_runtime", WorkerRuntime)
    if runtime is None:
        return _refused(request, 503, "Imports are not running here; try again later.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.upload_max_bytes:
        return _too_large(request, settings)  # refused before a byte of it is read
    private_dir(settings.upload_dir)
    folder = Path(tempfile.mkdtemp(prefix=f"{athlete_id}-", dir=settings.upload_dir))
    try:
        received = await receive_upload(
            request.headers.get("content-type"),
            request.stream(),
            folder,
            max_bytes=settings.upload_max_bytes,
        )
    except UploadTooLarge:
        shutil.rmtree(folder, ignore_errors=True)
        return _too_large(request, settings)
    except UploadRefused as problem:
        shutil.rmtree(folder, ignore_errors=True)
        return _refused(request, 400, f"{problem}.".capitalize())
    if not token_matches(settings, session_id, received.fields.get("csrf", "")):
        shutil.rmtree(folder, ignore_errors=True)
        return _refused(
            request,
            403,
            "This form has expired (you signed out or in again). Reload the page and retry.",
        )
    if not received.files:
        shutil.rmtree(folder, ignore_errors=True)
        return _refused(request, 400, "No file was chosen. Choose your files, then upload.")
    paths = [str(path) for path in received.files]
    import_id = open_import(services.sessions, athlete_id, UPLOAD, paths, remove_after=str(folder))
    runtime.jobs.import_files(athlete_id, paths, remove_after=str(folder), import_id=import_id)
    log.info(
        "upload queued for import: %d files", len(received.files), extra={"athlete_id": athlete_id}
    )
    return see_other("/me?saved=upload#import")
