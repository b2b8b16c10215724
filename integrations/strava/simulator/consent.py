"""The consent page a runner sees on the simulated strava.com: scopes as checkboxes."""

from __future__ import annotations

from html import escape

from strideguard.integrations.strava.simulator.grants import SCOPES

SCOPE_TEXT = {
    "read": "View data about your public segments, routes and profile (always granted)",
    "read_all": "View data about your private routes, segments and events",
    "profile:read_all": "View your complete Strava profile",
    "profile:write": "Update your weight, FTP and star segments",
    "activity:read": "View data about your activities (except those visible only to you)",
    "activity:read_all": "View data about your private activities",
    "activity:write": "Upload activities and edit activities you can see",
}


def consent_page(
    *,
    hidden: dict[str, str],
    requested: frozenset[str],
    athletes: list[tuple[int, str]],
    signed_in: int,
) -> str:
    """The form posts back to /oauth/authorize with the ticked scopes and the decision."""
    fields = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in hidden.items()
    )
    boxes = "".join(
        f'<li><label><input type="checkbox" name="scope" value="{s}" checked'
        f"{' disabled' if s == 'read' else ''}> {escape(SCOPE_TEXT[s])}</label></li>"
        for s in SCOPES
        if s in requested
    )
    options = "".join(
        f'<option value="{i}"{" selected" if i == signed_in else ""}>{escape(name)}</option>'
        for i, name in athletes
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>Authorize application | Strava simulator</title></head><body>"
        "<h1>Authorize strideguard to connect to Strava</h1>"
        '<form method="post" action="/oauth/authorize">'
        f"{fields}"
        f'<p><label>Signed in as <select name="athlete_id">{options}</select></label></p>'
        f"<ul>{boxes}</ul>"
        '<button type="submit" name="decision" value="authorize">Authorize</button> '
        '<button type="submit" name="decision" value="cancel">Cancel</button>'
        "</form></body></html>"
    )
