"""The 8-week distance chart, as plain numbers the templates draw with table cells.

Images would be blocked by default in most mail clients, and CSS heights are unreliable in
Outlook, so each bar is a table cell with a fixed pixel height.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from strideguard.integrations.email.formatting import check_units, day_month, distance_value, number

WEEKS = 8
BAR_MAX_PX = 90
BAR_MIN_PX = 2  # a 0-km week still shows a sliver, so "no running" reads differently from "no data"
TEXT_BAR_MAX = 28


@dataclass(frozen=True)
class ChartBar:
    week_start: dt.date
    label: str  # "13 Oct"
    value: str  # "52" (in the chart's unit), or "-" for a week before the runner's history
    height_px: int
    text_bar: str  # "#####" for the plain-text twin
    known: bool
    current: bool


@dataclass(frozen=True)
class WeeklyChart:
    unit: str
    bars: tuple[ChartBar, ...]
    # How the highlighted bar is named: the digest's week is "this week", the welcome's
    # (the last closed week, seen from the week the runner connected in) "last week".
    current_label: str = "this week"


def weekly_chart(
    week_start: dt.date, weekly_distance_m: Mapping[dt.date, int], units: str
) -> WeeklyChart:
    """Bars for the 8 weeks ending with `week_start`, oldest first.

    Weeks missing from `weekly_distance_m` are before the runner's known history (unknown, not
    zero), so they get no bar at all.
    """
    unit = check_units(units)
    weeks = [week_start - dt.timedelta(weeks=back) for back in range(WEEKS - 1, -1, -1)]
    values = {
        week: distance_value(weekly_distance_m[week], unit)
        for week in weeks
        if week in weekly_distance_m
    }
    top = max(values.values(), default=Decimal(0))
    bars = []
    for week in weeks:
        value = values.get(week)
        share = value / top if value is not None and top > 0 else Decimal(0)
        bars.append(
            ChartBar(
                week_start=week,
                label=day_month(week),
                value="-" if value is None else number(value),
                height_px=0 if value is None else max(BAR_MIN_PX, int(share * BAR_MAX_PX)),
                text_bar="" if value is None else "#" * int(share * TEXT_BAR_MAX),
                known=value is not None,
                current=week == week_start,
            )
        )
    return WeeklyChart(unit=unit, bars=tuple(bars))
