"""Checking a submitted preferences form, before anything is written.

Pure: the form goes in, either a complete `PreferenceChange` or a list of field errors comes
out, so a bad time zone or email changes nothing at all.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from strideguard.email_address import EmailAddressError, check_email_address

PAUSE_CHOICES = (1, 2, 4, 8, 12)  # weeks
MAX_PAUSE_WEEKS = max(PAUSE_CHOICES)


@dataclass(frozen=True)
class PreferenceChange:
    email: str
    units: str
    timezone: str
    muted_rules: list[str]
    subscribed: bool
    # None: leave the pause as it is; 0: resume now; n: pause n weeks from today.
    pause_weeks: int | None


@lru_cache(maxsize=1)
def known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def parse_pause_weeks(raw: str) -> int | None:
    """ "keep" -> None, "0" -> resume, "1".."12" -> weeks; ValueError otherwise."""
    if raw in ("", "keep"):
        return None
    weeks = int(raw)  # ValueError for junk, which the caller reports
    if not 0 <= weeks <= MAX_PAUSE_WEEKS:
        raise ValueError(f"pause must be 0 to {MAX_PAUSE_WEEKS} weeks")
    return weeks


def pause_until(today: dt.date, weeks: int) -> dt.date:
    """The last day a pause of `weeks` starting today covers (today counts as day one).

    The worker sends nothing about any training week that touches this period
    (worker/notifier/channel.py, `mail_blocked_reason`).
    """
    return today + dt.timedelta(weeks=weeks, days=-1)


def check_preferences(
    form: Mapping[str, str], muted: Sequence[str], rule_ids: Iterable[str]
) -> PreferenceChange | dict[str, str]:
    """The change the form asks for, or {field: what is wrong and how to fix it}."""
    errors: dict[str, str] = {}
    email: str | None = None
    try:
        email = check_email_address(form.get("email", ""))
    except EmailAddressError as problem:
        errors["email"] = str(problem)
    units = form.get("units", "")
    if units not in ("km", "mi"):
        errors["units"] = "Choose kilometres or miles."
    timezone = form.get("timezone", "").strip()
    if timezone not in known_timezones():
        errors["timezone"] = (
            f"{timezone or 'An empty value'!r} is not a time zone we know. Use a name from the "
            "list, such as Europe/London or America/New_York."
        )
    allowed = set(rule_ids)
    unknown = sorted(set(muted) - allowed)
    if unknown:
        errors["muted_rules"] = f"Unknown alert types: {', '.join(unknown)}. Reload the page."
    try:
        pause_weeks = parse_pause_weeks(form.get("pause_weeks", "keep"))
    except ValueError:
        errors["pause_weeks"] = "Choose one of the pause options in the list."
        pause_weeks = None
    if errors or email is None:
        return errors
    return PreferenceChange(
        email=email,
        units=units,
        timezone=timezone,
        muted_rules=sorted(set(muted)),
        subscribed=form.get("subscribed") == "on",
        pause_weeks=pause_weeks,
    )
