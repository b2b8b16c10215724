"""The checks for a runner added by hand (no Strava): address, name, zone and units.

One place, so the CLI's `athlete add` and a later sign-up form refuse the same input with the
same words.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from strideguard.email_address import EmailAddressError, check_email_address

UNITS = ("km", "mi")
MAX_NAME = 100


def new_athlete_fields(email: str, name: str, timezone: str, units: str) -> dict[str, Any]:
    """The `Athlete` columns to write; ValueError names the option and what to give instead."""
    try:
        address = check_email_address(email)
    except EmailAddressError as exc:
        raise ValueError(f"--email: {exc}") from exc
    firstname = name.strip()
    if not firstname or len(firstname) > MAX_NAME:
        raise ValueError(f"--name: give the runner's name, 1 to {MAX_NAME} characters")
    if timezone not in available_timezones():
        raise ValueError(
            f"--timezone: {timezone!r} is not an IANA zone; use a name such as Europe/Oslo"
        )
    try:
        ZoneInfo(timezone)
    except ZoneInfoNotFoundError as exc:  # listed but not loadable: a broken tzdata
        raise ValueError(f"--timezone: {timezone!r} cannot be loaded ({exc})") from exc
    if units not in UNITS:
        raise ValueError(f"--units: {units!r} is not one of km, mi")
    return {"email": address, "firstname": firstname, "timezone": timezone, "units": units}
