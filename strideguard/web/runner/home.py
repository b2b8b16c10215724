"""The home page, and the one stylesheet every page of the app links."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from strideguard.web.runner.common import page

router = APIRouter(include_in_schema=False)
STYLESHEET = Path(__file__).resolve().parents[1] / "static" / "style.css"


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    return page(request, "home.html")


@router.get("/static/style.css")
def stylesheet() -> Response:
    # An hour: a restyle reaches browsers soon after a deploy, without a fetch on every page.
    return FileResponse(
        STYLESHEET, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
    )
