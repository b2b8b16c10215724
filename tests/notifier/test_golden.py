"""Every built-in rule's advice block, text and HTML, in km and mi, against golden files.

A change to wording or formatting shows up as a readable diff. After a deliberate change,
regenerate with `UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/notifier/test_golden.py`
and review the diff before committing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from strideguard.integrations.email.render import BUILT_IN_RULES, render_digest, render_sections
from tests.notifier.worked import BUILT_IN, digest

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _check(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 to create it"
    assert actual == path.read_text(encoding="utf-8"), (
        f"{name} differs from its golden file; if the change is intended, "
        "rerun with UPDATE_GOLDEN=1 and review the diff"
    )


def test_every_built_in_rule_has_a_worked_example() -> None:
    assert sorted(BUILT_IN) == sorted(BUILT_IN_RULES)


@pytest.mark.parametrize("units", ["km", "mi"])
@pytest.mark.parametrize("rule", BUILT_IN_RULES)
def test_advice_block_matches_golden(rule: str, units: str) -> None:
    (section,) = render_sections(digest([BUILT_IN[rule]], units))
    text = "\n\n".join(
        [section.headline, section.figures_text, section.why_text, section.do_text]
        + [f"{e.name} | {e.dose} | {e.often}" for e in section.exercises]
        + list(section.claims)
    )
    html = "\n\n".join([section.figures_html, section.why_html, section.do_html])
    _check(f"{rule}.{units}.txt", text + "\n")
    _check(f"{rule}.{units}.html", html + "\n")


def test_whole_digest_matches_golden() -> None:
    rendered = render_digest(
        digest([BUILT_IN["weekly_distance_spike"], BUILT_IN["single_run_spike"]])
    )
    _check("digest.subject.txt", rendered.subject + "\n")
    _check("digest.body.txt", rendered.text)
    _check("digest.body.html", rendered.html)


def test_four_rule_digest_matches_golden() -> None:
    """The shape of a busy week: four checks at once, one of them the runner's own back pain."""
    rendered = render_digest(
        digest(
            [
                BUILT_IN["weekly_distance_spike"],
                BUILT_IN["single_run_spike"],
                BUILT_IN["no_rest_day"],
                BUILT_IN["back_pain_reported"],
            ],
            "mi",
        )
    )
    _check("four_rules.subject.txt", rendered.subject + "\n")
    _check("four_rules.body.txt", rendered.text)
    _check("four_rules.body.html", rendered.html)


def test_per_run_alert_matches_golden() -> None:
    """A per-run alert: the run, the next few days, the ceiling, the check-in row, red flags."""
    from strideguard.integrations.email.alert_render import AlertContext, render_run_alert
    from strideguard.integrations.email.render import AthleteView
    from tests.notifier.worked import LIMITS, links

    rendered = render_run_alert(
        AlertContext(
            athlete=AthleteView(id=7, first_name="Ana", units="km"),
            runs=[BUILT_IN["single_run_spike"]],
            links=links(["single_run_spike"]),
            limits=LIMITS,
        )
    )
    _check("run_alert.subject.txt", rendered.subject + "\n")
    _check("run_alert.body.txt", rendered.text)
    _check("run_alert.body.html", rendered.html)
    assert "HOW IS YOUR BACK THIS WEEK?" in rendered.text
    assert "not medical advice" in rendered.text
    assert "/email/unsubscribe?" in rendered.html
