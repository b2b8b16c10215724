"""Render one athlete-week digest: subject, plain text and CSS-inlined HTML.

Pure: no database, no network. The caller hands over everything the email shows, so the same
digest re-renders to the same bytes (the outbox may retry), and a failure anywhere raises
`TemplateRenderError` before anything could be sent half-written.
"""

from __future__ import annotations

import datetime as dt
import re
import textwrap
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import css_inline
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context
from markupsafe import Markup

from strideguard.integrations.email import formatting
from strideguard.integrations.email.chart import weekly_chart
from strideguard.integrations.email.digest_links import DigestLinks
from strideguard.integrations.email.exercises import (
    Exercise,
    ExerciseLibrary,
    ExerciseLibraryError,
    load_library,
    pick_exercises,
)
from strideguard.limits import tightest_limits
from strideguard.models import Athlete
from strideguard.rules import Finding

# The card's email_templates/ folder, shipped as package data of `strideguard`: found through
# the package, not this file's depth, so an editable checkout and an installed wheel agree.
EMAIL_TEMPLATES_DIR = Path(str(resources.files("strideguard") / "email_templates"))
# Tie-break after severity: strongest evidence first, so the subject names what matters most.
BUILT_IN_RULES = (
    "back_pain_severe",
    "back_pain_reported",
    "single_run_spike",
    "weekly_distance_spike",
    "acwr",
    "hill_heavy_week",
    "shoe_mileage",
    "missed_strength_days",
    "no_rest_day",
    "monotony",
    "hard_surface_streak",
)
SEVERITY_RANK = {"high": 0, "warning": 1, "info": 2}
# Rules whose advice text itself makes one of exercises.yaml's claims.
CLAIM_IN_ADVICE: dict[str, tuple[str, ...]] = {
    "missed_strength_days": ("strength", "trunk_endurance")
}
# Rules whose email opens with the red-flag list instead of keeping it at the end.
RED_FLAGS_FIRST = frozenset({"back_pain_severe"})
ADVICE_BLOCKS = ("figures", "why", "do")
_RULE_ID = re.compile(r"^[a-z0-9_]{1,64}$")
_NUMBER_AND_UNIT = re.compile(r"(?<=\d) (?=(?:km|mi|m|ft)\b)")
TEXT_WIDTH = 72
# Suffixes of an admin rule's figure names that choose a format (see `_figure`).
FIGURE_UNIT_SUFFIXES = ("_m", "_pct")
T = TypeVar("T")


class TemplateRenderError(Exception):
    """A template could not be rendered; names the template file and line."""

    def __init__(self, template: str, line: int | None, reason: str) -> None:
        where = f"{template}:{line}" if line else template
        super().__init__(f"{where}: {reason}")
        self.template = template
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class AthleteView:
    """What the email needs to know about the runner."""

    id: int
    first_name: str | None
    units: str  # km | mi
    # False for a runner whose figures come only from their own files: no Strava wording.
    on_strava: bool = True

    @classmethod
    def of(cls, athlete: Athlete) -> AthleteView:
        """The view of a stored runner, as every message built from the database needs it."""
        return cls(
            athlete.id,
            athlete.firstname,
            athlete.units,
            on_strava=athlete.strava_athlete_id is not None,
        )


@dataclass(frozen=True)
class DigestFinding:
    """A fired finding and what the digest knows about it that is no part of the engine's
    verdict: the same finding reads differently in another week's digest."""

    finding: Finding
    # More runs fired the same per-run rule that week; the advice mentions them.
    other_runs: int = 0
    # It belongs to an earlier week whose digest already went out.
    late: bool = False
    # The same rule was in last week's digest.
    repeat: bool = False
    # The day a per-run alert about this run went out.
    alerted_on: dt.date | None = None


