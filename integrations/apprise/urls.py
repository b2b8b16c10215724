"""Is this an Apprise URL we can deliver to, and what may a page show of it?

Apprise parses a URL into a service object; a URL it cannot parse is refused here with
Apprise's own reason (with the URL taken out of it), in the form and in the CLI alike.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from strideguard.integrations.apprise.quiet import apprise_records, scrub

MAX_URL_CHARS = 2000


class RefusedUrl(ValueError):
    """A URL that cannot become a channel; the message says why and what to do."""


@dataclass(frozen=True)
class ParsedUrl:
    url: str
    label: str  # the service, scheme and host: no token, no password, no path


def parse_url(url: str) -> ParsedUrl:
    """The URL checked by Apprise and labelled, or `RefusedUrl` with the reason."""
    url = url.strip()
    if not url:
        raise RefusedUrl("the URL is empty; paste the Apprise URL of your service")
    if len(url) > MAX_URL_CHARS:
        raise RefusedUrl(f"the URL is longer than {MAX_URL_CHARS} characters")
    if "://" not in url:
        raise RefusedUrl(
            "this is not an Apprise URL: it needs a service scheme such as ntfy://, "
            "tgram:// or discord:// (see https://github.com/caronc/apprise/wiki)"
        )
    service = instantiate(url)
    return ParsedUrl(url, label_of(service))


def instantiate(url: str) -> Any:
    """Apprise's service object for `url`; `RefusedUrl` with Apprise's reason if none."""
    with apprise_records() as records:
        import apprise  # loaded by the processes that use a channel; it logs as it loads

        service = apprise.Apprise.instantiate(url)
    if service is None:
        said = "; ".join(scrub(r.getMessage(), url) for r in records if r.levelname != "DEBUG")
        scheme = url.partition("://")[0]
        raise RefusedUrl(
            f"Apprise cannot use this {scheme}:// URL"
            + (f" ({said})" if said else "")
            + ". Check it against the service's page in the Apprise wiki."
        )
    return service


def label_of(service: Any) -> str:
    """e.g. "Telegram (tgram://…)" or "JSON (json://127.0.0.1:8080)".

    The host is shown only when it is a host name or address; some services keep a bot id
    or a topic where a host would be, and those are the secret.
    """
    scheme = str(service.url().partition("://")[0])
    host = str(service.host or "")
    shown = host if _looks_like_host(host) else "…"
    port = f":{service.port}" if shown != "…" and service.port else ""
    return f"{service.service_name} ({scheme}://{shown}{port})"[:200]


def _looks_like_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        labels = host.split(".")
        return len(labels) > 1 and all(label.replace("-", "").isalnum() for label in labels)
