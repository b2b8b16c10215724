"""Every message we can render, read the way a clinician auditing it would.

All rules firing at once (plus an admin-written rule), each rule alone, a late update, in km
and in miles: no sentence twice, no exercise twice, the safety cue above the first exercises,
the red-flag list, the back-pain check-in row, and a frequency on every dosage.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

import pytest

from strideguard.integrations.email.alert_render import AlertContext, render_run_alert
from strideguard.integrations.email.render import (
    BUILT_IN_RULES,
    AthleteView,
    DigestFinding,
    RenderedEmail,
    render_digest,
)
from strideguard.rules import Finding
from tests.notifier.test_digest import _plain
from tests.notifier.worked import BUILT_IN, LIMITS, digest, finding, late, links

ADMIN_RULE = finding(
    "long_run_share",
    "Long run is a big share of the week",
    {"longest_run_m": 21000, "week_total_m": 43000, "share_of_week_pct": 48.8},
    severity="info",
    focus=("load", "legs"),
    advice_why="One run carried much of the week.",
    advice_do="Spread the distance out.",
)
SAFETY_CUE = "Skip any move that brings on back or leg pain, or makes it worse"
CARD = re.compile(r"^  \* (?P<name>[^(]+) \((?P<dose>[^)]+)\)$", re.MULTILINE)
FREQUENCY = ("times a week", "once a day")


def _messages() -> Iterator[tuple[str, RenderedEmail]]:
    everything = [BUILT_IN[rule] for rule in BUILT_IN_RULES] + [ADMIN_RULE]
    cases: dict[str, list[Finding | DigestFinding]] = {
        "all rules": [*everything],
        "all but strong pain": [f for f in everything if f.rule != "back_pain_severe"],
        "late update": [BUILT_IN["weekly_distance_spike"], late(BUILT_IN["no_rest_day"])],
    }
    cases |= {rule: [BUILT_IN[rule]] for rule in BUILT_IN_RULES}
    for units in ("km", "mi"):
        for name, findings in cases.items():
            yield f"{name} ({units})", render_digest(digest(findings, units))
        yield f"per-run alert, two runs ({units})", _run_alert(units)


def _run_alert(units: str) -> RenderedEmail:
    """A watch's upload: two risky runs in one per-run alert."""
    first = BUILT_IN["single_run_spike"]
    second = replace(
        first,
        activity_id=2,
        date=dt.date(2025, 10, 16),
        value=12.0,
        band="small",
        figures={"run_m": 17920, "longest_prior_m": 16000, "pct": 12.0},
    )
    return render_run_alert(
        AlertContext(
            athlete=AthleteView(id=7, first_name="Ana", units=units),
            runs=[first, second],
            links=links(["single_run_spike"]),
            limits=LIMITS,
        )
    )


MESSAGES = dict(_messages())


def _visible(html: str) -> str:
    """The words a reader sees: the preheader is the inbox preview, hidden in the body."""
    return _plain(re.sub(r'<div class="preheader"[^>]*>.*?</div>', "", html, flags=re.DOTALL))


def _sentences(words: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", words) if len(s.split()) >= 4]


@pytest.mark.parametrize("name", MESSAGES)
def test_no_sentence_appears_twice(name: str) -> None:
    email = MESSAGES[name]
    for part in (" ".join(email.text.split()), _visible(email.html)):
        repeated = [s for s, n in Counter(_sentences(part)).items() if n > 1]
        assert not repeated, f"{name}: repeated {repeated}"


@pytest.mark.parametrize("name", MESSAGES)
def test_no_exercise_appears_twice_and_every_dose_says_how_often(name: str) -> None:
    cards = list(CARD.finditer(MESSAGES[name].text))
    names = [card["name"] for card in cards]
    assert len(names) == len(set(names)), f"{name}: {Counter(names).most_common(3)}"
    for card in cards:
        assert card["dose"].endswith(FREQUENCY) or "if it feels good" in card["dose"], card[0]


@pytest.mark.parametrize("name", MESSAGES)
def test_safety_cue_red_flag_list_and_check_in_row_are_there(name: str) -> None:
    email = MESSAGES[name]
    html_words = _visible(email.html)
    text_words = " ".join(email.text.split())
    if CARD.search(email.text):
        for words in (text_words, html_words):
            assert words.count(SAFETY_CUE) == 1, name
            assert words.index(SAFETY_CUE) < words.index("Exercises to try") + 200
    assert email.html.count("<li") >= 9, "the red flags are a list"
    assert re.search(r"^  - weakness or numbness in both legs$", email.text, re.MULTILINE)
    for words in (text_words, html_words):
        assert "urgent or emergency care the same day" in words
        assert "How is your back this week?".lower() in words.lower()
    for score in range(11):
        assert f"score={score}\n" in email.text or f"score={score}" in email.text
        assert f'score={score}"' in email.html


def test_a_busy_email_has_enough_cards_to_be_worth_scanning() -> None:
    """The scan above must see many exercises, or "no exercise twice" proves nothing."""
    assert len(CARD.findall(MESSAGES["all but strong pain (km)"].text)) >= 12


def test_strong_pain_puts_the_red_flags_first_and_shows_no_exercises() -> None:
    email = MESSAGES["all rules (mi)"]
    assert email.text.index("WHEN TO GET MEDICAL HELP") < email.text.index("Hi Ana,")
    assert "the warning signs are listed at the end" not in email.text
    assert not CARD.search(email.text)
    assert "Exercises to try" not in _visible(email.html)
