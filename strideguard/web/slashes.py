"""Trailing-slash redirects that point only at PUBLIC_BASE_URL, never at the Host header.

Starlette's router redirects `/email/preferences/?token=…` to the same path without the slash,
building the Location from the Host header the client sent. A Host the operator never
configured (`evil.example`) then came back as `http://evil.example/email/preferences?token=…`,
a redirect that hands a link token to whoever answers for that name, and a poisoned cache or
a careless proxy can serve it to a runner. So the router's own redirect is switched off, and a
404 whose path is a route once its trailing slash is added or dropped redirects to that route
on PUBLIC_BASE_URL, the one origin the operator named.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match


def redirect_slashes_to(app: FastAPI, public_base_url: str) -> None:
    """Replace the router's Host-based slash redirect with one to `public_base_url`."""
    app.router.redirect_slashes = False

    async def not_found(request: Request, exc: Exception) -> Response:
        target = _twin_path(request, app.router.routes)
        if target is not None:
            query = request.url.query
            return RedirectResponse(f"{public_base_url}{target}{'?' + query if query else ''}")
        # Registered for status 404, so Starlette passes an HTTPException: keep its detail.
        return await http_exception_handler(
            request, exc if isinstance(exc, HTTPException) else HTTPException(404)
        )

    app.add_exception_handler(404, not_found)


def _twin_path(request: Request, routes: list[BaseRoute]) -> str | None:
    """The request's path with its trailing slash toggled, if that (and not it) is a route."""
    path: str = request.scope["path"]
    if request.scope["type"] != "http" or path == "/" or _matches(request, routes, path):
        return None
    twin = path.rstrip("/") if path.endswith("/") else path + "/"
    return twin if _matches(request, routes, twin) else None


def _matches(request: Request, routes: list[BaseRoute], path: str) -> bool:
    scope = {**request.scope, "path": path}
    return any(route.matches(scope)[0] is not Match.NONE for route in routes)
