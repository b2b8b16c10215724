"""What a runner would notice in the rendered digest."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from strideguard.integrations.email import render
from strideguard.integrations.email.render import BUILT_IN_RULES, TemplateRenderError, render_digest
from tests.notifier.worked import BASE, BUILT_IN, WEEK, digest, finding, late

RED_FLAG_SUBSTANCE = [
    "urgent or emergency care the same day",
    "new bladder or bowel trouble",
    "difficulty passing urine",
    "control your bladder or bowels",
    "saddle area",
    "weakness or numbness in both legs",
    "promptly",
    "fever",
    "pain at night that does not ease",
    "weight loss you cannot explain",
    "history of cancer",
    "a recent fall or other injury",
    "pain that spreads down a leg",
]


def _plain(html: str) -> str:
    """The visible words of an HTML email, whitespace collapsed."""
    chunks: list[str] = []

    class Text(HTMLParser):
        def handle_data(self, text: str) -> None:
            chunks.append(text)

    Text().feed(html)
    return " ".join(" ".join(chunks).replace("\u00a0", " ").split())


def _one_line(text: str) -> str:
    return " ".join(text.split())


def test_figures_in_km() -> None:
    email = render_digest(digest([BUILT_IN["weekly_distance_spike"]], "km"))
    sentence = "You ran 52.0 km this week, 37% more than your 4-week average of 38.0 km."
    assert sentence in _one_line(email.text)
    assert sentence in _plain(email.html)
    assert "Keep next week near 40 km" in _one_line(email.text)
    assert email.subject == "Your week of 13 Oct: distance up 37% on your 4-week average"


def test_figures_in_miles() -> None:
    email = render_digest(digest([BUILT_IN["weekly_distance_spike"]], "mi"))
    sentence = "You ran 32.3 mi this week, 37% more than your 4-week average of 23.6 mi."
    assert sentence in _one_line(email.text)
    assert sentence in _plain(email.html)
    assert "Keep next week near 25 mi" in _one_line(email.text)
    assert not re.search(r"\d km\b", email.text + _plain(email.html))
    assert "last 8 weeks (mi)" in email.text


def test_hills_and_shoes_in_miles_use_feet_and_miles() -> None:
    hills = render_digest(digest([BUILT_IN["hill_heavy_week"]], "mi"))
    assert "You climbed 1,575 ft over 14.9 mi of outdoor running: 106 ft per mile" in (
        _one_line(hills.text)
    )
    shoes = render_digest(digest([BUILT_IN["shoe_mileage"]], "mi"))
    assert "Your Pegasus 40 have 523 mi on them, past the 497 mi" in _one_line(shoes.text)


def test_subject_names_the_most_severe_finding_first() -> None:
    email = render_digest(
        digest([BUILT_IN["weekly_distance_spike"], BUILT_IN["single_run_spike"]], "km")
    )
    assert email.subject == (
        "Your week of 13 Oct: one run 32% longer than your longest in 30 days (+1 more)"
    )
    text = _one_line(email.text)
    assert text.index("On Sat 18 Oct you ran 21.1 km") < text.index("You ran 52.0 km")


@pytest.mark.parametrize("units", ["km", "mi"])
@pytest.mark.parametrize("rule", BUILT_IN_RULES)
def test_every_email_has_red_flags_and_the_medical_disclaimer(rule: str, units: str) -> None:
    email = render_digest(digest([BUILT_IN[rule]], units))
    for body in (_one_line(email.text).lower(), _plain(email.html).lower()):
        for item in RED_FLAG_SUBSTANCE:
            assert item in body, f"{rule}: red flag {item!r} missing"
        assert "training guidance, not medical advice" in body


@pytest.mark.parametrize("rule", BUILT_IN_RULES)
def test_no_prevention_claims(rule: str) -> None:
    """Nothing we send says an exercise (least of all a stretch) prevents injury."""
    email = render_digest(digest([BUILT_IN[rule]]))
    for body in (email.text, _plain(email.html)):
        assert not re.search(r"\bprevent", body, re.IGNORECASE)
        assert not re.search(r"\b(guarantee|proven to|will stop)\b", body, re.IGNORECASE)


def test_stretches_carry_only_the_comfort_claim() -> None:
    (section,) = render.render_sections(digest([BUILT_IN["no_rest_day"]]))
    stretches = [e for e in section.exercises if e.claim_kind == "mobility"]
    assert stretches, "the no-rest-day worked example asks for mobility work"
    for exercise in stretches:
        assert "comfort" in exercise.claim
        assert "not been shown to lower injury risk" in exercise.claim


def test_weak_evidence_is_worded_as_weak() -> None:
    (spike,) = render.render_sections(digest([BUILT_IN["weekly_distance_spike"]]))
    assert "may" in spike.why_text.split()
    assert "Some studies" in spike.why_text
    (streak,) = render.render_sections(digest([BUILT_IN["hard_surface_streak"]]))
    assert "nudge, not a warning" in streak.why_text
    assert "injur" not in streak.why_text + streak.do_text + streak.figures_text


def test_chart_has_eight_bars_with_this_week_highlighted() -> None:
    email = render_digest(digest([BUILT_IN["weekly_distance_spike"]]))
    bars = re.findall(r'class="(chart-bar(?:-current)?)"', email.html)
    assert len(bars) == 8
    assert bars[-1] == "chart-bar-current"
    assert bars.count("chart-bar-current") == 1
    heights = [int(h) for h in re.findall(r'class="chart-bar[^"]*"[^>]*height="(\d+)"', email.html)]
    assert heights[-1] == max(heights)  # 52 km is the tallest week
    chart_lines = [line for line in email.text.splitlines() if re.match(r"^  \d+ \w{3} ", line)]
    assert len(chart_lines) == 8
    assert chart_lines[-1].endswith("52  <- this week")


def test_weeks_before_history_have_no_bar() -> None:
    recent = {WEEK - dt.timedelta(weeks=back): 20000 for back in range(3)}
    email = render_digest(digest([BUILT_IN["no_rest_day"]], weekly_m=recent))
    assert len(re.findall(r'class="chart-bar(?:-current)?"', email.html)) == 3
    assert len(re.findall(r'class="chart-col"', email.html)) == 8


def test_html_is_self_contained_and_inlined() -> None:
    email = render_digest(digest([BUILT_IN[rule] for rule in BUILT_IN_RULES]))
    html = email.html
    assert "<script" not in html.lower()
    assert "<style" not in html.lower()
    assert "<link" not in html.lower()
    assert "<img" not in html.lower()
    assert "@import" not in html
    urls = re.findall(r"(?:https?:)?//[^\s\"'<>)]+", html)
    assert urls, "the footer links should be absolute"
    assert all(url.startswith(BASE) for url in urls), [u for u in urls if not u.startswith(BASE)]
    # Layout styles sit on the elements themselves (css-inline moved them there).
    assert re.search(r'<table[^>]*class="container"[^>]*style="[^"]*max-width: ?600px', html)
    assert re.search(r'class="redflags"[^>]*style="[^"]*border: ?2px solid', html)
    assert re.search(r'<p[^>]*style="[^"]*font-size', html)


def test_footer_links_in_both_parts() -> None:
    email = render_digest(digest([BUILT_IN["no_rest_day"], BUILT_IN["monotony"]]))
    for url in (
        f"{BASE}/email/mute?token=mute-no_rest_day",
        f"{BASE}/email/mute?token=mute-monotony",
        f"{BASE}/email/pause?token=pause-token&weeks=2",
        f"{BASE}/email/preferences?token=prefs-token",
        f"{BASE}/email/unsubscribe?token=unsub-token",
    ):
        assert url in email.text
        assert url.replace("&", "&amp;") in email.html
    assert "Pause alerts for 2 weeks" in email.text


def test_late_alert_is_labelled_as_an_update() -> None:
    update = late(BUILT_IN["no_rest_day"])
    email = render_digest(digest([BUILT_IN["weekly_distance_spike"], update]))
    assert "UPDATE ON THE WEEK OF 6 OCT" in email.text
    assert "Update on the week of 6 Oct" in _plain(email.html)
    assert email.subject.startswith("Your week of 13 Oct: distance up 37%")
    only_late = render_digest(digest([update]))
    assert only_late.subject == "Update on your week of 6 Oct: no rest day"
    # The late section names its own week, not "this week", which would be the digest's.
    text = _one_line(only_late.text)
    assert "You ran on 7 of 7 days the week of 6 Oct" in text
    assert "Pick 1 day the coming week with no running" in text
    assert "this week" not in text.split("Hi Ana,")[1].split("Your running over")[0]


def test_admin_defined_rule_uses_its_yaml_advice_and_figures() -> None:
    custom = finding(
        "long_run_share",
        "Long-run share",
        {"long_run_m": 21000, "share_pct": 48.5, "runs": 3},
        advice_why="One run carried half your week.",
        advice_do="Spread the distance out.",
    )
    email = render_digest(digest([custom], "km"))
    text = _one_line(email.text)
    # Figure names become labels; the unit suffix picks the format and is not printed.
    assert "long run 21.0 km; runs 3; share 49%." in text
    assert "One run carried half your week." in text
    assert "Spread the distance out." in _plain(email.html)
    assert email.subject == "Your week of 13 Oct: long-run share"


def test_rerendering_is_byte_identical() -> None:
    context = digest([BUILT_IN["single_run_spike"], BUILT_IN["missed_strength_days"]])
    assert render_digest(context) == render_digest(context)


def test_html_in_figures_is_escaped() -> None:
    shoe = BUILT_IN["shoe_mileage"]
    shoe = replace(shoe, figures={**shoe.figures, "gear_name": "<b>Fast</b> & Light"})
    email = render_digest(digest([shoe]))
    assert "&lt;b&gt;Fast&lt;/b&gt; &amp; Light" in email.html
    assert "<b>Fast</b> & Light" in email.text


def test_missing_figure_names_template_and_line() -> None:
    broken = replace(BUILT_IN["weekly_distance_spike"], figures={"week_m": 52000, "pct": 36.8})
    with pytest.raises(TemplateRenderError) as caught:
        render_digest(digest([broken]))
    assert caught.value.template == "advice/weekly_distance_spike.txt"
    source = (render.EMAIL_TEMPLATES_DIR / caught.value.template).read_text().splitlines()
    assert caught.value.line is not None
    assert "{% block figures %}" in source[caught.value.line - 1]
    assert "baseline_m" in str(caught.value)


def test_broken_template_raises_and_renders_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A syntax error in one rule's partial fails the whole digest, naming file and line."""
    copy = tmp_path / "email_templates"
    shutil.copytree(render.EMAIL_TEMPLATES_DIR, copy)
    partial = copy / "advice" / "no_rest_day.html"
    lines = partial.read_text().splitlines()
    lines[2] = lines[2].replace("{% endblock %}", "{% endblok %}")
    partial.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(render, "EMAIL_TEMPLATES_DIR", copy)
    render.email_environment.cache_clear()
    try:
        with pytest.raises(TemplateRenderError) as caught:
            render_digest(digest([BUILT_IN["weekly_distance_spike"], BUILT_IN["no_rest_day"]]))
    finally:
        render.email_environment.cache_clear()
    assert caught.value.template == "advice/no_rest_day.html"
    assert caught.value.line == 3


def test_unknown_units_are_refused() -> None:
    with pytest.raises(ValueError, match="units must be 'km' or 'mi'"):
        render_digest(digest([BUILT_IN["no_rest_day"]], "furlongs"))


def test_broken_exercise_library_fails_like_a_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "email_templates"
    shutil.copytree(render.EMAIL_TEMPLATES_DIR, copy)
    library = copy / "exercises.yaml"
    library.write_text(library.read_text().replace("claim: strength", "claim: miracle", 1))
    monkeypatch.setattr(render, "EMAIL_TEMPLATES_DIR", copy)
    render.exercise_library.cache_clear()
    try:
        with pytest.raises(TemplateRenderError) as caught:
            render_digest(digest([BUILT_IN["weekly_distance_spike"]]))
    finally:
        render.exercise_library.cache_clear()
    assert caught.value.template == "exercises.yaml"
    assert "claim: 'miracle' is not under 'claims'" in str(caught.value)
