"""The short text a push or chat channel carries: a title, a few lines, links written out.

Two kinds, each rendered from plain facts so any channel that takes short text (Apprise
today) says the same thing:

- a digest notice: the weekly check went out by email; a link to it on the runner's page;
- a per-run alert: the risky run(s), against the 30-day longest, what to do next, and the
  next-run ceiling.

Every message ends with the red flags, "not medical advice" and a link that stops these
messages (the channels page, reached with a signed preferences link as in the email).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from strideguard.links import make_link_token
from strideguard.settings import Settings
from strideguard.worker.ports import ShortMessage

# The runner's page of their channels; the web route answers on it (strideguard/web).
CHANNELS_PATH = "/email/channels"
RED_FLAGS = (
    "Red flags: get checked the same day for new bladder or bowel trouble, numbness in the "
    "saddle area, or weakness or numbness in both legs; promptly for fever, night pain that "
    "doesn't ease, unexplained weight loss, a history of cancer, trauma, or pain that spreads "
    "down a leg."
)
NOT_MEDICAL_ADVICE = "This is training guidance, not medical advice."
METRES_PER_MILE = Decimal("1609.344")


@dataclass(frozen=True)
class RiskyRun:
    """One run a per-run rule fired on, with the figures the rule compared."""

    run_date: dt.date
    distance_m: int
    longest_30d_m: int  # the longest run that started in the 30 days before it
    ratio: float  # distance / 30-day longest, e.g. 1.42


@dataclass(frozen=True)
class RunAlertFacts:
    """What a per-run alert says: the run(s) and the next-run ceiling, in the runner's units."""

    runs: Sequence[RiskyRun]
    ceiling: str  # e.g. "up to 11.0 km", as the email words it
    units: str  # km | mi


def distance(metres: int, units: str) -> str:
    """One decimal in the runner's units (the email's exact rounding lives with the email)."""
    value = Decimal(metres) / (METRES_PER_MILE if units == "mi" else Decimal(1000))
    shown = value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{shown} {'mi' if units == 'mi' else 'km'}"


def distance_down(metres: int, units: str) -> str:
    """Like `distance`, rounded down: a ceiling shown must never be above the real one."""
    value = Decimal(metres) / (METRES_PER_MILE if units == "mi" else Decimal(1000))
    shown = value.quantize(Decimal("0.1"), rounding=ROUND_DOWN)
    return f"{shown} {'mi' if units == 'mi' else 'km'}"


def _day(day: dt.date) -> str:
    return f"{day:%A} {day.day} {day:%B}"


def _closing(stop_url: str) -> list[str]:
    return ["", RED_FLAGS, NOT_MEDICAL_ADVICE, f"Stop these messages: {stop_url}"]


def digest_notice(
    *,
    firstname: str | None,
    week_start: dt.date,
    digest_url: str,
    stop_url: str,
    by_email: bool = True,
) -> ShortMessage:
    """Your weekly check is in your email, with a link to it on the runner's page; worded
    without the email when none goes out (unsubscribed, bounced)."""
    hello = f"Hi {firstname}, y" if firstname else "Y"
    where = "is in your email" if by_email else "is ready on your page"
    lines = [
        f"{hello}our weekly check for the week of {week_start.day} {week_start:%B} {where}. "
        "It names what stood out and what to do this week.",
        f"Read it {'here too' if by_email else 'here'}: {digest_url}",
        *_closing(stop_url),
    ]
    return ShortMessage(
        title=f"strideguard: your weekly check (week of {week_start.day} {week_start:%B})",
        body="\n".join(lines),
    )


def run_alert(facts: RunAlertFacts, *, page_url: str, stop_url: str) -> ShortMessage:
    """A per-run alert naming each risky run (a watch may sync several at once)."""
    units = facts.units
    lines = []
    for run in facts.runs:
        longer = (Decimal(str(run.ratio)) - 1) * 100
        lines.append(
            f"Your run on {_day(run.run_date)}, {distance(run.distance_m, units)}, was "
            f"{longer.quantize(Decimal(1), rounding=ROUND_HALF_UP)}% longer than your longest "
            f"in the 30 days before it ({distance(run.longest_30d_m, units)})."
        )
    lines += [
        "A single run much longer than your recent longest is linked to more running "
        "injuries. For the next few days keep your runs easy and shorter, and keep your "
        "rest days.",
        f"Next run: {facts.ceiling} stays within the range linked to fewer injuries.",
        f"Your page: {page_url}",
        *_closing(stop_url),
    ]
    first = facts.runs[0].run_date if facts.runs else None
    when = f" on {_day(first)}" if first and len(facts.runs) == 1 else ""
    return ShortMessage(title=f"strideguard: a long run{when}", body="\n".join(lines))


def stop_url(settings: Settings, athlete_id: int) -> str:
    """The channels page, opened with a signed preferences link (the email's credential)."""
    token = make_link_token(athlete_id, "preferences", settings)
    return f"{settings.public_base_url}{CHANNELS_PATH}?token={token}"


def render(
    kind: str, facts: Mapping[str, Any], athlete_id: int, firstname: str | None, settings: Settings
) -> ShortMessage:
    """The message of a `channel_messages` row, from the facts stored on it."""
    base = settings.public_base_url
    stop = stop_url(settings, athlete_id)
    if kind == "digest":
        return digest_notice(
            firstname=firstname,
            week_start=dt.date.fromisoformat(str(facts["week_start"])),
            digest_url=f"{base}/me/digests/{int(facts['outbox_id'])}",
            stop_url=stop,
            by_email=bool(facts.get("by_email", True)),
        )
    if kind == "run":
        runs = [
            RiskyRun(
                run_date=dt.date.fromisoformat(str(run["run_date"])),
                distance_m=int(run["distance_m"]),
                longest_30d_m=int(run["longest_30d_m"]),
                ratio=float(run["ratio"]),
            )
            for run in facts["runs"]
        ]
        return run_alert(
            RunAlertFacts(runs, str(facts["ceiling"]), str(facts.get("units", "km"))),
            page_url=f"{base}/me",
            stop_url=stop,
        )
    raise ValueError(f"no short message of kind {kind!r} (known: digest, run)")