@dataclass(frozen=True)
class DigestContext:
    """Everything one digest shows.

    `weekly_distance_m` maps week Mondays to running metres; the chart shows the 8 weeks
    ending with `week_start` and leaves weeks absent from the mapping blank (no history).
    """

    athlete: AthleteView
    week_start: dt.date
    findings: Sequence[DigestFinding]
    weekly_distance_m: Mapping[dt.date, int]
    links: DigestLinks
    # The limits after the week (rules.Limit dicts, stored on the evaluation): the next-run
    # ceiling and next week's range. Empty for digests written before limits existed.
    limits: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Section:
    """One fired rule as the email presents it."""

    rule: str
    title: str
    severity: str
    late: bool
    week_start: dt.date
    headline: str
    figures_text: str
    why_text: str
    do_text: str
    figures_html: Markup
    why_html: Markup
    do_html: Markup
    exercises: tuple[Exercise, ...]
    # Claims of the exercises not yet made higher up the email: each is printed once.
    claims: tuple[str, ...]
    # The first section with exercises carries the safety cue above them.
    safety_cue: bool
    # The same rule fired the week before, so the runner has read this advice already.
    repeat: bool
    mute_url: str | None
    # The day a per-run alert already gave this run's advice: the digest names it briefly.
    alerted_on: dt.date | None = None


def render_digest(digest: DigestContext) -> RenderedEmail:
    """The whole email, or `TemplateRenderError`; never a partial result."""
    if not digest.findings:
        raise ValueError("a digest needs at least one fired finding")
    units = formatting.check_units(digest.athlete.units)
    sections = render_sections(digest)
    chart = weekly_chart(digest.week_start, digest.weekly_distance_m, units)
    page = {
        "red_flags_first": leads_with_red_flags(s.rule for s in sections),
        "athlete": digest.athlete,
        "units": units,
        "week_start": digest.week_start,
        "sections": sections,
        "main": sections[0],
        "current": [s for s in sections if not s.late],
        "updates": [s for s in sections if s.late],
        "chart": chart,
        "ceiling": tightest_limits(digest.limits),
        "links": digest.links,
    }
    return render_message("digest", page)


def render_message(folder: str, page: Mapping[str, Any]) -> RenderedEmail:
    """`<folder>/subject.txt`, `body.txt` and `body.html` rendered with `page`: the digest,
    and the welcome and weekly note (integrations/email/notices.py)."""
    subject = " ".join(_render(f"{folder}/subject.txt", page).split())
    text = _render(f"{folder}/body.txt", page)
    html = _inline_css(f"{folder}/body.html", _render(f"{folder}/body.html", page))
    return RenderedEmail(subject=subject, text=text, html=html)


def render_sections(digest: DigestContext) -> list[Section]:
    """Each fired finding with its advice rendered, most important first."""
    units = formatting.check_units(digest.athlete.units)
    try:
        library = exercise_library()
    except ExerciseLibraryError as problem:  # editable content, so it fails like a template
        raise TemplateRenderError("exercises.yaml", None, str(problem)) from problem
    shown: list[str] = []
    # A rule whose own advice already makes an exercise claim keeps it from the cards.
    claimed = [
        kind for told in digest.findings for kind in CLAIM_IN_ADVICE.get(told.finding.rule, ())
    ]
    # Pain strong enough to lead with the red flags: the runner should get checked before
    # any exercise, so the whole email shows none.
    red_flags_first = leads_with_red_flags(told.finding.rule for told in digest.findings)
    sections = []
    for told in sorted(digest.findings, key=_importance):
        finding = told.finding
        rule = finding.rule
        picks = (
            []
            if red_flags_first or told.alerted_on
            else pick_exercises(
                library,
                finding.exercise_focus,
                digest.athlete.id,
                digest.week_start,
                shown,
            )
        )
        new_claims = [e.claim_kind for e in picks if e.claim_kind not in claimed]
        claims = tuple(
            next(e.claim for e in picks if e.claim_kind == kind)
            for kind in dict.fromkeys(new_claims)
        )
        safety_cue = bool(picks) and not shown
        shown.extend(e.id for e in picks)
        claimed.extend(new_claims)
        weeks = _week_words(finding.week_start, told.late)
        text = _advice_blocks(
            "txt", finding, units, ("headline", *ADVICE_BLOCKS), weeks, told.other_runs
        )
        html = _advice_blocks("html", finding, units, ADVICE_BLOCKS, weeks, told.other_runs)
        sections.append(
            Section(
                rule=rule,
                title=finding.title,
                severity=finding.severity,
                late=told.late,
                week_start=finding.week_start,
                headline=" ".join(text["headline"].split()),
                figures_text=text["figures"],
                why_text=text["why"],
                do_text=text["do"],
                figures_html=_escaped(html["figures"]),
                why_html=_escaped(html["why"]),
                do_html=_escaped(html["do"]),
                exercises=tuple(picks),
                claims=claims,
                safety_cue=safety_cue,
                repeat=told.repeat,
                mute_url=digest.links.mute.get(rule),
                alerted_on=told.alerted_on,
            )
        )
    return sections


