"""Which class implements each kind of activity source and channel, imported on first use.

In the manner of healthchecks' transport registry: a kind names a dotted class path, so
adding a source or a channel is one folder under `integrations/` and one line here, and the
pipeline never imports a plug-in (nor pays for one it does not use).
"""

from __future__ import annotations

import importlib
from typing import Any

SOURCES = {
    "strava": "strideguard.integrations.strava.source.StravaSource",
    "files": "strideguard.integrations.files.source.FileSource",
}
CHANNELS = {
    "email": "strideguard.integrations.email.channel.EmailChannel",
    "apprise": "strideguard.integrations.apprise.channel.AppriseChannel",
}
# How a per-run alert becomes each channel's message (a `Delivery`); see run_alert_send.py.
ALERT_MESSAGES = {
    "email": "strideguard.integrations.email.alert_email.EmailAlerts",
}


def plugin_class(registry: dict[str, str], kind: str) -> Any:
    """The class registered for `kind`; a kind nobody registered is a clear error."""
    try:
        path = registry[kind]
    except KeyError:
        known = ", ".join(sorted(registry))
        raise LookupError(f"no plug-in of kind {kind!r} (known: {known})") from None
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)
