"""The 16-week chart as SVG geometry, so the page draws it with no script and no CDN.

Each week is a bar (the current week in a lighter tone: it is not over), the band the
weekly-spike rule allows is a shaded box from the runner's recent average up to their limit,
and a week with findings gets a marker above its bar. Presentation attributes only (no inline
style), so the app's Content-Security-Policy needs no exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from strideguard.integrations.email.formatting import check_units, day_month, distance_value, number
from strideguard.web.runner.summary import WeekRow

WIDTH = 640
HEIGHT = 260
TOP = 28  # room for the finding markers
BOTTOM = 36  # room for the week labels
LEFT = 8
SLOT = (WIDTH - 2 * LEFT) / 16


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: str  # in the runner's unit, or "" for a week we hold no data for
    label: str
    label_x: float
    current: bool
    known: bool
    marked: bool
    title: str  # the text a screen reader and a hover give


@dataclass(frozen=True)
class BandBox:
    x: float
    y: float
    width: float
    height: float
    limit_y: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    baseline_y: float
    unit: str
    bars: tuple[Bar, ...]
    bands: tuple[BandBox, ...]


def _y(value: Decimal, top: Decimal) -> float:
    plot = HEIGHT - TOP - BOTTOM
    return float(HEIGHT - BOTTOM - (value / top) * plot) if top > 0 else float(HEIGHT - BOTTOM)


def build_chart(weeks: Sequence[WeekRow], units: str) -> Chart:
    unit = check_units(units)
    values = [None if w.distance_m is None else distance_value(w.distance_m, unit) for w in weeks]
    limits = [None if w.limit_m is None else distance_value(w.limit_m, unit) for w in weeks]
    top = max([v for v in values + limits if v is not None], default=Decimal(0)) * Decimal("1.05")
    bars, bands = [], []
    for index, (week, value, limit) in enumerate(zip(weeks, values, limits, strict=True)):
        x = LEFT + index * SLOT
        shown = Decimal(0) if value is None else value
        y = _y(shown, top)
        text = "" if value is None else number(value)
        title = f"Week of {day_month(week.week_start)}: " + (
            "no data kept" if value is None else f"{text} {unit}"
        )
        if week.current:
            title += " so far"
        if limit is not None:
            title += f"; your limit {number(limit)} {unit}"
        if week.findings:
            title += "; alerts: " + ", ".join(week.findings)
        bars.append(
            Bar(
                x=x + 4,
                y=y,
                width=SLOT - 8,
                height=HEIGHT - BOTTOM - y,
                value=text,
                label=day_month(week.week_start),
                label_x=x + SLOT / 2,
                current=week.current,
                known=value is not None,
                marked=bool(week.findings),
                title=title,
            )
        )
        if limit is not None and week.baseline_m is not None:
            low = _y(distance_value(week.baseline_m, unit), top)
            high = _y(limit, top)
            bands.append(BandBox(x=x, y=high, width=SLOT, height=low - high, limit_y=high))
    return Chart(WIDTH, HEIGHT, float(HEIGHT - BOTTOM), unit, tuple(bars), tuple(bands))