def leads_with_red_flags(rules: Iterable[str]) -> bool:
    """Whether an email about these rules opens with the red-flag list (strong pain)."""
    return any(rule in RED_FLAGS_FIRST for rule in rules)


def _week_words(week: dt.date, late: bool) -> dict[str, str]:
    """How the advice names the finding's week and the one after it.

    A late finding reaches the runner after its week's digest, when "this week" would point
    at the wrong week; it names its week by date and speaks of the coming week instead.
    """
    if late:
        return {
            "this_week": f"the week of {formatting.day_month(week)}",
            "next_week": "the coming week",
        }
    return {"this_week": "this week", "next_week": "next week"}


def _escaped(html: str) -> Markup:
    """Output of an autoescaped .html partial: its values are already escaped.

    A figure and its unit are glued with a no-break space so "21.1 km" never wraps apart.
    """
    return Markup(_NUMBER_AND_UNIT.sub("\u00a0", html))  # noqa: S704


def _importance(told: DigestFinding) -> tuple[int, int, int, str, str]:
    rule = told.finding.rule
    order = BUILT_IN_RULES.index(rule) if rule in BUILT_IN_RULES else len(BUILT_IN_RULES)
    return (
        int(told.late),
        SEVERITY_RANK.get(told.finding.severity, len(SEVERITY_RANK)),
        order,
        rule,
        str(told.finding.date or ""),
    )


def advice_template_name(rule: str, kind: str) -> str:
    """`advice/<rule>.<kind>`, or the generic partial for rules nobody wrote prose for."""
    if _RULE_ID.match(rule):
        name = f"advice/{rule}.{kind}"
        if (EMAIL_TEMPLATES_DIR / name).is_file():
            return name
    return f"advice/_generic.{kind}"


def _advice_blocks(
    kind: str,
    finding: Finding,
    units: str,
    blocks: Sequence[str],
    weeks: Mapping[str, str],
    other_runs: int = 0,
    name: str | None = None,
) -> dict[str, str]:
    """The named blocks of the rule's advice template (or of `name`, e.g. an alert's own)."""
    name = name or advice_template_name(finding.rule, kind)
    variables = {
        **weeks,
        "finding": finding,
        "f": finding.figures,
        "threshold": finding.threshold,
        "value": finding.value,
        "band": finding.band,
        "other_runs": other_runs,
        "units": units,
    }

    def render_blocks(template: Template) -> dict[str, str]:
        rendered = {}
        for block in blocks:
            if block not in template.blocks:
                raise TemplateRenderError(name, None, f"has no {{% block {block} %}}")
            context = template.new_context(variables)
            rendered[block] = "".join(template.blocks[block](context)).strip()
        return rendered

    return _guarded(name, render_blocks)


def _render(name: str, variables: Mapping[str, Any]) -> str:
    return _guarded(name, lambda template: template.render(variables))


