"""The connected page's account of the first result (strideguard/first_result.py), and the
status page that a browser reloads until the backfill is done.

The status link carries the connect form's signed token (connect_email.py): it names the
athlete, lasts a day, and only the browser that just connected has it.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from strideguard.integrations.strava.connect_email import email_form_token
from strideguard.integrations.strava.context import StravaContext

STATUS_PATH = "/connect/status"
# While the backfill runs (usually seconds), the status page reloads itself this often.
REFRESH_S = 10
METRES_PER = {"km": Decimal(1000), "mi": Decimal("1609.344")}


def status_url(ctx: StravaContext, athlete_id: int, *, saved: bool = False) -> str:
    return f"{STATUS_PATH}?token={email_form_token(ctx, athlete_id)}" + (
        "&saved=1" if saved else ""
    )


def distance(metres: int | float, units: str, *, down: bool = False) -> str:
    """ "12.3 km" in the runner's units; `down` for a ceiling, which must not round up past
    the threshold."""
    unit = units if units in METRES_PER else "km"
    value = (Decimal(str(metres)) / METRES_PER[unit]).quantize(
        Decimal("0.1"), rounding=ROUND_DOWN if down else None
    )
    return f"{value} {unit}"
