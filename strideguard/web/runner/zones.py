"""A short list of real time zones for the runner's form, instead of the ~600 IANA names.

The form's text box searches this list with a plain <datalist> (no script); any other valid
IANA name typed in is accepted too, since `check_preferences` validates against them all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from strideguard.times import zone_or_utc

COMMON_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Madrid",
    "Europe/Paris",
    "Europe/Brussels",
    "Europe/Amsterdam",
    "Europe/Berlin",
    "Europe/Zurich",
    "Europe/Rome",
    "Europe/Vienna",
    "Europe/Copenhagen",
    "Europe/Oslo",
    "Europe/Stockholm",
    "Europe/Helsinki",
    "Europe/Warsaw",
    "Europe/Prague",
    "Europe/Athens",
    "Europe/Istanbul",
    "Africa/Johannesburg",
    "Africa/Nairobi",
    "Africa/Lagos",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Hong_Kong",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Perth",
    "Australia/Brisbane",
    "Australia/Sydney",
    "Australia/Melbourne",
    "Pacific/Auckland",
    "America/St_Johns",
    "America/Halifax",
    "America/New_York",
    "America/Toronto",
    "America/Chicago",
    "America/Mexico_City",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Vancouver",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "America/Bogota",
    "America/Santiago",
)


@dataclass(frozen=True)
class ZoneChoice:
    name: str
    label: str  # "Oslo (UTC+01:00)", what the search matches besides the name


def _label(name: str, now: dt.datetime) -> str:
    offset = now.astimezone(ZoneInfo(name)).strftime("%z")
    city = name.rsplit("/", 1)[-1].replace("_", " ")
    return f"{city} (UTC{offset[:3]}:{offset[3:]})"


@lru_cache(maxsize=2)
def _short_list(hour: dt.datetime) -> tuple[ZoneChoice, ...]:
    """Offsets change only at daylight-saving switches, so an hour's labels are reused."""
    return tuple(ZoneChoice(name, _label(name, hour)) for name in COMMON_ZONES)


def zone_choices(current: str, now: dt.datetime) -> list[ZoneChoice]:
    """The runner's own zone first (if it is not on the short list), then the short list."""
    choices = list(_short_list(now.replace(minute=0, second=0, microsecond=0)))
    if current not in COMMON_ZONES and zone_or_utc(current).key == current:
        choices.insert(0, ZoneChoice(current, _label(current, now)))
    return choices