def _guarded(name: str, use: Callable[[Template], T]) -> T:
    """Run `use` on template `name`, turning any failure into a `TemplateRenderError`.

    Jinja only maps Python frames back to template lines when it handles the exception
    itself, so the failure is passed through `handle_exception` first.
    """
    env = email_environment()
    try:
        try:
            return use(env.get_template(name))
        except TemplateRenderError:
            raise
        except Exception:
            env.handle_exception()
    except TemplateRenderError:
        raise
    except TemplateSyntaxError as exc:
        raise TemplateRenderError(exc.name or name, exc.lineno, exc.message or str(exc)) from exc
    except Exception as exc:
        template, line = _template_frame(exc, name)
        reason = f"{type(exc).__name__}: {exc}" if not isinstance(exc, TemplateError) else str(exc)
        raise TemplateRenderError(template, line, reason) from exc
    raise AssertionError("unreachable: handle_exception always raises")  # pragma: no cover


def _template_frame(exc: BaseException, fallback: str) -> tuple[str, int | None]:
    """The innermost template file and line in the traceback of `exc`."""
    root = str(EMAIL_TEMPLATES_DIR) + "/"
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.startswith(root):
            return frame.filename.removeprefix(root), frame.lineno
    return fallback, None


def _inline_css(name: str, html: str) -> str:
    try:
        return str(_inliner().inline(html))
    except ValueError as exc:  # css_inline reports bad CSS as ValueError subclasses
        raise TemplateRenderError(name, None, f"CSS could not be inlined: {exc}") from exc


@lru_cache(maxsize=1)
def _inliner() -> css_inline.CSSInliner:
    # No remote stylesheets: rendering stays offline and deterministic.
    return css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False)


@lru_cache(maxsize=1)
def exercise_library() -> ExerciseLibrary:
    return load_library(EMAIL_TEMPLATES_DIR / "exercises.yaml")


@lru_cache(maxsize=1)
def email_environment() -> Environment:
    """Jinja for email: strict about missing values, HTML escaped, text left alone."""
    env = Environment(
        loader=FileSystemLoader(EMAIL_TEMPLATES_DIR),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        distance=_with_units(formatting.distance),
        distance_down=_with_units(formatting.distance_down),
        climb=_with_units(formatting.climb),
        climb_rate=_with_units(formatting.climb_rate),
        figure=_figure,
        figure_label=figure_label,
        percent=formatting.percent,
        number=formatting.number,
        day_month=formatting.day_month,
        weekday_day_month=formatting.weekday_day_month,
        capfirst=lambda text: text[:1].upper() + text[1:],
        count_things=formatting.count_things,
        wrap=_wrap,
        bullet=_bullet,
        sport_names=formatting.sport_names,
    )
    return env


def _with_units(format_in: Callable[..., str]) -> Callable[..., str]:
    """A filter that reads the runner's units from the template context."""

    @pass_context
    def apply(context: Context, value: float | int, *args: Any) -> str:
        return format_in(value, context["units"], *args)

    return apply


@pass_context
def _figure(context: Context, value: Any, name: str) -> str:
    return format_figure(value, name, context["units"])


def format_figure(value: Any, name: str, units: str) -> str:
    """A figure of an admin-defined rule, formatted by its metric name's suffix."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if name.endswith("_m"):
        return formatting.distance(value, units)
    if name.endswith("_pct") or name == "pct":
        return formatting.percent(value)
    return formatting.number(value, 0 if isinstance(value, int) else 2)


def _bullet(text: str) -> str:
    """A plain-text list item whose wrapped lines line up under its first word."""
    return textwrap.fill(
        " ".join(text.split()),
        width=TEXT_WIDTH,
        initial_indent="  - ",
        subsequent_indent="    ",
        break_long_words=False,
        break_on_hyphens=False,
    )


def figure_label(name: str) -> str:
    """An admin rule's figure name as words: the unit suffix only picks the format."""
    for suffix in FIGURE_UNIT_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name.removesuffix(suffix)
            break
    return name.replace("_", " ")


@lru_cache(maxsize=4096)
def _wrap(text: str, indent: str = "") -> str:
    """Plain-text paragraphs wrapped for mail readers; URLs are never broken.

    Remembered: most paragraphs are the same advice in every digest, and wrapping them took
    more time than the rest of the text part.
    """
    return textwrap.fill(
        " ".join(text.split()),
        width=TEXT_WIDTH,
        initial_indent=indent,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
