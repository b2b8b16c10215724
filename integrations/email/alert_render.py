"""Render one per-run alert: subject, plain text and CSS-inlined HTML.

Pure, like the digest's renderer (render.py), whose layout, partials and filters it shares:
the red flags, the back-pain check-in row and the footer links come with the layout, so an
alert cannot leave them out. An alert is short: the runs, what to do in the next few days,
the next-run ceiling.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from strideguard.integrations.email import formatting
from strideguard.integrations.email.digest_links import DigestLinks
from strideguard.integrations.email.render import (
    EMAIL_TEMPLATES_DIR,
    AthleteView,
    RenderedEmail,
    _advice_blocks,
    _escaped,
    _inline_css,
    _render,
)
from strideguard.limits import tightest_limits
from strideguard.rules import Finding

# The advice the alert gives, per rule: its own wording for the next few days when the
# alert folder has one, else the digest's advice for the rule.
ALERT_ADVICE_DIR = "alert/advice"
# The digest speaks of "next week"; an alert of the days straight after the run.
ALERT_WEEK_WORDS = {"this_week": "this week", "next_week": "the coming week"}


@dataclass(frozen=True)
class AlertContext:
    """Everything one alert shows.

    `runs` are the findings of the risky runs (one per run and rule), in the order they were
    run; `limits` the rules.Limit dicts after the runs' week.
    """

    athlete: AthleteView
    runs: Sequence[Finding]
    links: DigestLinks
    limits: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True)
class RunView:
    """One risky run as the alert presents it."""

    rule: str
    title: str
    date: dt.date
    headline: str
    figures_text: str
    figures_html: Any


@dataclass(frozen=True)
class RuleAdvice:
    """What to do about one rule, once per alert however many runs fired it."""

    rule: str
    title: str
    why_text: str
    do_text: str
    why_html: Any
    do_html: Any
    mute_url: str | None


def render_run_alert(alert: AlertContext) -> RenderedEmail:
    """The whole alert, or `TemplateRenderError`; never a partial result."""
    if not alert.runs:
        raise ValueError("an alert needs at least one risky run")
    units = formatting.check_units(alert.athlete.units)
    runs = sorted(alert.runs, key=lambda f: (str(f.date or ""), f.rule))
    views = [_run_view(run, units) for run in runs]
    advice = [_rule_advice(run, units, alert.links) for run in _first_per_rule(runs)]
    page = {
        "red_flags_first": False,
        "athlete": alert.athlete,
        "units": units,
        "runs": views,
        "advice": advice,
        # The footer's mute links read `sections`.
        "sections": advice,
        "ceiling": tightest_limits(alert.limits),
        "links": alert.links,
    }
    subject = " ".join(_render("alert/subject.txt", page).split())
    text = _render("alert/body.txt", page)
    html = _inline_css("alert/body.html", _render("alert/body.html", page))
    return RenderedEmail(subject=subject, text=text, html=html)


def _first_per_rule(runs: Sequence[Finding]) -> list[Finding]:
    """The largest run of each rule: its figures word the advice (e.g. its band)."""
    largest: dict[str, Finding] = {}
    for run in runs:
        current = largest.get(run.rule)
        if current is None or (
            run.value is not None and run.value > (current.value or float("-inf"))
        ):
            largest[run.rule] = run
    return list(largest.values())


def _run_view(run: Finding, units: str) -> RunView:
    blocks = ("headline", "figures")
    text = _advice_blocks("txt", run, units, blocks, ALERT_WEEK_WORDS)
    html = _advice_blocks("html", run, units, ("figures",), ALERT_WEEK_WORDS)
    return RunView(
        rule=run.rule,
        title=run.title,
        date=run.date or run.week_start,
        headline=" ".join(text["headline"].split()),
        figures_text=text["figures"],
        figures_html=_escaped(html["figures"]),
    )


def _rule_advice(run: Finding, units: str, links: DigestLinks) -> RuleAdvice:
    blocks = ("why", "do")
    text = _alert_blocks("txt", run, units, blocks)
    html = _alert_blocks("html", run, units, blocks)
    return RuleAdvice(
        rule=run.rule,
        title=run.title,
        why_text=text["why"],
        do_text=text["do"],
        why_html=_escaped(html["why"]),
        do_html=_escaped(html["do"]),
        mute_url=links.mute.get(run.rule),
    )


def _alert_blocks(kind: str, run: Finding, units: str, blocks: Sequence[str]) -> dict[str, str]:
    """The alert's own advice for the rule if written, else the digest's."""
    own = f"{ALERT_ADVICE_DIR}/{run.rule}.{kind}"
    if (EMAIL_TEMPLATES_DIR / own).is_file():
        return _advice_blocks(kind, run, units, blocks, ALERT_WEEK_WORDS, name=own)
    return _advice_blocks(kind, run, units, blocks, ALERT_WEEK_WORDS)
