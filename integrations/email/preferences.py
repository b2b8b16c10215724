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
    # The three-line note after weeks where nothing fired (integrations/email/notices.py).
    weekly_note: bool
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
    (integrations/email/channel.py, `mail_blocked_reason`).
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
        weekly_note=form.get("weekly_note") == "on",
        pause_weeks=pause_weeks,
    )


def paused_weeks(today: dt.date, until: dt.date) -> list[dt.date]:
    """The Mondays of the training weeks a pause lasting to `until` silences, from this week on.

    The worker sends nothing about a week that starts on or before `until`
    (`mail_blocked_reason`), so a pause ending on a Tuesday covers that whole week.
    """
    monday = today - dt.timedelta(days=today.weekday())
    weeks = []
    while monday <= until:
        weeks.append(monday)
        monday += dt.timedelta(weeks=1)
    return weeks


def describe_pause(today: dt.date, until: dt.date) -> str:
    """ "the weeks of 30 November, 7 and 14 December": what a runner gets no alerts about."""
    weeks = paused_weeks(today, until)
    if not weeks:
        return "no weeks"
    groups: list[tuple[str, list[str]]] = []
    for monday in weeks:
        month = f"{monday:%B}" if monday.year == today.year else f"{monday:%B %Y}"
        if groups and groups[-1][0] == month:
            groups[-1][1].append(str(monday.day))
        else:
            groups.append((month, [str(monday.day)]))
    parts = [f"{_and(days)} {month}" for month, days in groups]
    # "30 November and 7 December", but "30 November, 7 and 14 December": one "and" only.
    listed = _and(parts) if len(groups[-1][1]) == 1 else ", ".join(parts)
    return f"the {'week' if len(weeks) == 1 else 'weeks'} of {listed}"


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
