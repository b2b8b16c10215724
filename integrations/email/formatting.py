"""Figures as a runner reads them: their units, rounded the way people round.

Findings carry integer metres so decisions never depend on float error; only here, at the
last step, do numbers become "52.0 km" or "32.3 mi". Rounding is half-up (Python's `round`
rounds half to even, which would show 36.5% as 36%).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Literal

Units = Literal["km", "mi"]

METRES_PER_UNIT: dict[str, Decimal] = {"km": Decimal(1000), "mi": Decimal("1609.344")}
FEET_PER_METRE = Decimal("3.280839895")
# 1 m per km is 1.609344 m per mile, which is 5.28 ft per mile.
FT_PER_MI_PER_M_PER_KM = Decimal("5.28")


def check_units(units: str) -> Units:
    """The athlete's unit choice; anything else is a bug upstream, so say which value."""
    if units == "km":
        return "km"
    if units == "mi":
        return "mi"
    raise ValueError(f"units must be 'km' or 'mi', not {units!r}")


def _rounded(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def number(value: float | int | Decimal, places: int = 0) -> str:
    """A number with thousands separators, rounded half-up to `places` decimals."""
    return f"{_rounded(Decimal(str(value)), places):,.{places}f}"


def distance(metres: float | int, units: str, places: int = 1) -> str:
    """Metres in the runner's unit: 52000 -> "52.0 km" or "32.3 mi"."""
    unit = check_units(units)
    return f"{number(Decimal(str(metres)) / METRES_PER_UNIT[unit], places)} {unit}"


def distance_down(metres: float | int, units: str, places: int = 1) -> str:
    """Like `distance`, but rounded down: a ceiling shown as 23.3 km must not be 23.21 km."""
    unit = check_units(units)
    value = (Decimal(str(metres)) / METRES_PER_UNIT[unit]).quantize(
        Decimal(1).scaleb(-places), rounding=ROUND_DOWN
    )
    return f"{value:,.{places}f} {unit}"


def distance_value(metres: float | int, units: str) -> Decimal:
    """Metres as a plain number of the runner's unit, for sizing chart bars."""
    return Decimal(str(metres)) / METRES_PER_UNIT[check_units(units)]


def climb(metres: float | int, units: str) -> str:
    """Elevation gain: metres for km runners, feet for mile runners."""
    if check_units(units) == "km":
        return f"{number(metres)} m"
    return f"{number(Decimal(str(metres)) * FEET_PER_METRE)} ft"


def climb_rate(m_per_km: float | int, units: str) -> str:
    """Gain per distance: "18 m per km" or "95 ft per mile"."""
    if check_units(units) == "km":
        return f"{number(m_per_km)} m per km"
    return f"{number(Decimal(str(m_per_km)) * FT_PER_MI_PER_M_PER_KM)} ft per mile"


def percent(value: float | int) -> str:
    """36.8 -> "37%"."""
    return f"{number(value)}%"


def as_date(value: dt.date | str) -> dt.date:
    """Findings store dates as ISO strings in JSON; templates may get either form."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value[:10])


def day_month(value: dt.date | str) -> str:
    """ "13 Oct" (no leading zero, no year: a digest only ever talks about recent weeks)."""
    day = as_date(value)
    return f"{day.day} {day:%b}"


def weekday_day_month(value: dt.date | str) -> str:
    """ "Sat 18 Oct", for a single run."""
    day = as_date(value)
    return f"{day:%a} {day.day} {day:%b}"


_SMALL_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def count_things(count: int) -> str:
    """ "two things": small counts in words, as a sentence can start with them."""
    word = _SMALL_NUMBERS[count] if 0 <= count < len(_SMALL_NUMBERS) else str(count)
    return f"{word} {'thing' if count == 1 else 'things'}"


_CAMEL_HUMP = re.compile(r"(?<=[a-z])(?=[A-Z])")


def sport_names(types: str) -> str:
    """ "WeightTraining, Crossfit" -> "Weight Training or Crossfit", as Strava's menus say them."""
    names = [_CAMEL_HUMP.sub(" ", name.strip()) for name in types.split(",") if name.strip()]
    if len(names) < 2:
        return "".join(names)
    return ", ".join(names[:-1]) + " or " + names[-1]
