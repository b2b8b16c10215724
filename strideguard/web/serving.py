"""How `serve` and `web` run the app under uvicorn, in one place.

uvicorn believes X-Forwarded-For from 127.0.0.1 by default, so anyone who could reach the port
from the machine chose their own client address with a header (rotating it escaped the admin
login throttle). Forwarded headers are believed only from the proxies TRUSTED_PROXIES names;
with none named, uvicorn's proxy-header handling is off altogether.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from strideguard.settings import Settings


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy-header options for `settings`."""
    trusted = settings.trusted_proxy_list
    if not trusted:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted}


def run(app: FastAPI, settings: Settings, host: str, port: int) -> None:
    """Serve `app` until stopped (logging is ours: uvicorn's own config is off)."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_config=None, **proxy_options(settings))
