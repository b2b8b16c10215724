"""The web app: one FastAPI instance that mounts each box's routes.

The spine only assembles; the Strava and notifier routes live with their boxes.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from strideguard.db import make_engine
from strideguard.integrations.strava.routes import router as strava_router
from strideguard.integrations.strava.webhook_routes import router as strava_webhook_router
from strideguard.services import Services
from strideguard.settings import Settings
from strideguard.web import admin, admin_athletes, channel_routes
from strideguard.web.email_pages.checkin_routes import router as checkin_router
from strideguard.web.email_pages.routes import Refusal, refusal_page
from strideguard.web.email_pages.routes import router as notifier_router
from strideguard.web.headers import SecurityHeaders
from strideguard.web.runner import home, me, signin, upload
from strideguard.web.slashes import redirect_slashes_to


def create_app(settings: Settings) -> FastAPI:
    # No interactive docs: they load scripts from a CDN; the schema stays at /openapi.json.
    app = FastAPI(title="strideguard", version="0.1.0", docs_url=None, redoc_url=None)
    app.add_middleware(SecurityHeaders)
    redirect_slashes_to(app, settings.public_base_url)
    engine = make_engine(settings.database_url)
    Services.install(app.state, settings, engine)
    app.include_router(admin.router)
    app.include_router(admin_athletes.router)
    app.include_router(strava_router)
    app.include_router(strava_webhook_router)
    app.include_router(notifier_router)
    app.include_router(checkin_router)
    app.include_router(channel_routes.router)
    app.include_router(home.router)
    app.include_router(signin.router)
    app.include_router(me.router)
    app.include_router(upload.router)
    app.add_exception_handler(Refusal, refusal_page)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> JSONResponse:
        """Liveness plus a database round trip, for compose healthchecks."""
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # any DB failure means "not healthy"
            return JSONResponse({"status": "error", "database": type(exc).__name__}, 503)
        return JSONResponse({"status": "ok"})

    return app
